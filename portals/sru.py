"""SRU 1.2 and 2.0 server operations (explain, searchRetrieve) over the union catalogue.

Free of HTTP: :func:`respond` takes the request's query parameters and where the server is
reached, and returns the XML body. Every problem is answered the SRU way, as a diagnostic
(``info:srw/diagnostic/1/N``) inside the response, in the namespace of the version asked for.
Paging is bounded: at most :data:`MAX_RECORDS` records per response, and no position past the
search window (Elasticsearch's ``max_result_window``) for searches; the whole catalogue
(``cql.allRecords=1``, what harvesters ask for) is paged from the store in id order, to its end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError
from lxml import etree

from catalog.context import Services
from portals import dc as dc_schema
from portals.cql import CONTEXT_SETS, INDEXES, CqlError, to_es
from portals.marc import union_marcxml
from portals.records import union_id_page, union_records

VERSIONS = ("1.1", "1.2", "2.0")
DEFAULT_VERSION = "1.2"
DEFAULT_RECORDS = 10
MAX_RECORDS = 100
#: Deepest position of a whole-catalogue (``cql.allRecords``) result, paged from the store.
MAX_POSITION = 10**9
NS = {
    "1": {"sru": "http://www.loc.gov/zing/srw/", "diag": "http://www.loc.gov/zing/srw/diagnostic/"},
    "2": {
        "sru": "http://docs.oasis-open.org/ns/search-ws/sruResponse",
        "diag": "http://docs.oasis-open.org/ns/search-ws/diagnostic",
    },
}
ZEEREX = "http://explain.z3950.org/dtd/2.0/"
#: Record schemas served: short name → (identifier, title).
SCHEMAS = {
    "marcxml": ("info:srw/schema/1/marcxml-v1.1", "MARC 21 XML (union record, one 852 per holding member)"),
    "dc": ("info:srw/schema/1/dc-v1.1", "Dublin Core"),
}
_SCHEMA_NAMES = {
    **{name: name for name in SCHEMAS},
    **{ident: name for name, (ident, _t) in SCHEMAS.items()},
    "marc21": "marcxml",
    "info:srw/schema/1/marcxml-v1.1-light": "marcxml",
    "http://www.loc.gov/marc21/slim": "marcxml",
    "oai_dc": "dc",
    "info:srw/schema/1/dc-schema": "dc",
    "http://purl.org/dc/elements/1.1/": "dc",
}
_KNOWN_PARAMS = {
    "operation", "version", "query", "startRecord", "maximumRecords", "recordSchema", "recordPacking",
    "recordXMLEscaping", "resultSetTTL", "stylesheet", "extraRequestData", "queryType", "httpAccept",
    "api_key", "renderedBy", "responseType",
}
DIAGNOSTIC_MESSAGES = {
    1: "General system error",
    4: "Unsupported operation",
    5: "Unsupported version",
    6: "Unsupported parameter value",
    7: "Mandatory parameter not supplied",
    8: "Unsupported parameter",
    61: "First record position out of range",
    65: "Record does not exist",
    66: "Unknown schema for retrieval",
    71: "Unsupported record packing",
    80: "Sort not supported",
}


@dataclass
class Diagnostic:
    code: int
    message: str
    details: str = ""

    @property
    def uri(self) -> str:
        return f"info:srw/diagnostic/1/{self.code}"


def diagnostic(code: int, details: str = "") -> Diagnostic:
    return Diagnostic(code, DIAGNOSTIC_MESSAGES.get(code, "Unsupported request"), details)


@dataclass(frozen=True)
class Endpoint:
    """Where this server is reached (for explain's serverInfo and records' links)."""

    host: str
    port: int
    database: str
    base_url: str


class _Fatal(Exception):
    def __init__(self, diag: Diagnostic) -> None:
        super().__init__(diag.message)
        self.diag = diag


def respond(services: Services, params: Mapping[str, str], endpoint: Endpoint) -> bytes:
    """The SRU response body (UTF-8 XML) for one request's parameters."""
    version = params.get("version") or DEFAULT_VERSION
    if version not in VERSIONS:
        diag = diagnostic(5, f"{version[:20]}; supported: 1.1, 1.2, 2.0")
        return _diagnostics_only("searchRetrieveResponse", DEFAULT_VERSION, diag)
    operation = params.get("operation") or ("searchRetrieve" if params.get("query") else "explain")
    if operation == "explain":
        return explain(endpoint, version)
    if operation != "searchRetrieve":
        return _diagnostics_only("explainResponse", version, diagnostic(4, operation))
    return search_retrieve(services, params, endpoint, version)


# -- searchRetrieve ------------------------------------------------------------------------------


@dataclass
class _Request:
    query: str
    start: int
    maximum: int
    schema: str
    escaping: str


def _positive(params: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 12) or int(text) < minimum:
        raise _Fatal(diagnostic(6, f"{name}={text[:40]!r}: must be a whole number ≥ {minimum}"))
    return int(text)


