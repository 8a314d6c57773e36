"""A real OAI-PMH data provider over MARC files, built on the ``oaipmh`` package's server.

Serves ISO 2709 (``.mrc``, ``.mrc.gz``) and MARCXML (``.xml``, ``.marcxml``, ``.xml.gz``) records as
``marc21`` (MARCXML) and ``oai_dc``. Each source file is a set (its name without suffixes) and
MARC 21 records are also in ``lang-<008/35-37>``. Datestamps come from 005 (else 2020-01-01).

Run: ``python -m demo.oai_provider --port 8081 --records demo/data/pku [--batch 100] [--state s.json]``.
The optional state file (JSON) overrides records: ``{"deleted": {"<id>": "<datestamp>"},
"datestamps": {"<id>": "<datestamp>"}}``; it is re-read whenever it changes. In tests, use
:func:`serve_in_thread` and edit records through :class:`MarcRepository` (``delete``, ``touch``,
``update``, ``add``).
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pymarc
from oaipmh import common, error
from oaipmh.server import BatchingServer

from demo.marc_records import (
    DEFAULT_DATESTAMP,
    SET_RE,
    MarcMetadata,
    control,
    datestamp_from_005,
    language_008,
    metadata_registry,
    parse_datestamp,
    read_marc_file,
    record_files,
    set_name_for,
    utcnow,
)

log = logging.getLogger(__name__)

MARC21_FORMAT = (
    "marc21",
    "http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd",
    "http://www.loc.gov/MARC21/slim",
)
OAI_DC_FORMAT = (
    "oai_dc",
    "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
    "http://www.openarchives.org/OAI/2.0/oai_dc/",
)


# --------------------------------------------------------------------------- the repository


@dataclass
class Entry:
    identifier: str
    record: pymarc.Record
    datestamp: datetime
    sets: list[str] = field(default_factory=list)
    deleted: bool = False


class MarcRepository:
    """The provider's records (implements ``oaipmh``'s IBatchingOAI) with an editing API."""

    def __init__(
        self,
        repository_id: str = "demo",
        name: str = "unicat demo OAI-PMH provider",
        base_url: str = "http://127.0.0.1/oai",
        state_file: Path | None = None,
        deleted_record: str = "persistent",
    ) -> None:
        self.repository_id = repository_id
        #: What Identify says of deletions: "persistent" lists deleted headers; "no" forgets a
        #: deleted record at once (it just stops being listed), as many real providers do.
        self.deleted_record = deleted_record
        self.name = name
        self.base_url = base_url
        self.state_file = state_file
        self._state_mtime: float | None = None
        self._entries: dict[str, Entry] = {}
        self._set_names: dict[str, str] = {}
        self._lock = threading.RLock()

    # ---- loading and editing
    def load(self, sources: Sequence[Path | str]) -> MarcRepository:
        for source in sources:
            for path in record_files(Path(source)):
                name = set_name_for(path)
                self._set_names.setdefault(name, path.name)
                for record in read_marc_file(path):
                    self.add(record, sets=[name])
        self.reload_state()
        return self

    def add(self, record: pymarc.Record, sets: Iterable[str] = (), datestamp: datetime | None = None) -> str:
        """Add a record; its identifier comes from 001 (made unique). Returns the identifier."""
        with self._lock:
            local = control(record, "001").strip()
            local = SET_RE.sub("-", local) or f"r{len(self._entries) + 1}"
            identifier, n = f"oai:{self.repository_id}:{local}", 1
            while identifier in self._entries:
                n += 1
                identifier = f"oai:{self.repository_id}:{local}-{n}"
            all_sets = list(sets)
            if record.get("245") is not None:
                lang = SET_RE.sub("", language_008(record))
                if lang:
                    all_sets.append(f"lang-{lang}")
            for spec in all_sets:
                self._set_names.setdefault(spec, spec)
            stamp = datestamp or datestamp_from_005(record)
            self._entries[identifier] = Entry(identifier, record, stamp.replace(microsecond=0), all_sets)
            return identifier

    def _entry(self, identifier: str) -> Entry:
        try:
            return self._entries[identifier]
        except KeyError:
            raise error.IdDoesNotExistError(f"Id does not exist: {identifier}") from None

    def update(self, identifier: str, record: pymarc.Record | None = None, datestamp: datetime | None = None) -> None:
        """Replace a record (or just re-stamp it); it becomes undeleted with a new datestamp."""
        with self._lock:
            entry = self._entry(identifier)
            if record is not None:
                entry.record = record
            entry.deleted = False
            entry.datestamp = (datestamp or utcnow()).replace(microsecond=0)

    touch = update

    def delete(self, identifier: str, datestamp: datetime | None = None) -> None:
        with self._lock:
            entry = self._entry(identifier)
            entry.deleted = True
            entry.datestamp = (datestamp or utcnow()).replace(microsecond=0)

    def identifiers(self, include_deleted: bool = False) -> list[str]:
        with self._lock:
            return [e.identifier for e in self._entries.values() if include_deleted or not e.deleted]

    def get(self, identifier: str) -> Entry:
        with self._lock:
            return self._entry(identifier)

    def reload_state(self) -> None:
        """Apply the JSON state file when it changed since the last look."""
        if self.state_file is None or not self.state_file.exists():
            return
        mtime = self.state_file.stat().st_mtime
        if mtime == self._state_mtime:
            return
        state = json.loads(self.state_file.read_text() or "{}")
        with self._lock:
            for identifier, stamp in state.get("datestamps", {}).items():
                if identifier in self._entries:
                    self.update(identifier, datestamp=parse_datestamp(stamp))
            for identifier, stamp in state.get("deleted", {}).items():
                if identifier in self._entries:
                    self.delete(identifier, datestamp=parse_datestamp(stamp) if stamp else None)
        self._state_mtime = mtime

    # ---- IBatchingOAI
    def identify(self) -> common.Identify:
        with self._lock:
            earliest = min((e.datestamp for e in self._entries.values()), default=DEFAULT_DATESTAMP)
        return common.Identify(
            repositoryName=self.name,
            baseURL=self.base_url,
            protocolVersion="2.0",
            adminEmails=["oai-admin@example.org"],
            earliestDatestamp=earliest,
            deletedRecord=self.deleted_record,
            granularity="YYYY-MM-DDThh:mm:ssZ",
            compression=["identity"],
        )

    def listMetadataFormats(self, identifier: str | None = None) -> list[tuple[str, str, str]]:  # noqa: N802
        if identifier is not None:
            self.get(identifier)
        return [MARC21_FORMAT, OAI_DC_FORMAT]

    def listSets(self, cursor: int = 0, batch_size: int = 10) -> list[tuple[str, str, None]]:  # noqa: N802
        with self._lock:
            specs = sorted(self._set_names.items())
        return [(spec, name, None) for spec, name in specs][cursor : cursor + batch_size]

    def getRecord(self, metadataPrefix: str, identifier: str) -> tuple[common.Header, Any, None]:  # noqa: N802,N803
        self._check_prefix(metadataPrefix)
        self.reload_state()
        return self._triple(self.get(identifier))

    def listIdentifiers(self, metadataPrefix: str, **kw: Any) -> list[common.Header]:  # noqa: N802,N803
        return [header for header, _, _ in self.listRecords(metadataPrefix, **kw)]

    def listRecords(  # noqa: N802
        self,
        metadataPrefix: str,  # noqa: N803
        set: str | None = None,  # noqa: A002 - protocol name
        from_: datetime | None = None,
        until: datetime | None = None,
        cursor: int = 0,
        batch_size: int = 10,
    ) -> list[tuple[common.Header, Any, None]]:
        self._check_prefix(metadataPrefix)
        self.reload_state()
        matches = self._select(set, from_, until)
        return [self._triple(e) for e in matches[int(cursor) : int(cursor) + int(batch_size)]]

    # ---- helpers
    @staticmethod
    def _check_prefix(prefix: str) -> None:
        if prefix not in (MARC21_FORMAT[0], OAI_DC_FORMAT[0]):
            raise error.CannotDisseminateFormatError(f"Unknown metadata format: {prefix}")

    def _select(self, set_spec: str | None, from_: datetime | None, until: datetime | None) -> list[Entry]:
        with self._lock:
            entries = list(self._entries.values())
        out = []
        for entry in entries:
            if entry.deleted and self.deleted_record == "no":
                continue
            if from_ is not None and entry.datestamp < from_:
                continue
            if until is not None and entry.datestamp > until:
                continue
            if set_spec is not None and not any(s == set_spec or s.startswith(set_spec + ":") for s in entry.sets):
                continue
            out.append(entry)
        return out

    @staticmethod
    def _triple(entry: Entry) -> tuple[common.Header, Any, None]:
        header = common.Header(None, entry.identifier, entry.datestamp, list(entry.sets), entry.deleted)
        return header, (None if entry.deleted else MarcMetadata(entry.record)), None


# --------------------------------------------------------------------------- HTTP


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]


def make_wsgi_app(repository: MarcRepository, batch_size: int = 100) -> WsgiApp:
    server = BatchingServer(repository, metadata_registry(), resumption_batch_size=batch_size)
    lock = threading.Lock()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        query = environ.get("QUERY_STRING", "")
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            query = environ["wsgi.input"].read(length).decode("utf-8", "replace")
        params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        with lock:
            body = server.handleRequest(params)
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("oai %s - " + format, self.address_string(), *args)


@dataclass
class ProviderServer:
    """A provider running in a background thread; ``url`` is the OAI base URL."""

    repository: MarcRepository
    httpd: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/oai"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def _server(repository: MarcRepository, host: str, port: int, batch_size: int, delay: float = 0.0) -> WSGIServer:
    app = make_wsgi_app(repository, batch_size)
    if delay:
        app = _slowed(app, delay)
    httpd = make_server(host, port, app, handler_class=_QuietHandler)
    repository.base_url = f"http://{host}:{httpd.server_address[1]}/oai"
    return httpd


def _slowed(app: Any, delay: float) -> Any:
    """``app`` answering each request ``delay`` seconds late, as a busy member's server does."""

    def slow_app(environ: dict[str, Any], start_response: Any) -> Any:
        time.sleep(delay)
        return app(environ, start_response)

    return slow_app


def serve_in_thread(
    repository: MarcRepository, port: int = 0, batch_size: int = 100, host: str = "127.0.0.1", delay: float = 0.0
) -> ProviderServer:
    """Serve ``repository`` on ``host:port`` (0 = any free port) from a daemon thread; ``delay``
    seconds before each answer."""
    httpd = _server(repository, host, port, batch_size, delay)
    thread = threading.Thread(target=httpd.serve_forever, name=f"oai-{httpd.server_address[1]}", daemon=True)
    thread.start()
    return ProviderServer(repository, httpd, thread)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.oai_provider", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--records", action="append", required=True, help="MARC file or folder (repeatable)")
    parser.add_argument("--batch", type=int, default=100, help="records per ListRecords page")
    parser.add_argument("--id", default="demo", help="repository id used in oai: identifiers")
    parser.add_argument("--name", default="unicat demo OAI-PMH provider")
    parser.add_argument("--state", type=Path, default=None, help="JSON file with deletions and datestamps")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    repository = MarcRepository(args.id, args.name, state_file=args.state).load(args.records)
    httpd = _server(repository, args.host, args.port, args.batch)
    log.info("%d records on %s", len(repository.identifiers(include_deleted=True)), repository.base_url)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
