""""Did you mean": a better query offered when a search finds nothing or very little.

Every candidate comes from the index's own terms and is offered only if it finds more records
than the query did (checked with the same search):

- **Chinese**: the query's sound. A query in Han (``红楼孟``, a homophone typed through a pinyin
  input method) or in pinyin (``hong lou meng``) is looked up through the ``suggest`` field's
  pinyin keys; a title, author or subject starting with characters of exactly that pinyin gives
  those characters (``红楼梦``). Traditional and Simplified forms need no candidate of their own:
  both are folded to one form at index and at query time, so either finds the other's records;
  what remains is a character that the fold does not map, which the sound still finds.
- **Latin script**: Elasticsearch's phrase suggester over ``all_t`` (the whole record's folded
  words): each misspelt word is replaced by a close indexed word, the whole phrase scored by how
  often its words occur.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError

from catalog.context import Services
from catalog.search import SearchError, SearchQuery, search
from indexer.index import alias_up_to_date
from mappings.suggest import FIELDS, KINDS, candidates, compact, han_prefix_for_pinyin, pinyin_key, text_key
from mappings.textnorm import fold, has_han

#: A search with at most this many hits gets a suggestion (if a better one exists).
FEW_HITS = 3
MAX_CANDIDATES = 6
_HAN_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_LATIN_WORD = re.compile(r"[a-z]{3,}")


def did_you_mean(services: Services, query: SearchQuery, total: int, profile: Any = None) -> dict[str, Any] | None:
    """``{"q": better query, "total": its hits}`` or ``None`` (also when the index cannot say:
    a suggestion never stands in the way of the results)."""
    typed = query.q.strip()
    if total > FEW_HITS or not typed or query.page != 1 or len(typed) > 200:
        return None
    try:
        return _better(services, query, typed, total, profile)
    except (TransportError, EsApiError, SearchError):
        return None


def _better(services: Services, query: SearchQuery, typed: str, total: int, profile: Any) -> dict[str, Any] | None:
    tried: set[str] = {fold(typed)}
    for candidate in _candidates(services, typed)[:MAX_CANDIDATES]:
        if fold(candidate) in tried:
            continue
        tried.add(fold(candidate))
        found = _total(services, dataclasses.replace(query, q=candidate, page=1, size=1), profile)
        if found > total:
            return {"q": candidate, "total": found}
    return None


def _total(services: Services, query: SearchQuery, profile: Any) -> int:
    result = search(services, query) if profile is None else search(services, query, profile=profile)  # type: ignore[call-arg]
    return int(result["total"])


def _candidates(services: Services, typed: str) -> list[str]:
    folded = fold(typed)
    if has_han(folded):
        return _same_sound(services, folded)
    out = []
    if _looks_like_pinyin(folded):
        out += _same_sound(services, folded)
    return out + _spelling(services, folded)


def _looks_like_pinyin(folded: str) -> bool:
    return bool(re.fullmatch(r"[a-z ]{2,}", folded))


def _same_sound(services: Services, folded: str) -> list[str]:
    """Han forms with the pinyin of ``folded`` that the index holds (the query with each Han run
    replaced, for a query that mixes Han and other words)."""
    runs = _HAN_RUN.findall(folded) or [folded]
    replaced = folded
    for run in runs:
        key = pinyin_key(run) if has_han(run) else compact(run)
        if not key:
            continue
        forms = _han_forms(services, key)
        form = next((f for f in forms if f != run), None)
        if form is None:
            return []
        replaced = replaced.replace(run, form, 1)
    return [replaced] if replaced != folded else []


def _han_forms(services: Services, key: str) -> list[str]:
    """The Han forms whose pinyin is ``key``, from the best completions of it over every kind."""
    alias_up_to_date(services.es, services.settings.records_alias)
    response = services.es.search(
        index=services.settings.records_alias,
        size=0,
        suggest={kind: {"prefix": key, "completion": {"field": FIELDS[kind], "size": SOUNDS, "skip_duplicates": True}}
                 for kind in KINDS},
        source_includes=["display.title", "display.authors", "display.subjects"],
    )
    return han_forms_of(_best_options(response["suggest"]), key)


def han_forms_of(options: list[dict[str, Any]], key: str) -> list[str]:
    """The Han prefixes of the completions' display strings that read as ``key``, in their order."""
    forms: list[str] = []
    for option in options:
        display = option.get("_source", {}).get("display") or {}
        for kind in KINDS:
            for value in candidates(display, kind):
                form = han_prefix_for_pinyin(value, key)
                if form and form not in forms:
                    forms.append(form)
    return forms


#: Completions of a pinyin key whose Han forms are offered.
SOUNDS = 10


def _best_options(answers: dict[str, Any]) -> list[dict[str, Any]]:
    """The :data:`SOUNDS` best options of the per-kind answers as one completion over every kind
    gives them: by score, a record once (a completion suggester answers documents, not inputs),
    a text once (``skip_duplicates``)."""
    # Ties by kind name: one completion over every kind met most ties in the order of its inputs, which
    # began with the kind (the context) — author, subject, title.
    options = sorted((option for kind in sorted(KINDS) for option in answers[kind][0]["options"]),
                     key=lambda option: -float(option.get("_score") or 0))
    best: list[dict[str, Any]] = []
    records: set[str] = set()
    texts: set[str] = set()
    for option in options:
        if option.get("_id") in records or option["text"] in texts:
            continue
        records.add(option.get("_id"))
        texts.add(option["text"])
        best.append(option)
    return best[:SOUNDS]


def _spelling(services: Services, folded: str) -> list[str]:
    text = _HAN_RUN.sub(" ", folded).strip()
    if not _LATIN_WORD.search(text):
        return []
    response = services.es.search(
        index=services.settings.records_alias,
        size=0,
        suggest={
            "text": text,
            "spelling": {
                "phrase": {
                    "field": "all_t",
                    "size": MAX_CANDIDATES,
                    "gram_size": 1,
                    "max_errors": 2,
                    "confidence": 0.0,
                    "direct_generator": [{"field": "all_t", "suggest_mode": "always", "min_word_length": 3}],
                }
            },
        },
    )
    out = []
    for option in response["suggest"]["spelling"][0]["options"]:
        suggestion = option["text"]
        out.append(folded.replace(text, suggestion, 1) if text != folded else suggestion)
    return [text_key(s) for s in out]
