"""Discovery search over the union records: free text and fielded search, filters, facets, paging.

Text is folded in Python exactly as at index time (see :mod:`mappings.textnorm`), then Han runs are
matched as phrases (the standard tokenizer indexes each Han character, so a phrase of characters
finds a Chinese word without spaces) and other words with AND semantics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import isbnlib

from catalog.context import Services
from catalog.highlight import highlight, query_terms
from mappings.textnorm import fold

FACETS: dict[str, dict[str, Any]] = {
    "member": {"field": "member", "size": 200},
    "region": {"field": "region", "size": 50},
    "format": {"field": "format", "size": 20},
    "language": {"field": "language", "size": 40},
    "subject": {"field": "subject", "size": 30},
}
SORTS: dict[str, list[Any]] = {
    "relevance": ["_score", {"year": {"order": "desc", "missing": "_last"}}, {"id": "asc"}],
    "year_desc": [{"year": {"order": "desc", "missing": "_last"}}, "_score", {"id": "asc"}],
    "year_asc": [{"year": {"order": "asc", "missing": "_last"}}, "_score", {"id": "asc"}],
    "title": [{"title_sort": "asc"}, {"id": "asc"}],
}
TEXT_FIELDS = ["title_t^4", "author_t^2", "subject_t^2", "series_t", "all_t"]
_HAN_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
MAX_SIZE = 100


class SearchError(ValueError):
    """The query cannot be run as given; the message says which parameter and why."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}")


@dataclass
class SearchQuery:
    q: str = ""
    title: str | None = None
    author: str | None = None
    subject: str | None = None
    isbn: str | None = None
    issn: str | None = None
    filters: dict[str, list[str]] = field(default_factory=dict)
    year_from: int | None = None
    year_to: int | None = None
    sort: str = "relevance"
    page: int = 1
    size: int = 20

    def is_empty(self) -> bool:
        return not (self.q.strip() or self.title or self.author or self.subject or self.isbn or self.issn)


def normalise_isbn(value: str) -> str:
    digits = isbnlib.canonical(value)
    if isbnlib.is_isbn13(digits):
        return digits
    if isbnlib.is_isbn10(digits):
        return isbnlib.to_isbn13(digits)
    raise SearchError("isbn", f"{value!r} is not a valid ISBN-10 or ISBN-13")


def normalise_issn(value: str) -> str:
    compact = re.sub(r"[^0-9Xx]", "", value).upper()
    if len(compact) != 8:
        raise SearchError("issn", f"{value!r} is not an ISSN (8 characters, e.g. 0028-0836)")
    total = sum((8 - i) * int(d) for i, d in enumerate(compact[:7]))
    check = (11 - total % 11) % 11
    if compact[7] != ("X" if check == 10 else str(check)):
        raise SearchError("issn", f"{value!r} has a wrong check digit")
    return f"{compact[:4]}-{compact[4:]}"


def text_clauses(text: str, fields: list[str]) -> list[dict[str, Any]]:
    folded = fold(text)
    clauses: list[dict[str, Any]] = [
        {"multi_match": {"query": run, "type": "phrase", "fields": fields}} for run in _HAN_RUN.findall(folded)
    ]
    rest = _HAN_RUN.sub(" ", folded).strip()
    if re.search(r"\w", rest):
        clauses.append({"multi_match": {"query": rest, "type": "cross_fields", "operator": "and", "fields": fields}})
    return clauses


def _looks_like_isbn(text: str) -> str | None:
    compact = isbnlib.canonical(text)
    if isbnlib.is_isbn13(compact):
        return compact
    if isbnlib.is_isbn10(compact):
        return isbnlib.to_isbn13(compact)
    return None


