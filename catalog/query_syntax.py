"""The query syntax readers and librarians type, parsed into a small tree.

Grammar (operators in capitals only, so the English words "and"/"or" stay words)::

    query   := or ( OR or )*
    or      := and ( [AND] and )*          adjacent terms mean AND
    and     := ( NOT | - ) and | primary
    primary := "(" query ")" | FIELD ":" primary | "phrase" | word

``FIELD`` is one of :data:`FIELDS`. A word ending in ``*`` is a right truncation
(:class:`Prefix`); a leading or inner ``*``/``?`` is no wildcard (leading wildcards would make the
engine walk every term) and is read as a word break. Full-width forms (``（）：＂``) are folded by
NFKC first, typographic quotes count as ``"``, control characters are dropped.

:func:`parse` raises :class:`QuerySyntaxError` for what is not syntax (an unbalanced quote or
parenthesis, a lone operator); :func:`parse_query` never raises: it falls back to
:func:`plain_words`, the text with every syntax character removed, searched as words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: Fields a term may name, with their aliases.
FIELDS = {
    "title": "title", "ti": "title",
    "author": "author", "au": "author",
    "subject": "subject", "su": "subject",
    "isbn": "isbn", "issn": "issn",
    "publisher": "publisher", "pb": "publisher",
    "series": "series",
    "callnumber": "callnumber", "cn": "callnumber",
}
#: Fields whose value is an identifier (matched exactly or by prefix, not as words).
IDENTIFIER_FIELDS = ("isbn", "issn", "callnumber")
#: A query holding more terms than this is refused (it would be an Elasticsearch query of
#: thousands of clauses, and no reader types it).
MAX_TERMS = 64

_QUOTES = str.maketrans({c: '"' for c in "“”„‟«»「」『』〝〞＂"})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_SYNTAX = re.compile(
    r'[()"*?]|(?<!\S)[-+](?=\S)|(?<!\S)(?:AND|OR|NOT|&&|\|\|)(?!\S)|(?i:\b(?:' + "|".join(FIELDS) + r"):)"
)
_OPERATORS = {"AND", "OR", "NOT", "&&", "||"}
_ISBNISH = re.compile(r"^[0-9][0-9\- ]{8,20}[0-9Xx]$")


class QuerySyntaxError(ValueError):
    """The text is not well-formed query syntax (it is then searched as plain words)."""


class TooManyTerms(ValueError):
    """The query holds more than :data:`MAX_TERMS` terms."""


@dataclass(frozen=True)
class Words:
    """Plain words, all required (AND), matched wherever they stand."""

    text: str
    field: str | None = None


@dataclass(frozen=True)
class Phrase:
    text: str
    field: str | None = None


@dataclass(frozen=True)
class Prefix:
    """``histor*``: a word beginning with ``stem``."""

    stem: str
    field: str | None = None


@dataclass(frozen=True)
class Identifier:
    """``isbn:…``, ``issn:…``, ``callnumber:…`` or a bare ISBN-looking word."""

    kind: str
    value: str
    #: False for a bare word that only looks like an ISBN (searched as a word if it is not one).
    typed: bool = True


@dataclass(frozen=True)
class MatchAll:
    """``*`` alone."""


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    part: Node


Node = Words | Phrase | Prefix | Identifier | MatchAll | And | Or | Not


def clean(text: str) -> str:
    """NFKC, typographic quotes as ``"``, control and invisible characters removed."""
    text = _CONTROL.sub(" ", unicodedata.normalize("NFKC", text or ""))
    return text.translate(_QUOTES).strip()


def plain_words(text: str) -> str:
    """``text`` with the syntax taken out: what a query that is not syntax is searched as."""
    return " ".join(_SYNTAX.sub(" ", clean(text)).split())


def parse_query(text: str) -> Node | None:
    """The tree of ``text``, or its plain words when it is not syntax; None when nothing is left.

    :class:`TooManyTerms` is the one error (a query too long to run is refused, not guessed at).
    """
    try:
        return parse(text)
    except QuerySyntaxError:
        words = plain_words(text) or " ".join(clean(text).split())  # "AND" alone: the word itself
        if len(words.split()) > MAX_TERMS:
            raise TooManyTerms(f"more than {MAX_TERMS} terms") from None
        return Words(words) if words else None


