"""The keys a title is completed by, and the prefixes a typed query is looked up by (pure functions)."""

from __future__ import annotations

import pytest

from mappings.suggest import (
    han_prefix_for_pinyin,
    keys,
    matching_display,
    pinyin_key,
    query_prefixes,
    suggestion_fields,
)


def test_han_text_is_keyed_by_its_folded_form_and_its_toneless_pinyin() -> None:
    assert keys("紅樓夢") == ["红楼梦", "hongloumeng"]
    assert keys("Pride and Prejudice") == ["pride and prejudice"]
    assert pinyin_key("重庆银行") == "chongqingyinhang"  # 重 and 行 read as in the phrase
    assert pinyin_key("绿") == "lv"  # ü typed as v, as on a pinyin keyboard
    assert pinyin_key("Pride") is None


@pytest.mark.parametrize("typed", ["hongl", "hong l", "Hóng l", "HONGL", "ｈｏｎｇｌ"])
def test_pinyin_typed_any_way_meets_the_key(typed: str) -> None:
    assert any("hongloumeng".startswith(p) for p in query_prefixes(typed))


def test_a_traditional_prefix_meets_the_simplified_key() -> None:
    assert query_prefixes("紅樓") == ["红楼"]


@pytest.mark.parametrize("typed", ["", "  ", "\x00\x07", "!!!", "\u200b"])
def test_nothing_searchable_gives_no_prefix(typed: str) -> None:
    assert query_prefixes(typed) == []


def test_a_record_offers_its_title_authors_and_subjects_with_a_weight() -> None:
    display = {"title": "红楼梦之谜 /", "authors": ["赵国栋"], "subjects": ["Hong lou meng"]}
    fields = suggestion_fields(display, holdings_count=3)
    assert list(fields) == ["suggest_title", "suggest_author", "suggest_subject"]
    assert fields["suggest_title"]["input"] == ["红楼梦之谜", "hongloumengzhimi"]  # ISBD slash removed
    assert {e["weight"] for e in fields.values()} == {3}
    assert matching_display(display, "title", "hongloumengzhimi") == "红楼梦之谜"
    assert matching_display(display, "author", "hongloumengzhimi") is None


def test_the_han_characters_of_a_sound() -> None:
    assert han_prefix_for_pinyin("红楼梦之谜", "hongloumeng") == "红楼梦"
    assert han_prefix_for_pinyin("紅樓夢", "hongloumeng") == "红楼梦"
    assert han_prefix_for_pinyin("红楼梦之谜", "hongloum") is None  # not a whole syllable
    assert han_prefix_for_pinyin("Pride", "pride") is None
