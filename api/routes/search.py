"""``GET /api/v1/search``: one search over every member's catalogue."""

from __future__ import annotations

import orjson
from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from api.deps import ServicesDep
from api.errors import ApiError
from api.params import SearchParams
from catalog.search import SearchError, search
from indexer.es import describe_es_error

router = APIRouter(tags=["search"])


@router.get("/search", summary="Search all member libraries", response_class=JSONResponse)
def search_records(services: ServicesDep, query: SearchParams) -> Response:
    """``{total, page, size, pages, sort, hits, facets}``; the body is plain JSON already, so it is
    sent as is (no response-model validation on the hot path)."""
    try:
        return Response(orjson.dumps(search(services, query)), media_type="application/json")
    except SearchError as exc:
        raise ApiError(400, "bad_query", str(exc)) from None
    except (TransportError, EsApiError) as exc:
        why = describe_es_error(exc)
        raise ApiError(503, "search_unavailable", f"the search index is not available: {why}") from None
