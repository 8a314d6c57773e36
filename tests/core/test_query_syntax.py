"""The query-syntax parser on its own: each form, and text that is not syntax read as plain words."""

from __future__ import annotations

import pytest

from catalog.query_builder import identifier_in
from catalog.query_syntax import (
    MAX_TERMS,
    And,
    Identifier,
    MatchAll,
    Not,
    Or,
    Phrase,
    Prefix,
    QuerySyntaxError,
    TooManyTerms,
    Words,
    parse,
    parse_query,
    plain_words,
)


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("中国历史", Words("中国历史")),
        ("pride and prejudice", Words("pride and prejudice")),  # lower-case "and" is a word
        ('"pride and prejudice" austen', And((Phrase("pride and prejudice"), Words("austen")))),
        ("“红楼梦” 曹雪芹", And((Phrase("红楼梦"), Words("曹雪芹")))),  # typographic quotes
        ("a OR b", Or((Words("a"), Words("b")))),
        ("a AND b", Words("a b")),
        ("a NOT b", And((Words("a"), Not(Words("b"))))),
        ("a -b", And((Words("a"), Not(Words("b"))))),
        ("-b", Not(Words("b"))),
        ("x-ray", Words("x-ray")),  # a hyphen inside a word is no NOT
        ("(a OR b) c", And((Or((Words("a"), Words("b"))), Words("c")))),
        ("title:红楼梦 author:曹雪芹", And((Words("红楼梦", "title"), Words("曹雪芹", "author")))),
        ("Title:红楼梦", Words("红楼梦", "title")),
        ("title：红楼梦", Words("红楼梦", "title")),  # full-width colon
        ('subject:"economic history"', Phrase("economic history", "subject")),
        ("title:(a OR b)", Or((Words("a", "title"), Words("b", "title")))),
        ("series:丛书 publisher:中华书局", And((Words("丛书", "series"), Words("中华书局", "publisher")))),
        ("histor*", Prefix("histor")),
        ("*story", Words("story")),  # no leading wildcard
        ("hi*ory", Words("hi ory")),
        ("*", MatchAll()),
        ("isbn:978-7-5037-1744-4", Identifier("isbn", "978-7-5037-1744-4")),
        ("issn:0028-0836", Identifier("issn", "0028-0836")),
        ("callnumber:F124*", Identifier("callnumber", "F124")),
        ("9787503717444", Identifier("isbn", "9787503717444", typed=False)),
        ("９７８７５０３７１７４４４", Identifier("isbn", "9787503717444", typed=False)),  # full-width digits
        ("note:something", Words("note:something")),  # not a field: a word
    ],
)
def test_each_form_parses(text, tree):
    assert parse(text) == tree


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('"unbalanced 中国', "unbalanced 中国"),
        ("(中国 历史", "中国 历史"),
        ("中国 历史)", "中国 历史"),
        ("a AND", "a"),
        ("OR 中国", "中国"),
        ("a OR OR b", "a b"),
        ("NOT", "NOT"),  # a lone operator is searched as the word itself
        ("title:", "title:"),
    ],
)
def test_what_is_not_syntax_is_searched_as_plain_words(text, words):
    with pytest.raises(QuerySyntaxError):
        parse(text)
    assert parse_query(text) == Words(words)


def test_control_and_invisible_characters_are_dropped():
    assert parse("中\x00国\x07 \u200b历史\ufeff") == Words("中 国 历史")
    assert plain_words('title:(a OR "b') == "a b"


def test_empty_and_too_long_queries():
    assert parse_query("") is None and parse_query("   ") is None
    with pytest.raises(TooManyTerms):
        parse_query(" ".join(["词"] * (MAX_TERMS + 1)))
    with pytest.raises(TooManyTerms):
        parse_query('"' + " ".join(["w"] * (MAX_TERMS + 1)))


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("978-7-5037-1744-4", ("isbn", "9787503717444")),
        ("978 7 5037 1744 4", ("isbn", "9787503717444")),
        ("7503717440", ("isbn", "9787503717444")),
        ("７５０３７１７４４０", ("isbn", "9787503717444")),
        ("0028-0836", ("issn", "0028-0836")),
        ("0028 0836", ("issn", "0028-0836")),
        ("978-7-5037-1744-5", None),  # wrong check digit
        ("0028-0837", None),
        ("中国 1994", None),
    ],
)
def test_an_isbn_or_issn_in_any_form_is_recognised(text, found):
    assert identifier_in(text) == found
