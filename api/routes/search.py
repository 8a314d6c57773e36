"""``GET /api/v1/search``: one search over every member's catalogue."""

from __future__ import annotations

from typing import Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError
from fastapi import APIRouter

from api.deps import ServicesDep
from api.errors import ApiError
from api.params import SearchParams
from catalog.search import SearchError, search

router = APIRouter(tags=["search"])


@router.get("/search", summary="Search all member libraries")
def search_records(services: ServicesDep, query: SearchParams) -> dict[str, Any]:
    try:
        return search(services, query)
    except SearchError as exc:
        raise ApiError(400, "bad_query", str(exc)) from None
    except (TransportError, EsApiError) as exc:
        raise ApiError(503, "search_unavailable", f"the search index is not available: {exc}") from None
