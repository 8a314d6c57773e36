"""A local ISO 18626 peer: an independent ILL system that speaks the 1.2 or the 2021 schema.

It receives unicat's messages over HTTP on a free port, checks each one against the XSD of its own
version, answers with a confirmation (or with the faults a test asks for: an ERROR confirmation, an
HTTP 500, a connection dropped after the message was processed), and remembers what it was told.
What it sends to unicat is made from messages captured from a real system — CrossLink, Index Data's
ISO 18626 broker (see tests/data/iso18626/PROVENANCE.md) — with only the conversation's values put
in: agency ids, request ids, status, reason, dates and costs. For the 2021 schema the same captured
message is moved into the 2021 shape (no ``multipleItemRequestId``, ``offeredCosts`` in
``retryInfo``, ``deliveredFormat`` renamed ``itemFormat``, the 2021 order of ``bibliographicItemId``).

It keeps one status per request from its own side, so a test can check that both sides agree.
"""

from __future__ import annotations

import copy
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import xmlschema
from lxml import etree

from unicat.localsvc.process import free_port

NS = "http://illtransactions.org/2013/iso18626"
DATA = Path(__file__).resolve().parent.parent / "data" / "iso18626" / "crosslink"
SCHEMAS = Path(__file__).resolve().parent.parent.parent / "ill" / "schema"
XSD = {"1.2": SCHEMAS / "ISO-18626-v1_2.xsd", "2021": SCHEMAS / "ISO-18626-2021-2.xsd"}
VERSION_ATTR = {"1.2": "1.2", "2021": "2021-2"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
_SCHEMA_CACHE: dict[str, xmlschema.XMLSchema] = {}


def schema(version: str) -> xmlschema.XMLSchema:
    if version not in _SCHEMA_CACHE:
        _SCHEMA_CACHE[version] = xmlschema.XMLSchema(str(XSD[version]))
    return _SCHEMA_CACHE[version]


def q(name: str) -> str:
    return f"{{{NS}}}{name}"


def find(root: etree._Element, path: str) -> etree._Element | None:
    node: etree._Element | None = root
    for step in path.split("/"):
        node = node.find(q(step)) if node is not None else None
    return node


def text(root: etree._Element, path: str) -> str | None:
    node = find(root, path)
    return (node.text or "").strip() or None if node is not None else None


def _ts() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Received:
    kind: str
    xml: bytes
    root: etree._Element
    valid_errors: list[str]
    at: float = field(default_factory=time.monotonic)  # when it arrived (benchmarks)

    def get(self, path: str) -> str | None:
        return text(self.root[0], path)


@dataclass
class PeerState:
    """The peer's own record of one request (as supplier or as requester)."""

    status: str
    messages: list[str] = field(default_factory=list)


class Iso18626Peer:
    """One peer library system. ``agency`` is its ISIL; ``version`` is ``1.2`` or ``2021``."""

    def __init__(self, agency: str, version: str, token: str) -> None:
        self.agency, self.version, self.token = agency, version, token
        self.received: list[Received] = []
        self.faults: list[str] = []  # consumed one per inbound message: "500", "error", "drop", "ok"
        self.seen: dict[str, bytes] = {}
        #: When set, each message is processed, then its answer waits until ``gate`` opens (``held`` tells
        #: the test a message is waiting): a slow peer, during which the sender can be killed.
        self.gate: threading.Event | None = None
        self.held = threading.Event()
        self.states: dict[str, PeerState] = {}
        self.unicat_url = ""
        self.unicat_headers: dict[str, str] = {}
        #: The headers (lower-case names) every message to this peer must carry: its credentials.
        self.expected_headers: dict[str, str] = {"authorization": f"Bearer {token}"}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/iso18626"
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------ receiving
    def answer(self, body: bytes) -> tuple[int, bytes | None]:
        """(HTTP status, body) for one inbound message; body None means: drop the connection."""
        with self._lock:
            fault = self.faults.pop(0) if self.faults else "ok"
            root = etree.fromstring(body, _PARSER)
            errors = [f"{e.reason} at {e.path}" for e in schema(self.version).iter_errors(root)]
            kind = etree.QName(root[0]).localname
            self.received.append(Received(kind, body, root, errors))
            if fault == "500":
                return 500, b"<html><body>Internal Server Error</body></html>"
            digest = self._digest(root)
            if digest in self.seen:  # a resend after a lost confirmation: the same answer, nothing new
                return 200, self.seen[digest]
            ok = not errors and fault != "error"
            if ok:
                self._apply(kind, root[0])
            confirmation = self.confirmation(kind, root[0], ok, errors[0] if errors else "request id unknown here")
            if ok:
                self.seen[digest] = confirmation
            return (200, None) if fault == "drop" else (200, confirmation)

    @staticmethod
    def _digest(root: etree._Element) -> str:
        clone = copy.deepcopy(root)
        for node in clone.iter(q("timestamp")):
            node.text = ""
        return hashlib.sha256(etree.tostring(clone, method="c14n")).hexdigest()

    def _apply(self, kind: str, msg: etree._Element) -> None:
        rid = text(msg, "header/requestingAgencyRequestId") or ""
        if kind == "request":
            previous = text(msg, "serviceInfo/requestingAgencyPreviousRequestId")
            self.states[rid] = PeerState("RequestReceived", [f"request {text(msg, 'serviceInfo/requestType')}"])
            if previous and previous in self.states:
                self.states[previous].status = "Retried"
        elif kind == "requestingAgencyMessage":
            state = self.states.setdefault(rid, PeerState("?"))
            action = text(msg, "action") or ""
            state.messages.append(action)
            state.status = {"Received": "Received", "ShippedReturn": "ShippedReturn", "Cancel": "CancelAsked",
                            "Renew": "RenewAsked"}.get(action, state.status)
        elif kind == "supplyingAgencyMessage":
            state = self.states.setdefault(rid, PeerState("?"))
            state.status = text(msg, "statusInfo/status") or state.status
            state.messages.append(f"{text(msg, 'messageInfo/reasonForMessage')}:{state.status}")

    def confirmation(self, kind: str, msg: etree._Element, ok: bool, error: str) -> bytes:
        root = etree.Element(q("ISO18626Message"), nsmap={"ill": NS})
        root.set(q("version"), VERSION_ATTR[self.version])
        conf = etree.SubElement(root, q(f"{kind}Confirmation"))
        header = etree.SubElement(conf, q("confirmationHeader"))
        for name in ("supplyingAgencyId", "requestingAgencyId"):
            node = find(msg, f"header/{name}")
            if node is not None:
                header.append(copy.deepcopy(node))
        etree.SubElement(header, q("timestamp")).text = _ts()
        etree.SubElement(header, q("requestingAgencyRequestId")).text = text(msg, "header/requestingAgencyRequestId")
        etree.SubElement(header, q("timestampReceived")).text = _ts()
        etree.SubElement(header, q("messageStatus")).text = "OK" if ok else "ERROR"
        if kind == "supplyingAgencyMessage":
            etree.SubElement(conf, q("reasonForMessage")).text = text(msg, "messageInfo/reasonForMessage")
        if kind == "requestingAgencyMessage":
            etree.SubElement(conf, q("action")).text = text(msg, "action")
        if not ok:
            err = etree.SubElement(conf, q("errorData"))
            etree.SubElement(err, q("errorType")).text = "UnrecognisedDataValue"
            etree.SubElement(err, q("errorValue")).text = error[:200]
        data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
        schema(self.version).validate(etree.fromstring(data))
        return data

    def last(self, kind: str) -> Received:
        return [r for r in self.received if r.kind == kind][-1]

    def invalid(self) -> list[str]:
        return [f"{r.kind}: {e}" for r in self.received for e in r.valid_errors]

    @contextmanager
    def running(self) -> Iterator[Iso18626Peer]:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if any(self.headers.get(k) != v for k, v in peer.expected_headers.items()):
                    status, answer = 401, b"unauthorized"
                else:
                    status, answer = peer.answer(body)
                    if peer.gate is not None:
                        peer.held.set()
                        peer.gate.wait(60)
                if answer is None:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/xml" if status == 200 else "text/html")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()

    # ------------------------------------------------------------ sending (from captured messages)
    def _template(self, name: str) -> etree._Element:
        root = etree.fromstring((DATA / name).read_bytes(), _PARSER)
        root.set(q("version"), VERSION_ATTR[self.version])
        return root

    def _header(self, msg: etree._Element, supplier: str, requester: str, rid: str, srid: str | None) -> None:
        find(msg, "header/supplyingAgencyId/agencyIdValue").text = supplier  # type: ignore[union-attr]
        find(msg, "header/requestingAgencyId/agencyIdValue").text = requester  # type: ignore[union-attr]
        find(msg, "header/timestamp").text = _ts()  # type: ignore[union-attr]
        find(msg, "header/requestingAgencyRequestId").text = rid  # type: ignore[union-attr]
        node = find(msg, "header/supplyingAgencyRequestId")
        if node is not None:
            if srid:
                node.text = srid
            else:
                node.getparent().remove(node)  # type: ignore[union-attr]
        multiple = find(msg, "header/multipleItemRequestId")
        if self.version == "2021" and multiple is not None and etree.QName(msg).localname != "request":
            multiple.getparent().remove(multiple)  # type: ignore[union-attr]

    def supplying(self, *, requester: str, rid: str, srid: str, status: str, reason: str = "StatusChange",
                  answer: str | None = None, note: str | None = None, reason_unfilled: str | None = None,
                  due: str | None = None, offered: tuple[str, str] | None = None) -> bytes:
        """A supplyingAgencyMessage, from CrossLink's captured Loaned message."""
        root = self._template("supmsg-ok.xml")
        msg = root[0]
        self._header(msg, self.agency, requester, rid, srid)
        info = find(msg, "messageInfo")
        assert info is not None
        find(info, "reasonForMessage").text = reason  # type: ignore[union-attr]
        if answer:
            find(info, "reasonForMessage").addnext(etree.Element(q("answerYesNo")))  # type: ignore[union-attr]
            find(info, "answerYesNo").text = answer  # type: ignore[union-attr]
        find(info, "note").text = note or "#seq:0#"  # type: ignore[union-attr]
        find(info, "reasonUnfilled").text = reason_unfilled or ""  # type: ignore[union-attr]
        status_info = find(msg, "statusInfo")
        find(status_info, "status").text = status  # type: ignore[arg-type,union-attr]
        find(status_info, "lastChange").text = _ts()  # type: ignore[arg-type,union-attr]
        if due:
            node = etree.Element(q("dueDate"))
            node.text = due
            find(status_info, "lastChange").addprevious(node)  # type: ignore[arg-type,union-attr]
        if offered:
            self._offered(msg, info, status_info, offered)
        delivery = find(msg, "deliveryInfo")
        assert delivery is not None
        if status not in ("Loaned", "CopyCompleted"):
            msg.remove(delivery)
        else:
            find(delivery, "dateSent").text = _ts()  # type: ignore[union-attr]
            if self.version == "2021":
                find(delivery, "deliveredFormat").tag = q("itemFormat")  # type: ignore[union-attr]
        return self._done(root)

    def _offered(self, msg: etree._Element, info: etree._Element, status_info: etree._Element | None,
                 offered: tuple[str, str]) -> None:
        costs = etree.Element(q("offeredCosts"))
        etree.SubElement(costs, q("currencyCode")).text = offered[0]
        etree.SubElement(costs, q("monetaryValue")).text = offered[1]
        if self.version == "1.2":
            info.append(costs)
        else:
            retry = etree.Element(q("retryInfo"))
            retry.append(costs)
            status_info.addnext(retry)  # type: ignore[union-attr]

    def request(self, *, supplier: str, rid: str, title: str, service: str = "Loan",
                previous: str | None = None) -> bytes:
        """A request, from CrossLink's captured request; with ``previous`` a Retry of that request."""
        root = self._template("request-ok.xml")
        msg = root[0]
        self._header(msg, supplier, self.agency, rid, None)
        find(msg, "bibliographicInfo/title").text = title  # type: ignore[union-attr]
        find(msg, "bibliographicInfo/supplierUniqueRecordId").text = f"rec-{rid}"  # type: ignore[union-attr]
        svc = find(msg, "serviceInfo")
        find(svc, "serviceType").text = service  # type: ignore[arg-type,union-attr]
        if previous:
            find(svc, "requestType").text = "Retry"  # type: ignore[arg-type,union-attr]
            node = etree.Element(q("requestingAgencyPreviousRequestId"))
            node.text = previous
            find(svc, "requestSubType").addnext(node)  # type: ignore[arg-type,union-attr]
        if self.version == "2021":
            item = find(msg, "bibliographicInfo/bibliographicItemId")
            assert item is not None
            item.append(item[0])  # 2021 order: bibliographicItemIdentifierCode first
        return self._done(root)

    def requesting(self, *, supplier: str, rid: str, srid: str | None, action: str, note: str = "Note 1") -> bytes:
        """A requestingAgencyMessage, from CrossLink's captured Cancel."""
        root = self._template("reqmsg-ok.xml")
        msg = root[0]
        self._header(msg, supplier, self.agency, rid, srid)
        find(msg, "action").text = action  # type: ignore[union-attr]
        find(msg, "note").text = note  # type: ignore[union-attr]
        return self._done(root)

    def _done(self, root: etree._Element) -> bytes:
        data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
        schema(self.version).validate(etree.fromstring(data))  # the peer never sends what its schema refuses
        return data

    def send(self, data: bytes) -> etree._Element:
        """POST to unicat; returns the confirmation after checking it against this peer's schema."""
        resp = httpx.post(self.unicat_url, content=data, headers={"Content-Type": "application/xml",
                                                                  **self.unicat_headers}, timeout=10)
        assert resp.status_code == 200, resp.text
        root = etree.fromstring(resp.content, _PARSER)
        errors = [f"{e.reason} at {e.path}" for e in schema(self.version).iter_errors(root)]
        assert not errors, errors
        if status_of(root) == "OK":  # what the peer itself said now holds on its side too
            sent = etree.fromstring(data, _PARSER)
            with self._lock:
                self._apply(etree.QName(sent[0]).localname, sent[0])
        return root


def status_of(confirmation: etree._Element) -> str | None:
    return text(confirmation[0], "confirmationHeader/messageStatus")


def money(value: str) -> Decimal:
    return Decimal(value)
