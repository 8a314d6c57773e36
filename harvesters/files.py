"""File-dump harvester: ISO 2709 or MARCXML files from a URL, a file or a directory, optionally gzipped.

Checkpoint (JSON) committed with every page::

    {"files": {"<name>": {"etag": "<ETag>" | None, "sha256": "<hex>", "done": bool, "sweep": "<pass>"}},
     "current": {"name": "<name>", "offset": <records already yielded from it>} | None,
     "sweep": "<id of the pass in progress>"}           # absent once a pass ended

``name`` is the URL, the file's path, or for a directory the file's name inside it. A file that is
``done`` with the same sha256 (or a URL answering 304 to ``If-None-Match``) is skipped and noted. A
killed harvest re-reads the file it was in and skips the ``offset`` records already stored, unless
the file changed meanwhile (then it starts that file over, noted).

Records keep their bytes as received (ISO 2709) or are the ``<record>`` element alone (MARCXML).
``local_id`` is the ``id_field`` (``001`` or ``TAG$c``); a record without it gets
``sha256:<hash of its bytes>`` (noted), which is stable only while the record is unchanged.

Deletions: a dump is the member's whole catalogue, so a pass that read every file is a full pass
(its pages carry a ``sweep`` id, also kept in the checkpoint while a killed pass resumes, and its
last page says it is complete): the pipeline withdraws the member's records it did not see. A pass
that skipped an unchanged file is not complete (the skipped file's records were not seen); with
no checkpoint (``unicat harvest --full``) every file is read. A member can also list deleted ids,
one per line, in the optional ``deleted`` file/URL; each becomes a deleted record.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import re
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

import httpx
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, field_validator

from harvesters.base import Encoding, HarvestedRecord, HarvestError, Page, new_sweep
from harvesters.http import RetryPolicy, check_status, with_retries
from harvesters.xmlsafe import XmlError, iter_elements, serialise

ISO_SUFFIXES = {".mrc", ".marc"}
XML_SUFFIXES = {".xml", ".marcxml"}
DIRECTORY_SUFFIXES = ISO_SUFFIXES | XML_SUFFIXES | {".gz"}
RECORD_TAGS = (
    "{http://www.loc.gov/MARC21/slim}record",
    "{info:lc/xmlns/marcxchange-v1}record",
    "{info:lc/xmlns/marcxchange-v2}record",
    "record",
)
RECORD_TERMINATOR, FIELD_TERMINATOR, SUBFIELD_DELIMITER = b"\x1d", 0x1E, b"\x1f"
Format = Literal["iso2709", "marcxml"]
#: The character sets :data:`mappings.marcio.CHARSETS` reads (harvesters import nothing of mappings).
Charset = Literal["marc8", "utf-8", "cp1251", "cp866", "koi8-r", "cp1252", "latin-1", "gb18030", "big5"]


class FilesFeed(BaseModel):
    """One member's file feed as configured in the members file (paths already made absolute)."""

    model_config = ConfigDict(extra="forbid")

    url_or_path: str
    format: Format | None = None
    syntax: Literal["marc21", "unimarc"] | None = None
    #: Character set of ISO 2709 records when their leader cannot be trusted (a dump in cp1251
    #: under a MARC-8 leader); None reads leader/09 (see :func:`mappings.marcio.parse_iso2709`).
    charset: Charset | None = None
    id_field: str = "001"
    #: Optional file or URL listing deleted local ids, one per line.
    deleted: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    retries: int | None = Field(default=None, ge=0)

    @field_validator("url_or_path", "deleted")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        if value is None or re.match(r"^https?://[^/\s]+", value) or Path(value).is_absolute():
            return value
        raise ValueError(f"must be an http(s) URL or an absolute path, got {value!r}")

    @field_validator("id_field")
    @classmethod
    def _id_field(cls, value: str) -> str:
        if not re.fullmatch(r"\d{3}|\d{3}\$[a-z0-9]", value):
            raise ValueError(f"id_field must be a tag like 001 or a subfield like 035$a, got {value!r}")
        return value


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


