"""SRU members: a searchRetrieve client (versions 1.1, 1.2, 2.0) and the SRU harvester.

Request building and response parsing are pure functions, shared by the blocking client the
harvester uses and the async calls the holdings connector makes::

    >>> client = SruClient("http://127.0.0.1:2100/Default", version="1.2")  # doctest: +SKIP
    >>> resp = client.search_retrieve("dc.title=python", start=1, maximum=10)
    >>> resp.number_of_records, [r.data for r in resp.records]

A full harvest pages through each configured CQL query (``cql.allRecords=1``, date or class
ranges); an incremental one runs ``incremental_query`` with ``{from}`` set to the day the last
complete harvest started. The checkpoint holds the query and the next ``startRecord``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, field_validator

from harvesters.base import HarvestedRecord, HarvestError, Page, plan_query_run, sweep_of

SruVersion = Literal["1.1", "1.2", "2.0"]

#: Short schema names and the identifiers servers use for them in ``recordSchema``.
SCHEMA_IDS = {
    "marcxml": "info:srw/schema/1/marcxml-v1.1",
    "dc": "info:srw/schema/1/dc-v1.1",
    "mods": "info:srw/schema/1/mods-v3.6",
}

#: Member responses are untrusted: no entities, no DTD, no network, lxml size limits on.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@dataclass(frozen=True)
class SruDiagnostic:
    uri: str
    message: str = ""
    details: str = ""

    @property
    def code(self) -> int | None:
        return _number(self.uri.rsplit("/", 1)[-1])

    def __str__(self) -> str:
        code = self.code if self.code is not None else self.uri
        text = f"SRU diagnostic {code}: {self.message or self.uri}"
        return f"{text} ({self.details})" if self.details else text


class SruError(Exception):
    """The server could not be asked (transport), did not answer SRU, or answered a fatal diagnostic."""

    def __init__(self, message: str, diagnostics: list[SruDiagnostic] | None = None) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics or []


@dataclass
class SruRecord:
    position: int | None
    schema: str | None
    #: The record's root element (parsed even when the server packed it as an escaped string).
    data: etree._Element | None
    identifier: str | None = None
    diagnostic: SruDiagnostic | None = None


@dataclass
class SruResponse:
    number_of_records: int
    records: list[SruRecord] = field(default_factory=list)
    next_position: int | None = None
    diagnostics: list[SruDiagnostic] = field(default_factory=list)


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _child(el: etree._Element, name: str) -> etree._Element | None:
    return next((c for c in el if _local(c) == name), None)


def _child_text(el: etree._Element, name: str) -> str | None:
    c = _child(el, name)
    return (c.text or "").strip() if c is not None else None


def search_params(
    query: str, *, version: SruVersion, start: int, maximum: int, schema: str | None, packing: str = "xml"
) -> dict[str, str]:
    params = {"operation": "searchRetrieve", "version": version, "query": query,
              "startRecord": str(start), "maximumRecords": str(maximum)}
    if schema:
        params["recordSchema"] = schema
    if version == "2.0":  # 2.0 renamed 1.x's recordPacking to recordXMLEscaping
        params["recordXMLEscaping"] = packing
    else:
        params["recordPacking"] = packing
    return params


def _diagnostic(el: etree._Element) -> SruDiagnostic:
    return SruDiagnostic(uri=_child_text(el, "uri") or "", message=_child_text(el, "message") or "",
                         details=_child_text(el, "details") or "")


def parse_response(body: bytes) -> SruResponse:
    """Parse a searchRetrieveResponse; :class:`SruError` when the body is not one."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SruError(f"not an SRU response (not XML: {exc})") from exc
    if _local(root) != "searchRetrieveResponse":
        if _local(root) == "diagnostics":  # some servers answer a bare diagnostics element
            diags = [_diagnostic(d) for d in root if _local(d) == "diagnostic"]
            raise SruError("; ".join(map(str, diags)) or "SRU diagnostics", diags)
        raise SruError(f"not an SRU response (root element <{_local(root)}>)")
    diag_el = _child(root, "diagnostics")
    diags = [_diagnostic(d) for d in diag_el if _local(d) == "diagnostic"] if diag_el is not None else []
    count = _number(_child_text(root, "numberOfRecords"))
    if count is None:
        if diags:
            raise SruError("; ".join(map(str, diags)), diags)
        raise SruError("SRU response without a usable numberOfRecords")
    records_el = _child(root, "records")
    records = [_parse_record(r) for r in records_el if _local(r) == "record"] if records_el is not None else []
    return SruResponse(count, records, _number(_child_text(root, "nextRecordPosition")), diags)


def _number(text: str | None) -> int | None:
    """A count or position as the server wrote it, or None unless it is plain ASCII digits of a
    sane length (``str.isdigit`` also takes "²", which ``int`` refuses, and ``int`` refuses
    more than 4,300 digits)."""
    if text is None or not (0 < len(text) <= 18 and text.isascii() and text.isdigit()):
        return None
    return int(text)


