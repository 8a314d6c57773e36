"""Local peers for availability tests: ILS responders and misbehaving servers, on free ports.

- :func:`ils_server`: one HTTP server answering like Koha's ILS-DI ``GetAvailability``
  (``/cgi-bin/koha/ilsdi.pl``, the exact XML Koha's ``C4::ILSDI::Services`` prints) and like an
  NCIP 2.0 responder (``POST /ncip``, ``LookupItem`` → ``LookupItemResponse``), from a dict of
  items the test controls. ``delay`` makes every answer slow.
- :func:`fault_server`: a TCP server that really misbehaves — ``hang`` (accepts, reads, never
  answers), ``reset`` (accepts and resets the connection), ``garbage`` (answers random bytes).
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from lxml import etree


@dataclass
class FakeItem:
    """One item as an ILS knows it. ``state``: available | checked_out | lost | notforloan |
    withdrawn | damaged | in_transit | on_hold_shelf."""

    item_id: str
    state: str = "available"
    location: str = "Centerville"
    call_number: str = ""
    due: str | None = None  # ISO date-time for NCIP DateDue


@dataclass
class IlsData:
    #: bib id → items
    bibs: dict[str, list[FakeItem]] = field(default_factory=dict)
    delay: float = 0.0
    requests: list[str] = field(default_factory=list)

    def item(self, item_id: str) -> FakeItem | None:
        return next((i for items in self.bibs.values() for i in items if i.item_id == item_id), None)


# Koha's _availability(): (status, message) per item state
_KOHA = {
    "available": ("available", None),
    "notforloan": ("not available", "Not for loan"),
    "checked_out": ("not available", "Checked out"),
    "lost": ("not available", "Item lost"),
    "withdrawn": ("not available", "Item withdrawn"),
    "damaged": ("not available", "Item damaged"),
    "in_transit": ("not available", "In transit"),
    "on_hold_shelf": ("not available", "Waiting"),
}

# NCIP 2.0 CirculationStatus scheme values
_NCIP = {
    "available": "Available On Shelf",
    "checked_out": "On Loan",
    "lost": "Lost",
    "withdrawn": "Not Available",
    "damaged": "Not Available",
    "notforloan": "Not Available",
    "in_transit": "In Transit Between Library Locations",
    "on_hold_shelf": "Available For Pickup",
}

NCIP_NS = "http://www.niso.org/2008/ncip"


def koha_get_availability(data: IlsData, ids: list[str], id_type: str) -> str:
    """The document Koha's ``GetAvailability`` prints (same elements, order and whitespace)."""
    out = '<?xml version="1.0" encoding="UTF-8" ?>\n<dlf:collection\n  xmlns:dlf="http://diglib.org/ilsdi/1.1"\n'
    out += '  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n'
    out += '  xsi:schemaLocation="http://diglib.org/ilsdi/1.1\n'
    out += '    http://diglib.org/architectures/ilsdi/schemas/1.1/dlfexpanded.xsd">\n'
    for bib in ids:
        items = data.bibs.get(bib, [])
        if id_type == "item":
            found = data.item(bib)
            items = [found] if found else []
        if not items:
            continue
        out += f'  <dlf:record>\n    <dlf:bibliographic id="{escape(bib)}" />\n    <dlf:items>\n'
        for item in items:
            status, msg = _KOHA[item.state]
            out += f'      <dlf:item id="{escape(item.item_id)}">\n        <dlf:simpleavailability>\n'
            out += f"          <dlf:identifier>{escape(item.item_id)}</dlf:identifier>\n"
            out += f"          <dlf:availabilitystatus>{status}</dlf:availabilitystatus>\n"
            if msg:
                out += f"          <dlf:availabilitymsg>{msg}</dlf:availabilitymsg>\n"
            out += f"          <dlf:location>{escape(item.location)}</dlf:location>\n"
            out += "        </dlf:simpleavailability>\n      </dlf:item>\n"
        out += "    </dlf:items>\n  </dlf:record>\n"
    return out + "</dlf:collection>\n"