class FileHarvester:
    """Harvest one :class:`FilesFeed`; see the module docstring for the checkpoint."""

    def __init__(
        self,
        feed: FilesFeed,
        *,
        timeout: float = 30.0,
        retries: int = 4,
        page_size: int = 500,
        sleep: Callable[[float], None] = time.sleep,
        backoff: float = 1.0,
    ) -> None:
        self.feed = feed
        self.page_size = page_size
        self.sleep = sleep
        self.policy = RetryPolicy(
            retries=feed.retries if feed.retries is not None else retries,
            timeout=feed.timeout if feed.timeout is not None else timeout,
            backoff=backoff,
        )
        self._notes: list[str] = []
        self._sweep, self._skipped, self._read = "", 0, 0

    def pages(self, checkpoint: dict[str, Any] | None) -> Iterator[Page]:
        """The pages of one pass; the last is marked complete when the pass read every file."""
        self._sweep = str((checkpoint or {}).get("sweep") or "") or new_sweep()  # kept while a pass resumes
        self._skipped = self._read = 0
        held: Page | None = None
        for page in self._pass(checkpoint):
            page.sweep = self._sweep
            page.checkpoint["sweep"] = self._sweep
            if held is not None:
                yield held
            held = page
        if held is not None:
            held.checkpoint.pop("sweep")  # the pass is over: the next run starts a new one
            held.sweep_complete = not self._skipped
            if self._skipped and self._read:
                held.notes.append(
                    f"withdrawals not looked for: {self._skipped} file(s) were not read again, so records "
                    "missing from the dump cannot be told apart; unicat harvest --full reads every file"
                )
            yield held

    def _pass(self, checkpoint: dict[str, Any] | None) -> Iterator[Page]:
        previous: dict[str, dict[str, Any]] = dict((checkpoint or {}).get("files") or {})
        current: dict[str, Any] = (checkpoint or {}).get("current") or {}
        files = {name: dict(state) for name, state in previous.items()}
        seen: set[str] = set()
        emitted = False
        sources = self._sources()
        needs_http = any(is_url(location) for _name, _kind, location in sources)
        with (
            tempfile.TemporaryDirectory(prefix="unicat-files-") as tmp,
            self._client() if needs_http else contextlib.nullcontext() as client,
        ):
            for name, kind, location in sources:
                seen.add(name)
                before = previous.get(name) or {}
                fetched = self._fetch(client, location, before, Path(tmp) / "download")
                if fetched is None:
                    self._notes.append(f"{name}: not modified (ETag), skipped")
                    self._skipped += kind == "records" and before.get("sweep") != self._sweep
                    continue
                path, etag, sha256 = fetched
                if before.get("done") and before.get("sha256") == sha256:
                    files[name] = {**before, "etag": etag or before.get("etag")}
                    self._notes.append(f"{name}: unchanged, skipped")
                    self._skipped += kind == "records" and before.get("sweep") != self._sweep
                    continue
                skip = 0
                if current.get("name") == name and not before.get("done"):
                    if before.get("sha256") == sha256:
                        skip = int(current.get("offset") or 0)
                    else:
                        self._notes.append(f"{name}: changed since the interrupted harvest; starting it over")
                files[name] = {"etag": etag, "sha256": sha256, "done": False, "sweep": self._sweep}
                self._read += kind == "records"
                for page in self._file_pages(name, kind, path, files, skip):
                    emitted = True
                    yield page
        for name in set(files) - seen:
            del files[name]
            self._notes.append(f"{name}: no longer offered")
        if not emitted or self._notes:
            yield Page([], {"files": files, "current": None}, self._take_notes())

    # ------------------------------------------------------------------ sources
    def _sources(self) -> list[tuple[str, str, str]]:
        """(checkpoint name, "records" | "deleted", URL or path) in harvest order."""
        found = [*self._expand(self.feed.url_or_path, "records")]
        if self.feed.deleted:
            found += self._expand(self.feed.deleted, "deleted")
        return found

    @staticmethod
    def _expand(location: str, kind: str) -> list[tuple[str, str, str]]:
        if is_url(location):
            return [(location, kind, location)]
        path = Path(location)
        if path.is_dir():
            members = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in DIRECTORY_SUFFIXES)
            return [(p.name, kind, str(p)) for p in members]
        if not path.is_file():
            raise HarvestError(f"{location}: no such file or directory")
        return [(str(path), kind, str(path))]

    def _client(self) -> httpx.Client:
        return httpx.Client(timeout=self.policy.timeout, follow_redirects=True)

    def _fetch(
        self, client: httpx.Client | None, location: str, before: dict[str, Any], dest: Path
    ) -> tuple[Path, str | None, str] | None:
        """The file to read, its ETag and sha256; ``None`` when the server says 304 Not Modified."""
        if client is None or not is_url(location):
            digest = hashlib.sha256()
            with open(location, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            return Path(location), None, digest.hexdigest()
        # Ask conditionally only for a file finished last time: a half-read one must be re-read.
        etag = before.get("etag") if before.get("done") else None

        def attempt() -> tuple[Path, str | None, str] | None:
            headers = {"If-None-Match": etag} if etag else {}
            with client.stream("GET", location, headers=headers) as response:
                if response.status_code == 304:
                    return None
                check_status(location, response.status_code, response.headers)
                digest = hashlib.sha256()
                with dest.open("wb") as out:
                    for block in response.iter_bytes(1 << 16):
                        digest.update(block)
                        out.write(block)
                return dest, response.headers.get("ETag"), digest.hexdigest()

        return with_retries(location, attempt, self.policy, sleep=self.sleep, notes=self._notes)

    # ------------------------------------------------------------------ pages
    def _file_pages(
        self, name: str, kind: str, path: Path, files: dict[str, dict[str, Any]], skip: int
    ) -> Iterator[Page]:
        hashed = [0]
        records = self._deleted(path) if kind == "deleted" else self._records(name, path, hashed)
        page: list[HarvestedRecord] = []
        count = 0
        for record in records:
            count += 1
            if count <= skip:
                continue
            if len(page) == self.page_size:
                yield self._page(page, files, {"name": name, "offset": count - 1})
                page = []
            page.append(record)
        files[name]["done"] = True
        if skip:
            self._notes.append(f"{name}: resumed after record {skip}")
        if hashed[0]:
            self._notes.append(f"{name}: {hashed[0]} records without {self.feed.id_field}; ids are hashes")
        yield self._page(page, files, None)

    def _page(self, records: list[HarvestedRecord], files: dict[str, Any], current: dict[str, Any] | None) -> Page:
        snapshot = {name: dict(state) for name, state in files.items()}
        return Page(records, {"files": snapshot, "current": current}, self._take_notes())

    def _take_notes(self) -> list[str]:
        notes, self._notes = self._notes, []
        return notes

    def _deleted(self, path: Path) -> Iterator[HarvestedRecord]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield HarvestedRecord(line.strip(), b"", encoding=_encoding(self._format(path.name)), deleted=True)

    def _format(self, name: str) -> Format | None:
        if self.feed.format:
            return self.feed.format
        suffixes = [s.lower() for s in Path(name.split("?")[0]).suffixes if s.lower() != ".gz"]
        if suffixes and suffixes[-1] in ISO_SUFFIXES:
            return "iso2709"
        if suffixes and suffixes[-1] in XML_SUFFIXES:
            return "marcxml"
        return None

    def _records(self, name: str, path: Path, hashed: list[int]) -> Iterator[HarvestedRecord]:
        with path.open("rb") as handle:
            stream: IO[bytes] = handle
            magic = handle.read(2)
            handle.seek(0)
            if magic == b"\x1f\x8b":
                stream = io.BufferedReader(gzip.GzipFile(fileobj=handle, mode="rb"))
            fmt = self._format(name)
            try:
                if fmt is None:
                    peeked = stream.peek(256) if isinstance(stream, io.BufferedReader) else b""
                    fmt = "marcxml" if peeked.lstrip()[:1] == b"<" else "iso2709"
                if fmt == "marcxml":
                    yield from self._marcxml(stream, hashed, name, path)
                else:
                    yield from self._iso2709(stream, hashed)
            except (OSError, EOFError, zlib.error) as exc:
                reason = f"{name} unreadable ({type(exc).__name__}: {exc}); the rest of the file was skipped"
                yield HarvestedRecord(hash_id(reason.encode()), b"", _encoding(fmt), self.feed.syntax, error=reason)

    def _iso2709(self, stream: IO[bytes], hashed: list[int]) -> Iterator[HarvestedRecord]:
        # The declared character set travels with every record ("iso2709;cp1251"), so a
        # re-crosswalk of the stored bytes reads them the same way.
        encoding: Any = f"iso2709;{self.feed.charset}" if self.feed.charset else "iso2709"
        for raw, error in split_iso2709(stream):
            if error:
                yield HarvestedRecord(hash_id(raw), raw, encoding, self.feed.syntax, error=error)
                continue
            local_id = iso2709_field(raw, self.feed.id_field)
            if not local_id:
                hashed[0] += 1
            yield HarvestedRecord(local_id or hash_id(raw), raw, encoding, self.feed.syntax)

    def _marcxml(self, stream: IO[bytes], hashed: list[int], name: str, path: Path) -> Iterator[HarvestedRecord]:
        count = 0
        try:
            for element in iter_elements(stream, RECORD_TAGS):
                count += 1
                yield self._xml_record(element, hashed)
        except XmlError as exc:
            yield from self._salvage(name, path, count, exc, hashed)
            return
        if count == 0:
            reason = (f"{name}: no MARC record in this XML (root element {_root_name(path)}): a dialect this "
                      f"harvester cannot read (it reads MARCXML and MARCXchange <record> elements)")
            yield HarvestedRecord(hash_id(reason.encode()), b"", "xml", self.feed.syntax, error=reason)

    def _xml_record(self, element: etree._Element, hashed: list[int]) -> HarvestedRecord:
        raw = serialise(element)
        local_id = marcxml_field(element, self.feed.id_field)
        if not local_id:
            hashed[0] += 1
        return HarvestedRecord(local_id or hash_id(raw), raw, "xml", self.feed.syntax)

    def _salvage(
        self, name: str, path: Path, done: int, error: XmlError, hashed: list[int]
    ) -> Iterator[HarvestedRecord]:
        """After a syntax error, read the records after the ``done`` good ones one by one, so one
        malformed record is one named reject and the good records after it are kept."""
        data = _read_all(path, SALVAGE_LIMIT)
        chunks = list(_RECORD_BLOCK.finditer(data)) if data is not None else []
        if len(chunks) <= done:
            reason = f"file {error} after record {done}; the rest was skipped"
            yield HarvestedRecord(hash_id(reason.encode()), b"", "xml", self.feed.syntax, error=reason)
            return
        head = _wrapper_head(data or b"")
        self._notes.append(f"{name}: {error}; records after record {done} read one by one")
        for number, chunk in enumerate(chunks[done:], start=done + 1):
            body = chunk.group(0)
            try:
                root = etree.fromstring(head + body + b"</unicat-wrapper>", xmlsafe_parser())
            except etree.XMLSyntaxError as exc:
                reason = f"{name}: record {number} is not well-formed XML ({exc}); skipped"
                yield HarvestedRecord(hash_id(body), body, "xml", self.feed.syntax, error=reason)
                continue
            yield self._xml_record(root[0], hashed)


# ---------------------------------------------------------------------- MARC helpers

#: Files up to this size are read again whole to salvage the records after a syntax error.
SALVAGE_LIMIT = 256 << 20
_RECORD_BLOCK = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?)record[\s>][\s\S]*?</\1record\s*>")
_ROOT_TAG = re.compile(rb"<([A-Za-z_][\w.:-]*)((?:\s+[^<>]*?)?)/?>")
_XMLNS = re.compile(rb"""\sxmlns(?::[\w.-]+)?\s*=\s*(?:"[^"]*"|'[^']*')""")
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*\?>")


