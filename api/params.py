"""Request parameters declared once for the API and the web pages (validated by FastAPI)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Path, Query
from pydantic import Field

from catalog.search import SORTS, SearchQuery
from store.models import MAX_STORED_INT

ListParam = Annotated[list[str] | None, Query()]

#: A stored row's id in a path. A larger number names no row and would overflow the database
#: driver, so it is refused like any other malformed id.
RowId = Annotated[int, Path(ge=1, le=MAX_STORED_INT)]
#: A record version sent back for an optimistic-locking check.
Version = Annotated[int, Field(ge=1, le=MAX_STORED_INT)]
#: The same, as an optional form field.
VersionForm = Annotated[int | None, Form(ge=1, le=MAX_STORED_INT)]
#: Query-string filter name → facet name.
FILTER_PARAMS = {
    "member": "member",
    "region": "region",
    "format": "format",
    "language": "language",
    "subject_filter": "subject",
}


def search_params(
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
) -> SearchQuery:
    given = {
        "member": member,
        "region": region,
        "format": format,
        "language": language,
        "subject_filter": subject_filter,
    }
    return SearchQuery(
        q=q,
        title=title or None,
        author=author or None,
        subject=subject or None,
        isbn=isbn or None,
        issn=issn or None,
        filters={FILTER_PARAMS[k]: v for k, v in given.items() if v},
        year_from=year_from,
        year_to=year_to,
        sort=sort,
        page=page,
        size=size,
    )


SearchParams = Annotated[SearchQuery, Depends(search_params)]
