"""What the search box completes: the inputs of the ``suggest_*`` completion fields, and the prefixes
a typed query is looked up by.

One union record gives three kinds of suggestion: its title, its authors and its subject headings
(the display strings, as a reader would pick them). Each is indexed under its *keys*:

- the folded text (:func:`mappings.textnorm.fold`: NFKC, case, diacritics, Traditional →
  Simplified), whitespace collapsed — a Chinese prefix in either character form and a Latin prefix
  with or without accents find it;
- for text with Han characters, its Hanyu Pinyin without tones or spaces (``红楼梦`` →
  ``hongloumeng``; pypinyin's phrase dictionary picks the reading of polyphonic characters), so
  ``hongl``, ``hong lou`` and ``Hóng lóu`` all find it.

The completion fields are analysed with the ``keyword`` analyzer, so Elasticsearch matches these keys
exactly as built here (the minimal server has no pinyin or ICU analysis); the query side
(:func:`query_prefixes`) applies the same folding. Keys are cut to :data:`MAX_KEY` characters: a
reader types a prefix, never a whole long title.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from mappings.analysis.pinyin import toneless
from mappings.textnorm import fold, has_han

KINDS = ("title", "author", "subject")
#: The completion field of each kind (index mapping v4: a field per kind costs Elasticsearch less
#: than one field with the kind as a category context, whose prefix every input carries).
FIELDS = {kind: f"suggest_{kind}" for kind in KINDS}
MAX_KEY = 50
#: At most this many headings and names of one record are offered (a few records carry dozens).
MAX_PER_KIND = 5
_NOT_WORD = re.compile(r"[\W_]+")
#: ISBD punctuation a display string may end in (after its white space is collapsed to single
#: spaces, a space is the only white space left: what ``str.split`` splits on is what ``\s`` matches).
_TRAILING = " /:;,.="


def display_text(value: str) -> str:
    """A display string tidied for the box: ISBD punctuation at the end removed."""
    return " ".join(value.split()).rstrip(_TRAILING)


def text_key(value: str) -> str:
    """The folded form of ``value`` (spaces kept), as typed prefixes are compared with it."""
    return fold(value)[:MAX_KEY].strip()


def compact(value: str) -> str:
    """``value`` without spaces and punctuation (``hong lou meng`` → ``hongloumeng``)."""
    return _NOT_WORD.sub("", value)


def pinyin_key(value: str) -> str | None:
    """Toneless pinyin of the Han in ``value``, no spaces (``紅樓夢`` → ``hongloumeng``); other
    characters are folded and kept in place. ``None`` for text without Han."""
    if not has_han(value):
        return None
    syllables = toneless(fold(value[: MAX_KEY * 2]))
    return compact(" ".join(syllables))[:MAX_KEY] or None


def keys(value: str) -> list[str]:
    """Every key ``value`` is found under (folded text, then pinyin)."""
    key = text_key(value)
    if value.isascii():  # no Han, so no pinyin key
        return [key] if key else []
    out = [k for k in (key, pinyin_key(value)) if k]
    return list(dict.fromkeys(out))


def candidates(display: dict[str, Any], kind: str) -> list[str]:
    """The display strings of one kind that a record offers."""
    if kind == "title":
        values: Iterable[Any] = [display.get("title")]
    elif kind == "author":
        values = display.get("authors") or []
    else:
        values = display.get("subjects") or []
    out: dict[str, None] = {}
    for value in values:
        if isinstance(value, str) and (text := display_text(value)):
            out[text] = None
            if len(out) == MAX_PER_KIND:  # the rest would be left out (a few records carry dozens)
                break
    return list(out)


def suggestion_fields(display: dict[str, Any], holdings_count: int = 1) -> dict[str, dict[str, Any]]:
    """The completion fields of a record (:data:`FIELDS`): per kind, the keys of its display strings
    and a weight (records held by more libraries are offered first). A kind the record has nothing
    of is left out."""
    weight = max(1, int(holdings_count or 1))
    fields: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        inputs = list(dict.fromkeys(k for value in candidates(display, kind) for k in keys(value)))
        if inputs:
            fields[FIELDS[kind]] = {"input": inputs, "weight": weight}
    return fields


def clean_typed(text: str) -> str:
    """What the reader typed without control and format characters (a pasted query can carry
    them; they are never part of a title)."""
    return "".join(c for c in text if unicodedata.category(c)[0] != "C" or c in " \t")


def query_prefixes(typed: str) -> list[str]:
    """The prefixes to look ``typed`` up by: its folded form and, for Latin letters (pinyin typed
    with or without spaces and tones), the same without spaces. Empty when nothing is left."""
    key = text_key(clean_typed(typed))
    if not key or not compact(key):
        return []
    out = [key]
    if not has_han(key):
        out.append(compact(key))
    return list(dict.fromkeys(out))


def matching_display(display: dict[str, Any], kind: str, matched_key: str) -> str | None:
    """The display string of ``kind`` in a record whose keys include ``matched_key`` (the key
    Elasticsearch completed), so the box shows ``紅樓夢`` for a match on ``hongloumeng``."""
    for value in candidates(display, kind):
        if matched_key in keys(value):
            return value
    return None


def han_prefix_for_pinyin(text: str, key: str) -> str | None:
    """The leading Han characters of ``text`` whose toneless pinyin is exactly ``key``
    (``红楼梦新证``, ``hongloumeng`` → ``红楼梦``), or ``None``: how a query typed in pinyin, or in
    characters of the same sound (``红楼孟``), is turned into the characters a record has."""
    folded = fold(text)
    for end in range(1, min(len(folded), MAX_KEY) + 1):
        head = folded[:end]
        if not has_han(head[-1]):
            return None
        got = pinyin_key(head) or ""
        if got == key:
            return head
        if not key.startswith(got):
            return None
    return None