def _open(path: Path) -> IO[bytes]:
    handle = path.open("rb")
    if handle.read(2) == b"\x1f\x8b":
        handle.seek(0)
        return gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    handle.seek(0)
    return handle


def _read_all(path: Path, limit: int) -> bytes | None:
    with _open(path) as stream:
        data = stream.read(limit + 1)
    return data if len(data) <= limit else None


def _root_element(data: bytes) -> re.Match[bytes] | None:
    text = _DECLARATION.sub(b"", data)
    for match in _ROOT_TAG.finditer(text):
        if not match.group(1).startswith((b"!", b"?")):
            return match
    return None


def _root_name(path: Path) -> str:
    with _open(path) as stream:
        root = _root_element(stream.read(8192))
    return f"<{root.group(1).decode('utf-8', 'replace')}>" if root else "unknown"


def _wrapper_head(data: bytes) -> bytes:
    """The file's XML declaration and a wrapper element carrying its root's namespace declarations."""
    declaration = _DECLARATION.match(data)
    root = _root_element(data[:65536])
    namespaces = b"".join(m.group(0) for m in _XMLNS.finditer(root.group(2))) if root else b""
    return (declaration.group(0).strip() if declaration else b"") + b"<unicat-wrapper" + namespaces + b">"


def xmlsafe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=True)