def ncip_lookup_item_response(data: IlsData, request: bytes) -> str:
    """An NCIP 2.02 ``LookupItemResponse`` (or a ``Problem`` for an unknown item)."""
    root = etree.fromstring(request)
    ns = {"n": NCIP_NS}
    item_id = root.findtext(".//n:LookupItem/n:ItemId/n:ItemIdentifierValue", namespaces=ns) or ""
    agency = root.findtext(".//n:LookupItem/n:ItemId/n:AgencyId", namespaces=ns) or ""
    head = f'<?xml version="1.0" encoding="UTF-8"?>\n<ns1:NCIPMessage xmlns:ns1="{NCIP_NS}" '
    head += 'ns1:version="http://www.niso.org/schemas/ncip/v2_02/ncip_v2_02.xsd">\n  <ns1:LookupItemResponse>\n'
    tail = "  </ns1:LookupItemResponse>\n</ns1:NCIPMessage>\n"
    item = data.item(item_id)
    if item is None:
        return head + (
            "    <ns1:Problem>\n"
            "      <ns1:ProblemType>Unknown Item</ns1:ProblemType>\n"
            f"      <ns1:ProblemDetail>Item {escape(item_id)} not found</ns1:ProblemDetail>\n"
            "      <ns1:ProblemElement>ItemIdentifierValue</ns1:ProblemElement>\n"
            f"      <ns1:ProblemValue>{escape(item_id)}</ns1:ProblemValue>\n"
            "    </ns1:Problem>\n"
        ) + tail
    body = (
        f"    <ns1:ItemId>\n      <ns1:AgencyId>{escape(agency)}</ns1:AgencyId>\n"
        f"      <ns1:ItemIdentifierValue>{escape(item_id)}</ns1:ItemIdentifierValue>\n    </ns1:ItemId>\n"
    )
    if item.due and item.state == "checked_out":
        body += f"    <ns1:DateDue>{item.due}</ns1:DateDue>\n"
    body += (
        "    <ns1:ItemOptionalFields>\n"
        f"      <ns1:CirculationStatus>{_NCIP[item.state]}</ns1:CirculationStatus>\n"
        "      <ns1:HoldQueueLength>0</ns1:HoldQueueLength>\n"
        f"      <ns1:ItemDescription>\n        <ns1:CallNumber>{escape(item.call_number)}</ns1:CallNumber>\n"
        "      </ns1:ItemDescription>\n"
        "      <ns1:Location>\n        <ns1:LocationType>Permanent</ns1:LocationType>\n"
        "        <ns1:LocationName>\n          <ns1:LocationNameInstance>\n"
        "            <ns1:LocationNameLevel>1</ns1:LocationNameLevel>\n"
        f"            <ns1:LocationNameValue>{escape(item.location)}</ns1:LocationNameValue>\n"
        "          </ns1:LocationNameInstance>\n        </ns1:LocationName>\n      </ns1:Location>\n"
        "    </ns1:ItemOptionalFields>\n"
    )
    return head + body + tail


class _Handler(BaseHTTPRequestHandler):
    server: _IlsHttpServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output quiet
        pass

    def _send(self, status: int, body: str, ctype: str = "text/xml; charset=utf-8") -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        data = self.server.data
        data.requests.append(self.path)
        time.sleep(data.delay)
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        if url.path.endswith("/ilsdi.pl") and q.get("service") == ["GetAvailability"]:
            ids = " ".join(q.get("id", [])).split()
            self._send(200, koha_get_availability(data, ids, q.get("id_type", ["bib"])[0]))
        else:
            self._send(404, "<error>not found</error>")

    def do_POST(self) -> None:  # noqa: N802
        data = self.server.data
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        data.requests.append(self.path)
        time.sleep(data.delay)
        if urlsplit(self.path).path.rstrip("/").endswith("/ncip"):
            self._send(200, ncip_lookup_item_response(data, body))
        else:
            self._send(404, "<error>not found</error>")


class _IlsHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    data: IlsData


@contextmanager
def ils_server(data: IlsData) -> Iterator[str]:
    """Serve ``data`` over HTTP; yields the base URL (``http://127.0.0.1:<port>``)."""
    server = _IlsHttpServer(("127.0.0.1", 0), _Handler)
    server.data = data
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


FaultMode = Literal["hang", "reset", "garbage"]


@contextmanager
def fault_server(mode: FaultMode) -> Iterator[int]:
    """A TCP server on a free port that hangs, resets or answers garbage; yields the port."""
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    lsock.settimeout(0.1)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
            except OSError:
                continue
            if mode == "hang":
                held.append(conn)  # keep it open and never answer
            elif mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            else:
                conn.settimeout(0.5)
                with contextlib.suppress(OSError):
                    conn.recv(4096)
                    conn.sendall(b"\x00\xff\xfe garbage \x1b[31m" + os.urandom(512))
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(lsock.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        lsock.close()
