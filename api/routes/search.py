"""``GET /api/v1/search``: one search over every member's catalogue."""

from __future__ import annotations

import logging

import orjson
from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from admin.analytics import observe
from api.deps import ServicesDep
from api.errors import ApiError
from api.params import SearchParams
from catalog.didyoumean import did_you_mean
from catalog.search import SearchError, search
from indexer.es import describe_es_error

router = APIRouter(tags=["search"])
log = logging.getLogger(__name__)


@router.get("/search", summary="Search all member libraries", response_class=JSONResponse)
def search_records(services: ServicesDep, query: SearchParams) -> Response:
    """``{total, page, size, pages, sort, hits, facets, did_you_mean}``; the body is plain JSON
    already, so it is sent as is (no response-model validation on the hot path). ``did_you_mean``
    is ``{q, total}`` when the search found little and another query finds more, else ``null``."""
    try:
        result = search(services, query)
        result["did_you_mean"] = did_you_mean(services, query, result["total"])
    except SearchError as exc:
        raise ApiError(400, "bad_query", str(exc)) from None
    except EsApiError as exc:
        # The engine's own message is logged, never shown: it names internals and helps no reader.
        log.warning("search refused by Elasticsearch: %s", exc)
        if exc.meta.status == 400:
            raise ApiError(400, "bad_query", "the search engine could not run this query; try plain words") from None
        if exc.meta.status in (401, 403):  # our credentials, not the query: say what to fix
            raise ApiError(503, "search_unavailable",
                           f"the search index is not available: {describe_es_error(exc)}") from None
        raise ApiError(503, "search_unavailable", "the search index is not available right now") from None
    except TransportError as exc:
        log.warning("search index unreachable: %s", exc)
        raise ApiError(503, "search_unavailable",
                       f"the search index is not available: {describe_es_error(exc)}") from None
    observe(services, query, result)  # a few counters held in memory (admin.analytics)
    return Response(orjson.dumps(result), media_type="application/json")
