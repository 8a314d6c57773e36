"""Select the demo consortium's records from the shared real-data folder, deterministically.

``python -m demo.build_demo_data`` reads ``$UNICAT_SHARED_DATA`` (default ``../shared/data`` beside the
repository) and rewrites ``demo/data/``. The output is committed, so the demo itself needs no
shared folder; see ``demo/PROVENANCE.md``.

Records are copied byte for byte except: Pride-and-Prejudice records without a 001, or whose 001
repeats within one member, get ``001 = pp<position in the source file>``; UNIMARC/CNMARC records
found inside SRU responses are rewritten as MARCXML (MARC 21 slim namespace, same fields).
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pymarc
from lxml import etree

from demo.marc_records import control, language_008

REPO = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "data"

UVA = "marc21/uva-sirsi-2000.mrc"
LC_ALL = "marc21/lc-booksall-2016-part01.mrc.gz"
LC_CHI = "marc21/lc-booksall-2016-part01-chinese.mrc.gz"
PRIDE = "dedup/pride-and-prejudice-383-records-109-sources.mrc"
CNMARC = "unimarc/bnu-alma-sru-cnmarc-10.xml"
BNF = "unimarc/bnf-sru-unimarc-49.xml"

LC_OTHER_COUNT = 1000
LC_OTHER_STEP = 7
#: At most this many records of one language in the "other LC" selection (keeps it multilingual).
LC_OTHER_PER_LANGUAGE = {"eng": 400}
LC_OTHER_DEFAULT_QUOTA = 90
LC_CHINESE_COUNT = 1500
LC_CHINESE_STEP = 5
#: MARC 21 Pride-and-Prejudice records go round these members; every 4th also to the next one.
PRIDE_MEMBERS = ("pku", "sjtu", "calis")


def shared_data() -> Path:
    return Path(os.environ.get("UNICAT_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()


def iso_chunks(raw: bytes) -> Iterator[bytes]:
    """Split an ISO 2709 stream into records by their length prefix."""
    pos = 0
    while pos + 5 <= len(raw):
        length = int(raw[pos : pos + 5])
        yield raw[pos : pos + length]
        pos += length


def lang_of(chunk: bytes) -> str:
    record = pymarc.Record(data=chunk, to_unicode=True, force_utf8=True, utf8_handling="replace")
    return language_008(record)


@dataclass
class Feed:
    """One member's output file and the 001s already in it."""

    path: Path
    chunks: list[bytes] = field(default_factory=list)
    records: list[pymarc.Record] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)

    def add_chunk(self, chunk: bytes) -> None:
        record = pymarc.Record(data=chunk, to_unicode=True, force_utf8=False, utf8_handling="replace")
        if control(record, "001").strip():
            self.ids.add(control(record, "001").strip())
        self.chunks.append(chunk)

    def add_pride(self, chunk: bytes, position: int, as_record: bool = False) -> None:
        record = pymarc.Record(data=chunk, to_unicode=True, force_utf8=True, utf8_handling="replace")
        local = control(record, "001").strip()
        if not local or local in self.ids:
            record.remove_fields("001")
            local = f"pp{position:04d}"
            record.add_ordered_field(pymarc.Field(tag="001", data=local))
            chunk = record.as_marc()
        self.ids.add(local)
        if as_record:
            self.records.append(record)
        else:
            self.chunks.append(chunk)

    def write(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.name.endswith(".xml"):
            buffer = io.BytesIO()
            writer = pymarc.XMLWriter(buffer)
            for record in self.records:
                writer.write(record)
            writer.close(close_fh=False)
            self.path.write_bytes(buffer.getvalue())
            return len(self.records)
        data = b"".join(self.chunks)
        if self.path.suffix == ".gz":
            data = gzip.compress(data, compresslevel=9, mtime=0)
        self.path.write_bytes(data)
        return len(self.chunks)


def sru_marcxml_records(path: Path) -> list[pymarc.Record]:
    """MARC records (any namespace: CNMARC, unimarcxml, marcxchange) inside SRU responses."""
    tree = etree.parse(str(path))
    out = []
    for node in tree.iter():
        if not isinstance(node.tag, str) or etree.QName(node).localname != "record":
            continue
        children = [c for c in node if isinstance(c.tag, str)]
        if not children or etree.QName(children[0]).localname != "leader":
            continue
        record = pymarc.Record(force_utf8=True, leader=(children[0].text or "").ljust(24)[:24])
        for child in children[1:]:
            name = etree.QName(child).localname
            tag = child.get("tag", "")
            if name == "controlfield":
                record.add_field(pymarc.Field(tag=tag, data=child.text or ""))
            elif name == "datafield":
                subfields = [
                    pymarc.Subfield(s.get("code", ""), s.text or "")
                    for s in child
                    if isinstance(s.tag, str) and etree.QName(s).localname == "subfield"
                ]
                indicators = pymarc.Indicators(child.get("ind1", " ") or " ", child.get("ind2", " ") or " ")
                record.add_field(pymarc.Field(tag=tag, indicators=indicators, subfields=subfields))
        out.append(record)
    return out


def is_unimarc(chunk: bytes) -> bool:
    record = pymarc.Record(data=chunk, to_unicode=True, force_utf8=True, utf8_handling="replace")
    return record.get("200") is not None and record.get("245") is None


def build(src: Path, out: Path = OUT) -> dict[str, int]:
    feeds = {
        "pku": Feed(out / "pku" / "uva-sirsi.mrc.gz"),
        "pku-pp": Feed(out / "pku" / "pride-and-prejudice.mrc"),
        "sjtu": Feed(out / "sjtu" / "lc-books.mrc.gz"),
        "sjtu-pp": Feed(out / "sjtu" / "pride-and-prejudice.mrc"),
        "calis": Feed(out / "calis-lc-chinese.mrc"),
        "bnu": Feed(out / "bnu-cnmarc.xml"),
    }
    for chunk in iso_chunks((src / UVA).read_bytes()):
        feeds["pku"].add_chunk(chunk)

    taken: dict[str, int] = {}
    for index, chunk in enumerate(iso_chunks(gzip.decompress((src / LC_ALL).read_bytes()))):
        if len(feeds["sjtu"].chunks) >= LC_OTHER_COUNT:
            break
        if index % LC_OTHER_STEP:
            continue
        lang = lang_of(chunk)
        if lang == "chi" or taken.get(lang, 0) >= LC_OTHER_PER_LANGUAGE.get(lang, LC_OTHER_DEFAULT_QUOTA):
            continue
        taken[lang] = taken.get(lang, 0) + 1
        feeds["sjtu"].add_chunk(chunk)

    for index, chunk in enumerate(iso_chunks(gzip.decompress((src / LC_CHI).read_bytes()))):
        if len(feeds["calis"].chunks) >= LC_CHINESE_COUNT:
            break
        if index % LC_CHINESE_STEP == 0:
            feeds["calis"].add_chunk(chunk)

    feeds["bnu"].records.extend(sru_marcxml_records(src / CNMARC))
    feeds["bnu"].records.extend(sru_marcxml_records(src / BNF))
    for record in feeds["bnu"].records:
        if control(record, "001").strip():
            feeds["bnu"].ids.add(control(record, "001").strip())

    targets = {"pku": "pku-pp", "sjtu": "sjtu-pp", "calis": "calis"}
    marc21_seen = 0
    for position, chunk in enumerate(iso_chunks((src / PRIDE).read_bytes())):
        if is_unimarc(chunk):
            feeds["bnu"].add_pride(chunk, position, as_record=True)
            continue
        first = marc21_seen % len(PRIDE_MEMBERS)
        members = [PRIDE_MEMBERS[first]]
        if marc21_seen % 4 == 0:
            members.append(PRIDE_MEMBERS[(first + 1) % len(PRIDE_MEMBERS)])
        for member in members:
            feeds[targets[member]].add_pride(chunk, position)
        marc21_seen += 1

    return {str(feed.path.relative_to(out)): feed.write() for feed in feeds.values()}


def main() -> int:
    src = shared_data()
    if not (src / UVA).exists():
        raise SystemExit(f"shared data not found at {src}; set UNICAT_SHARED_DATA")
    for name, count in build(src).items():
        print(f"{count:6d}  demo/data/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