def _parse_request(params: Mapping[str, str], version: str) -> _Request:
    unknown = sorted(k for k in params if k not in _KNOWN_PARAMS and not k.startswith("x-"))
    if "sortKeys" in unknown:
        raise _Fatal(diagnostic(80, "sortKeys"))
    if unknown:
        raise _Fatal(diagnostic(8, unknown[0]))
    query = params.get("query")
    if not query or not query.strip():
        raise _Fatal(diagnostic(7, "query"))
    if (params.get("queryType") or "cql") not in ("cql", "searchTerms"):
        raise _Fatal(diagnostic(6, f"queryType={params['queryType'][:40]!r}: only cql is supported"))
    schema_param = params.get("recordSchema") or "marcxml"
    schema = _SCHEMA_NAMES.get(schema_param) or _SCHEMA_NAMES.get(schema_param.lower())
    if schema is None:
        raise _Fatal(diagnostic(66, schema_param[:200]))
    escaping = params.get("recordXMLEscaping" if version == "2.0" else "recordPacking") or "xml"
    if version == "2.0" and (params.get("recordPacking") or "packed") != "packed":
        raise _Fatal(diagnostic(71, params["recordPacking"][:40]))
    if escaping not in ("xml", "string"):
        raise _Fatal(diagnostic(71, escaping[:40]))
    start = _positive(params, "startRecord", 1, 1)
    maximum = min(_positive(params, "maximumRecords", DEFAULT_RECORDS, 0), MAX_RECORDS)
    return _Request(query, start, maximum, schema, escaping)


def search_retrieve(services: Services, params: Mapping[str, str], endpoint: Endpoint, version: str) -> bytes:
    try:
        request = _parse_request(params, version)
        es_query = to_es(request.query)
    except _Fatal as exc:
        return _diagnostics_only("searchRetrieveResponse", version, exc.diag)
    except CqlError as exc:
        diag = Diagnostic(exc.code, str(exc), exc.details)
        return _diagnostics_only("searchRetrieveResponse", version, diag)
    whole_catalogue = es_query == {"match_all": {}}
    # every record (cql.allRecords, what harvesters ask) is paged from the store, without a depth limit
    window = MAX_POSITION if whole_catalogue else services.settings.sru_max_window
    diags: list[Diagnostic] = []
    size = max(0, min(request.maximum, window - (request.start - 1)))
    try:
        if whole_catalogue:
            total, ids, more = union_id_page(services, min(request.start - 1, window), size)
        else:
            total, ids = _run(services, es_query, request.start, size)
            more = request.start + len(ids) <= total
    except (TransportError, EsApiError) as exc:
        return _diagnostics_only("searchRetrieveResponse", version, diagnostic(1, f"search index unavailable: {exc}"))
    if request.maximum and total and request.start > total and not ids:
        diags.append(diagnostic(61, f"startRecord {request.start} is past the {total} records found"))
        ids = []
    elif request.maximum and request.start > window:
        diags.append(diagnostic(61, f"positions past {window} are not served; narrow the query"))
        ids = []
    records = union_records(services, ids)
    root = _response_root(version)
    _add(root, version, "numberOfRecords", str(total))
    if ids:
        container = _add(root, version, "records")
        for offset, uid in enumerate(ids):
            _record(container, version, request, records.get(uid), uid, request.start + offset, endpoint)
    following = request.start + len(ids)
    if ids and more and following <= window:
        _add(root, version, "nextRecordPosition", str(following))
    _echo(root, version, request)
    if diags:
        _diagnostics(root, version, diags)
    return _serialise(root)


def _run(services: Services, query: dict[str, Any], start: int, size: int) -> tuple[int, list[str]]:
    sort: list[Any] = ["_score", {"id": "asc"}]
    response = services.es.search(
        index=services.settings.records_alias,
        query=query,
        sort=sort,
        from_=max(0, min(start - 1, services.settings.sru_max_window)),
        size=size,
        track_total_hits=True,
        source=False,
    )
    total = response["hits"]["total"]["value"]
    return total, [hit["_id"] for hit in response["hits"]["hits"]]


def _record(
    parent: etree._Element, version: str, request: _Request, record: dict[str, Any] | None, uid: str,
    position: int, endpoint: Endpoint,
) -> None:
    el = _add(parent, version, "record")
    if record is None:
        _add(el, version, "recordSchema", "info:srw/schema/1/diagnostics-v1.1")
        _add(el, version, "recordPacking" if version != "2.0" else "recordXMLEscaping", "xml")
        data = _add(el, version, "recordData")
        _diagnostic_el(data, version, diagnostic(65, uid))
    else:
        _add(el, version, "recordSchema", SCHEMAS[request.schema][0])
        _add(el, version, "recordPacking" if version != "2.0" else "recordXMLEscaping", request.escaping)
        data = _add(el, version, "recordData")
        text = union_marcxml(record) if request.schema == "marcxml" else dc_schema.srw_dc(record, endpoint.base_url)
        if request.escaping == "string":
            data.text = text
        else:
            data.append(etree.fromstring(text.encode("utf-8")))
    _add(el, version, "recordPosition", str(position))


