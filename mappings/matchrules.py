"""Merge rules: may two records that share a match key (:mod:`mappings.matchkeys`) be one
union record?

:func:`compatible` vetoes merges (every rule comes from a false merge found in ``bench/``):

* **always**, even on a shared identifier: a different part (volume 1 vs volume 2; "North
  Carolina, 1775-1783" vs "Virginia, 1775-1783"); a different format (print vs e-book, book vs
  audio); a different language of the text (a translation: MARC 008/35-37, UNIMARC 101,
  dc:language; "und"/"mul" count as unknown); different edition ordinals ("2nd ed." vs "3rd
  ed.") or edition statements naming different editions ("Windows version" vs "DOS version");
  page counts more than 10 apart; a set in several volumes ("3 v.") and a single book (two
  records of one set may both give its total pages: "2 v. (4, 1224 p.)" / "2册 (4, 1224页)"); a box or
  kit (an ISBN qualified "boxed set", "kit", "套装" that the other record lacks) and the book in it;
* **on a shared identifier** (ISBN, ISSN, OCLC, LCCN, national number), also: titles proper that
  differ by more than one word (two Han character pairs), or by as many words as they share,
  compared in Han script when both have it (a romanisation hides the difference), or where one
  title alone names an index or supplement ("… 目錄 索引" / "… 目錄", sharing the set's ISBN);
  different main authors (headings compared word by word up to their dates, initials matching
  their words, long words allowed one letter of variant spelling); different years; or a control
  number shared while every ISBN of one record differs from every ISBN of the other (reprints
  and reissues keep the original's numbers, series share a set ISBN);
* **on the weak key alone**, also: any difference in the whole title proper (the key keeps only
  its first words); subtitles neither of which contains the other, or with different numbers
  ("report of the first meetings" / "second meetings"); different main-author headings ("New York
  (State). Legislature. Senate. Committee on Aging" / "... on Agriculture"); publishers with no
  word in common in a script both have (their romanised forms when the vernacular names share no
  script: 人間社 / 해병대 사령부), or whose initials differ when one is named by initials only
  ("R.H.M. and E.W.J." / "Society of Typographic Arts"); an edition other than a first stated
  on one record only; series with no word in common; different years; disjoint ISBN sets unless
  publisher, extent and subtitle agree too (bindings of one edition) or both describe a set in
  several volumes (one library records the volumes' ISBNs, another the set's); disjoint ISSN sets; no
  evidence of the same size (both page counts, or the same extent in volumes: title, author and
  year alone fit every hearing of a committee in a year); and, for books published up to 1900 or
  undated, a publisher in common, the very same extent and the same closing year of a set issued
  over several ("1853" / "1853-55") (hand-press titles recur across editions, issues and printers).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from mappings.matchkeys import _ROMAN, _WORD_NUMBERS, MatchKeys
from mappings.textnorm import has_han

PAGE_TOLERANCE = 10
STRONG_YEAR_TOLERANCE = 0
#: Weak merges of records published before this year (the nineteenth century ends with 1900), or
#: undated, need the same imprint and extent.
MODERN_YEAR = 1901
#: Title words naming an index or supplement issued apart from the work (folded, Han as pairs).
APPARATUS_WORDS = frozenset(
    {"index", "indexes", "indices", "register", "registers", "supplement", "supplements", "suppl", "registre",
     "registro", "indice", "indici", "erganzungsband", "nachtrag", "nachtrage", "索引", "补遗", "补编", "续编", "색인"}
)
#: Name words this long may differ in one letter (a variant spelling of one person's name).
VARIANT_MIN_LENGTH = 5


def _near(a: frozenset[str], b: frozenset[str], slack: int, *, shared: int = 1) -> bool:
    """One set holds the other (a shortened or longer form), or each has at most ``slack``
    tokens the other lacks (a typing error, a variant spelling) and they share at least
    ``shared`` times as many."""
    if a <= b or b <= a:
        return True
    differ = max(len(a - b), len(b - a))
    return differ <= slack and len(a & b) >= shared * differ


_HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_KANA = re.compile("[\u3040-\u30ff]")
#: Scripts whose tokens are compared apart, the most telling first (a romanisation loses
#: distinctions the characters keep); "alphabetic" is Latin (folded) and any other alphabet.
SCRIPTS = ("han", "hangul", "kana", "alphabetic")


def _script(token: str) -> str:
    return "alphabetic" if token.isascii() else _non_ascii_script(token)


#: Non-ASCII tokens whose script was found recently; bounded (constant memory over a long
#: harvest), and ASCII tokens, most of them, are not cached at all (``isascii`` is cheaper).
SCRIPT_CACHE_SIZE = 8192


@functools.lru_cache(maxsize=SCRIPT_CACHE_SIZE)
def _non_ascii_script(token: str) -> str:
    if has_han(token):
        return "han"
    if _HANGUL.search(token):
        return "hangul"
    return "kana" if _KANA.search(token) else "alphabetic"


def _by_shared_script(a: frozenset[str], b: frozenset[str]) -> Iterator[tuple[str, frozenset[str], frozenset[str]]]:
    """(script, both records' tokens in it) for each of :data:`SCRIPTS` where both have some."""
    if all(t.isascii() for t in a) and all(t.isascii() for t in b):  # most pairs: one call per pair
        if a and b:
            yield "alphabetic", a, b
        return
    by_script: dict[str, tuple[set[str], set[str]]] = {}
    for side, tokens in enumerate((a, b)):
        for token in tokens:
            by_script.setdefault(_script(token), (set(), set()))[side].add(token)
    for script in SCRIPTS:
        ta, tb = by_script.get(script, ((), ()))
        if ta and tb:
            yield script, frozenset(ta), frozenset(tb)


def _same_title(a: frozenset[str], b: frozenset[str]) -> bool:
    """Titles agree when they are :func:`_near` in Han script if both have Han characters (a
    romanisation loses the distinctions: "Shi yong zhen ci …" / "Shi yong an mo …"), else in
    Latin script; one differing word or two differing Han character pairs are allowed when the
    titles share at least twice as many. Titles in no common script are no evidence either way."""
    if (a ^ b) & APPARATUS_WORDS:
        return False  # "… 目錄 索引" / "… 目錄": an index published apart from the work it serves
    first = next(_by_shared_script(a, b), None)
    if first is None:
        return True
    script, ta, tb = first
    return _near(ta, tb, 2 if script == "han" else 1, shared=2)


def _same_subtitle(a: MatchKeys, b: MatchKeys) -> bool:
    """Subtitles agree when one's significant words are all in the other (libraries shorten long
    subtitles), numbers included: reports of a series differ there ("report of the first
    meetings" / "… second meetings", "Stand, 11. Juni 1999" / "10. Mai 1999")."""
    if not (a.subtitle_tokens and b.subtitle_tokens):
        return True
    if _numbers(a.subtitle_tokens) != _numbers(b.subtitle_tokens):
        return False  # "Fortschrittsbericht" / "zweiter Fortschrittsbericht"
    return a.subtitle_tokens <= b.subtitle_tokens or b.subtitle_tokens <= a.subtitle_tokens


def _numbers(tokens: frozenset[str]) -> frozenset[str]:
    """Numbers and number words among ``tokens``, as digits."""
    return frozenset(
        t if t.isdigit() else str(_WORD_NUMBERS.get(t) or _ROMAN.get(t))
        for t in tokens
        if t.isdigit() or t in _WORD_NUMBERS or (t in _ROMAN and len(t) > 1)
    )


def _disjoint_in_shared_script(a: frozenset[str], b: frozenset[str]) -> bool:
    """Both name something in the same script and share no token of it."""
    return any(ta.isdisjoint(tb) for _, ta, tb in _by_shared_script(a, b))


def _editions_conflict(a: MatchKeys, b: MatchKeys, *, strong: bool) -> bool:
    """Different ordinals; or statements naming different editions ("Windows version" vs "DOS
    version"); or, for a weak merge, an edition other than a first stated on one record only."""
    if a.edition is not None and b.edition is not None:
        return a.edition != b.edition
    if a.edition_words is not None and b.edition_words is not None:
        return bool(a.edition_words and b.edition_words and not _near(a.edition_words, b.edition_words, 1))
    if strong or (a.edition_words is None and b.edition_words is None):
        return False
    stated = a if a.edition_words is not None else b
    return stated.edition != 1


def _publishers_differ(a: MatchKeys, b: MatchKeys) -> bool:
    """Publishers with no word in common in a script both use; a name given by initials only
    ("R.H.M. and E.W.J.", "U.S. G.P.O.") is compared by the initials of the other's words."""
    shared = list(_by_shared_script(a.publisher_tokens, b.publisher_tokens))
    if any(ta.isdisjoint(tb) for _, ta, tb in shared):
        return True
    if not shared and _disjoint_in_shared_script(
        a.publisher_romanised_tokens or a.publisher_tokens, b.publisher_romanised_tokens or b.publisher_tokens
    ):
        return True  # vernacular names in no common script (人間社 / 해병대 사령부): their romanisations differ
    return any(
        not short.publisher_tokens
        and len(short.publisher_initials) >= 2
        and full.publisher_initials
        and short.publisher_initials not in full.publisher_initials
        for short, full in ((a, b), (b, a))
    )


def _same_name(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Headings agree word by word over the shorter one, an initial matching its full word
    ("austen j" = "austen jane 1775" = "austen jane") and a long word its variant spelling one
    letter away ("Ruysbroek" = "Ruysbroeck")."""
    return all(
        x == y or (len(x) == 1 and y.startswith(x)) or (len(y) == 1 and x.startswith(y)) or _spelling_variant(x, y)
        for x, y in zip(a, b, strict=False)
    )


def _spelling_variant(x: str, y: str) -> bool:
    """Words of at least :data:`VARIANT_MIN_LENGTH` letters one insertion, deletion or substitution apart."""
    if min(len(x), len(y)) < VARIANT_MIN_LENGTH or abs(len(x) - len(y)) > 1:
        return False
    if len(x) > len(y):
        x, y = y, x
    start = 0
    while start < len(x) and x[start] == y[start]:
        start += 1
    if len(x) == len(y):
        return x[start + 1 :] == y[start + 1 :]
    return x[start:] == y[start + 1 :]


def _same_imprint(a: MatchKeys, b: MatchKeys) -> bool:
    """A publisher in common and the very same extent statement (numbers compared)."""
    return bool(
        a.publisher_tokens & b.publisher_tokens and a.extent_numbers and a.extent_numbers == b.extent_numbers
    )


def _sized_alike(a: MatchKeys, b: MatchKeys) -> bool:
    """A weak merge needs evidence of the same size: both page counts (already checked to be
    within the tolerance), or the same extent in several volumes. Title, author and year alone
    also fit every hearing of a committee in a year ("1 v. (various pagings)")."""
    if a.pages is not None and b.pages is not None:
        return True
    return bool(a.extent_numbers and a.extent_numbers == b.extent_numbers and max(a.extent_numbers) > 1)


def compatible(a: MatchKeys, b: MatchKeys, *, strong: bool) -> bool:
    """May records with these keys be merged? ``strong`` says whether they share a strong key
    (True) or only the weak key (False). See the module docstring for the rules."""
    if a.part and b.part and a.part != b.part:
        return False
    if a.format != b.format:
        return False
    if a.language and b.language and a.language != b.language:
        return False
    if _editions_conflict(a, b, strong=strong):
        return False
    if a.pages is not None and b.pages is not None and abs(a.pages - b.pages) > PAGE_TOLERANCE:
        return False
    if a.multivolume != b.multivolume and (b.pages if a.multivolume else a.pages) is not None:
        # A set of volumes and one book of it (they often share the set's ISBN). Two records of a
        # set may both give its total pages ("2 v. (4, 1224 p.)" / "2册 (4, 1224页)"): the page
        # rule above compares those.
        return False
    if a.package_isbns - b.isbns or b.package_isbns - a.isbns:
        return False  # a boxed set or kit and the book it holds ("(boxed set)" / "(book)")
    if strong:
        # A shared number is not enough on its own: series/publisher ISBNs, reprints that keep the
        # original's OCLC number and typing errors link unrelated books (measured in bench/).
        if not _same_title(a.title_tokens, b.title_tokens):
            return False
        if a.author and b.author and has_han(a.author) == has_han(b.author) and not _same_name(
            a.author_words, b.author_words
        ):
            return False
        if a.isbns and b.isbns and a.isbns.isdisjoint(b.isbns) and set(a.strong) & set(b.strong):
            # Linked by a control number (LCCN, OCLC) while every ISBN differs: a reissue or a
            # record that copied another edition's number.
            return False
        return a.year is None or b.year is None or abs(a.year - b.year) <= STRONG_YEAR_TOLERANCE
    if a.year is not None and b.year is not None and a.year != b.year:
        return False
    if a.title_full != b.title_full or not _same_subtitle(a, b):
        return False
    if _publishers_differ(a, b):
        return False
    if _disjoint_in_shared_script(a.series_tokens, b.series_tokens):
        return False  # one text issued in two series ("Globe-trotters club" / "A ticket to")
    if any(k.year is None or k.year < MODERN_YEAR for k in (a, b)) and not (
        _same_imprint(a, b) and not (a.year_end and b.year_end and a.year_end != b.year_end)
    ):
        # Books of the hand-press and early machine age share titles across editions, issues and
        # printers, and a later issue of a set carries other dates ("1853" / "1853-55"). (Modern sets
        # do too, but there one library's "1932" and another's "1932-1954" are usually one set.)
        return False
    if not _sized_alike(a, b):
        return False
    if not _same_name(a.author_words, b.author_words):
        return False
    if a.isbns and b.isbns and a.isbns.isdisjoint(b.isbns) and not (a.multivolume and b.multivolume) and not (
        _same_imprint(a, b) and a.subtitle_tokens == b.subtitle_tokens
    ):
        # Different ISBNs mean different editions unless publisher, extent and subtitle agree as
        # well: then they are bindings or a distributor's number of one edition (a Bantam paperback
        # under two numbers). Miniature books of one title differ only in their subtitles. Two records
        # of a set in several volumes are not told apart by ISBNs: one library records the
        # volumes' numbers ("0192547011 (v1)", "019254702X (v2)"), another the set's.
        return False
    return not (a.issns and b.issns and a.issns.isdisjoint(b.issns))


