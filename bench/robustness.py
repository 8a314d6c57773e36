"""Other projects' test files through our harvesters and crosswalks (issue 14); not a timed test.

Run from the repository root::

    .venv/bin/python bench/robustness.py [--fixtures DIR] [--json out.json] [--show N]

``DIR`` defaults to ``$UNICAT_PEER_FIXTURES`` or ``peer-fixtures`` in the shared data
(``$UNICAT_SHARED_DATA``, default ``../shared/data``): MARC and
OAI-PMH test data written by pymarc, marc4j, File_MARC, ruby-marc, RecordManager, Open Library,
traject, Catmandu, sickle, pyoai and others (see the PROVENANCE.md there; the files are not part of
this repository). Every file is harvested the way a member's feed would be: an OAI-PMH response
(root ``OAI-PMH``) by :class:`harvesters.oai.OaiHarvester` against a local HTTP server that
answers every request with the file's bytes (first page only), anything else by
:class:`harvesters.files.FileHarvester`. Each harvested record then goes through
:func:`mappings.crosswalk` and :func:`mappings.to_marcxml`, as the pipeline and the record page do.

Reported per source (the top folder): files, records seen, mapped, named rejects (a harvester's
error or a :class:`~mappings.CrosswalkError`), escaped exceptions (anything else: a bug), garbled
titles (replacement characters, escape or control characters, undecoded ``&#x…;`` references,
piles of combining marks, UTF-8 read as Latin-1) and display MARCXML that does not parse; files
that gave no record at all (the run report must say so) are listed by name. For Open Library's
records the title is also compared with the one its tests expect (``*_expect/*.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import re
import sys
import threading
import traceback
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from build_dedup_labels import data_dir  # noqa: E402

from harvesters.base import HarvestedRecord, HarvestError  # noqa: E402
from harvesters.files import FileHarvester, FilesFeed  # noqa: E402
from harvesters.oai import OaiFeed, OaiHarvester  # noqa: E402
from mappings import CrosswalkError, crosswalk, to_marcxml  # noqa: E402

DEFAULT_FIXTURES = Path(os.environ.get("UNICAT_PEER_FIXTURES", data_dir() / "peer-fixtures"))
SKIPPED_SUFFIXES = {".json", ".md", ".txt", ".yml", ".yaml", ".rb", ".py", ".pl", ".php", ".java"}
_MOJIBAKE = re.compile("[ÃÂÐÑ][\u0080-\u00bf]|â€")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass
class SourceTally:
    files: int = 0
    records: int = 0
    mapped: int = 0
    rejects: int = 0
    escaped: int = 0
    garbled: int = 0
    broken_xml: int = 0
    empty_files: list[str] = field(default_factory=list)
    reject_reasons: dict[str, int] = field(default_factory=dict)
    garbled_titles: list[str] = field(default_factory=list)
    escaped_examples: list[str] = field(default_factory=list)
    #: Open Library ships the title it expects for each test record: agreement with ours.
    expected_titles: int = 0
    expected_agree: int = 0
    expected_differ: list[str] = field(default_factory=list)


def garbled(title: str) -> str | None:
    """Why a mapped title looks garbled, or None."""
    if "\ufffd" in title:
        return "replacement character"
    if _CONTROL.search(title):
        return "control character"
    if re.search(r"&#x?[0-9a-fA-F]+;", title):
        return "undecoded character reference"
    if _MOJIBAKE.search(title):
        return "UTF-8 read as Latin-1"
    previous = " "
    for char in unicodedata.normalize("NFD", title):
        if unicodedata.combining(char) and unicodedata.combining(previous):
            return "pile of combining marks"
        if unicodedata.combining(char) and not previous.isalpha() and unicodedata.combining(previous) == 0:
            return "combining mark on a non-letter"
        previous = char
    return None


def _reason_name(message: str) -> str:
    """The reject reason without its record-specific details, for counting."""
    return re.sub(r"\d+|'[^']*'|\"[^\"]*\"|\([^)]*\)", "…", message)[:90]


def is_oai(path: Path) -> bool:
    head = path.read_bytes()[:2000]
    return b"<OAI-PMH" in head or b":OAI-PMH" in head


class _OneFile(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        return


@contextlib.contextmanager
def serving(body: bytes) -> Iterator[str]:
    handler = type("Handler", (_OneFile,), {"body": body})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/oai"
    finally:
        server.shutdown()
        server.server_close()


def harvested(path: Path) -> Iterator[HarvestedRecord | str]:
    """The records a harvester yields for ``path``; a str is a fatal harvest error or a note."""
    if is_oai(path):
        body = path.read_bytes()
        prefix = "oai_dc" if b"oai_dc" in body else "marc21"
        with serving(body) as url:
            feed = OaiFeed(url=url, metadata_prefix=prefix)
            harvester = OaiHarvester(feed, retries=0, timeout=5)
            try:
                page = next(iter(harvester.pages(None)))
            except HarvestError as exc:
                yield f"harvest failed: {exc}"
                return
            yield from page.records
            yield from (f"note: {n}" for n in page.notes)
        return
    feed = FilesFeed(url_or_path=str(path))
    try:
        for page in FileHarvester(feed, retries=0).pages(None):
            yield from page.records
            yield from (f"note: {n}" for n in page.notes)
    except HarvestError as exc:
        yield f"harvest failed: {exc}"


def _title_words(text: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", unicodedata.normalize("NFC", text).casefold()).split())


def expected_title(path: Path) -> str | None:
    """Open Library's expected title for one of its test records (``*_input/x.mrc`` →
    ``*_expect/x.json``), or None."""
    folder = path.parent.name.replace("_input", "_expect")
    expect = path.parent.parent / folder / (path.stem + ".json")
    if folder == path.parent.name or not expect.is_file():
        return None
    title = json.loads(expect.read_text(encoding="utf-8")).get("title")
    return title if isinstance(title, str) else None


def compare_expected(doc_title: str, expected: str, tally: SourceTally, name: str) -> None:
    """Ours agrees when the words of one title begin the other's (Open Library joins 245 $a and $b
    in some records, keeps $a alone in others)."""
    ours, theirs = _title_words(doc_title), _title_words(expected)
    tally.expected_titles += 1
    if ours and theirs and (ours.startswith(theirs) or theirs.startswith(ours)):
        tally.expected_agree += 1
    else:
        tally.expected_differ.append(f"{name}: ours {doc_title!r}, Open Library {expected!r}")


def check_record(record: HarvestedRecord, tally: SourceTally, name: str, expected: str | None = None) -> None:
    if record.deleted:
        return
    tally.records += 1
    if record.error:
        tally.rejects += 1
        reason = _reason_name(record.error)
        tally.reject_reasons[reason] = tally.reject_reasons.get(reason, 0) + 1
        return
    try:
        doc = crosswalk(record.raw, record.encoding, record.syntax)
        xml = to_marcxml(record.raw, record.encoding)
    except CrosswalkError as exc:
        tally.rejects += 1
        reason = _reason_name(str(exc))
        tally.reject_reasons[reason] = tally.reject_reasons.get(reason, 0) + 1
        return
    except Exception as exc:  # the point of this bench: nothing may escape
        tally.escaped += 1
        tally.escaped_examples.append(f"{name}: {type(exc).__name__}: {exc} {traceback.format_exc(limit=2)}")
        return
    tally.mapped += 1
    if expected is not None:
        compare_expected(doc.title or "", expected, tally, name)
    why = garbled(doc.title or "")
    if why:
        tally.garbled += 1
        tally.garbled_titles.append(f"{name}: {why}: {doc.title!r}")
    try:
        etree.fromstring(xml.encode("utf-8"))
    except etree.XMLSyntaxError:
        tally.broken_xml += 1


def run(fixtures: Path) -> dict[str, SourceTally]:
    tallies: dict[str, SourceTally] = defaultdict(SourceTally)
    for path in sorted(p for p in fixtures.rglob("*") if p.is_file()):
        if path.suffix.lower() in SKIPPED_SUFFIXES or "_expect" in path.parent.name or path.name.startswith("."):
            continue
        relative = path.relative_to(fixtures)
        tally = tallies[relative.parts[0]]
        tally.files += 1
        count = 0
        notes: list[str] = []
        expected = expected_title(path)
        for item in harvested(path):
            if isinstance(item, str):
                notes.append(item)
                continue
            count += 1
            check_record(item, tally, str(relative), expected)
        if count == 0:
            tally.empty_files.append(f"{relative}" + (f" ({'; '.join(notes)[:160]})" if notes else " (no note)"))
    return dict(sorted(tallies.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument("--show", type=int, default=5, help="examples per source")
    args = parser.parse_args()
    tallies = run(args.fixtures)
    total = SourceTally()
    print("| source | files | records | mapped | named rejects | escaped | garbled titles | broken XML "
          "| files with no record |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, t in tallies.items():
        print(f"| {name} | {t.files} | {t.records} | {t.mapped} | {t.rejects} | {t.escaped} | {t.garbled} | "
              f"{t.broken_xml} | {len(t.empty_files)} |")
        for attr in ("files", "records", "mapped", "rejects", "escaped", "garbled", "broken_xml"):
            setattr(total, attr, getattr(total, attr) + getattr(t, attr))
        total.empty_files += t.empty_files
    print(f"| **all** | {total.files} | {total.records} | {total.mapped} | {total.rejects} | {total.escaped} | "
          f"{total.garbled} | {total.broken_xml} | {len(total.empty_files)} |")
    for t in tallies.values():
        if t.expected_titles:
            print(f"  Open Library's expected titles: {t.expected_agree} of {t.expected_titles} agree")
        for line in t.garbled_titles[: args.show] + t.escaped_examples[: args.show] + t.expected_differ[: args.show]:
            print(f"  {line}")
        for line in t.empty_files[: args.show]:
            print(f"  no record: {line}")
    if args.json:
        args.json.write_text(json.dumps({k: asdict(v) for k, v in tallies.items()}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
