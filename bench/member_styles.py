"""Four members' catalogues of the same real LC records, each in its own house style (issue 19).

No million distinct real records are reachable here, so the million-record build loads what a
union catalogue really receives: the same books catalogued by several members, each its own way.
Every member's record is a pure function of the LC record (and its position in the file, for the
member's own record number); the only "choices" are taken from a hash of the LC record's 001, so
the four files are identical from run to run and machine to machine.

Member 1 (``m1``, copy cataloguing, MARC 21)
    LC's record as LC made it, with the member's own control number and organisation:
    001 ``b`` + 7 digits (a Sierra-style bib number), 003 ``UCM1``, 005 removed; the LC control
    number stays in 010 and the OCLC number in 035, as copied records keep them.

Member 2 (``m2``, MARC 21 without ISBD punctuation)
    001: 9 digits (an Aleph-style system number), 003 ``UCM2``. 020 $a: an ISBN-10 becomes the
    hyphenated ISBN-13 (``0415262828`` → ``978-0-415-26282-1``), an ISBN-13 is hyphenated; the
    qualifier is written out (``(pbk.)`` → ``(paperback)``, ``(hbk.)``/``(hardback)``/``(cloth)``
    → ``(hardback)``, ``(alk. paper)`` → ``(acid-free paper)``) and kept in $q, as RDA-era records
    do. ISBD end punctuation is dropped from every subfield of 245, 260 and 264 (`` /``, `` :``,
    `` ;``, `` =``, ``,`` and the final ``.``), and leader/18 says so (``c``, ISBD punctuation
    omitted).

Member 3 (``m3``, a smaller library with fewer numbers, title case)
    001: ``u`` + the position (a Koha-style biblionumber), 003 ``UCM3``. 010 and every 035 are
    dropped (the member never recorded LC, OCLC or RLIN numbers); in one record of four (by the hash)
    the 020s are dropped as well (ISBN not transcribed). Titles (245 $a $b $n $p, Latin script
    only) are in title case: each word of more than three letters, and the first word, begins
    with a capital; the rest of the word is left as LC wrote it.

Member 4 (``m4``, a Chinese library in CNMARC)
    The record converted by :func:`bench.marc21_to_cnmarc.convert` (CNMARC, UTF-8: ISBNs
    hyphenated in 010, the vernacular 880 script in 200/205/210/225 and the name fields wherever
    LC has it, extent in Chinese), with its own 001: ``CAL`` + 9 digits. Records that the
    conversion cannot make are left out of this member's file and counted.

    .venv/bin/python bench/member_styles.py --out var/bench/million/members [--limit N] [--check 2000]

writes ``m1.mrc`` … ``m4.mrc`` (ISO 2709, UTF-8) into ``--out``. ``--check N`` crosswalks the first
N records of each file and of LC's own file through :func:`mappings.crosswalk` and reports the
rejects that LC's record did not already cause.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import multiprocessing
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pymarc
from pymarc import Field, Record, Subfield
from stdnum import isbn as stdnum_isbn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import LC_FILE, shared_data  # noqa: E402
from bench.marc21_to_cnmarc import convert  # noqa: E402

MEMBERS = ("m1", "m2", "m3", "m4")
SYNTAX = {"m1": "marc21", "m2": "marc21", "m3": "marc21", "m4": "unimarc"}
_QUALIFIERS = [
    (re.compile(r"\bpbk\.?", re.I), "paperback"),
    (re.compile(r"\bhbk\.?|\bhardback\b|\bcloth\b|\bhardcover\b", re.I), "hardback"),
    (re.compile(r"\balk\. paper\b", re.I), "acid-free paper"),
]
_ISBD_END = re.compile(r"\s*[/:;=,]$")
_KEEP_STOP = re.compile(r"(?:\b\w|\betc|\.\.)\.$")  # an initial ("J."), "etc.", an ellipsis
_SMALL = 3


def seed(record: Record) -> int:
    """A stable number from the LC record's own 001 (its bytes otherwise)."""
    control = record.get("001")
    basis = control.data.strip() if control is not None else record.as_marc()
    return int(hashlib.sha256(str(basis).encode()).hexdigest()[:12], 16)


