"""Search-box suggestions: titles, authors and subjects completing what the reader has typed.

Why completion fields on the records index (``suggest_title``, ``suggest_author``,
``suggest_subject``, see :mod:`mappings.suggest`) rather than
edge n-grams or a separate suggestion index: the completion suggester answers from an in-memory FST
in about a millisecond, it is in the core server (so it runs on the minimal node), the field is
written by the same projection as the rest of the record (a harvest or rebuild keeps it current
with nothing else to maintain), and ``skip_duplicates`` folds the many records sharing one
title or heading into one suggestion. Titles, authors and subjects are asked for in one request,
each from its own field, so a common subject heading cannot crowd out the titles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catalog.context import Services
from indexer.index import alias_up_to_date
from mappings.suggest import FIELDS, KINDS, matching_display, query_prefixes, text_key

#: How many of each kind one answer holds at most (titles first, then authors, then subjects).
PER_KIND = {"title": 5, "author": 3, "subject": 3}
MAX_TYPED = 200


class SuggestError(ValueError):
    """The typed text cannot be completed as given (too long)."""


@dataclass(frozen=True)
class Suggestion:
    text: str
    kind: str


def suggest_body(prefixes: list[str]) -> dict[str, Any]:
    """The suggesters of one request: each kind (title, author, subject) for each prefix form."""
    suggesters: dict[str, Any] = {}
    for kind in KINDS:
        for i, prefix in enumerate(prefixes):
            suggesters[f"{kind}-{i}"] = {
                "prefix": prefix,
                "completion": {"field": FIELDS[kind], "size": PER_KIND[kind] * 2, "skip_duplicates": True},
            }
    return suggesters


def suggest(services: Services, typed: str) -> list[Suggestion]:
    """Completions of ``typed`` (Chinese in either form, pinyin, or Latin), best first."""
    if len(typed) > MAX_TYPED:
        raise SuggestError(f"q: at most {MAX_TYPED} characters can be completed")
    prefixes = query_prefixes(typed)
    if not prefixes:
        return []
    alias_up_to_date(services.es, services.settings.records_alias)
    response = services.es.search(
        index=services.settings.records_alias,
        suggest=suggest_body(prefixes),
        source_includes=["display.title", "display.authors", "display.subjects"],
        size=0,
    )
    out: list[Suggestion] = []
    seen: set[str] = set()
    for kind in KINDS:
        found: list[tuple[int, str]] = []
        for i in range(len(prefixes)):
            for option in response["suggest"][f"{kind}-{i}"][0]["options"]:
                text = matching_display(option.get("_source", {}).get("display") or {}, kind, option["text"])
                if text:
                    found.append((-int(option.get("_score") or 0), text))
        taken = 0
        for _, text in sorted(found, key=lambda f: f[0]):
            key = text_key(text)
            if key in seen or taken >= PER_KIND[kind]:
                continue
            seen.add(key)
            out.append(Suggestion(text, kind))
            taken += 1
    return out


def opensearch_answer(typed: str, suggestions: list[Suggestion]) -> list[Any]:
    """The OpenSearch Suggestions 1.1 JSON: ``[query, [completions], [descriptions]]`` (the
    description of each completion is its kind: ``title``, ``author`` or ``subject``)."""
    return [typed, [s.text for s in suggestions], [s.kind for s in suggestions]]
