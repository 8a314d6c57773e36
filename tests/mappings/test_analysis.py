"""The Python text analysis shared by the index and the query (mappings.analysis)."""

from __future__ import annotations

from mappings.analysis import bigrams, cjk_terms, pinyin_splits, pinyin_syllables, query_words
from mappings.textnorm import fold


def test_bigrams_as_lucenes_cjk_bigram_filter_makes_them():
    assert bigrams("中国历史") == ["中国", "国历", "历史"]
    assert bigrams("书") == ["书"]
    assert cjk_terms(fold("紅樓夢 and 中国")) == ["红楼", "楼梦", "中国"]
    # kana runs, mixed with Han, and Hangul runs get the same treatment; Latin is not touched
    assert cjk_terms("東京ガイド") == ["東京", "京ガ", "ガイ", "イド"]
    assert cjk_terms("한국어 사전") == ["한국", "국어", "사전"]
    assert cjk_terms("history") == []
    # the katakana middle dot separates words in Chinese titles (古迹・民俗): no bigram spans it
    assert cjk_terms("古迹・民俗") == ["古迹", "民俗"]


def test_traditional_and_simplified_give_the_same_terms():
    assert cjk_terms(fold("臺灣歷史")) == cjk_terms(fold("台湾历史"))


def test_query_runs_are_cut_into_words():
    assert query_words("中国历史") == ("中国", "历史")
    assert query_words("电脑的历史") == ("电脑", "的", "历史")
    assert query_words("한국어") == ("한국어",)  # jieba knows no Korean: the run stays whole
    assert query_words("日本のミイラ信仰") == ("日本", "の", "ミイラ", "信仰")  # Japanese: each change of script


def test_pinyin_of_polyphonic_characters_follows_the_word():
    assert pinyin_syllables(fold("重慶銀行")) == ["chong", "qing", "yin", "hang"]
    assert pinyin_syllables("长大 长度") == ["zhang", "da", "chang", "du"]
    assert pinyin_syllables("绿色") == ["lu", "se"]  # ü written u, as fold() leaves a typed lü


def test_typed_pinyin_splits_into_syllables():
    assert pinyin_splits("hongloumeng") == (("hong", "lou", "meng"),)
    assert pinyin_splits(fold("Hóng")) == (("hong",),)
    assert pinyin_splits("hong2lou2meng4") == (("hong", "lou", "meng"),)
    assert pinyin_splits("xi'an") == (("xi", "an"),)
    assert ("xian",) in pinyin_splits("xian") and ("xi", "an") in pinyin_splits("xian")
    assert pinyin_splits("nvren") == (("nu", "ren"),)
    assert pinyin_splits("pride") == () and pinyin_splits("history") == ()


def test_remembered_readings_are_pypinyins_every_time():
    from pypinyin import Style, lazy_pinyin

    from mappings.analysis.pinyin import toneless

    # polyphonic words, a character without a reading (kept as itself), Latin text between runs
    # and a text too long to be remembered whole
    texts = ["重庆银行行长", "长江 长大了", "战略 lüe 绿色", "〇一二年 𠀁 abc", "紅樓夢 2 / 曹雪芹", "重庆银行 " * 20]
    for _ in range(3):  # the second and third answers come from memory
        for text in texts:
            assert toneless(text) == lazy_pinyin(text, style=Style.NORMAL)
    first = toneless("银行")
    first.append("changed by a caller")
    assert toneless("银行") == ["yin", "hang"]