def _own_ids(record: Record, local_id: str, org: str) -> Record:
    out = record
    out.remove_fields("001", "003", "005")
    out.add_ordered_field(Field(tag="001", data=local_id))
    out.add_ordered_field(Field(tag="003", data=org))
    return out


def member1(record: Record, position: int) -> Record:
    """LC's cataloguing, the member's own 001/003 (member1..3 change the record they are given)."""
    return _own_ids(record, f"b{position + 1000000:07d}", "UCM1")


def isbn13(number: str) -> str:
    """An ISBN written as member 2 writes it: hyphenated ISBN-13 (anything else as typed)."""
    try:
        return stdnum_isbn.format(number, convert=True)
    except Exception:  # not a valid ISBN: copied as typed
        return number


def qualifier(text: str) -> str:
    """``(pbk. : alk. paper)`` → ``paperback : acid-free paper``."""
    text = text.strip().strip("()").strip()
    for pattern, word in _QUALIFIERS:
        text = pattern.sub(word, text)
    return text


def _isbn_field(field: Field) -> Field:
    subs: list[Subfield] = []
    for sub in field.subfields:
        if sub.code == "a":
            number, _, rest = sub.value.strip().partition(" ")
            subs.append(Subfield("a", isbn13(number)))
            if rest.strip():
                subs.append(Subfield("q", qualifier(rest)))
        elif sub.code == "q":
            subs.append(Subfield("q", qualifier(sub.value)))
        else:
            subs.append(sub)
    return Field(tag="020", indicators=field.indicators, subfields=subs)


def unpunctuated(value: str) -> str:
    """A subfield without its ISBD end punctuation (an abbreviation's or initial's full stop stays)."""
    value = _ISBD_END.sub("", value.rstrip())
    if value.endswith(".") and not _KEEP_STOP.search(value):
        value = value[:-1]
    return value.rstrip()


def member2(record: Record, position: int) -> Record:
    """Hyphenated ISBN-13s with written-out qualifiers; no ISBD punctuation in 245/260/264."""
    out = _own_ids(record, f"{position + 1:09d}", "UCM2")
    for field in out.get_fields("020"):
        if field.get("a"):
            out.remove_field(field)
            out.add_ordered_field(_isbn_field(field))
    for field in out.get_fields("245", "260", "264"):
        field.subfields = [Subfield(sub.code, unpunctuated(sub.value)) for sub in field.subfields]
    out.leader = pymarc.Leader(str(out.leader)[:18] + "c" + str(out.leader)[19:])
    return out


def title_case(text: str) -> str:
    """Capitalise the first word and every word longer than three letters (Latin script only)."""
    words = text.split(" ")
    out = []
    for n, word in enumerate(words):
        if word[:1].isalpha() and word[:1].isascii() and (n == 0 or len(word.strip(".,:;/")) > _SMALL):
            word = word[:1].upper() + word[1:]
        out.append(word)
    return " ".join(out)


def member3(record: Record, position: int) -> Record:
    """No 010/035, no 020 in one record of four, titles in title case."""
    out = _own_ids(record, f"u{position + 1}", "UCM3")
    out.remove_fields("010", "035")
    if seed(record) % 4 == 0:
        out.remove_fields("020")
    for field in out.get_fields("245"):
        field.subfields = [Subfield(sub.code, title_case(sub.value) if sub.code in "abnp" else sub.value)
                           for sub in field.subfields]
    return out


def member4(raw: bytes, position: int) -> bytes:
    """CNMARC by the documented conversion, with the member's own 001."""
    converted = Record(data=convert(raw), to_unicode=True, force_utf8=True)
    converted.remove_fields("001")
    converted.add_ordered_field(Field(tag="001", data=f"CAL{position + 1:09d}"))
    return converted.as_marc()


def read(raw: bytes) -> Record:
    return Record(data=raw, to_unicode=True, force_utf8=True, utf8_handling="replace")