def parse(text: str) -> Node | None:
    tokens = _tokenize(clean(text))
    if sum(1 for kind, _ in tokens if kind in ("word", "phrase")) > MAX_TERMS:
        raise TooManyTerms(f"more than {MAX_TERMS} terms")
    if not tokens:
        return None
    parser = _Parser(tokens)
    node = parser.query(None)
    if parser.pos != len(tokens):
        raise QuerySyntaxError(f"unexpected {tokens[parser.pos][1]!r}")
    return node


Token = tuple[str, str]  # kind: word | phrase | field | op | lp | rp


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(("lp" if ch == "(" else "rp", ch))
            i += 1
        elif ch == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError("unbalanced quote")
            tokens.append(("phrase", text[i + 1 : end]))
            i = end + 1
        elif ch in "-+" and i + 1 < n and not text[i + 1].isspace() and (i == 0 or text[i - 1] in " (\t\n"):
            if ch == "-":
                tokens.append(("op", "NOT"))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '()"':
                j += 1
            tokens.extend(_word_tokens(text[i:j]))
            i = j
    return tokens


def _word_tokens(word: str) -> list[Token]:
    if word in _OPERATORS:
        return [("op", {"&&": "AND", "||": "OR"}.get(word, word))]
    name, colon, rest = word.partition(":")
    if colon and name.lower() in FIELDS:
        return [("field", FIELDS[name.lower()]), *([("word", rest)] if rest else [])]
    return [("word", word)]


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise QuerySyntaxError("the query ends too early")
        self.pos += 1
        return token

    def query(self, field: str | None) -> Node | None:
        parts = [self.conjunction(field)]
        while self.peek() == ("op", "OR"):
            self.take()
            parts.append(self.conjunction(field))
        kept = tuple(p for p in parts if p is not None)
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else Or(kept)

    def conjunction(self, field: str | None) -> Node | None:
        parts: list[Node] = []
        while (token := self.peek()) is not None and token not in (("op", "OR"), ("rp", ")")):
            if token == ("op", "AND"):
                self.take()
                if not parts or self.peek() in (None, ("op", "OR"), ("op", "AND"), ("rp", ")")):
                    raise QuerySyntaxError("AND needs a term on each side")
                continue
            node = self.unary(field)
            if node is None:
                continue
            if isinstance(node, Words) and parts and isinstance(parts[-1], Words) and parts[-1].field == node.field:
                parts[-1] = Words(f"{parts[-1].text} {node.text}", node.field)  # one bag of words
            else:
                parts.append(node)
        if not parts:
            if self.peek() is not None and self.peek() != ("rp", ")"):
                raise QuerySyntaxError("an operator needs a term on each side")
            return None
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self, field: str | None) -> Node | None:
        if self.peek() == ("op", "NOT"):
            self.take()
            if self.peek() in (None, ("rp", ")")) or (self.peek() or ("", ""))[0] == "op":
                raise QuerySyntaxError("NOT needs a term")
            inner = self.unary(field)
            return Not(inner) if inner is not None else None
        return self.primary(field)

    def primary(self, field: str | None) -> Node | None:
        kind, value = self.take()
        if kind == "lp":
            inner = self.query(field)
            if self.peek() != ("rp", ")"):
                raise QuerySyntaxError("unbalanced parenthesis")
            self.take()
            return inner
        if kind == "field":
            if self.peek() is None or self.peek()[0] in ("op", "rp", "field"):  # type: ignore[index]
                raise QuerySyntaxError(f"{value}: needs a value")
            return self.primary(value)
        if kind == "phrase":
            return _phrase(value, field)
        if kind == "word":
            return _word(value, field)
        raise QuerySyntaxError(f"unexpected {value!r}")


def _phrase(text: str, field: str | None) -> Node | None:
    text = " ".join(text.split())
    if not text:
        return None
    if field in IDENTIFIER_FIELDS:
        return Identifier(field, text)  # type: ignore[arg-type]
    return Phrase(text, field)


def _word(word: str, field: str | None) -> Node | None:
    if field in IDENTIFIER_FIELDS:
        return Identifier(field, word.rstrip("*"))  # type: ignore[arg-type]
    if word.strip("*?") == "" and "*" in word:
        return MatchAll() if field is None else None
    if field is None and _ISBNISH.match(word) and len(re.sub(r"[- ]", "", word)) in (10, 13):
        return Identifier("isbn", word, typed=False)
    if word.endswith("*"):
        stem = word.rstrip("*")
        if stem and "*" not in stem and "?" not in stem and not stem.startswith(("*", "?")):
            return Prefix(stem, field)
    text = " ".join(re.sub(r"[*?]", " ", word).split())
    return Words(text, field) if text else None
