"""``GET /api/v1/search``: one search over every member's catalogue."""

from __future__ import annotations

from typing import Annotated, Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError
from fastapi import APIRouter, Query

from api.deps import ServicesDep
from api.errors import ApiError
from catalog.search import SORTS, SearchError, SearchQuery, search

router = APIRouter(tags=["search"])

ListParam = Annotated[list[str] | None, Query()]


@router.get("/search", summary="Search all member libraries")
def search_records(
    services: ServicesDep,
    q: Annotated[str, Query(max_length=500, description="Free text: title, author, subject, ISBN…")] = "",
    title: Annotated[str | None, Query(max_length=300)] = None,
    author: Annotated[str | None, Query(max_length=300)] = None,
    subject: Annotated[str | None, Query(max_length=300)] = None,
    isbn: Annotated[str | None, Query(max_length=40)] = None,
    issn: Annotated[str | None, Query(max_length=20)] = None,
    member: ListParam = None,
    region: ListParam = None,
    format: ListParam = None,
    language: ListParam = None,
    subject_filter: Annotated[list[str] | None, Query(description="Filter on the subject facet")] = None,
    year_from: Annotated[int | None, Query(ge=0, le=9999)] = None,
    year_to: Annotated[int | None, Query(ge=0, le=9999)] = None,
    sort: Annotated[str, Query(description=f"One of: {', '.join(SORTS)}")] = "relevance",
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    query = SearchQuery(
        q=q,
        title=title,
        author=author,
        subject=subject,
        isbn=isbn,
        issn=issn,
        filters={
            "member": member or [],
            "region": region or [],
            "format": format or [],
            "language": language or [],
            "subject": subject_filter or [],
        },
        year_from=year_from,
        year_to=year_to,
        sort=sort,
        page=page,
        size=size,
    )
    try:
        return search(services, query)
    except SearchError as exc:
        raise ApiError(400, "bad_query", str(exc)) from None
    except (TransportError, EsApiError) as exc:
        raise ApiError(503, "search_unavailable", f"the search index is not available: {exc}") from None
