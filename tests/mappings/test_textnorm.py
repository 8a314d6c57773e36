"""The search/matching fold."""

from __future__ import annotations

import pytest

from mappings import fold, has_han


def test_traditional_and_simplified_fold_equal() -> None:
    assert fold("紅樓夢") == fold("红楼梦") == "红楼梦"


def test_full_width_letters_and_digits_fold_to_ascii() -> None:
    assert fold("ＩＳＢＮ　９７８－７－０２") == "isbn 978-7-02"


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Préjugés  et\tORGUEIL", "prejuges et orgueil"),
        ("Straße", "strasse"),
        ("Łódź", "lodz"),
        ("Pride and Prejudice", "pride and prejudice"),
        ("\u0098The \u009cbook", "the book"),  # non-sorting markers out, text kept
        ("Zhiznʹ", "zhizn'"),
        ("がっこう", "がっこう"),  # Japanese voicing marks are not diacritics
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_has_han() -> None:
    assert has_han("'94中国发展报告") and not has_han("Pride") and not has_han("がっこう")
