"""From a parsed query (:mod:`catalog.query_syntax`) and a search profile to Elasticsearch clauses.

Words are folded exactly as at index time and cut by :mod:`mappings.analysis`:

* a Han run is cut into words by jieba; a word of two or more characters is the phrase of its
  bigrams on the ``*_cjk`` fields (found wherever it stands in the record), a one-character word
  a term of the standard-analysed ``*_t`` fields (one token per Han character). Kana and Hangul
  runs are matched whole, as bigram phrases;
* other words must each occur in some field (``cross_fields``, AND);
* when every non-CJK word of a bag reads as pinyin (``hongloumeng``, ``hong lou meng``), each word
  may also match as the phrase of its syllables on the ``*_py`` fields, counting less;
* a word with synonyms in the profile matches any of them; stop words are dropped unless nothing
  else is left.

Every clause the engine receives is bounded: truncation is a ``phrase_prefix`` with the profile's
``max_expansions`` over a stem of at least ``min_prefix`` characters; there are no wildcards.
"""

from __future__ import annotations

import re
from typing import Any

import isbnlib

from catalog.profiles import FieldSpec, SearchProfile
from catalog.query_syntax import MAX_TERMS, And, Identifier, MatchAll, Node, Not, Or, Phrase, Prefix, Words
from mappings.analysis import bigrams, is_cjk, pinyin_splits, query_words
from mappings.analysis.han import CJK_RUN_PATTERN
from mappings.textnorm import fold

Clause = dict[str, Any]
_CJK_SPLIT = re.compile(f"({CJK_RUN_PATTERN})")
_EDGE_PUNCT = re.compile(r"^[^\w]+|[^\w]+$")
_ISSN = re.compile(r"^\d{4}-?\d{3}[\dx]$")


