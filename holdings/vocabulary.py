"""Item status words as real library systems write them, kept as data: one table per ILS.

``holdings/status_words/<system>.toml`` maps a system's own words to the API's statuses (see each
file's header for where the words come from). A member's holdings table may name its system
(``ils = "huiwen"``) and add its own words (``status_words = { "闭架" = "not_for_loan" }``); its
words are read first, then its system's table, then the protocol's (NCIP's scheme for NCIP, Koha's
for ILS-DI), then the words every table agrees on.

Reading a word: the text is folded (NFKC, case, punctuation to spaces); an exact entry wins, else
the longest entry found inside the text (so ``暂不可借`` is read by ``不可借``, never by ``可借``, and
``Not checked out`` by its own entry, never by ``checked out``). A negation left outside the entry
that matched (``not``, ``no``, ``non``, ``不``, ``非``, ``未``, ``无``) makes the answer *unknown*,
never a guess; so does a word no table knows. Unknown words are counted per member
(:class:`StatusReader`) so that a librarian can add them.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources

STATUSES: tuple[str, ...] = ("available", "on_loan", "in_transit", "on_hold_shelf", "lost", "missing",
                             "not_for_loan", "unavailable", "unknown")
#: The systems with a table under ``holdings/status_words`` (``ncip`` is the protocol's own scheme).
SYSTEMS: tuple[str, ...] = ("koha", "evergreen", "folio", "alma", "sirsi", "aleph", "huiwen", "interlib",
                            "innovative", "ncip")
#: The table a protocol's answers are read with when the member names no system.
PROTOCOL_SYSTEM: dict[str, str] = {"ils-di": "koha", "ncip": "ncip"}

_PUNCT = re.compile(r"[\s\-‐‑‒–—―/_:：,，;；.。()（）\[\]【】\"'“”‘’!！?？·・|]+")
_NEGATION = re.compile(r"(?<![a-z0-9])(?:not|no|non|never)(?![a-z0-9])|[不非未无]")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def fold(text: str) -> str:
    """The comparable form of a status word: NFKC, case-folded, punctuation and spaces as one space."""
    return _PUNCT.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _pattern(phrase: str) -> re.Pattern[str]:
    if _CJK.search(phrase):
        return re.compile(re.escape(phrase))
    return re.compile(r"(?<![a-z0-9])" + re.escape(phrase) + r"(?![a-z0-9])")


class Vocabulary:
    """One table of words → statuses, read exact-first then longest-phrase-first."""

    def __init__(self, words: Mapping[str, str], name: str = "") -> None:
        self.name = name
        self.words = {fold(k): v for k, v in words.items() if fold(k)}
        bad = sorted({v for v in self.words.values() if v not in STATUSES})
        if bad:
            raise ValueError(f"status table {name or '?'}: not statuses: {', '.join(bad)}")
        ordered = sorted(self.words, key=lambda w: (-len(w), w))
        self._phrases = [(w, _pattern(w), self.words[w]) for w in ordered]

    def classify(self, text: str) -> str | None:
        """The status this table gives ``text``; None when it does not know it (or a negation is
        left over outside the entry that matched)."""
        folded = fold(text)
        if not folded:
            return None
        if folded in self.words:
            return self.words[folded]
        for _, pattern, status in self._phrases:
            found = pattern.search(folded)
            if found is None:
                continue
            rest = folded[: found.start()] + " " + folded[found.end():]
            return None if _NEGATION.search(rest) else status
        return None


@dataclass(frozen=True)
class Chain:
    """Tables consulted in order; the first that knows the word answers."""

    tables: tuple[Vocabulary, ...]

    def classify(self, text: str | None) -> str | None:
        if text is None or not text.strip():
            return None
        if text.strip() in STATUSES:  # already one of ours (a crosswalk or a cache wrote it)
            return text.strip()
        for table in self.tables:
            found = table.classify(text)
            if found is not None:
                return found
        return None


def _read_table(system: str) -> dict[str, str]:
    raw = resources.files("holdings").joinpath("status_words", f"{system}.toml").read_text(encoding="utf-8")
    data = tomllib.loads(raw)
    words = data.get("words")
    if not isinstance(words, dict):
        raise ValueError(f"status table {system}: no [words] table")
    return {str(k): str(v) for k, v in words.items()}


@lru_cache(maxsize=32)  # one per system of SYSTEMS (a closed list; an unknown one raises)
def table(system: str) -> Vocabulary:
    if system not in SYSTEMS:
        raise ValueError(f"no status table for {system!r} (known: {', '.join(SYSTEMS)})")
    return Vocabulary(_read_table(system), system)


@cache
def common() -> Vocabulary:
    """The words on which every table that lists them agrees (a word two systems read differently,
    such as ``reserves``, is left out: it needs the member's system to be read)."""
    seen: dict[str, set[str]] = {}
    for system in SYSTEMS:
        for word, status in table(system).words.items():
            seen.setdefault(word, set()).add(status)
    return Vocabulary({w: next(iter(s)) for w, s in seen.items() if len(s) == 1}, "common")


#: One chain per distinct (system, protocol, member's own words) in use: a few per member, bounded
#: all the same, since a long-running worker sees members' files reloaded with new words.
CHAIN_CACHE_SIZE = 1024


@lru_cache(maxsize=CHAIN_CACHE_SIZE)
def _chain(ils: str | None, protocol: str | None, own: tuple[tuple[str, str], ...]) -> Chain:
    tables: list[Vocabulary] = []
    if own:
        tables.append(Vocabulary(dict(own), "member"))
    for system in (ils, PROTOCOL_SYSTEM.get(protocol or "")):
        if system and table(system) not in tables:
            tables.append(table(system))
    tables.append(common())
    return Chain(tuple(tables))


def chain_for(ils: str | None = None, protocol: str | None = None,
              own: Mapping[str, str] | None = None) -> Chain:
    """The tables a member's answers are read with (see the module docstring)."""
    return _chain(ils, protocol, tuple(sorted((own or {}).items())))


@dataclass
class StatusReader:
    """Reads one look-up's status words and remembers the ones nobody knew."""

    chain: Chain = field(default_factory=chain_for)
    unknown: Counter[str] = field(default_factory=Counter)

    def read(self, text: str | None) -> str | None:
        """The status of ``text``; None for an empty word or one no table knows (counted)."""
        found = self.chain.classify(text)
        if found is None and text is not None and text.strip():
            self.unknown[text.strip()[:200]] += 1
        return found

    def status(self, text: str | None, default: str = "unknown") -> str:
        found = self.read(text)
        return default if found is None else found


def check_words(words: Iterable[tuple[str, str]]) -> None:
    """Raise ValueError naming the first word that cannot be an entry (empty after folding, too
    long) or a status that is not one of :data:`STATUSES`."""
    for word, status in words:
        if not fold(word):
            raise ValueError(f"status word {word!r} is empty once punctuation is removed")
        if len(word) > 200:
            raise ValueError(f"status word {word[:20]!r}… is longer than 200 characters")
        if status not in STATUSES:
            raise ValueError(f"{word!r}: {status!r} is not one of {', '.join(STATUSES)}")