def styled(raw: bytes, position: int) -> list[bytes | None]:
    """The four members' records (ISO 2709 bytes; None where a member makes none) of one LC record.
    Each style works on a record parsed for it alone (a fresh parse is cheaper than a deep copy)."""
    outputs: list[bytes | None] = []
    for style in (member1, member2, member3):
        outputs.append(_utf8(style(read(raw), position)))
    try:
        outputs.append(member4(raw, position))
    except Exception:  # the conversion could not make this record: counted, left out
        outputs.append(None)
    return outputs


def _utf8(record: Record) -> bytes:
    record.leader = pymarc.Leader(str(record.leader)[:9] + "a" + str(record.leader)[10:])
    record.force_utf8 = True
    return record.as_marc()


def lc_records(path: Path, limit: int | None = None) -> Iterator[bytes]:
    """The raw ISO 2709 records of the LC file (gzipped or not), in order."""
    from harvesters.files import split_iso2709

    opener: Callable[..., object] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:  # type: ignore[attr-defined]
        for n, (raw, _problem) in enumerate(split_iso2709(stream)):  # type: ignore[arg-type]
            if limit is not None and n >= limit:
                return
            yield raw


def _styled_chunk(chunk: tuple[int, list[bytes]]) -> list[list[bytes | None]]:
    start, raws = chunk
    return [styled(raw, start + i) for i, raw in enumerate(raws)]


def _chunks(records: Iterator[bytes], size: int = 2000) -> Iterator[tuple[int, list[bytes]]]:
    start, chunk = 0, []
    for raw in records:
        chunk.append(raw)
        if len(chunk) == size:
            yield start, chunk
            start, chunk = start + size, []
    if chunk:
        yield start, chunk


def write_members(source: Path, out: Path, limit: int | None = None, processes: int = 2,
                  progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Write ``m1.mrc`` … ``m4.mrc`` into ``out``; returns records written per member (and ``lc``)."""
    out.mkdir(parents=True, exist_ok=True)
    files = {code: open(out / f"{code}.mrc", "wb") for code in MEMBERS}  # noqa: SIM115
    counts = {"lc": 0, **dict.fromkeys(MEMBERS, 0)}
    try:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            for block in pool.imap(_styled_chunk, _chunks(lc_records(source, limit))):
                for outputs in block:
                    counts["lc"] += 1
                    for code, data in zip(MEMBERS, outputs, strict=True):
                        if data is not None:
                            files[code].write(data)
                            counts[code] += 1
                if progress:
                    progress(len(block))
    finally:
        for handle in files.values():
            handle.close()
    (out / "counts.json").write_text(json.dumps(counts))
    return counts


def check(source: Path, out: Path, count: int) -> dict[str, dict[str, int]]:
    """Crosswalk the first ``count`` records of LC's file and of each member's: rejects per file,
    and the member rejects whose LC record was accepted (position by position)."""
    from mappings import CrosswalkError, crosswalk

    def rejected(records: Iterator[bytes], syntax: str) -> list[bool]:
        flags = []
        for raw in records:
            try:
                crosswalk(raw, "iso2709", syntax)
                flags.append(False)
            except CrosswalkError:
                flags.append(True)
        return flags

    lc = rejected(lc_records(source, count), "marc21")
    report = {"lc": {"records": len(lc), "rejected": sum(lc)}}
    for code in MEMBERS:
        flags = rejected(lc_records(out / f"{code}.mrc", count), SYNTAX[code])
        new = sum(1 for n, bad in enumerate(flags) if bad and not (n < len(lc) and lc[n]))
        report[code] = {"records": len(flags), "rejected": sum(flags), "rejected_not_by_lc": new}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="first N LC records only")
    parser.add_argument("--check", type=int, default=0, help="crosswalk the first N records of each file")
    args = parser.parse_args()
    source = shared_data() / LC_FILE
    print(write_members(source, args.out, args.limit))
    if args.check:
        print(check(source, args.out, args.check))


if __name__ == "__main__":
    main()
