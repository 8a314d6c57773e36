"""Discovery search over the union records: free text and fielded search, filters, facets, paging.

The free text is read as query syntax (:mod:`catalog.query_syntax`: phrases, AND/OR/NOT, fields,
truncation; plain words when it is not syntax) and turned into clauses by
:mod:`catalog.query_builder` under a search profile (:mod:`catalog.profiles`): text is folded in
Python exactly as at index time, Han runs are cut into words matched wherever they stand, pinyin
is tried for words that read as pinyin, and a whole query typed as a title still ranks that title
first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalog.context import Services
from catalog.highlight import highlight, query_terms
from catalog.profiles import FieldSpec, SearchProfile, applied_profile, load_profile
from catalog.query_builder import (
    SearchError,
    identifier_in,
    node_clause,
    normalise_isbn,
    normalise_issn,
    pinyin_reading,
    plain_text,
    words_clauses,
)
from catalog.query_syntax import TooManyTerms, clean, parse_query
from mappings.textnorm import fold

__all__ = ["SearchError", "SearchQuery", "build_query", "normalise_isbn", "normalise_issn", "search", "text_clauses"]

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
MAX_SIZE = 100
#: Longer free text is refused (the API refuses it before, at 500 characters).
MAX_QUERY_CHARS = 1000


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


def text_clauses(text: str, fields: list[str], profile: SearchProfile | None = None) -> list[dict[str, Any]]:
    """Must-clauses finding the words of ``text`` in ``fields`` (Elasticsearch text field names,
    ``^boost`` allowed). A field the profile knows (``title_t``) brings its CJK bigram and pinyin
    fields along; other fields are matched on their own."""
    profile = profile or load_profile()
    specs = []
    for name in fields:
        base, _, boost = name.partition("^")
        spec = profile.spec_for_es_field(base) or FieldSpec(base, base)
        specs.append(FieldSpec(spec.name, spec.text, spec.cjk, spec.pinyin, float(boost) if boost else 1.0))
    return words_clauses(text, specs, profile)


def _free_text(text: str, profile: SearchProfile) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The must- and should-clauses of the free text ``q``."""
    if len(text) > MAX_QUERY_CHARS:
        raise SearchError("q", f"is longer than {MAX_QUERY_CHARS} characters")
    found = identifier_in(text)
    if found and found[0] == "isbn":
        return [{"term": {"isbn": found[1]}}], []
    try:
        node = parse_query(text)
    except TooManyTerms as exc:
        raise SearchError("q", str(exc)) from None
    clause = node_clause(node, profile)
    if clause is None:
        raise SearchError("q", "contains no searchable words")
    if found:  # an ISSN-shaped number: the serial, or the words
        clause = {"bool": {"should": [{"term": {"issn": {"value": found[1], "boost": 10}}}, clause],
                           "minimum_should_match": 1}}
    should = []
    words = fold(plain_text(node))
    title = profile.fields.get("title")
    if words and title:
        should.append({"match_phrase": {title.text: {"query": words, "boost": profile.title_phrase_boost}}})
        reading = pinyin_reading(words, profile) if title.pinyin else None
        if reading:
            boost = profile.title_phrase_boost * profile.pinyin_boost
            should.append({"match_phrase": {title.pinyin: {"query": reading, "boost": boost}}})
    return [clause], should


def build_query(query: SearchQuery, profile: SearchProfile | None = None) -> dict[str, Any]:
    profile = profile or load_profile()
    must: list[dict[str, Any]] = []
    should: list[dict[str, Any]] = []
    text = clean(query.q)
    if text:
        must, should = _free_text(text, profile)
    for name in ("title", "author", "subject"):
        value = getattr(query, name)
        if value and value.strip():
            clauses = words_clauses(clean(value), profile.specs([name]), profile)
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
    if not must:
        must.append({"match_all": {}})
    body: dict[str, Any] = {"bool": {"must": must, "should": should, "filter": filters}}
    if query.sort == "relevance" and profile.holdings_factor:
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


def prepare(profile_name: str | None = None) -> SearchProfile:
    """Load the profile and the dictionaries (jieba, pypinyin) before the first search needs them:
    a few seconds once per process, which the first reader would otherwise wait. A broken profile
    fails here, at start-up, instead of on every search."""
    profile = load_profile(profile_name)
    build_query(SearchQuery(q="中国历史 hongloumeng"), profile)
    return profile


def live_profile(services: Services) -> SearchProfile:
    """The profile an administrator applied in the console, else the one named by
    ``UNICAT_SEARCH_PROFILE`` (``default-v1`` unless set)."""
    return applied_profile(services) or load_profile(getattr(services.settings, "search_profile", None))


def search(services: Services, query: SearchQuery, profile: SearchProfile | str | None = None) -> dict[str, Any]:
    """Run ``query`` under ``profile`` (a profile, a name or path for :func:`load_profile`, or None
    for the live profile) and return the page of hits."""
    check_paging(query, services.settings.max_result_window)
    if profile is None:
        profile = live_profile(services)
    elif not isinstance(profile, SearchProfile):
        profile = load_profile(profile)
    body = build_query(query, profile)
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
    terms = query_terms(" ".join(v for v in (_highlighted(query.q), query.title, query.author) if v))
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


def _highlighted(text: str) -> str:
    try:
        return plain_text(parse_query(clean(text))) if text and len(text) <= MAX_QUERY_CHARS else ""
    except TooManyTerms:
        return ""


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
