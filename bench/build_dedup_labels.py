"""Build the labelled deduplication set in ``bench/dedup_labels/`` (issue 3).

Run from the repository root::

    .venv/bin/python bench/build_dedup_labels.py

Reads the shared real-data directory (``UNICAT_SHARED_DATA``, default ``../shared/data`` relative
to the repository root) and writes

* ``pairs.tsv`` — labelled record pairs from the Library of Congress file: every pair of records
  sharing an OCLC number (all reviewed by eye, verdicts in :data:`OCLC_VERDICTS`) and every pair
  sharing an ISBN, labelled by a rule over raw MARC fields (:func:`isbn_pair_label`);
* ``clusters.tsv`` — a complete edition-level gold partition of the Pride and Prejudice file
  (:func:`pride_gold`).

Records are identified by file, byte offset, SHA-1 of the record bytes and 001, so a label can be
checked against the exact bytes. The labels deliberately use fields and code paths the match keys
do not (raw 245/260/300/020/035 read with pymarc, publisher names), see ``dedup_labels/README.md``.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import os
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymarc

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "dedup_labels"
LC_FILE = "marc21/lc-booksall-2016-part01.mrc.gz"
PRIDE_FILE = "dedup/pride-and-prejudice-383-records-109-sources.mrc"

#: Every OCLC number shared by two LC records, reviewed by eye (title, 245 $b/$n, 250, 260, 300,
#: 1XX of both records). "same" = same manifestation catalogued twice; "different" = the OCLC
#: number was copied from an original, another edition or another title.
OCLC_VERDICTS: dict[str, tuple[str, str]] = {
    "40142200": ("same", "identical description, same ISBN"),
    "1854432": ("different", "1999 Spanish translation vs 1893 German original"),
    "42149974": ("different", "two different Utah curriculum standards (levels 7-12 vs 6-12, other subject)"),
    "42455659": ("different", "1999 79 p. vs 2000 3rd rev. ed. 126 p."),
    "43367302": ("same", "identical description, same ISBN"),
    "22150769": ("different", "1999 reprint vs 1879 original"),
    "44648245": ("same", "identical description"),
    "41135625": ("same", "identical description, same ISBN"),
    "44388523": ("same", "same report, one record lacks pagination"),
    "44185852": ("same", "same hearing, same ISBN"),
    "44021546": ("same", "same report"),
    "45004178": ("same", "same hearing, same ISBN"),
    "45224794": ("same", "same hearing"),
    "43646550": ("same", "identical description, same ISBN"),
    "43365627": ("different", "unrelated titles (Laicite et spiritualites / Le nouvel art du temps)"),
    "43593786": ("different", "English vs Danish edition (different ISBNs)"),
    "43547872": ("different", "unrelated titles (Perugino / Suppletio defectuum)"),
    "44789126": ("same", "identical description, same ISBN"),
    "44788291": ("different", "two different poetry books, different authors"),
    "1745146": ("different", "1999 reprint vs 1902 original (online copy)"),
    "43590036": ("different", "1999 report vs 2000 response to it (different ISBNs)"),
    "8068057": ("different", "2000 reprint vs 1860 2nd ed. (online copy)"),
    "42611986": ("same", "same Jove ed., one record lacks pagination"),
    "43053416": ("same", "identical description, same ISBN"),
    "41360699": ("different", "New Testament vs Old Testament volume, different authors"),
    "44053689": ("same", "identical description, same ISBN"),
    "26517218": ("different", "two different papers in one series, different authors"),
}

#: ISBN-sharing LC pairs whose rule label was overturned on review (every pair the rule calls
#: "same title, different part/edition/year" was read by eye, and pairs the whole-catalogue audit
#: read as different; 001s of both records, sorted).
ISBN_VERDICTS: dict[tuple[str, str], tuple[str, str]] = {
    ("00265676", "00267581"): ("same", "'Louisiana paperback ed.' = 'Louisiana pbk. ed.': same ISBN, 1999, 390 p."),
    ("00362605", "00362606"): ("same", "'2nd ed.' = '2nd edition': same ISBN, Aspen 1999, 602 p."),
    ("00100195", "00688603"): (
        "same", "CIP record (projected 2000, no extent) vs completed record c1999; same ISBN, 1st ed."
    ),
    ("00504292", "00504293"): (
        "different", "boxed set with a collector figure (020 '(boxed set)', 300 $e) vs the book alone, "
        "whose ISBN the set's record lists too"
    ),
}

#: Pride and Prejudice file: hand decisions on records sharing an ISBN (byte offsets), reviewed by
#: eye. Pairs listed here override the rule in :func:`pride_gold`.
PRIDE_DIFFERENT: tuple[tuple[int, int, str], ...] = (
    (100061, 101705, "Dent 1973 vs J. M. Dent 1962 printing, same ISBN"),
    (185143, 234322, "Barnes & Noble 2001 vs 1993, same ISBNs"),
    (185143, 235030, "Barnes & Noble 2001 vs 1993, same ISBNs"),
    (206658, 208311, "Raintree Steck-Vaughn 1991 vs Raintree 1981"),
    (223264, 259005, "Chancellor 1996 vs 1985"),
)
PRIDE_SAME: tuple[tuple[int, int, str], ...] = (
    (124445, 125880, "Bantam 1981 295 p.: MARC 21 and UNIMARC description of one book"),
    (98834, 146676, "Signet Classic 1996, one record lacks pagination"),
    (148852, 150000, "same 001 and ISBNs (Musson 1999 microfiche), no extent recorded"),
    (334941, 335801, "same 001 and ISBNs (Chinese 2-ISBN edition), no date or extent recorded"),
    (254762, 255513, "same 001 and ISBNs (Hodder audiobook collection), no extent recorded"),
    (254762, 256264, "same 001 and ISBNs (Hodder audiobook collection), no extent recorded"),
)


def data_dir() -> Path:
    """The shared real-data directory (never written)."""
    return Path(os.environ.get("UNICAT_SHARED_DATA", ROOT.parent / "shared" / "data"))


@dataclass(frozen=True)
class RawRecord:
    file: str
    offset: int
    raw: bytes

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.raw).hexdigest()

    @property
    def control(self) -> str:
        """The 001 read straight from the directory (no MARC library involved)."""
        base = int(self.raw[12:17])
        for pos in range(24, base - 1, 12):
            entry = self.raw[pos : pos + 12]
            if entry[:3] == b"001":
                length, start = int(entry[3:7]), int(entry[7:12])
                return self.raw[base + start : base + start + length].rstrip(b"\x1e").decode("utf-8", "replace").strip()
        return ""


def iter_records(file: str) -> Iterator[RawRecord]:
    """ISO 2709 records of a shared file with their byte offsets (in the uncompressed stream)."""
    path = data_dir() / file
    if file.endswith(".gz"):
        with gzip.open(path) as stream:
            data = stream.read()
    else:
        data = path.read_bytes()
    offset = 0
    while offset < len(data):
        end = data.index(b"\x1d", offset) + 1
        yield RawRecord(file, offset, data[offset:end])
        offset = end


def _parse(raw: bytes) -> pymarc.Record:
    return pymarc.Record(data=raw, to_unicode=True, force_utf8=True, utf8_handling="replace", hide_utf8_warnings=True)


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return " ".join(re.sub(r"[\W_]+", " ", "".join(c for c in text if not unicodedata.combining(c))).split())


def _first(record: pymarc.Record, tag: str, code: str) -> str:
    for field in record.get_fields(tag):
        values = field.get_subfields(code)
        if values:
            return values[0]
    return ""


def _isbn13(value: str) -> str | None:
    digits = re.sub(r"[^0-9Xx]", "", value.split("(")[0].split(" ")[0]).upper()
    if len(digits) == 10:
        core = "978" + digits[:9]
    elif len(digits) == 13 and digits[:3] in ("978", "979"):
        core = digits[:12]
    else:
        return None
    check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(core)) % 10) % 10
    return core + str(check)


def _oclc(record: pymarc.Record) -> set[str]:
    found = set()
    for field in record.get_fields("035"):
        for value in field.get_subfields("a"):
            match = re.match(r"\(OCoLC\)\D*0*(\d+)", value.strip())
            if match:
                found.add(match.group(1))
    return found


@dataclass(frozen=True)
class Facts:
    """Raw MARC 21 facts of one LC record used for labelling (not the match keys)."""

    title: str  # 245 $a normalised
    part: str  # 245 $n $p normalised
    edition: str  # 250 $a normalised
    year: str  # digits of 260/264 $c
    extent: str  # 300 $a normalised


def facts(record: pymarc.Record) -> Facts:
    date = _first(record, "260", "c") or _first(record, "264", "c")
    part = " ".join(v for f in record.get_fields("245") for v in f.get_subfields("n", "p"))
    return Facts(
        title=_norm(_first(record, "245", "a")),
        part=_norm(part),
        edition=_norm(_first(record, "250", "a")),
        year="".join(re.findall(r"\d{4}", date))[:4],
        extent=_norm(_first(record, "300", "a")),
    )


def _jaccard(a: str, b: str) -> float:
    sa, sb = set(a.split()), set(b.split())
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def isbn_pair_label(a: Facts, b: Facts) -> tuple[str, str] | None:
    """Label two LC records sharing an ISBN, or ``None`` when the rule cannot decide.

    same: identical 245 $a, $n/$p, 250, year and 300 $a (the same description entered twice);
    different: unrelated titles (word overlap under 0.2: the ISBN of a series, a publisher prefix
    or a typo was recorded), or the same title with a different part, edition or year.
    """
    if a == b:
        return "same", "245$a, 245$n$p, 250, 260$c year and 300$a identical"
    if _jaccard(a.title, b.title) < 0.2:
        return "different", "unrelated 245$a titles sharing one ISBN"
    if a.title == b.title:
        for name in ("part", "edition", "year"):
            x, y = getattr(a, name), getattr(b, name)
            if x and y and x != y:
                return "different", f"same title, different {name}: {x!r} vs {y!r}"
    return None


def lc_pairs() -> list[list[str]]:
    by_oclc: dict[str, list[tuple[RawRecord, Facts]]] = defaultdict(list)
    by_isbn: dict[str, list[tuple[RawRecord, Facts]]] = defaultdict(list)
    for rec in iter_records(LC_FILE):
        record = _parse(rec.raw)
        if not record.fields:
            continue
        entry = (rec, facts(record))
        for number in _oclc(record):
            by_oclc[number].append(entry)
        isbns = {i for f in record.get_fields("020") for v in f.get_subfields("a") if (i := _isbn13(v))}
        for isbn in isbns:
            by_isbn[isbn].append(entry)
    rows: list[list[str]] = []
    seen: set[tuple[int, int]] = set()

    def row(a: RawRecord, b: RawRecord, label: str, method: str, note: str) -> None:
        seen.add((a.offset, b.offset))
        rows.append(
            [
                "lc",
                a.file,
                str(a.offset),
                a.sha1,
                a.control,
                str(b.offset),
                b.sha1,
                b.control,
                label,
                method,
                note,
            ]
        )

    for number in sorted(by_oclc, key=int):
        group = by_oclc[number]
        if len(group) < 2:
            continue
        if number not in OCLC_VERDICTS:
            sys.exit(f"OCLC number {number} shared but not reviewed: add a verdict")
        label, note = OCLC_VERDICTS[number]
        for (a, _), (b, _) in itertools.combinations(group, 2):
            row(a, b, label, "oclc-shared-hand-reviewed", f"035 (OCoLC){number}: {note}")
    undecided = 0
    for isbn in sorted(by_isbn):
        group = by_isbn[isbn]
        if len(group) < 2 or len(group) > 20:  # a bigger group is a publisher-wide dummy ISBN
            continue
        for (a, fa), (b, fb) in itertools.combinations(group, 2):
            if (a.offset, b.offset) in seen:
                continue
            reviewed = ISBN_VERDICTS.get(tuple(sorted((a.control, b.control))))  # type: ignore[arg-type]
            verdict = (reviewed[0], f"reviewed by eye: {reviewed[1]}") if reviewed else isbn_pair_label(fa, fb)
            if verdict is None:
                undecided += 1
                continue
            row(a, b, verdict[0], "isbn-shared-rule", f"020 {isbn}: {verdict[1]}")
    print(f"lc: {len(rows)} labelled pairs, {undecided} ISBN-sharing pairs left unlabelled", file=sys.stderr)
    return rows


def _publisher(record: pymarc.Record, unimarc: bool) -> str:
    value = _first(record, "210", "c") if unimarc else (_first(record, "260", "b") or _first(record, "264", "b"))
    words = [w for w in _norm(value).split() if w not in ("the", "j", "m")]
    return words[0] if words else ""


def _carrier(record: pymarc.Record, unimarc: bool) -> str:
    """"online" for an electronic reproduction (MARC 21 leader/06 m, 008/23 o/s/q, 007/00 c, 245 $h
    "electronic resource"; UNIMARC 135, 200 $b), else "print": an online copy of a printed book
    is a manifestation of its own (and the issue asks print and e-book to stay apart)."""
    leader = str(record.leader)
    if unimarc:
        gmd = _norm(_first(record, "200", "b"))
        return "online" if record.get_fields("135") or "electronic" in gmd or "electronique" in gmd else "print"
    fixed = next((f.data for f in record.get_fields("008")), "")
    physical = next((f.data for f in record.get_fields("007")), "")
    electronic = (
        leader[6:7] == "m"
        or (leader[6:7] in ("a", "t") and fixed[23:24] in ("o", "s", "q"))
        or physical[:1] == "c"
        or "electronic" in _norm(_first(record, "245", "h"))
    )
    return "online" if electronic else "print"


def pride_gold() -> list[list[str]]:
    """Edition-level gold clusters of the Pride and Prejudice file.

    Rule: two records are one manifestation when their normalised title proper, first word of the
    publisher name, four-digit date and extent (300 $a / 215 $a digits) all agree and none is
    empty, and both are print or both online (:func:`_carrier`); then the hand decisions in
    :data:`PRIDE_SAME` / :data:`PRIDE_DIFFERENT` are applied.
    The multi-record clusters this produces were reviewed by eye (see the README).
    """
    records = list(iter_records(PRIDE_FILE))
    signature: dict[int, tuple[str, ...] | None] = {}
    for rec in records:
        record = _parse(rec.raw)
        unimarc = bool(record.get_fields("200")) and not record.get_fields("245")
        title = _first(record, "200", "a") if unimarc else _first(record, "245", "a")
        date = _first(record, "210", "d") if unimarc else (_first(record, "260", "c") or _first(record, "264", "c"))
        extent = _first(record, "215", "a") if unimarc else _first(record, "300", "a")
        year = "".join(re.findall(r"\d{4}", date))[:4]
        pages = "".join(re.findall(r"\d+", extent))
        parts = (_norm(title), _publisher(record, unimarc), year, pages)
        signature[rec.offset] = (*parts, _carrier(record, unimarc)) if all(parts) else None
    parent = {rec.offset: rec.offset for rec in records}

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    apart = {frozenset((a, b)) for a, b, _ in PRIDE_DIFFERENT}
    by_sig: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for offset, sig in signature.items():
        if sig:
            by_sig[sig].append(offset)
    links = [(g[0], o) for g in by_sig.values() for o in g[1:]] + [(a, b) for a, b, _ in PRIDE_SAME]
    for a, b in links:
        if frozenset((a, b)) not in apart:
            parent[find(b)] = find(a)
    hand = {o for a, b, _ in PRIDE_SAME + PRIDE_DIFFERENT for o in (a, b)}
    rows = []
    for rec in records:
        gold = find(rec.offset)
        method = "edition-rule+hand" if rec.offset in hand else "edition-rule"
        rows.append(["pride", rec.file, str(rec.offset), rec.sha1, rec.control, f"g{gold}", method])
    return rows


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    pairs = lc_pairs()
    header = ["set", "file", "a_offset", "a_sha1", "a_001", "b_offset", "b_sha1", "b_001", "label", "method", "note"]
    with (OUT / "pairs.tsv").open("w", encoding="utf-8") as out:
        out.write("\t".join(header) + "\n")
        out.writelines("\t".join(r) + "\n" for r in pairs)
    clusters = pride_gold()
    with (OUT / "clusters.tsv").open("w", encoding="utf-8") as out:
        out.write("\t".join(["set", "file", "offset", "sha1", "001", "gold", "method"]) + "\n")
        out.writelines("\t".join(r) + "\n" for r in clusters)
    print(f"pride: {len(clusters)} records, {len({r[5] for r in clusters})} gold clusters", file=sys.stderr)


if __name__ == "__main__":
    main()
