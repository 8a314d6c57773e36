"""ISO 18626 messages in both deployed schema versions: build, validate, read (no database in here).

Two schema versions are in use between real systems:

* ``1.2`` (ISO-18626-v1_2.xsd, 2017) — ReShare, CrossLink, most brokers: one generic ``header`` with a
  required ``multipleItemRequestId``; ``offeredCosts``/``retryAfter``/``retryBefore`` in ``messageInfo``;
  ``sentVia``/``deliveredFormat`` in ``deliveryInfo``; no ``URL``.
* ``2021`` (ISO-18626-2021-2.xsd) — message-specific headers without ``multipleItemRequestId`` in the
  supplying/requesting agency messages; a ``retryInfo`` block holds the offered costs; ``deliveryMethod``,
  ``itemFormat`` and ``URL`` in ``deliveryInfo``.

An inbound message is validated against the XSD of the version its ``ill:version`` attribute names;
every message we build is validated against the XSD of the version we build it for. Money is
:class:`~decimal.Decimal` with its ISO 4217 currency, never a float.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

import xmlschema
from lxml import etree

NS = "http://illtransactions.org/2013/iso18626"
V12, V2021 = "1.2", "2021"
VERSIONS = (V12, V2021)
#: What each version writes into ``ill:version``.
VERSION_ATTR = {V12: "1.2", V2021: "2021-2"}
_SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
XSD = {V12: _SCHEMA_DIR / "ISO-18626-v1_2.xsd", V2021: _SCHEMA_DIR / "ISO-18626-2021-2.xsd"}
AGENCY_TYPE = "UNICAT"
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
def schema(version: str = V2021) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD[version]))


def version_of(attr: str | None) -> str:
    """Our schema version for an ``ill:version`` value: ``1.x`` is the 1.2 schema, later ones 2021."""
    value = (attr or "").strip()
    if not value:
        raise IsoError("BadlyFormedMessage", "ISO18626Message has no ill:version attribute")
    if value in ("1.0", "1.1", "1.2") or (value.startswith("1.") and not value.startswith("1.3")):
        return V12
    if value.startswith(("2021", "1.3", "2.")):
        return V2021
    raise IsoError("UnrecognisedDataValue", f"ISO 18626 version {value} is not one we speak (1.2, 2021)")


@dataclass(frozen=True)
class Agency:
    type: str
    value: str


@dataclass(frozen=True)
class Header:
    """Who speaks to whom about which request (the ids every message and confirmation carries)."""

    supplier: Agency | None
    requester: Agency | None
    request_id: str | None
    supplier_request_id: str | None = None


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.currency} {self.amount:.2f}"


def _ts(when: datetime | None = None) -> str:
    return (when or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def noon(day: date | None) -> datetime | None:
    return datetime.combine(day, time(12), UTC) if day else None


def _el(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, f"{{{NS}}}{name}")
    if text is not None:
        child.text = text
    return child


def _agency(parent: etree._Element, name: str, agency: Agency) -> None:
    node = _el(parent, name)
    _el(node, "agencyIdType", agency.type)
    _el(node, "agencyIdValue", agency.value)


def _envelope(kind: str, version: str) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(f"{{{NS}}}ISO18626Message", nsmap={None: NS, "ill": NS})
    root.set(f"{{{NS}}}version", VERSION_ATTR[version])
    return root, _el(root, kind)


def _header(msg: etree._Element, h: Header, version: str, kind: str) -> None:
    header = _el(msg, "header")
    if h.supplier:
        _agency(header, "supplyingAgencyId", h.supplier)
    if h.requester:
        _agency(header, "requestingAgencyId", h.requester)
    if version == V12:
        _el(header, "multipleItemRequestId", "")
    _el(header, "timestamp", _ts())
    _el(header, "requestingAgencyRequestId", h.request_id or "")
    if h.supplier_request_id and kind != "request":
        _el(header, "supplyingAgencyRequestId", h.supplier_request_id)


def _finish(root: etree._Element, version: str) -> bytes:
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    validate(data, version)
    return data


def _money(parent: etree._Element, name: str, money: Money) -> None:
    costs = _el(parent, name)
    _el(costs, "currencyCode", money.currency)
    _el(costs, "monetaryValue", f"{money.amount:.2f}")


def build_request(h: Header, *, version: str, record_id: str, title: str, author: str | None, service: str,
                  pages: str | None = None, need_before: datetime | None = None, max_cost: Money | None = None,
                  note: str | None = None, previous_id: str | None = None) -> bytes:
    """A ``request``; with ``previous_id`` it is a Retry of that earlier request (requestType Retry)."""
    root, msg = _envelope("request", version)
    _header(msg, h, version, "request")
    bib = _el(msg, "bibliographicInfo")
    _el(bib, "supplierUniqueRecordId", record_id)
    _el(bib, "title", title)
    if author:
        _el(bib, "author", author)
    if pages:
        _el(bib, "pagesRequested", pages)
    svc = _el(msg, "serviceInfo")
    _el(svc, "requestType", "Retry" if previous_id else "New")
    if previous_id:
        _el(svc, "requestingAgencyPreviousRequestId", previous_id)
    _el(svc, "serviceType", "Copy" if service == "copy" else "Loan")
    if need_before:
        _el(svc, "needBeforeDate", _ts(need_before))
    if note:
        _el(svc, "note", note)
    if max_cost is not None:
        _money(_el(msg, "billingInfo"), "maximumCosts", max_cost)
    return _finish(root, version)


@dataclass(frozen=True)
class Supplying:
    """The content of a supplyingAgencyMessage."""

    status: str
    reason: str = "StatusChange"
    answer: str | None = None
    note: str | None = None
    reason_unfilled: str | None = None
    due: datetime | None = None
    offered: Money | None = None
    url: str | None = None


def build_supplying(h: Header, s: Supplying, *, version: str) -> bytes:
    root, msg = _envelope("supplyingAgencyMessage", version)
    _header(msg, h, version, "supplyingAgencyMessage")
    info = _el(msg, "messageInfo")
    _el(info, "reasonForMessage", s.reason)
    if s.answer:
        _el(info, "answerYesNo", s.answer)
    note = s.note
    if s.url and version == V12:  # 1.2 has no URL element: the link travels in the note
        note = f"{note}\n{s.url}" if note else s.url
    if note:
        _el(info, "note", note)
    if s.reason_unfilled:
        _el(info, "reasonUnfilled", s.reason_unfilled)
    if s.offered is not None and version == V12:
        _money(info, "offeredCosts", s.offered)
    status_info = _el(msg, "statusInfo")
    _el(status_info, "status", s.status)
    if s.due:
        _el(status_info, "dueDate", _ts(s.due))
    _el(status_info, "lastChange", _ts())
    if s.offered is not None and version == V2021:
        _money(_el(msg, "retryInfo"), "offeredCosts", s.offered)
    if s.url or s.status in ("Loaned", "CopyCompleted"):
        delivery = _el(msg, "deliveryInfo")
        _el(delivery, "dateSent", _ts())
        if s.url and version == V2021:
            _el(delivery, "URL", s.url)
    return _finish(root, version)


def build_requesting(h: Header, *, version: str, action: str, note: str | None = None) -> bytes:
    root, msg = _envelope("requestingAgencyMessage", version)
    _header(msg, h, version, "requestingAgencyMessage")
    _el(msg, "action", action)
    if note:
        _el(msg, "note", note)
    return _finish(root, version)


def build_confirmation(kind: str, h: Header, *, version: str, received: datetime | None = None, ok: bool = True,
                       error_type: str | None = None, error_value: str | None = None,
                       reason: str | None = None, action: str | None = None) -> bytes:
    """A ``<kind>Confirmation`` echoing the header ids of the message it answers (OK, or ERROR)."""
    root, msg = _envelope(f"{kind}Confirmation", version)
    header = _el(msg, "confirmationHeader")
    if h.supplier:
        _agency(header, "supplyingAgencyId", h.supplier)
    if h.requester:
        _agency(header, "requestingAgencyId", h.requester)
    _el(header, "timestamp", _ts())
    if h.request_id:
        _el(header, "requestingAgencyRequestId", h.request_id)
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
    return _finish(root, version)


def parse(data: bytes) -> etree._Element:
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise IsoError("BadlyFormedMessage", f"not well-formed XML: {exc}") from exc


def validate(data: bytes, version: str | None = None) -> etree._Element:
    """Parse and validate against the XSD of ``version`` (default: the one the message declares)."""
    root = parse(data)
    if version is None:
        version = version_of(root.get(f"{{{NS}}}version"))
    error = next(iter(schema(version).iter_errors(root)), None)
    if error is not None:
        raise IsoError("BadlyFormedMessage", f"not valid ISO 18626 {version}: {error.reason or error.message} "
                                             f"at {error.path}")
    return root


@dataclass
class Message:
    kind: str
    version: str
    root: etree._Element

    def get(self, path: str) -> str | None:
        """Text at a slash path below the message element, e.g. ``header/requestingAgencyRequestId``."""
        node: etree._Element | None = self.root[0]
        for step in path.split("/"):
            node = node.find(f"{{{NS}}}{step}") if node is not None else None
            if node is None:
                return None
        return (node.text or "").strip() or None

    def header(self, path: str = "header") -> Header:
        def agency(name: str) -> Agency | None:
            value = self.get(f"{path}/{name}/agencyIdValue")
            return Agency(self.get(f"{path}/{name}/agencyIdType") or AGENCY_TYPE, value) if value else None

        return Header(agency("supplyingAgencyId"), agency("requestingAgencyId"),
                      self.get(f"{path}/requestingAgencyRequestId"), self.get(f"{path}/supplyingAgencyRequestId"))

    def money(self, path: str) -> Money | None:
        """A type_costs element as Money; an amount that is not a sane decimal is an IsoError."""
        value, currency = self.get(f"{path}/monetaryValue"), self.get(f"{path}/currencyCode")
        if value is None:
            return None
        try:
            amount = Decimal(value)
        except InvalidOperation as exc:
            raise IsoError("UnrecognisedDataValue", f"{value} is not an amount") from exc
        if not amount.is_finite() or amount < 0 or amount > Decimal("100000"):
            raise IsoError("UnrecognisedDataValue", f"amount {value} is out of range")
        if not currency or len(currency) != 3 or not currency.isascii() or not currency.isalpha():
            raise IsoError("UnrecognisedDataValue", f"currency {currency!r} is not an ISO 4217 code")
        return Money(amount.quantize(Decimal("0.01")), currency.upper())

    def offered_costs(self) -> Money | None:
        return self.money("retryInfo/offeredCosts") or self.money("messageInfo/offeredCosts")

    def date(self, path: str) -> date | None:
        text = self.get(path)
        if not text:
            return None
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()


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


def loose(data: bytes) -> Message | None:
    """An unvalidated look at a message (to echo its ids in an error confirmation), or None."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError:
        return None
    if not len(root) or not isinstance(root[0].tag, str):
        return None
    try:
        version = version_of(root.get(f"{{{NS}}}version"))
    except IsoError:
        version = V2021
    return Message(kind=etree.QName(root[0]).localname, version=version, root=root)


def read(data: bytes, version: str | None = None) -> Message:
    """Validate against the declared version's XSD (or ``version``) and wrap."""
    root = validate(data, version)
    declared = version or version_of(root.get(f"{{{NS}}}version"))
    return Message(kind=etree.QName(root[0]).localname, version=declared, root=root)