class SearchError(ValueError):
    """The query cannot be run as given; the message says which parameter and why."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}")


def normalise_isbn(value: str, parameter: str = "isbn") -> str:
    digits = isbnlib.canonical(fold(value))
    if isbnlib.is_isbn13(digits):
        return digits
    if isbnlib.is_isbn10(digits):
        return isbnlib.to_isbn13(digits)
    raise SearchError(parameter, f"{value!r} is not a valid ISBN-10 or ISBN-13")


def normalise_issn(value: str, parameter: str = "issn") -> str:
    compact = re.sub(r"[^0-9Xx]", "", fold(value)).upper()
    if len(compact) != 8:
        raise SearchError(parameter, f"{value!r} is not an ISSN (8 characters, e.g. 0028-0836)")
    total = sum((8 - i) * int(d) for i, d in enumerate(compact[:7]))
    check = (11 - total % 11) % 11
    if compact[7] != ("X" if check == 10 else str(check)):
        raise SearchError(parameter, f"{value!r} has a wrong check digit")
    return f"{compact[:4]}-{compact[4:]}"


def identifier_in(text: str) -> tuple[str, str] | None:
    """``("isbn", ISBN-13)`` or ``("issn", "NNNN-NNNC")`` when the whole text is one, in any form
    (hyphens, spaces, ISBN-10, full-width digits); otherwise None."""
    compact = re.sub(r"[\s\-‐‑–—]", "", fold(text))
    if len(compact) in (10, 13) and re.fullmatch(r"\d{9,12}[\dx]", compact):
        try:
            return "isbn", normalise_isbn(compact)
        except SearchError:
            return None
    if _ISSN.match(compact):
        try:
            return "issn", normalise_issn(compact)
        except SearchError:
            return None
    return None


def _fields(specs: list[FieldSpec], kind: str, factor: float = 1.0) -> list[str]:
    out = []
    for spec in specs:
        name = getattr(spec, kind)
        if name:
            boost = spec.boost * factor
            out.append(name if boost == 1 else f"{name}^{boost:g}")
    return out


def _any(clauses: list[Clause]) -> Clause:
    return clauses[0] if len(clauses) == 1 else {"bool": {"should": clauses, "minimum_should_match": 1}}


def _cjk_word(word: str, specs: list[FieldSpec]) -> Clause:
    cjk = _fields(specs, "cjk")
    if len(word) >= 2 and cjk:
        return {"multi_match": {"query": " ".join(bigrams(word)), "type": "phrase", "fields": cjk}}
    return {"multi_match": {"query": word, "type": "phrase", "fields": _fields(specs, "text")}}


def _latin_word(word: str, specs: list[FieldSpec]) -> Clause:
    return {"multi_match": {"query": word, "type": "cross_fields", "operator": "and", "fields": _fields(specs, "text")}}


def _word(word: str, specs: list[FieldSpec]) -> Clause:
    """One folded word (or a multi-word synonym), in whichever script it is written."""
    if not is_cjk(word):
        return _latin_word(word, specs)
    parts: list[Clause] = []
    for piece in _CJK_SPLIT.split(word):
        piece = piece.strip()
        if not piece:
            continue
        parts.append(_cjk_word(piece, specs) if is_cjk(piece) else _latin_word(piece, specs))
    return parts[0] if len(parts) == 1 else {"bool": {"must": parts}}


def _pinyin(word: str, specs: list[FieldSpec], profile: SearchProfile) -> list[Clause]:
    """Clauses matching ``word`` as pinyin, one per reading of it. A run of four or more syllables
    is most likely several words typed together (``zhongguolishi``), so it is matched as its
    syllable pairs (``zhong guo`` and ``li shi``), each a phrase, anywhere in the record — the
    pinyin twin of a Han run cut into words; three or fewer syllables are one phrase."""
    fields = _fields(specs, "pinyin", profile.pinyin_boost)
    if not fields:
        return []
    clauses = []
    for split in pinyin_splits(word):
        if len(split) < 4:
            clauses.append({"multi_match": {"query": " ".join(split), "type": "phrase", "fields": fields}})
            continue
        pairs = [split[i : i + 2] for i in range(0, len(split) - 1, 2)]
        if len(split) % 2:
            pairs.append(split[-2:])
        clauses.append({"bool": {"must": [
            {"multi_match": {"query": " ".join(pair), "type": "phrase", "fields": fields}} for pair in pairs
        ]}})
    return clauses


def split_words(folded: str, profile: SearchProfile) -> tuple[list[str], list[str]]:
    """The CJK words and the other words of folded text, stop words dropped (unless all are)."""
    cjk: list[str] = []
    latin: list[str] = []
    for piece in _CJK_SPLIT.split(folded):
        if is_cjk(piece):
            cjk.extend(query_words(piece))
        else:
            latin.extend(w for w in (_EDGE_PUNCT.sub("", t) for t in piece.split()) if w)
    latin = _join_synonym_pairs(latin, profile)
    kept_cjk = [w for w in cjk if w not in profile.stopwords]
    kept_latin = [w for w in latin if w not in profile.stopwords]
    if kept_cjk or kept_latin:
        return kept_cjk, kept_latin
    return cjk, latin


def _join_synonym_pairs(words: list[str], profile: SearchProfile) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        pair = f"{words[i]} {words[i + 1]}" if i + 1 < len(words) else ""
        if pair in profile.synonyms:
            out.append(pair)
            i += 2
        else:
            out.append(words[i])
            i += 1
    return out


def _reads_as_pinyin(words: list[str]) -> bool:
    """True when every word but numbers reads as pinyin (``zhongguo 1997``), and one at least does;
    a one-letter word is no pinyin (``a``, ``e`` would make English read as pinyin)."""
    spelled = [w for w in words if not w.isdigit()]
    return bool(spelled) and all(len(w) >= 2 and pinyin_splits(w) for w in spelled)


def words_clauses(text: str, specs: list[FieldSpec], profile: SearchProfile) -> list[Clause]:
    """The must-clauses of a bag of words (see the module docstring); empty when none is searchable."""
    cjk, latin = split_words(fold(text), profile)
    if len(cjk) + len(latin) > MAX_TERMS:
        raise SearchError("q", f"more than {MAX_TERMS} words; search for fewer")
    clauses = [_any([_word(a, specs) for a in profile.alternatives(w)]) for w in cjk]
    as_pinyin = _reads_as_pinyin(latin)
    for word in latin:
        options = [_word(a, specs) for a in profile.alternatives(word)]
        if as_pinyin and not word.isdigit():
            options.extend(_pinyin(word, specs, profile))
        clauses.append(_any(options))
    return clauses


def pinyin_reading(text: str, profile: SearchProfile) -> str | None:
    """The syllables of ``text`` when every word of it reads as pinyin (first reading of each),
    for the whole-title pinyin phrase that ranks ``hongloumeng``'s record first; else None."""
    cjk, latin = split_words(fold(text), profile)
    if cjk or not _reads_as_pinyin(latin):
        return None
    return " ".join(s for w in latin if not w.isdigit() for s in pinyin_splits(w)[0])


