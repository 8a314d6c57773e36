"""Local peers for availability tests: ILS responders and misbehaving servers, on free ports.

- :func:`ils_server`: one HTTP server answering like Koha's ILS-DI ``GetAvailability``
  (``/cgi-bin/koha/ilsdi.pl``) and like an NCIP 2.0 responder (``POST /ncip``, ``LookupItem`` →
  ``LookupItemResponse``), from a dict of items the test controls. ``delay`` makes every answer
  slow; ``in_flight_max`` records the most requests it was serving at once.

  Koha's document is printed the way ``C4::ILSDI::Services::GetAvailability`` and
  ``_availability`` print it (Koha-Community/Koha, C4/ILSDI/Services.pm, main branch as of 2025):
  the same elements, order and whitespace, no escaping (Koha concatenates strings), and only the
  five messages Koha has — an item in transit or waiting on the hold shelf is "available" there.
  No captured answer of a running Koha is public, so this is Koha's code, not a capture.

  An NCIP item registered in ``IlsData.ncip_captured`` is answered with a captured real response,
  replayed byte for byte (status line, headers and body) from ``tests/data/ncip`` (see the
  PROVENANCE file there). Other items get a ``LookupItemResponse`` in the shape of that capture
  (namespaces, Scheme attributes, ``DateDue`` inside ``ItemOptionalFields``), values filled in.
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
from pathlib import Path
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
    #: NCIP item id → a captured HTTP answer (file under tests/data/ncip) replayed as it is
    ncip_captured: dict[str, Path] = field(default_factory=dict)
    in_flight: int = 0
    in_flight_max: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def item(self, item_id: str) -> FakeItem | None:
        return next((i for items in self.bibs.values() for i in items if i.item_id == item_id), None)


# Koha's _availability(): (status, message) per item state — transfers and holds are not looked at
_KOHA = {
    "available": ("available", None),
    "notforloan": ("not available", "Not for loan"),
    "checked_out": ("not available", "Checked out"),
    "lost": ("not available", "Item lost"),
    "withdrawn": ("not available", "Item withdrawn"),
    "damaged": ("not available", "Item damaged"),
    "in_transit": ("available", None),
    "on_hold_shelf": ("available", None),
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
    """The document Koha's ``GetAvailability`` prints (same elements, order, whitespace, no escaping)."""
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
            continue  # Koha prints nothing at all for a biblionumber without items
        out += f'  <dlf:record>\n    <dlf:bibliographic id="{bib}" />\n    <dlf:items>\n'
        for item in items:
            status, msg = _KOHA[item.state]
            out += f'      <dlf:item id="{item.item_id}">\n        <dlf:simpleavailability>\n'
            out += f"          <dlf:identifier>{item.item_id}</dlf:identifier>\n"
            out += f"          <dlf:availabilitystatus>{status}</dlf:availabilitystatus>\n"
            if msg:
                out += f"          <dlf:availabilitymsg>{msg}</dlf:availabilitymsg>\n"
            if item.location:
                out += f"          <dlf:location>{item.location}</dlf:location>\n"
            if item.call_number:
                out += f"          <dlf:itemcallnumber>{item.call_number}</dlf:itemcallnumber>\n"
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
    head += 'ns1:version="http://www.niso.org/schemas/ncip/v2_02/ncip_v2_02.xsd">\n    <ns1:LookupItemResponse>\n'
    tail = "    </ns1:LookupItemResponse>\n</ns1:NCIPMessage>\n"
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
    scm = "http://www.niso.org/ncip/v1_0/imp1/schemes"
    body = (
        f"        <ns1:ItemId>\n            <ns1:AgencyId>{escape(agency)}</ns1:AgencyId>\n"
        f'            <ns1:ItemIdentifierType ns1:Scheme="{scm}/visibleitemidentifiertype/'
        'visibleitemidentifiertype.scm">Barcode</ns1:ItemIdentifierType>\n'
        f"            <ns1:ItemIdentifierValue>{escape(item_id)}</ns1:ItemIdentifierValue>\n        </ns1:ItemId>\n"
        "        <ns1:ItemOptionalFields>\n"
        f'            <ns1:CirculationStatus ns1:Scheme="{scm}/circulationstatus/circulationstatus.scm">'
        f"{_NCIP[item.state]}</ns1:CirculationStatus>\n"
        "            <ns1:HoldQueueLength>0</ns1:HoldQueueLength>\n"
        "            <ns1:ItemDescription>\n"
        f"                <ns1:CallNumber>{escape(item.call_number)}</ns1:CallNumber>\n"
        "            </ns1:ItemDescription>\n"
        "            <ns1:Location>\n"
        f'                <ns1:LocationType ns1:Scheme="{scm}/locationtype/locationtype.scm">Permanent Location'
        "</ns1:LocationType>\n"
        "                <ns1:LocationName>\n                    <ns1:LocationNameInstance>\n"
        "                        <ns1:LocationNameLevel>1</ns1:LocationNameLevel>\n"
        f"                        <ns1:LocationNameValue>{escape(item.location)}</ns1:LocationNameValue>\n"
        "                    </ns1:LocationNameInstance>\n                </ns1:LocationName>\n"
        "            </ns1:Location>\n"
    )
    if item.due and item.state == "checked_out":
        body += f"            <ns1:DateDue>{item.due}</ns1:DateDue>\n"
    body += "        </ns1:ItemOptionalFields>\n"
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

    def _replay(self, capture: Path) -> None:
        """Send a captured HTTP answer as it was: its status line and headers, then its body bytes."""
        raw = capture.read_bytes()
        head, _, body = raw.partition(b"\n\n")
        lines = head.decode("latin-1").splitlines()
        self.send_response(int(lines[0].split()[1]))
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() not in ("content-length", "date"):
                self.send_header(name.strip(), value.strip())
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)

    def _enter(self) -> None:
        data = self.server.data
        with data.lock:
            data.in_flight += 1
            data.in_flight_max = max(data.in_flight_max, data.in_flight)
        time.sleep(data.delay)

    def _leave(self) -> None:
        with self.server.data.lock:
            self.server.data.in_flight -= 1

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        data = self.server.data
        data.requests.append(self.path)
        self._enter()
        try:
            url = urlsplit(self.path)
            q = parse_qs(url.query)
            if url.path.endswith("/ilsdi.pl") and q.get("service") == ["GetAvailability"]:
                ids = " ".join(q.get("id", [])).split()
                self._send(200, koha_get_availability(data, ids, q.get("id_type", ["bib"])[0]))
            else:
                self._send(404, "<error>not found</error>")
        finally:
            self._leave()

    def do_POST(self) -> None:  # noqa: N802
        data = self.server.data
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        data.requests.append(self.path)
        self._enter()
        try:
            if not urlsplit(self.path).path.rstrip("/").endswith("/ncip"):
                self._send(404, "<error>not found</error>")
                return
            item_id = etree.fromstring(body).findtext(f".//{{{NCIP_NS}}}ItemIdentifierValue") or ""
            if item_id in data.ncip_captured:
                self._replay(data.ncip_captured[item_id])
            else:
                self._send(200, ncip_lookup_item_response(data, body))
        finally:
            self._leave()


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