def split_iso2709(stream: IO[bytes], block: int = 1 << 20) -> Iterator[tuple[bytes, str | None]]:
    """Yield (record bytes, error or None), cutting at record terminators so one bad leader costs one record."""
    buffer = b""
    while chunk := stream.read(block):
        parts = (buffer + chunk).split(RECORD_TERMINATOR)
        buffer = parts.pop()
        for part in parts:
            record = part.lstrip(b"\r\n\t \x00\x1a") + RECORD_TERMINATOR
            if len(record) > 1:
                yield record, leader_problem(record)
    rest = buffer.strip(b"\r\n\t \x00\x1a")
    if rest:
        yield rest, "truncated record at end of file (no record terminator)"


def leader_problem(record: bytes) -> str | None:
    if len(record) < 25 or not record[:5].isdigit() or not record[12:17].isdigit():
        return f"broken leader {record[:24]!r}"
    if int(record[:5]) != len(record):
        return f"leader gives length {int(record[:5])} but the record has {len(record)} bytes"
    base = int(record[12:17])
    if not 24 < base <= len(record) or record[base - 1] != FIELD_TERMINATOR or (base - 25) % 12:
        return f"broken leader: bad base address {base}"
    return None


def iso2709_field(record: bytes, id_field: str) -> str | None:
    """The first ``TAG`` (control field) or ``TAG$c`` (subfield) value of a valid ISO 2709 record."""
    tag, _, code = id_field.partition("$")
    base = int(record[12:17])
    directory = record[24 : base - 1]
    for i in range(0, len(directory) - 11, 12):
        entry = directory[i : i + 12]
        if entry[:3].decode("ascii", "replace") != tag or not entry[3:12].isdigit():
            continue
        length, start = int(entry[3:7]), int(entry[7:12])
        data = record[base + start : base + start + length].rstrip(b"\x1e")
        if code:
            found = [s[1:] for s in data.split(SUBFIELD_DELIMITER)[1:] if s[:1] == code.encode()]
            data = found[0] if found else b""
        value = data.decode("utf-8", "replace").strip()
        if value:
            return value
    return None


def marcxml_field(record: etree._Element, id_field: str) -> str | None:
    tag, _, code = id_field.partition("$")
    for child in record:
        if not isinstance(child.tag, str) or child.get("tag") != tag:
            continue
        if not code and etree.QName(child).localname == "controlfield":
            value = (child.text or "").strip()
        elif code and etree.QName(child).localname == "datafield":
            subfield = next((s for s in child if isinstance(s.tag, str) and s.get("code") == code), None)
            value = (subfield.text or "").strip() if subfield is not None else ""
        else:
            continue
        if value:
            return value
    return None


def _encoding(fmt: Format | None) -> Encoding:
    return "iso2709" if fmt == "iso2709" else "xml"


def hash_id(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:32]