def _specs(profile: SearchProfile, field: str | None) -> list[FieldSpec]:
    if field is None:
        return profile.specs()
    if field not in profile.fields:
        raise SearchError("q", f"the search profile {profile.label} has no field {field!r}")
    return [profile.fields[field]]


def node_clause(node: Node | None, profile: SearchProfile) -> Clause | None:
    """The Elasticsearch clause of a parsed query; None when it holds nothing searchable."""
    if node is None:
        return None
    if isinstance(node, MatchAll):
        return {"match_all": {}}
    if isinstance(node, Words):
        clauses = words_clauses(node.text, _specs(profile, node.field), profile)
        return None if not clauses else clauses[0] if len(clauses) == 1 else {"bool": {"must": clauses}}
    if isinstance(node, Phrase):
        return _phrase(node, profile)
    if isinstance(node, Prefix):
        return _prefix(node, profile)
    if isinstance(node, Identifier):
        return _identifier(node, profile)
    if isinstance(node, Not):
        inner = node_clause(node.part, profile)
        return None if inner is None else {"bool": {"must": [{"match_all": {}}], "must_not": [inner]}}
    if isinstance(node, Or):
        parts = [c for c in (node_clause(p, profile) for p in node.parts) if c is not None]
        return None if not parts else _any(parts)
    return _and(node, profile)


def _and(node: And, profile: SearchProfile) -> Clause | None:
    must: list[Clause] = []
    must_not: list[Clause] = []
    for part in node.parts:
        target = must_not if isinstance(part, Not) else must
        clause = node_clause(part.part if isinstance(part, Not) else part, profile)
        if clause is not None:
            target.append(clause)
    if not must and not must_not:
        return None
    return {"bool": {"must": must or [{"match_all": {}}], "must_not": must_not}}


def _phrase(node: Phrase, profile: SearchProfile) -> Clause | None:
    folded = fold(node.text)
    if not re.search(r"\w", folded):
        return None
    fields = _fields(_specs(profile, node.field), "text")
    return {"multi_match": {"query": folded, "type": "phrase", "fields": fields}}


def _prefix(node: Prefix, profile: SearchProfile) -> Clause | None:
    stem = fold(node.stem)
    if is_cjk(stem) or len(stem) < profile.min_prefix or not re.fullmatch(r"[\w'.-]+", stem):
        return node_clause(Words(node.stem, node.field), profile)
    fields = _fields(_specs(profile, node.field), "text")
    return {"multi_match": {"query": stem, "type": "phrase_prefix", "fields": fields,
                            "max_expansions": profile.max_expansions}}


def _identifier(node: Identifier, profile: SearchProfile) -> Clause | None:
    if node.kind == "isbn":
        if not node.typed:
            found = identifier_in(node.value)
            return {"term": {"isbn": found[1]}} if found else node_clause(Words(node.value), profile)
        return {"term": {"isbn": normalise_isbn(node.value, "q")}}
    if node.kind == "issn":
        return {"term": {"issn": normalise_issn(node.value, "q")}}
    value = fold(node.value).rstrip("*")
    if len(value) < 2:
        raise SearchError("q", "callnumber: needs at least 2 characters")
    return {"prefix": {"callnumber": {"value": value}}}


def plain_text(node: Node | None) -> str:
    """The words and phrases of a query that are not negated (for ranking and highlighting)."""
    if isinstance(node, Words | Phrase | Prefix):
        return getattr(node, "text", None) or getattr(node, "stem", "")
    if isinstance(node, And | Or):
        return " ".join(t for t in (plain_text(p) for p in node.parts) if t)
    return ""
