"""CQL (Contextual Query Language) → an Elasticsearch query over the union records.

Parsing is done by the kept ``cql-parser`` package; this module only walks its tree. Every
problem is a :class:`CqlError` carrying the SRU diagnostic number a client expects
(info:srw/diagnostic/1/N), so the SRU server can answer in its own protocol.

Text terms go through :func:`catalog.search.text_clauses`, the discovery search's own matching
(folding, 繁/简, Han runs as phrases), so an SRU client finds what the web search finds.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

import cql
from cql.parser import CQLBoolean, CQLQuery, CQLSearchClause, CQLTriple

from catalog.search import TEXT_FIELDS, SearchError, normalise_isbn, normalise_issn, text_clauses
from mappings.textnorm import fold

logging.getLogger("cql").setLevel(logging.CRITICAL)  # the parser logs every syntax error it raises
for _name in ("CQLParser", "CQLLexer", "cql.parser", "cql.lexer"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

#: Longest query accepted (characters); longer ones are refused before parsing.
MAX_QUERY_LENGTH = 2000
#: Deepest nesting of and/or/not accepted (bounded work for hostile queries).
MAX_CLAUSES = 64

CONTEXT_SETS = {
    "cql": "info:srw/cql-context-set/1/cql-v1.2",
    "dc": "info:srw/cql-context-set/1/dc-v1.1",
    "bath": "http://zing.z3950.org/cql/bath/2.0/",
    "rec": "info:srw/cql-context-set/2/rec-1.1",
}


@dataclass(frozen=True)
class Index:
    """A searchable CQL index: its kind decides how terms and relations are turned into ES."""

    kind: str  # "text" | "isbn" | "issn" | "year" | "id" | "all"
    fields: tuple[str, ...] = ()
    title: str = ""


_TEXT_ALL = tuple(TEXT_FIELDS)
INDEXES: dict[str, Index] = {
    "cql.serverchoice": Index("text", _TEXT_ALL, "Any field (server's choice)"),
    "cql.anywhere": Index("text", ("all_t",), "Anywhere in the record"),
    "cql.allrecords": Index("all", (), "Every record (term 1)"),
    "dc.title": Index("text", ("title_t",), "Title"),
    "dc.creator": Index("text", ("author_t",), "Author or other creator"),
    "dc.subject": Index("text", ("subject_t",), "Subject"),
    # The index keeps no publisher field of its own: publisher words are matched in the record's text.
    "dc.publisher": Index("text", ("all_t",), "Publisher (words of the record's text)"),
    "dc.date": Index("year", ("year",), "Year of publication"),
    "bath.isbn": Index("isbn", ("isbn",), "ISBN (10 or 13)"),
    "bath.issn": Index("issn", ("issn",), "ISSN"),
    "rec.identifier": Index("id", ("id",), "Union record identifier"),
}
#: Unprefixed index names a client may send, and the index they stand for.
ALIASES = {
    "serverchoice": "cql.serverchoice",
    "anywhere": "cql.anywhere",
    "title": "dc.title",
    "creator": "dc.creator",
    "author": "dc.creator",
    "subject": "dc.subject",
    "publisher": "dc.publisher",
    "date": "dc.date",
    "isbn": "bath.isbn",
    "issn": "bath.issn",
    "identifier": "rec.identifier",
}
TEXT_RELATIONS = ("=", "==", "all", "any", "adj")
YEAR_RELATIONS = ("=", "==", "<", ">", "<=", ">=", "within")
EXACT_RELATIONS = ("=", "==", "any")
_MASK = re.compile(r"(?<!\\)[*?^]")
_WORD_SPLIT = re.compile(r"\s+")


class CqlError(ValueError):
    """A CQL query the server cannot run, with its SRU diagnostic number and details."""

    def __init__(self, code: int, message: str, details: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.details = details


_local = threading.local()


def parse(query: str) -> CQLQuery:
    """Parse CQL 1.2 text; :class:`CqlError` 10 (query syntax error) when it is not CQL."""
    if not query.strip():
        raise CqlError(7, "Mandatory parameter not supplied", "query")
    if len(query) > MAX_QUERY_LENGTH:
        raise CqlError(10, "Query syntax error", f"queries are limited to {MAX_QUERY_LENGTH} characters")
    parser = getattr(_local, "parser", None)
    if parser is None:
        lexer = cql.CQLLexer()
        lexer.build()
        parser = cql.CQLParser12()
        parser.build(lexer)
        _local.parser = parser
    try:
        parsed = parser.parse(query)
    except (cql.CQLParserError, cql.CQLLexerError) as exc:
        _local.parser = None  # a failed parse may leave the LR stack dirty
        raise CqlError(10, "Query syntax error", str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - the vendored PLY raises bare errors on odd input
        _local.parser = None
        raise CqlError(10, "Query syntax error", f"{type(exc).__name__}: {exc}") from None
    if not isinstance(parsed, CQLQuery):
        raise CqlError(10, "Query syntax error", "not a complete CQL query")
    return parsed


def to_es(query: str) -> dict[str, Any]:
    """The Elasticsearch query for CQL text (sort clauses are refused: diagnostic 80)."""
    parsed = parse(query)
    if parsed.root.sortSpecs:
        raise CqlError(80, "Sort not supported", "sortBy")
    budget = [MAX_CLAUSES]
    return _node(parsed.root, budget, {})


def _node(node: CQLTriple | CQLSearchClause, budget: list[int], prefixes: dict[str, str]) -> dict[str, Any]:
    budget[0] -= 1
    if budget[0] < 0:
        raise CqlError(10, "Query syntax error", f"more than {MAX_CLAUSES} clauses")
    scoped = {**prefixes, **{p.prefix: p.uri for p in node.prefixes if p.prefix}}
    if isinstance(node, CQLTriple):
        return _boolean(node, budget, scoped)
    return _clause(node, scoped)


def _boolean(node: CQLTriple, budget: list[int], prefixes: dict[str, str]) -> dict[str, Any]:
    operator: CQLBoolean = node.operator
    name = operator.value.lower()
    if operator.modifiers:
        raise CqlError(46, "Unsupported boolean modifier", str(operator.modifiers[0]))
    left = _node(node.left, budget, prefixes)
    right = _node(node.right, budget, prefixes)
    if name == "and":
        return {"bool": {"must": [left, right]}}
    if name == "or":
        return {"bool": {"should": [left, right], "minimum_should_match": 1}}
    if name == "not":
        return {"bool": {"must": [left], "must_not": [right]}}
    raise CqlError(37, "Unsupported boolean operator", name)


def resolve_index(name: str | None, prefixes: dict[str, str] | None = None) -> tuple[str, Index]:
    """The canonical name and :class:`Index` of a CQL index; diagnostics 15/16 otherwise."""
    if name is None:
        return "cql.serverchoice", INDEXES["cql.serverchoice"]
    text = str(name).lower()
    if "." in text:
        prefix, base = text.split(".", 1)
        uri = (prefixes or {}).get(prefix)
        if uri is not None:  # a prefix the query itself assigned: map it back to a known set by URI
            known = next((p for p, u in CONTEXT_SETS.items() if u == uri), None)
            if known is None:
                raise CqlError(15, "Unsupported context set", prefix)
            prefix = known
        elif prefix not in CONTEXT_SETS:
            raise CqlError(15, "Unsupported context set", prefix)
        text = f"{prefix}.{base}"
        if text == "bath.isbn" or text in INDEXES:
            return text, INDEXES[text]
        if prefix == "bath" and base == "issn":
            return "bath.issn", INDEXES["bath.issn"]
        raise CqlError(16, "Unsupported index", str(name))
    if text in ALIASES:
        return ALIASES[text], INDEXES[ALIASES[text]]
    raise CqlError(16, "Unsupported index", str(name))


def _clause(node: CQLSearchClause, prefixes: dict[str, str]) -> dict[str, Any]:
    name, index = resolve_index(node.index, prefixes)
    relation = str(node.relation.comparitor).lower() if node.relation is not None else "="
    if node.relation is not None and node.relation.modifiers:
        raise CqlError(20, "Unsupported relation modifier", str(node.relation.modifiers[0]))
    term = node.term
    if _MASK.search(term):
        raise CqlError(28, "Masking character not supported", term)
    term = re.sub(r"\\(.)", r"\1", term)
    if index.kind == "all":
        return {"match_all": {}}
    if not term.strip():
        raise CqlError(27, "Empty term unsupported", name)
    if index.kind == "text":
        return _text(name, index, relation, term)
    if index.kind == "year":
        return _year(name, relation, term)
    return _exact(name, index, relation, term)


def _text(name: str, index: Index, relation: str, term: str) -> dict[str, Any]:
    fields = list(index.fields)
    if relation not in TEXT_RELATIONS:
        raise CqlError(19, "Unsupported relation", f"{relation} (for {name})")
    if relation in ("adj", "=="):
        folded = fold(term).strip()
        if not re.search(r"\w", folded):
            return {"match_none": {}}
        return {"multi_match": {"query": folded, "type": "phrase", "fields": fields}}
    if relation == "any":
        words = [w for w in _WORD_SPLIT.split(term.strip()) if w]
        shoulds = [_all_of(text_clauses(w, fields)) for w in words]
        shoulds = [s for s in shoulds if s is not None]
        return {"bool": {"should": shoulds, "minimum_should_match": 1}} if shoulds else {"match_none": {}}
    return _all_of(text_clauses(term, fields)) or {"match_none": {}}


def _all_of(clauses: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"bool": {"must": clauses}}


def _year(name: str, relation: str, term: str) -> dict[str, Any]:
    if relation not in YEAR_RELATIONS:
        raise CqlError(19, "Unsupported relation", f"{relation} (for {name})")
    parts = term.split()
    if relation == "within":
        if len(parts) != 2:
            raise CqlError(36, "Term in invalid format for index or relation", "within takes two years: \"1990 2000\"")
        low, high = (_year_value(p) for p in parts)
        return {"range": {"year": {"gte": min(low, high), "lte": max(low, high)}}}
    if len(parts) != 1:
        raise CqlError(36, "Term in invalid format for index or relation", f"{term!r} is not a year")
    year = _year_value(parts[0])
    if relation in ("=", "=="):
        return {"term": {"year": year}}
    bound = {"<": "lt", ">": "gt", "<=": "lte", ">=": "gte"}[relation]
    return {"range": {"year": {bound: year}}}


def _year_value(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 1 <= len(text) <= 4):
        raise CqlError(36, "Term in invalid format for index or relation", f"{text!r} is not a year")
    return int(text)


def _exact(name: str, index: Index, relation: str, term: str) -> dict[str, Any]:
    if relation not in EXACT_RELATIONS:
        raise CqlError(19, "Unsupported relation", f"{relation} (for {name})")
    values = term.split() if relation == "any" else [term.strip()]
    normalised = [_identifier(index, v) for v in values]
    return {"terms": {index.fields[0]: normalised}}


def _identifier(index: Index, value: str) -> str:
    try:
        if index.kind == "isbn":
            return normalise_isbn(value)
        if index.kind == "issn":
            return normalise_issn(value)
    except SearchError as exc:
        raise CqlError(36, "Term in invalid format for index or relation", str(exc)) from None
    return value