def _parse_record(el: etree._Element) -> SruRecord:
    position = _number(_child_text(el, "recordPosition"))
    schema = _child_text(el, "recordSchema")
    ident = _child_text(el, "recordIdentifier")
    data_el = _child(el, "recordData")
    if schema == "info:srw/schema/1/diagnostics-v1.1" or (data_el is not None and _child(data_el, "diagnostic")):
        d = _child(data_el, "diagnostic") if data_el is not None else None
        return SruRecord(position, schema, None, ident, _diagnostic(d) if d is not None else SruDiagnostic(""))
    data: etree._Element | None = None
    if data_el is not None:
        data = next((c for c in data_el if isinstance(c.tag, str)), None)
        if data is None and (data_el.text or "").strip():  # recordPacking=string: escaped XML text
            try:
                data = etree.fromstring(data_el.text.strip().encode("utf-8"), _PARSER)
            except etree.XMLSyntaxError:
                return SruRecord(position, schema, None, ident, SruDiagnostic("", "record data is not XML"))
    return SruRecord(position, schema, data, ident)


class SruClient:
    """Blocking SRU client (the harvester runs in a worker thread)."""

    def __init__(self, url: str, *, version: SruVersion = "1.2", timeout: float = 30.0,
                 client: httpx.Client | None = None, params: dict[str, str] | None = None) -> None:
        self.url = url
        self.version = version
        self.extra = dict(params or {})
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=True)
        self._owned = client is None

    def search_retrieve(self, query: str, *, start: int = 1, maximum: int = 10,
                        schema: str | None = "marcxml") -> SruResponse:
        params = {**self.extra, **search_params(query, version=self.version, start=start, maximum=maximum,
                                                 schema=schema)}
        try:
            resp = self._client.get(self.url, params=params)
        except httpx.HTTPError as exc:
            raise SruError(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 400 and b"searchRetrieveResponse" not in resp.content[:2000]:
            raise SruError(f"{self.url}: HTTP {resp.status_code}")
        return parse_response(resp.content)

    def close(self) -> None:
        if self._owned:
            self._client.close()

    def __enter__(self) -> SruClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def search_retrieve_async(client: httpx.AsyncClient, url: str, query: str, *, version: SruVersion = "1.2",
                                start: int = 1, maximum: int = 10, schema: str | None = "marcxml") -> SruResponse:
    """One searchRetrieve through an async client (holdings look-ups)."""
    params = search_params(query, version=version, start=start, maximum=maximum, schema=schema)
    try:
        resp = await client.get(url, params=params)
    except httpx.HTTPError as exc:
        raise SruError(f"{type(exc).__name__}: {exc or 'no answer'}") from exc
    if resp.status_code >= 400 and b"searchRetrieveResponse" not in resp.content[:2000]:
        raise SruError(f"HTTP {resp.status_code}")
    return parse_response(resp.content)


# -- MARC records inside SRU responses ----------------------------------------------------------

class NotMarc(ValueError):
    """The bytes are not a record in the syntax the feed declared."""


def marcxml_record(raw: bytes) -> tuple[bytes, str | None]:
    """Return the MARCXML ``<record>`` serialised alone, and its 001; :class:`NotMarc` otherwise.

    Accepts a bare ``<record>`` or one wrapped in a ``<collection>``.
    """
    try:
        root = etree.fromstring(raw, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise NotMarc(f"not XML: {exc}") from exc
    return marcxml_element(root)


def marcxml_element(root: etree._Element) -> tuple[bytes, str | None]:
    """Like :func:`marcxml_record` for a parsed element. MARCXML, MARCXchange and the CNMARC
    namespace share one structure, so any namespace is accepted for ``record``/``leader``/``*field``."""
    record = root
    if etree.QName(root).localname == "collection":
        found = next((el for el in root if isinstance(el.tag, str) and etree.QName(el).localname == "record"), None)
        if found is None:
            raise NotMarc("MARCXML collection without a record")
        record = found
    qname = etree.QName(record)
    children = {etree.QName(el).localname for el in record if isinstance(el.tag, str)}
    if qname.localname != "record" or not children & {"leader", "controlfield", "datafield"}:
        raise NotMarc(f"not a MARCXML record: <{qname.localname}> in {qname.namespace or 'no namespace'}")
    local_id = None
    for el in record:
        if isinstance(el.tag, str) and etree.QName(el).localname == "controlfield" and el.get("tag") == "001":
            local_id = (el.text or "").strip() or None
            break
    if record.getparent() is not None or root.nsmap != record.nsmap:
        record = copy.deepcopy(record)  # detach from the envelope, drop its unused namespaces
        etree.cleanup_namespaces(record)
    return etree.tostring(record, encoding="utf-8"), local_id


# -- harvesting -------------------------------------------------------------------------------

_DC_SCHEMAS = {"dc", "oai_dc", "info:srw/schema/1/dc-v1.1"}


class SruFeed(BaseModel):
    """A member's ``sru = { ... }`` table."""

    model_config = ConfigDict(extra="forbid")

    url: str
    version: SruVersion = "1.2"
    record_schema: str = "marcxml"
    #: MARC flavour of the records (``unimarc`` for UNIMARC/CNMARC in MARCXML or MARCXchange).
    marc_flavour: Literal["marc21", "unimarc"] = "marc21"
    queries: list[str] = Field(default_factory=lambda: ["cql.allRecords=1"], min_length=1)
    batch: int = Field(100, ge=1, le=1000)
    incremental_query: str | None = None
    #: With an ``incremental_query``: run the full ``queries`` again when the last full run is
    #: this many days old (incremental runs cannot see withdrawn records; full runs withdraw them).
    full_every_days: int | None = Field(default=None, ge=1)
    date_format: str = "%Y%m%d"
    #: Extra query parameters every request carries (API keys, ``x-`` extensions).
    params: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("SRU url must start with http:// or https://")
        return value

    @field_validator("incremental_query")
    @classmethod
    def _has_from(cls, value: str | None) -> str | None:
        if value is not None and "{from}" not in value:
            raise ValueError("incremental_query must contain a {from} placeholder")
        return value


class SruHarvester:
    """Yields pages of records from one SRU endpoint."""

    def __init__(self, config: SruFeed, *, timeout: float = 30.0, client: httpx.Client | None = None) -> None:
        self.config = config
        self.timeout = timeout
        self._client = client

    def _plan(self, checkpoint: dict[str, Any] | None) -> tuple[list[str], dict[str, Any]]:
        """Return the queries of this run and its starting state (a resumed or a fresh run)."""
        cfg = self.config
        return plan_query_run(
            checkpoint, list(cfg.queries), cfg.incremental_query, cfg.date_format, 1, cfg.full_every_days
        )

    def pages(self, checkpoint: dict[str, Any] | None) -> Iterator[Page]:
        cfg = self.config
        queries, state = self._plan(checkpoint)
        with SruClient(cfg.url, version=cfg.version, timeout=self.timeout, client=self._client,
                       params=cfg.params) as client:
            while state["query"] < len(queries):
                qi, query = state["query"], queries[state["query"]]
                start = int(state["position"])
                resp = self._ask(client, query, start)
                notes = [f"query {qi + 1}/{len(queries)} {query!r}: {resp.number_of_records} hits"][: start == 1]
                notes += [str(d) for d in resp.diagnostics]
                nxt = resp.next_position or start + len(resp.records)
                if not resp.records or nxt > resp.number_of_records:
                    state = {**state, "query": qi + 1, "position": 1}
                    if state["query"] >= len(queries):
                        state.update(complete=True, harvested_until=state["started"])
                else:
                    state = {**state, "position": nxt}
                yield Page([self._record(r, start + i) for i, r in enumerate(resp.records)],
                           checkpoint=dict(state), notes=notes, **sweep_of(state))

    def _ask(self, client: SruClient, query: str, start: int) -> SruResponse:
        last: SruError | None = None
        for _attempt in range(2):  # one retry for a transient transport fault
            try:
                return client.search_retrieve(query, start=start, maximum=self.config.batch,
                                              schema=self.config.record_schema)
            except SruError as exc:
                if exc.diagnostics:
                    raise HarvestError(f"sru {self.config.url}: query {query!r}: {exc}") from exc
                last = exc
        raise HarvestError(f"sru {self.config.url}: {last}") from last

    def _record(self, rec: SruRecord, position: int) -> HarvestedRecord:
        fallback_id = rec.identifier or f"pos-{rec.position or position}"
        if rec.diagnostic is not None:
            return HarvestedRecord(local_id=fallback_id, raw=b"", error=f"surrogate diagnostic: {rec.diagnostic}")
        if rec.data is None:
            return HarvestedRecord(local_id=fallback_id, raw=b"", error="record without data")
        schema = rec.schema or self.config.record_schema
        if schema in _DC_SCHEMAS or self.config.record_schema in _DC_SCHEMAS:
            raw = etree.tostring(rec.data, encoding="utf-8")
            ident = next((el.text.strip() for el in rec.data.iter()
                          if isinstance(el.tag, str) and etree.QName(el).localname == "identifier" and el.text), None)
            return HarvestedRecord(local_id=rec.identifier or ident or fallback_id, raw=raw, syntax="dc",
                                   error=None if (rec.identifier or ident) else "record has no identifier")
        try:
            raw, local_id = marcxml_element(rec.data)
        except NotMarc as exc:
            raw = etree.tostring(rec.data, encoding="utf-8")
            return HarvestedRecord(local_id=fallback_id, raw=raw, error=f"{exc} (recordSchema {schema})")
        if not local_id:
            return HarvestedRecord(local_id=fallback_id, raw=raw, syntax=self.config.marc_flavour,
                                   error="record has no control number (001)")
        return HarvestedRecord(local_id=local_id, raw=raw, syntax=self.config.marc_flavour)
