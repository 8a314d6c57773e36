"""``GET /api/v1/search/feed``: an Atom feed of any search (same parameters as ``/search``)."""

from __future__ import annotations

from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError
from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import ServicesDep
from api.errors import ApiError
from api.params import SearchParams
from catalog.search import SearchError, search
from portals.feeds import search_feed

router = APIRouter(tags=["search"])


@router.get("/search/feed", summary="A search as an Atom feed (with OpenSearch totals)")
def search_atom(request: Request, services: ServicesDep, query: SearchParams) -> Response:
    try:
        result = search(services, query)
    except SearchError as exc:
        raise ApiError(400, "bad_query", str(exc)) from None
    except (TransportError, EsApiError) as exc:
        raise ApiError(503, "search_unavailable", f"the search index is not available: {exc}") from None
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "api_key"]
    return Response(search_feed(result, params, str(request.base_url)), media_type="application/atom+xml")
