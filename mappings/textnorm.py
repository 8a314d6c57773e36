"""Text normalisation for search and matching.

:func:`fold` is the one fold used by the index and by the match keys, so the same rules apply
to a query and to the records it should find:

1. MARC/ISO 6630 non-sorting markers (U+0088/U+0089, U+0098/U+009C) are removed, the text
   between them is kept (dropping it is the match-key builder's job, see :mod:`mappings.matchkeys`);
2. Unicode NFKC: full-width Latin letters and digits (``ＩＳＢＮ７``) become ASCII, ligatures split;
3. case folding (``ß`` → ``ss``);
4. Latin/Greek/Cyrillic diacritics removed (only marks of the Combining Diacritical Marks block,
   so Japanese voicing marks and Indic vowel signs survive), plus a few letters that do not
   decompose (``ø ł đ æ œ þ``); ALA-LC ligature halves (``i︠a︡``) removed, romanisation primes
   and curly apostrophes become ``'``;
5. Traditional → Simplified Chinese with OpenCC ``t2s`` (only when the text contains Han);
6. runs of whitespace collapsed to one space, ends stripped.

The OpenCC converter is built once, on first use. ASCII text takes a fast path.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

_MARKERS = dict.fromkeys(map(ord, "\u0088\u0089\u0098\u009c"))
_LETTERS = str.maketrans({
    "ø": "o", "ł": "l", "đ": "d", "ð": "d", "æ": "ae", "œ": "oe", "þ": "th", "ı": "i",
    # romanisation primes and typographic apostrophes (ALA-LC "zhiznʹ" = "zhizn'")
    "ʹ": "'", "ʺ": '"', "ʻ": "'", "ʼ": "'", "’": "'", "‘": "'",
})
_SPACE_RE = re.compile(r"\s+")
_COMBINING_RE = re.compile("[\u0300-\u036f\ufe20-\ufe2f]")  # diacritics, ALA-LC ligature halves
# CJK Unified Ideographs, Extension A, Compatibility Ideographs, Extensions B+ (supplementary planes).
_HAN_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")

_converter: Any = None


def _t2s() -> Any:
    global _converter
    if _converter is None:
        import opencc

        _converter = opencc.OpenCC("t2s")
    return _converter


def has_han(text: str) -> bool:
    """True when ``text`` contains at least one Chinese (Han) character."""
    return not text.isascii() and _HAN_RE.search(text) is not None


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese (OpenCC t2s); text without Han is returned unchanged."""
    if not has_han(text):
        return text
    return _t2s().convert(text)


def strip_markers(text: str) -> str:
    """Remove non-sorting markers (NSB/NSE) but keep the text between them."""
    return text.translate(_MARKERS)


#: Short strings folded recently (titles, names, places and subject headings repeat across records).
#: Bounded so that a long harvest runs in constant memory: 65,536 entries held ~20 MiB and were
#: the first 20,000 records' growth of a harvest's resident set; 4,096 (about 1.5 MiB) keep 92 %
#: of their hits on 15,000 LC records, at the same CPU per record within the machine's noise
#: (folding an ASCII string is cheap; the cache pays for itself on Han, via OpenCC).
FOLD_CACHE_SIZE = 4096


@lru_cache(maxsize=FOLD_CACHE_SIZE)
def _fold_cached(text: str) -> str:
    return _fold(text)


def fold(text: str) -> str:
    """The search and matching fold (see module docstring).

    >>> fold("Ｐｒｉｄｅ  and PRÉJUDICE")
    'pride and prejudice'
    >>> fold("紅樓夢") == fold("红楼梦")
    True
    """
    if not text:
        return ""
    if len(text) <= 64:
        return _fold_cached(text)
    return _fold(text)


def _fold(text: str) -> str:
    if text.isascii():
        return " ".join(text.lower().split())
    text = unicodedata.normalize("NFKC", text.translate(_MARKERS)).casefold()
    if not text.isascii():
        decomposed = unicodedata.normalize("NFD", text)
        if decomposed != text or _COMBINING_RE.search(decomposed):
            text = unicodedata.normalize("NFC", _COMBINING_RE.sub("", decomposed))
        text = text.translate(_LETTERS)
        if _HAN_RE.search(text):
            text = _t2s().convert(text)
    return _SPACE_RE.sub(" ", text).strip()