def build_query(query: SearchQuery) -> dict[str, Any]:
    must: list[dict[str, Any]] = []
    should: list[dict[str, Any]] = []
    if query.q.strip():
        isbn = _looks_like_isbn(query.q.strip())
        if isbn:
            must.append({"term": {"isbn": isbn}})
        else:
            must.extend(text_clauses(query.q, TEXT_FIELDS))
            should.append({"match_phrase": {"title_t": {"query": fold(query.q), "boost": 6}}})
    for name, fields in (("title", ["title_t"]), ("author", ["author_t"]), ("subject", ["subject_t"])):
        value = getattr(query, name)
        if value and value.strip():
            clauses = text_clauses(value, fields)
            if not clauses:
                raise SearchError(name, "contains no searchable words")
            must.extend(clauses)
    if query.isbn:
        must.append({"term": {"isbn": normalise_isbn(query.isbn)}})
    if query.issn:
        must.append({"term": {"issn": normalise_issn(query.issn)}})
    filters: list[dict[str, Any]] = []
    for name, values in query.filters.items():
        if name not in FACETS:
            raise SearchError(name, "unknown filter")
        if values:
            filters.append({"terms": {FACETS[name]["field"]: values}})
    if query.year_from is not None or query.year_to is not None:
        if query.year_from is not None and query.year_to is not None and query.year_from > query.year_to:
            raise SearchError("year_from", "must not be later than year_to")
        bounds = {k: v for k, v in (("gte", query.year_from), ("lte", query.year_to)) if v is not None}
        filters.append({"range": {"year": bounds}})
    if not must and not query.q.strip() and query.is_empty():
        must.append({"match_all": {}})
    body: dict[str, Any] = {"bool": {"must": must, "should": should, "filter": filters}}
    if query.sort == "relevance":
        # Among equally relevant hits, works held by more libraries come first (as WorldCat does).
        body = {
            "function_score": {
                "query": body,
                "field_value_factor": {"field": "holdings_count", "modifier": "log2p", "missing": 1},
                "boost_mode": "multiply",
            }
        }
    return body


def check_paging(query: SearchQuery, max_window: int) -> None:
    if query.size < 1 or query.size > MAX_SIZE:
        raise SearchError("size", f"must be between 1 and {MAX_SIZE}")
    if query.page < 1:
        raise SearchError("page", "must be 1 or more")
    if query.page * query.size > max_window:
        raise SearchError("page", f"paging stops at {max_window} hits; refine the search or add filters")
    if query.sort not in SORTS:
        raise SearchError("sort", f"must be one of {', '.join(SORTS)}")


def search(services: Services, query: SearchQuery) -> dict[str, Any]:
    check_paging(query, services.settings.max_result_window)
    body = build_query(query)
    aggs: dict[str, Any] = {
        name: {"terms": {"field": spec["field"], "size": spec["size"]}} for name, spec in FACETS.items()
    }
    aggs["decade"] = {"histogram": {"field": "year", "interval": 10, "min_doc_count": 1}}
    response = services.es.search(
        index=services.settings.records_alias,
        query=body,
        aggs=aggs,
        sort=SORTS[query.sort],
        from_=(query.page - 1) * query.size,
        size=query.size,
        track_total_hits=True,
        source_includes=["id", "display"],
    )
    terms = query_terms(" ".join(v for v in (query.q, query.title, query.author) if v))
    hits = [_hit(h["_source"], terms) for h in response["hits"]["hits"]]
    facets = {
        name: [{"value": b["key"], "count": b["doc_count"]} for b in response["aggregations"][name]["buckets"]]
        for name in FACETS
    }
    facets["decade"] = [
        {"value": int(b["key"]), "count": b["doc_count"]} for b in response["aggregations"]["decade"]["buckets"]
    ]
    total = response["hits"]["total"]["value"]
    return {
        "total": total,
        "page": query.page,
        "size": query.size,
        "pages": min((total + query.size - 1) // query.size, services.settings.max_result_window // query.size),
        "sort": query.sort,
        "hits": hits,
        "facets": facets,
    }


def _hit(source: dict[str, Any], terms: list[str]) -> dict[str, Any]:
    display = source.get("display") or {}
    hit = {"id": source["id"], **display}
    marks = {
        "title": highlight(display.get("title"), terms),
        "subtitle": highlight(display.get("subtitle"), terms),
        "authors": [m for m in (highlight(a, terms) for a in display.get("authors") or []) if m],
    }
    hit["highlight"] = {k: v for k, v in marks.items() if v}
    return hit
