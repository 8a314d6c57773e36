"""Highlighting done in Python, on the display text, with the same folding the index uses.

The minimal Elasticsearch has no folding analyzers, so its highlighter could only mark the folded
copy (simplified, lower-cased); marking the catalogued form here lets 紅樓夢 light up for 红楼梦.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import escape

from mappings.analysis import query_words
from mappings.textnorm import fold, has_han

_WORD = re.compile(r"\w", re.UNICODE)


@lru_cache(maxsize=20000)
def _fold_char(ch: str) -> str:
    return " " if ch.isspace() else fold(ch)


def query_terms(text: str) -> list[str]:
    """Folded terms of a query: each Han run whole and each of its words of two or more characters
    (the words are found apart, so they are marked apart), each other word on its own."""
    terms: list[str] = []
    for chunk in fold(text).split():
        for run in re.findall(r"[\u3400-\u9fff\uf900-\ufaff]+|[^\u3400-\u9fff\uf900-\ufaff]+", chunk):
            run = run.strip(" \"'()[]{}:;,.!?*")
            if run:
                terms.append(run)
                if has_han(run) and len(run) > 2:
                    terms.extend(w for w in query_words(run) if len(w) >= 2)
    return sorted(set(terms), key=len, reverse=True)


def highlight(text: str | None, terms: list[str]) -> str | None:
    """``text`` HTML-escaped with ``<mark>`` around matches, or None when nothing matched."""
    if not text or not terms:
        return None
    whole = fold(text)
    if not any(term in whole for term in terms):
        return None  # the common case, decided without the per-character map
    folded_chars: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        for c in _fold_char(ch):
            folded_chars.append(c)
            origin.append(index)
    folded = "".join(folded_chars)
    spans: list[tuple[int, int]] = []
    for term in terms:
        start = folded.find(term)
        while start != -1:
            end = start + len(term)
            bounded = has_han(term) or (
                (start == 0 or not _WORD.match(folded[start - 1]))
                and (end == len(folded) or not _WORD.match(folded[end]))
            )
            if bounded:
                spans.append((origin[start], origin[end - 1] + 1))
            start = folded.find(term, start + 1)
    if not spans:
        return None
    spans.sort()
    merged: list[list[int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    out, cursor = [], 0
    for s, e in merged:
        out.append(escape(text[cursor:s]))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        cursor = e
    out.append(escape(text[cursor:]))
    return "".join(out)
