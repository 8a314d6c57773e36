"""Hanyu Pinyin for Han text (pypinyin) and the splitting of typed pinyin into syllables.

Index side: each Han character of folded text becomes one toneless syllable, in order
(``红楼梦`` → ``hong lou meng``). pypinyin reads a run with its phrase dictionary first, so a
polyphonic character gets the reading of the word it stands in (``重庆`` → ``chong qing``,
``银行`` → ``yin hang``). ``ü`` is written ``u`` (``绿`` → ``lu``): :func:`mappings.textnorm.fold`
strips the diaeresis of a typed ``lü`` and most readers type ``lu`` or ``lv`` anyway.

Query side: a typed word that is all pinyin (``hongloumeng``, ``Hóng``, ``hong2``, ``xi'an``) is
split into the syllables it can be read as; a word that cannot be read as pinyin gets no split.
"""

from __future__ import annotations

import functools
import re
from functools import lru_cache
from typing import Any

from mappings.analysis.han import _HAN_ONLY_RE

#: Readings made of consonants only (``hm``, ``ng``): interjections that would split English words.
_NO_VOWEL = re.compile(r"^[^aeiou]+$")
_TONE_DIGITS = re.compile(r"(?<=[a-z])[1-5]")
_LONGEST = 6  # zhuang, shuang, chuang
#: At most this many readings of one typed word are tried (``xian`` = xian | xi an).
MAX_SPLITS = 4


@lru_cache(maxsize=1)
def syllables() -> frozenset[str]:
    """Every toneless syllable pypinyin's character dictionary knows (``ü`` written ``u``)."""
    from pypinyin.contrib.tone_convert import to_normal
    from pypinyin.pinyin_dict import pinyin_dict

    found: set[str] = set()
    for readings in pinyin_dict.values():
        for reading in readings.split(","):
            plain = to_normal(reading).replace("ü", "u").replace("v", "u")
            if plain.isascii() and plain.isalpha() and not _NO_VOWEL.match(plain):
                found.add(plain)
    return frozenset(found)


def pinyin_syllables(text: str) -> list[str]:
    """The toneless syllables of the Han characters of folded ``text`` (other characters skipped:
    a character without a reading comes back as itself, not ASCII, and is dropped)."""
    if text.isascii():
        return []
    out: list[str] = []
    for run in _HAN_ONLY_RE.findall(text):
        out.extend(s.replace("v", "u") for s in toneless(run))
    return [s for s in out if s.isascii() and s.isalpha()]


def toneless(text: str) -> list[str]:
    """``pypinyin.lazy_pinyin(text, style=Style.NORMAL)``: a toneless reading per Han character,
    other text kept as it is; the same answer, each word's reading computed once per process, and
    each short text's (a run of Han, a name, a heading) remembered whole."""
    if len(text) <= TEXT_CACHE_CHARS:
        return list(_toneless_text(text))
    return _toneless_reader()(text)


#: Texts up to this long are remembered whole by :func:`toneless`: pypinyin cuts a text into the
#: words of its phrase dictionary on every call before it looks any word up, and the same runs
#: come back (a title for its field and for the search box, names and headings across records).
TEXT_CACHE_CHARS = 64


@lru_cache(maxsize=16384)
def _toneless_text(text: str) -> tuple[str, ...]:
    return tuple(_toneless_reader()(text))


@lru_cache(maxsize=1)
def _toneless_reader() -> Any:
    """pypinyin's ``lazy_pinyin`` in the NORMAL style (a :class:`~pypinyin.core.Pinyin` around the
    converter it builds on every call, with its defaults) with a converter that remembers its words.

    pypinyin took 28 µs a run of Han characters (4.7 characters on average: the titles, names and
    headings of the Han records among the first 100,000 of LC Books All), most of a Chinese
    record's document, and words recur: a title read for its field and for the search box's keys,
    the same names and headings in many records, a union record built again as each member's copy
    joins it."""
    from pypinyin import Style
    from pypinyin.converter import UltimateConverter
    from pypinyin.core import Pinyin

    class RememberingConverter(UltimateConverter):  # type: ignore[misc]
        def convert(self, words, style, heteronym, errors, strict, **kwargs):  # type: ignore[no-untyped-def]
            if kwargs:
                return super().convert(words, style, heteronym, errors, strict, **kwargs)
            return [list(item) for item in _remembered(self, words, style, heteronym, errors, strict)]

    @lru_cache(maxsize=32768)
    def _remembered(converter: Any, *args: Any) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(item) for item in UltimateConverter.convert(converter, *args))

    reader = Pinyin(RememberingConverter(v_to_u=False, neutral_tone_with_five=False, tone_sandhi=False))
    return functools.partial(reader.lazy_pinyin, style=Style.NORMAL)


def pinyin_text(text: str) -> str:
    """:func:`pinyin_syllables` joined by spaces: the value of a ``*_py`` field."""
    return " ".join(pinyin_syllables(text))


def _rank(split: tuple[str, ...]) -> tuple[int, int]:
    """Pinyin orthography writes an apostrophe before a syllable starting with a, o or e (xi'an),
    so without one ``xiangai`` is xian-gai rather than xiang-ai: fewest such syllables first, then
    fewest syllables."""
    return sum(1 for s in split[1:] if s[0] in "aoe"), len(split)


@lru_cache(maxsize=8192)
def pinyin_splits(word: str) -> tuple[tuple[str, ...], ...]:
    """The ways folded ``word`` reads as pinyin syllables, likeliest first (see :func:`_rank`; at
    most :data:`MAX_SPLITS`); empty when it is not pinyin. Apostrophes mark syllable boundaries
    and tone digits are dropped (``xi'an``, ``hong2lou2``)."""
    word = _TONE_DIGITS.sub("'", word.replace("v", "u")).strip("'")
    if not word or len(word) > 200:
        return ()
    parts = [p for p in word.split("'") if p]
    if not all(p.isascii() and p.isalpha() for p in parts):
        return ()
    options: list[tuple[str, ...]] = [()]
    for part in parts:
        splits = _split(part)
        if not splits:
            return ()
        options = sorted((o + s for o in options for s in splits), key=_rank)[: MAX_SPLITS * 2]
    return tuple(options[:MAX_SPLITS])


def _split(part: str) -> list[tuple[str, ...]]:
    known = syllables()
    # ways[i]: the splits of part[i:], each a tuple of syllables, built from the end
    ways: list[list[tuple[str, ...]]] = [[] for _ in range(len(part) + 1)]
    ways[len(part)] = [()]
    for start in range(len(part) - 1, -1, -1):
        found: list[tuple[str, ...]] = []
        for end in range(min(len(part), start + _LONGEST), start, -1):
            head = part[start:end]
            if head in known:
                found.extend((head, *rest) for rest in ways[end])
        ways[start] = sorted(found, key=_rank)[: MAX_SPLITS * 2]
    return ways[0][:MAX_SPLITS]
