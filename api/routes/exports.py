"""Exports and citations of union records: ``/records/{id}/export``, ``/search/export``,
``/records/{id}/citation``. Formats live in :mod:`portals.export`, styles in :mod:`portals.citations`."""

from __future__ import annotations

from typing import Annotated, Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api.deps import ServicesDep
from api.errors import ApiError
from api.params import SearchParams
from api.routes.records import UNION_ID
from catalog.search import SearchError
from portals.citations import STYLES, CitationError, cite, cite_all
from portals.export import FORMATS, ExportError, export, get_format
from portals.export.marc import source_as_received
from portals.records import source_records, union_records
from portals.resultset import result_records

router = APIRouter(tags=["export"])
FORMAT_HELP = f"One of: {', '.join(FORMATS)}"
SOURCE_HELP = "MEMBER:LOCAL_ID: one member's record as received (marcxml or marc)"


def _record(services: Any, union_id: str) -> dict[str, Any]:
    if not UNION_ID.match(union_id):
        raise ApiError(404, "not_found", f"no union record {union_id!r} (ids look like u0123456789abcde)")
    record = union_records(services, [union_id]).get(union_id)
    if record is None:
        raise ApiError(404, "not_found", f"no union record {union_id!r}")
    return record


def _format(name: str) -> Any:
    try:
        return get_format(name)
    except ExportError as exc:
        raise ApiError(400, "unknown_format", str(exc)) from None


def _file(body: bytes, spec: Any, stem: str, headers: dict[str, str] | None = None) -> Response:
    disposition = {"Content-Disposition": f'attachment; filename="{stem}.{spec.extension}"'}
    return Response(body, media_type=spec.media_type, headers={**disposition, **(headers or {})})


@router.get("/records/{union_id}/export", summary="A union record as MARCXML, MARC 21, RIS, BibTeX or CSL-JSON")
def export_record(
    request: Request,
    services: ServicesDep,
    union_id: Annotated[str, Path(max_length=64)],
    format: Annotated[str, Query(description=FORMAT_HELP)] = "marcxml",
    include: Annotated[str | None, Query(description="`sources`: add every member's record (MARC formats)")] = None,
    source: Annotated[str | None, Query(max_length=300, description=SOURCE_HELP)] = None,
) -> Response:
    spec = _format(format)
    record = _record(services, union_id)
    if source is not None:
        return _one_source(services, union_id, source, spec)
    if include not in (None, "", "sources"):
        raise ApiError(400, "bad_parameter", "include: only 'sources' is supported")
    sources = {union_id: source_records(services, union_id)} if include == "sources" else None
    try:
        body = export([record], spec.name, base_url=str(request.base_url), sources=sources)
    except ExportError as exc:
        raise ApiError(400, "unsupported_export", str(exc)) from None
    return _file(body, spec, union_id)


def _one_source(services: Any, union_id: str, wanted: str, spec: Any) -> Response:
    if not spec.sources:
        raise ApiError(400, "unsupported_export", "a member's record is exported as marcxml or marc only")
    member, _, local_id = wanted.partition(":")
    found = next((s for s in source_records(services, union_id) if (s.member, s.local_id) == (member, local_id)), None)
    if found is None:
        raise ApiError(404, "not_found", f"union record {union_id} has no source record {wanted!r}")
    body = source_as_received(found, spec.name)
    if body is None:
        raise ApiError(409, "not_marc", f"{wanted} was received as {found.encoding} Dublin Core, not MARC")
    return _file(body, spec, f"{member}-{local_id}")


@router.get("/search/export", summary="The hits of a search as a file (the parameters of /search, at most 1,000)")
def export_search(
    request: Request,
    services: ServicesDep,
    query: SearchParams,
    format: Annotated[str, Query(description=FORMAT_HELP)] = "ris",
    limit: Annotated[int, Query(ge=1, le=1000, description="Records exported from the page's first hit")] = 1000,
) -> Response:
    spec = _format(format)
    # here ``format`` names the file format, so it is not also the search's material-format filter
    query.filters.pop("format", None)
    limit = min(limit, services.settings.export_max_records)
    try:
        result = result_records(services, query, limit)
    except SearchError as exc:
        raise ApiError(400, "bad_query", str(exc)) from None
    except (TransportError, EsApiError) as exc:
        raise ApiError(503, "search_unavailable", f"the search index is not available: {exc}") from None
    body = export(result.records, spec.name, base_url=str(request.base_url), sources=None)
    headers = {"X-Total-Hits": str(result.total), "X-Exported-Records": str(len(result.records))}
    return _file(body, spec, "unicat-search", headers)


@router.get("/records/{union_id}/citation", summary="A formatted citation (APA, MLA, Chicago, GB/T 7714-2015)")
def citation(
    request: Request,
    services: ServicesDep,
    union_id: Annotated[str, Path(max_length=64)],
    style: Annotated[str | None, Query(description=f"One of: {', '.join(STYLES)}; all when absent")] = None,
) -> Any:
    record = _record(services, union_id)
    try:
        if style is None:
            return {"id": union_id, "citations": cite_all(record, str(request.base_url))}
        return {"id": union_id, **cite(record, style, str(request.base_url))}
    except CitationError as exc:
        raise ApiError(400, "unknown_style", str(exc)) from None
