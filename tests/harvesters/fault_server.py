"""Real local HTTP servers that misbehave on purpose, for harvester fault tests.

A :class:`FaultServer` runs ``http.server`` in a thread on a free port and answers each request
with whatever its ``app`` returns for it: a :class:`Reply`, a :class:`Hang` (never answer until the
server stops), or a :class:`Reset` (drop the TCP connection with RST). Every request is recorded.
:func:`oai_app` serves canned, real provider responses chosen by verb and resumption token.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from harvesters.base import HarvestedRecord, Harvester, Page


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/xml; charset=utf-8"


@dataclass
class Hang:
    """Accept the request and say nothing (until the server stops)."""


@dataclass
class Reset:
    """Close the connection with a TCP reset before answering."""


@dataclass
class Trickle:
    """Answer with ``body`` (a real response), one byte every ``interval`` seconds."""

    body: bytes
    interval: float = 1.0


Action = Reply | Hang | Reset | Trickle
App = Callable[[Request], Action]


class FaultServer:
    def __init__(self, app: App) -> None:
        self.app = app
        self.requests: list[Request] = []
        self._stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server interface
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                request = Request("GET", parts.path, params, dict(self.headers.items()))
                server.requests.append(request)
                action = server.app(request)
                if isinstance(action, Hang):
                    server._stopping.wait(30)
                    self.close_connection = True
                    return
                if isinstance(action, Trickle):
                    self._trickle(action)
                    return
                if isinstance(action, Reset):
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                self.send_response(action.status)
                self.send_header("Content-Type", action.content_type)
                self.send_header("Content-Length", str(len(action.body)))
                for name, value in action.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(action.body)

            def _trickle(self, action: Trickle) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(action.body)))
                self.end_headers()
                self.wfile.flush()
                for byte in action.body:
                    if server._stopping.wait(action.interval):
                        break
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:  # the client gave up
                        break
                self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> FaultServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@contextmanager
def serving(app: App) -> Iterator[FaultServer]:
    server = FaultServer(app).start()
    try:
        yield server
    finally:
        server.stop()


def oai_error(code: str, message: str, response_date: str = "2024-01-01T00:00:00Z") -> bytes:
    """An OAI-PMH error response as a provider would send it."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        f"<responseDate>{response_date}</responseDate><request>http://example.org/oai</request>"
        f'<error code="{code}">{message}</error></OAI-PMH>'
    ).encode()


def identify(granularity: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        "<responseDate>2024-01-01T00:00:00Z</responseDate>"
        '<request verb="Identify">http://example.org/oai</request><Identify>'
        "<repositoryName>test</repositoryName><baseURL>http://example.org/oai</baseURL>"
        "<protocolVersion>2.0</protocolVersion><adminEmail>a@example.org</adminEmail>"
        "<earliestDatestamp>2000-01-01</earliestDatestamp><deletedRecord>persistent</deletedRecord>"
        f"<granularity>{granularity}</granularity></Identify></OAI-PMH>"
    ).encode()


def oai_app(
    pages: Mapping[str | None, Path | bytes],
    granularity: str = "YYYY-MM-DDThh:mm:ssZ",
    first: Callable[[Request], Path | bytes] | None = None,
) -> App:
    """Serve ``pages[token]`` for ListRecords (``None`` = the first request, or ``first(request)``)."""

    def body(source: Path | bytes) -> bytes:
        return source if isinstance(source, bytes) else source.read_bytes()

    def app(request: Request) -> Action:
        verb = request.params.get("verb")
        if verb == "Identify":
            return Reply(body=identify(granularity))
        if verb != "ListRecords":
            return Reply(body=oai_error("badVerb", f"unexpected verb {verb}"))
        token = request.params.get("resumptionToken")
        if token is None and first is not None:
            return Reply(body=body(first(request)))
        if token not in pages:
            return Reply(body=oai_error("badResumptionToken", f"unknown token {token}"))
        return Reply(body=body(pages[token]))

    return app


# --------------------------------------------------------------------------- harvest helpers


class Sleeps(list[float]):
    """Stands in for ``time.sleep``: records each wait and returns at once."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def run(harvester: Harvester, checkpoint: dict[str, Any] | None, stop_after: int | None = None) -> list[Page]:
    """Collect pages as the pipeline would, optionally 'killing' the harvest after ``stop_after`` pages.

    Each checkpoint goes through JSON, as the pipeline stores it.
    """
    pages: list[Page] = []
    for page in harvester.pages(checkpoint):
        page.checkpoint = json.loads(json.dumps(page.checkpoint))
        pages.append(page)
        if stop_after is not None and len(pages) >= stop_after:
            break
    return pages


def records(pages: Iterable[Page]) -> list[HarvestedRecord]:
    return [record for page in pages for record in page.records]
