"""The union records of a search, for exports and feeds: bounded work whatever the hit count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catalog.context import Services
from catalog.search import SORTS, SearchError, SearchQuery, build_query
from portals.records import union_records


@dataclass
class ResultSet:
    total: int
    offset: int
    records: list[dict[str, Any]]


def result_records(services: Services, query: SearchQuery, limit: int) -> ResultSet:
    """At most ``limit`` union records of ``query`` in its order, from the start of its page.

    Only ids come from Elasticsearch (one request, ``limit`` ≤ the search window); the records
    are read from the store in batches, so a search with a million hits costs what ``limit`` costs.
    """
    window = services.settings.max_result_window
    offset = (query.page - 1) * query.size
    if query.sort not in SORTS:
        raise SearchError("sort", f"must be one of {', '.join(SORTS)}")
    if limit < 1:
        raise SearchError("limit", "must be 1 or more")
    if offset + limit > window:
        raise SearchError("page", f"exports stop at hit {window}; refine the search or ask for an earlier page")
    response = services.es.search(
        index=services.settings.records_alias,
        query=build_query(query),
        sort=SORTS[query.sort],
        from_=offset,
        size=limit,
        track_total_hits=True,
        source=False,
    )
    ids = [hit["_id"] for hit in response["hits"]["hits"]]
    records = union_records(services, ids)
    return ResultSet(response["hits"]["total"]["value"], offset, [records[i] for i in ids if i in records])
