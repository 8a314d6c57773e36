"""ISO 18626 messages: build, validate against the official XSD, and read (no database in here).

Agencies are identified by ``agencyIdType`` ``UNICAT`` and the member code as ``agencyIdValue``.
Every message we build is validated before it leaves; every message we receive is validated
before it is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import xmlschema
from lxml import etree

NS = "http://illtransactions.org/2013/iso18626"
VERSION = "1.2"
AGENCY_TYPE = "UNICAT"
XSD = Path(__file__).resolve().parent / "schema" / "ISO-18626-2021-2.xsd"
KINDS = ("request", "requestConfirmation", "supplyingAgencyMessage", "supplyingAgencyMessageConfirmation",
         "requestingAgencyMessage", "requestingAgencyMessageConfirmation")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class IsoError(Exception):
    """A message we cannot accept; ``error_type`` is one of the standard's type_errorType values."""

    def __init__(self, error_type: str, value: str) -> None:
        super().__init__(value)
        self.error_type = error_type
        self.value = value


@cache
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


def _ts(when: datetime | None = None) -> str:
    return (when or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _el(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, f"{{{NS}}}{name}")
    if text is not None:
        child.text = text
    return child


def _agency(parent: etree._Element, name: str, code: str) -> None:
    agency = _el(parent, name)
    _el(agency, "agencyIdType", AGENCY_TYPE)
    _el(agency, "agencyIdValue", code)


def _envelope(kind: str) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(f"{{{NS}}}ISO18626Message", nsmap={None: NS, "ill": NS})
    root.set(f"{{{NS}}}version", VERSION)
    return root, _el(root, kind)


def _finish(root: etree._Element) -> bytes:
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    validate(data)
    return data


def _money(parent: etree._Element, name: str, cents: int, currency: str) -> None:
    costs = _el(parent, name)
    _el(costs, "currencyCode", currency)
    _el(costs, "monetaryValue", f"{cents / 100:.2f}")


def build_request(*, requester: str, supplier: str, request_id: str, record_id: str, title: str,
                  author: str | None, service: str, pages: str | None = None, need_before: datetime | None = None,
                  max_cost_cents: int | None = None, currency: str = "CNY", note: str | None = None) -> bytes:
    root, msg = _envelope("request")
    header = _el(msg, "header")
    _agency(header, "supplyingAgencyId", supplier)
    _agency(header, "requestingAgencyId", requester)
    _el(header, "timestamp", _ts())
    _el(header, "requestingAgencyRequestId", request_id)
    bib = _el(msg, "bibliographicInfo")
    _el(bib, "supplierUniqueRecordId", record_id)
    _el(bib, "title", title)
    if author:
        _el(bib, "author", author)
    if pages:
        _el(bib, "pagesRequested", pages)
    svc = _el(msg, "serviceInfo")
    _el(svc, "requestType", "New")
    _el(svc, "serviceType", "Copy" if service == "copy" else "Loan")
    if need_before:
        _el(svc, "needBeforeDate", _ts(need_before))
    if note:
        _el(svc, "note", note)
    if max_cost_cents is not None:
        _money(_el(msg, "billingInfo"), "maximumCosts", max_cost_cents, currency)
    return _finish(root)


def build_supplying(*, requester: str, supplier: str, request_id: str, supplier_request_id: str, status: str,
                    reason: str = "StatusChange", answer: str | None = None, note: str | None = None,
                    reason_unfilled: str | None = None, due: datetime | None = None,
                    offered_cost_cents: int | None = None, currency: str = "CNY", url: str | None = None) -> bytes:
    root, msg = _envelope("supplyingAgencyMessage")
    header = _el(msg, "header")
    _agency(header, "supplyingAgencyId", supplier)
    _agency(header, "requestingAgencyId", requester)
    _el(header, "timestamp", _ts())
    _el(header, "requestingAgencyRequestId", request_id)
    _el(header, "supplyingAgencyRequestId", supplier_request_id)
    info = _el(msg, "messageInfo")
    _el(info, "reasonForMessage", reason)
    if answer:
        _el(info, "answerYesNo", answer)
    if note:
        _el(info, "note", note)
    if reason_unfilled:
        _el(info, "reasonUnfilled", reason_unfilled)
    status_info = _el(msg, "statusInfo")
    _el(status_info, "status", status)
    if due:
        _el(status_info, "dueDate", _ts(due))
    _el(status_info, "lastChange", _ts())
    if offered_cost_cents is not None:
        _money(_el(msg, "retryInfo"), "offeredCosts", offered_cost_cents, currency)
    if url or status in ("Loaned", "CopyCompleted"):
        delivery = _el(msg, "deliveryInfo")
        _el(delivery, "dateSent", _ts())
        if url:
            _el(delivery, "URL", url)
    return _finish(root)


def build_requesting(*, requester: str, supplier: str, request_id: str, supplier_request_id: str | None,
                     action: str, note: str | None = None) -> bytes:
    root, msg = _envelope("requestingAgencyMessage")
    header = _el(msg, "header")
    _agency(header, "supplyingAgencyId", supplier)
    _agency(header, "requestingAgencyId", requester)
    _el(header, "timestamp", _ts())
    _el(header, "requestingAgencyRequestId", request_id)
    if supplier_request_id:
        _el(header, "supplyingAgencyRequestId", supplier_request_id)
    _el(msg, "action", action)
    if note:
        _el(msg, "note", note)
    return _finish(root)


def build_confirmation(kind: str, *, supplier: str | None = None, requester: str | None = None,
                       request_id: str | None = None, received: datetime | None = None, ok: bool = True,
                       error_type: str | None = None, error_value: str | None = None,
                       reason: str | None = None, action: str | None = None) -> bytes:
    """A ``<kind>Confirmation`` (OK, or ERROR with errorData)."""
    root, msg = _envelope(f"{kind}Confirmation")
    header = _el(msg, "confirmationHeader")
    if supplier:
        _agency(header, "supplyingAgencyId", supplier)
    if requester:
        _agency(header, "requestingAgencyId", requester)
    _el(header, "timestamp", _ts())
    if request_id:
        _el(header, "requestingAgencyRequestId", request_id)
    _el(header, "timestampReceived", _ts(received))
    _el(header, "messageStatus", "OK" if ok else "ERROR")
    if kind == "supplyingAgencyMessage" and reason:
        _el(msg, "reasonForMessage", reason)
    if kind == "requestingAgencyMessage" and action:
        _el(msg, "action", action)
    if not ok:
        err = _el(msg, "errorData")
        _el(err, "errorType", error_type or "BadlyFormedMessage")
        if error_value:
            _el(err, "errorValue", error_value[:500])
    return _finish(root)


def validate(data: bytes) -> etree._Element:
    """Parse and validate; raises :class:`IsoError` ``BadlyFormedMessage`` with the first problem."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise IsoError("BadlyFormedMessage", f"not well-formed XML: {exc}") from exc
    error = next(iter(schema().iter_errors(root)), None)
    if error is not None:
        raise IsoError("BadlyFormedMessage", f"{error.reason or error.message} at {error.path}")
    return root


@dataclass
class Message:
    kind: str
    fields: dict[str, Any] = field(default_factory=dict)
    root: etree._Element | None = None

    def get(self, path: str) -> str | None:
        """Text at a slash path below the message element, e.g. ``header/requestingAgencyRequestId``."""
        assert self.root is not None
        node = self.root[0]
        for step in path.split("/"):
            node = node.find(f"{{{NS}}}{step}")
            if node is None:
                return None
        return (node.text or "").strip() or None


def kind_of(data: bytes) -> str | None:
    """The message kind even of an invalid message (to answer with the right confirmation)."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError:
        return None
    if len(root) and isinstance(root[0].tag, str):
        name = etree.QName(root[0]).localname
        return name if name in KINDS else None
    return None


def read(data: bytes) -> Message:
    root = validate(data)
    return Message(kind=etree.QName(root[0]).localname, root=root)
