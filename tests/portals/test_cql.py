"""CQL → Elasticsearch translation and name handling, as pure functions (no services)."""

from __future__ import annotations

import pytest

from portals.cql import CqlError, to_es
from portals.names import citation_names, parse_name


def test_indexes_relations_and_booleans_translate():
    assert to_es("cql.allRecords = 1") == {"match_all": {}}
    assert to_es("bath.isbn = 7-5343-3182-X") == {"terms": {"isbn": ["9787534331824"]}}
    assert to_es("issn any \"0028-0836 1476-4687\"") == {"terms": {"issn": ["0028-0836", "1476-4687"]}}
    assert to_es('dc.title adj "Pride and Prejudice"') == {
        "multi_match": {"query": "pride and prejudice", "type": "phrase", "fields": ["title_t"]}}
    assert to_es("dc.date within \"1990 2000\"") == {"range": {"year": {"gte": 1990, "lte": 2000}}}
    nested = to_es("(austen or brontë) not dc.subject = fiction")
    assert set(nested["bool"]) == {"must", "must_not"} and "should" in nested["bool"]["must"][0]["bool"]
    # a prefix the query itself assigns to a known context set
    assert to_es('> x = "info:srw/cql-context-set/1/dc-v1.1" x.title = 红楼梦') == to_es("dc.title = 红楼梦")


def test_traditional_and_simplified_terms_make_the_same_query():
    assert to_es("dc.title = 紅樓夢") == to_es("dc.title = 红楼梦")


@pytest.mark.parametrize(
    ("query", "code"),
    [("dc.title =", 10), ("a and (b", 10), ("x" * 3000, 10), ("dc.shelf = 1", 16), ("marc.245 = x", 15),
     ("dc.title > x", 19), ("dc.creator all/fuzzy x", 20), ("dc.date = 19x0", 36), ("tit* ", 28),
     ("a prox b", 37), ("a sortBy dc.title", 80), ('dc.title = ""', 27),
     (" or ".join(["a"] * 80), 10)],
)
def test_unsupported_queries_name_their_diagnostic(query, code):
    with pytest.raises(CqlError) as raised:
        to_es(query)
    assert raised.value.code == code


def test_names_for_citations():
    assert parse_name("曹雪芹, 1715?-1763").literal == "曹雪芹"
    assert parse_name("Austen, Jane, 1775-1817.").family == "Austen"
    assert parse_name("Austen, Jane, 1775-1817.").given == "Jane"
    assert [n.display() for n in citation_names(["金紹緖, 1945-", "Jin, Shaoxu, 1945-"])] == ["金紹緖"]
    assert parse_name("國立編譯館 (China)").literal == "國立編譯館 (China)"