def _echo(root: etree._Element, version: str, request: _Request) -> None:
    echo = _add(root, version, "echoedSearchRetrieveRequest")
    _add(echo, version, "version", version)
    _add(echo, version, "query", request.query)
    _add(echo, version, "startRecord", str(request.start))
    _add(echo, version, "maximumRecords", str(request.maximum))
    _add(echo, version, "recordSchema", request.schema)


# -- explain --------------------------------------------------------------------------------------


def explain(endpoint: Endpoint, version: str) -> bytes:
    root = _response_root(version, "explainResponse")
    record = _add(root, version, "record")
    _add(record, version, "recordSchema", ZEEREX)
    _add(record, version, "recordPacking" if version != "2.0" else "recordXMLEscaping", "xml")
    data = _add(record, version, "recordData")
    data.append(_zeerex(endpoint, version))
    _echo_explain(root, version)
    return _serialise(root)


def _echo_explain(root: etree._Element, version: str) -> None:
    echo = _add(root, version, "echoedExplainRequest")
    _add(echo, version, "version", version)


def _z(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ZEEREX}}}{tag}", attrs)
    if text is not None:
        el.text = text
    return el


def _zeerex(endpoint: Endpoint, version: str) -> etree._Element:
    explain_el = etree.Element(f"{{{ZEEREX}}}explain", nsmap={None: ZEEREX})
    server = _z(explain_el, "serverInfo", protocol="SRU", version=version, transport="http")
    _z(server, "host", endpoint.host)
    _z(server, "port", str(endpoint.port))
    _z(server, "database", endpoint.database)
    info = _z(explain_el, "databaseInfo")
    _z(info, "title", "unicat union catalogue", lang="en", primary="true")
    _z(info, "title", "unicat 联合目录", lang="zh")
    _z(info, "description", "One search over every member library's catalogue; each record lists its holders.",
       lang="en", primary="true")
    index_info = _z(explain_el, "indexInfo")
    for prefix, uri in CONTEXT_SETS.items():
        _z(index_info, "set", name=prefix, identifier=uri)
    for name, index in INDEXES.items():
        prefix, base = name.split(".", 1)
        index_el = _z(index_info, "index", search="true", scan="false", sort="false")
        _z(index_el, "title", index.title, lang="en")
        shown = {"serverchoice": "serverChoice", "allrecords": "allRecords"}.get(base, base)
        _z(_z(index_el, "map"), "name", shown, set=prefix)
    schema_info = _z(explain_el, "schemaInfo")
    for name, (ident, title) in SCHEMAS.items():
        schema_el = _z(schema_info, "schema", identifier=ident, name=name, retrieve="true", sort="false")
        _z(schema_el, "title", title, lang="en")
    config = _z(explain_el, "configInfo")
    _z(config, "default", str(DEFAULT_RECORDS), type="numberOfRecords")
    _z(config, "default", "marcxml", type="retrieveSchema")
    _z(config, "default", "=", type="relation")
    _z(config, "default", "cql.serverChoice", type="index")
    _z(config, "setting", str(MAX_RECORDS), type="maximumRecords")
    for relation in ("=", "==", "all", "any", "adj", "<", ">", "<=", ">=", "within"):
        _z(config, "supports", relation, type="relation")
    return explain_el


# -- XML helpers -----------------------------------------------------------------------------------


def _ns(version: str) -> dict[str, str]:
    return NS["2" if version == "2.0" else "1"]


def _response_root(version: str, name: str = "searchRetrieveResponse") -> etree._Element:
    ns = _ns(version)
    prefix = "sruResponse" if version == "2.0" else "srw"
    root = etree.Element(f"{{{ns['sru']}}}{name}", nsmap={prefix: ns["sru"], "diag": ns["diag"]})
    if version != "2.0":  # 2.0 responses carry no version element
        _add(root, version, "version", version)
    return root


def _add(parent: etree._Element, version: str, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{_ns(version)['sru']}}}{tag}")
    if text is not None:
        el.text = text
    return el


def _diagnostic_el(parent: etree._Element, version: str, diag: Diagnostic) -> None:
    ns = _ns(version)["diag"]
    el = etree.SubElement(parent, f"{{{ns}}}diagnostic")
    etree.SubElement(el, f"{{{ns}}}uri").text = diag.uri
    if diag.details:
        etree.SubElement(el, f"{{{ns}}}details").text = diag.details[:500]
    etree.SubElement(el, f"{{{ns}}}message").text = diag.message


def _diagnostics(root: etree._Element, version: str, diags: list[Diagnostic]) -> None:
    container = _add(root, version, "diagnostics")
    for diag in diags:
        _diagnostic_el(container, version, diag)


def _diagnostics_only(name: str, version: str, diag: Diagnostic) -> bytes:
    root = _response_root(version, name)
    if name == "searchRetrieveResponse":
        _add(root, version, "numberOfRecords", "0")
    _diagnostics(root, version, [diag])
    return _serialise(root)


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
