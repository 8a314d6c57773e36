"""Match keys for clustering records of the same edition from different libraries.

Strong keys (any shared strong key proposes a merge, subject to :func:`compatible`):

* ``isbn:<ISBN-13>`` for every valid ISBN of the record (ISBN-10s are converted, so an ISBN-10
  and its ISBN-13 give the same key; invalid or cancelled ISBNs give no key);
* ``issn:<NNNN-NNNC>`` for every ISSN with a correct check digit;
* ``oclc:<digits>`` (OCLC number without prefix or leading zeros);
* ``lccn:<normalised LCCN>``;
* ``nbn:<agency>:<number>`` for national bibliography numbers (lower case).

Weak key (records with equal weak keys are merge candidates, subject to the stricter weak rules
of :func:`compatible`), in the spirit of OCLC GoldRush / FRBR work-set keys but working for
Chinese::

    w:<title>|<author>|<year>|<part>        e.g.  w:pride prejudice|austen|1813|
                                                   w:红楼梦|曹雪芹|1982|1

* title: the title proper after the non-filing characters (MARC 21 245 second indicator or
  non-sorting markers) or, when none are recorded, after one leading article (the a an, le la
  les l', der die das ein eine, el los las un una, il lo gli i uno un'); the subtitle is added only
  when the title proper is short (fewer than 3 words, fewer than 3 Han characters) and in the
  same script, because libraries record subtitles inconsistently ("Pride and prejudice : a
  novel") and a Latin "subtitle" of a Chinese book is usually a parallel title. Then
  :func:`~mappings.textnorm.fold` (so 紅樓夢 = 红楼梦, full width = half width, é = e), every
  non-letter/digit becomes a space, the words "and", "et", "und" are dropped (so "&" and "and"
  agree). Latin script keeps the first 5 words. A title with Han characters is not split on
  spaces: spaces are removed and the first 12 characters kept.
* author: the first author (MARC 1XX, else 7XX; UNIMARC 700/710, else 701...), folded. Latin
  script: the part before the first comma (the surname of an inverted name), its first word.
  Han script: the Han characters of the name before any dates, at most 4 (a dynasty prefix such
  as "(清)" is dropped). Empty when the record has no author.
* year: the publication year, empty when unknown; part: see :func:`normalise_part`.

No weak key when the record has no title, or when the title key is too generic to identify a
work without an author (under 4 characters, or a stock title such as "works", "proceedings",
"全集", "年鉴").

:func:`compatible` vetoes merges: a different non-empty part (volume 1 vs volume 2), a
different format (print vs e-book, book vs audio) or a different language of the text (a
translation; MARC 008/35-37, UNIMARC 101, dc:language, "und"/"mul" count as unknown) never merge,
even on a strong key; neither do different edition ordinals ("2nd ed." vs "3rd ed.") or page counts
more than 10 apart. Nor does a strong key merge records whose titles proper share at most half of
the shorter title's significant words / Han character pairs (in a script both titles have), whose
main authors (as in the weak key, same script) differ, whose years differ, or which share a
control number (LCCN, OCLC) while every ISBN of one differs from every ISBN of the other (reprints
and reissues keep the original's numbers; the evaluation in ``bench/`` showed such false merges). A weak
merge is also refused when both years are known and differ, both ISBN sets are non-empty and
disjoint (different editions), or both ISSN sets are non-empty and disjoint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mappings.document import BibDocument
from mappings.textnorm import fold, has_han

LATIN_WORDS = 5
HAN_CHARS = 12
AUTHOR_HAN_CHARS = 4
PAGE_TOLERANCE = 10
STRONG_YEAR_TOLERANCE = 0

_ARTICLES = frozenset(
    ("the", "a", "an", "le", "la", "les", "der", "die", "das", "ein", "eine", "el", "los", "las", "un", "una",
     "il", "lo", "gli", "i", "uno")
)
_ELIDED = ("l'", "l’", "un'", "un’", "dell'", "all'")
_DROP_WORDS = frozenset({"and", "et", "und"})
_GENERIC = frozenset(
    {"works", "poems", "collected works", "selected works", "complete works", "proceedings",
     "report", "annual report", "papers", "letters", "essays", "stories", "novels", "oeuvres",
     "werke", "obras", "opere", "全集", "文集", "选集", "年鉴", "报告", "论文集", "作品集", "诗集"}
)
_NON_WORD = re.compile(r"[\W_]+")
_HAN_ONLY = re.compile("[^\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")
_BRACKETED = re.compile(r"^\s*[(\[（〔【][^)\]）〕】]{1,4}[)\]）〕】]")
_NUMBER = re.compile(r"\d+")
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10,
          "xi": 11, "xii": 12, "xiii": 13, "xiv": 14, "xv": 15, "xvi": 16, "xvii": 17, "xviii": 18,
          "xix": 19, "xx": 20}
_HAN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "first": 1,
                 "second": 2, "third": 3, "premier": 1, "second_": 2, "erster": 1, "zweiter": 2}


@dataclass(frozen=True)
class MatchKeys:
    """Everything the clusterer needs about one record (see module docstring)."""

    strong: tuple[str, ...]
    weak: str | None
    year: int | None
    format: str
    part: str | None
    pages: int | None
    isbns: frozenset[str]
    issns: frozenset[str]
    #: Significant title words (Latin script) and Han character pairs, for the identifier sanity check.
    title_tokens: frozenset[str] = frozenset()
    edition: int | None = None
    author: str = ""
    language: str | None = None


_STOP = frozenset({"the", "and", "for", "with", "from", "des", "les", "une", "und", "von", "der", "die", "das",
                   "del", "los", "las", "dei", "della", "per", "sur", "aux", "dans"})
_HAN_RUN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")


def title_tokens(doc: BibDocument) -> frozenset[str]:
    """Latin words of 3+ letters (no stop words) and Han character pairs (a lone Han character
    counts alone) of the title proper and the parallel titles, folded (subtitles are left out:
    series like "Chocolate : exploit the versatility…" / "Egg : exploit the versatility…" share them)."""
    text = fold(" ".join(t for t in (doc.title, *doc.parallel_titles) if t))
    tokens: set[str] = set()
    for run in _HAN_RUN.findall(text):
        tokens.update(run[i : i + 2] for i in range(max(len(run) - 1, 1)))
    latin = _NON_WORD.sub(" ", _HAN_RUN.sub(" ", text)).split()
    tokens.update(w for w in latin if len(w) >= 3 and w not in _STOP)
    return frozenset(tokens)


def _same_title(a: frozenset[str], b: frozenset[str]) -> bool:
    """False only when, in a script both titles are written in, at most half of the shorter
    title's words / character pairs occur in the other."""
    shared_script = False
    for han in (True, False):
        ta = {t for t in a if has_han(t) == han}
        tb = {t for t in b if has_han(t) == han}
        if ta and tb:
            shared_script = True
            if len(ta & tb) * 2 > min(len(ta), len(tb)):
                return True
    return not shared_script


def edition_number(edition: str | None) -> int | None:
    """The edition's ordinal ("2nd ed." → 2, "第3版" → 3, "Zweite Auflage" → 2), None without one."""
    if not edition:
        return None
    part = normalise_part(edition)
    if not part or not part.split(".")[0].isdigit():
        return None
    value = int(part.split(".")[0])
    return value if value < 200 else None  # "Rev. 1999" names a year, not an ordinal


#: ISO 639-2 terminology codes and obsolete MARC codes → the MARC (bibliographic) code.
_LANGUAGE_ALIASES = {
    "zho": "chi", "fra": "fre", "deu": "ger", "nld": "dut", "ces": "cze", "ell": "gre", "fas": "per",
    "hye": "arm", "kat": "geo", "eus": "baq", "isl": "ice", "mkd": "mac", "msa": "may", "mri": "mao",
    "mya": "bur", "ron": "rum", "slk": "slo", "sqi": "alb", "bod": "tib", "cym": "wel", "jap": "jpn",
}
#: Codes that say nothing about the text's language.
_NO_LANGUAGE = frozenset({"und", "mul", "zxx", "mis", "sgn", "nul", "xxx"})


def primary_language(doc: BibDocument) -> str | None:
    """The language of the text (MARC 008/35-37, UNIMARC 101 $a, dc:language), in MARC's code;
    None when unknown or "multiple"."""
    if not doc.languages:
        return None
    code = _LANGUAGE_ALIASES.get(doc.languages[0], doc.languages[0])
    return None if code in _NO_LANGUAGE else code


def match_keys(doc: BibDocument) -> MatchKeys:
    """Compute the match keys of a crosswalked document."""
    strong: list[str] = [f"isbn:{i}" for i in doc.isbns]
    strong += [f"issn:{i}" for i in doc.issns]
    strong += [f"oclc:{i}" for i in doc.oclc]
    strong += [f"lccn:{i}" for i in doc.lccn]
    strong += [f"nbn:{fold(n).replace(' ', '')}" for n in doc.national_numbers]
    part = normalise_part(doc.part)
    return MatchKeys(
        strong=tuple(dict.fromkeys(strong)),
        weak=weak_key(doc, part),
        year=doc.year,
        format=doc.format,
        part=part,
        pages=doc.pages,
        isbns=frozenset(doc.isbns),
        issns=frozenset(doc.issns),
        title_tokens=title_tokens(doc),
        edition=edition_number(doc.edition),
        author=author_key(doc),
        language=primary_language(doc),
    )


def normalise_part(part: str | None) -> str | None:
    """Volume/part designation reduced to its numbers ("Vol. 2, pt. 1" → "2.1", "第二卷" → "2",
    "Part II" → "2"); without numbers, the folded text without spaces ("上册" → "上册")."""
    if not part:
        return None
    text = fold(part)
    numbers = _NUMBER.findall(text)
    if not numbers:
        for token in _NON_WORD.split(text):
            value = _ROMAN.get(token) or _WORD_NUMBERS.get(token)
            if value:
                numbers.append(str(value))
        numbers += [str(_HAN_DIGITS[c]) for c in text if c in _HAN_DIGITS]
    if numbers:
        return ".".join(str(int(n)) for n in numbers)
    compact = _NON_WORD.sub("", text)
    return compact or None


def _title_words(text: str, nonfiling: int) -> str:
    if nonfiling:
        text = text[nonfiling:]
    folded = fold(text)
    if not nonfiling:
        for elided in _ELIDED:
            if folded.startswith(elided):
                folded = folded[len(elided):]
                break
        else:
            first, _, rest = folded.partition(" ")
            if first in _ARTICLES and rest:
                folded = rest
    return " ".join(w for w in _NON_WORD.sub(" ", folded).split() if w not in _DROP_WORDS)


def title_key(doc: BibDocument) -> str:
    """The title part of the weak key (see module docstring)."""
    if not doc.title:
        return ""
    words = _title_words(doc.title, doc.title_nonfiling)
    han = has_han(words)
    short = len(words.replace(" ", "")) < 3 if han else len(words.split()) < 3
    if short and doc.subtitle and has_han(doc.subtitle) == han:
        words = f"{words} {_title_words(doc.subtitle, 0)}".strip()
    if han:
        return words.replace(" ", "")[:HAN_CHARS]
    return " ".join(words.split()[:LATIN_WORDS])


def author_key(doc: BibDocument) -> str:
    """The author part of the weak key (see module docstring)."""
    if not doc.authors:
        return ""
    name = _BRACKETED.sub("", doc.authors[0])
    if has_han(name):
        name = re.split(r"[,，\d(（]", name, maxsplit=1)[0]
        return _HAN_ONLY.sub("", fold(name))[:AUTHOR_HAN_CHARS]
    surname = fold(name.split(",", 1)[0])
    words = _NON_WORD.sub(" ", surname).split()
    return words[0] if words else ""


def weak_key(doc: BibDocument, part: str | None = None) -> str | None:
    """``w:<title>|<author>|<year>|<part>``, or ``None`` when missing or too generic."""
    title = title_key(doc)
    if not title:
        return None
    author = author_key(doc)
    generic = title in _GENERIC or len(title.replace(" ", "")) < (2 if has_han(title) else 4)
    if generic and not author:
        return None
    year = str(doc.year) if doc.year else ""
    return f"w:{title}|{author}|{year}|{part or ''}"


def compatible(a: MatchKeys, b: MatchKeys, *, strong: bool) -> bool:
    """May records with these keys be merged? ``strong`` says whether they share a strong key
    (True) or only the weak key (False). See the module docstring for the rules."""
    if a.part and b.part and a.part != b.part:
        return False
    if a.format != b.format:
        return False
    if a.language and b.language and a.language != b.language:
        return False
    if a.edition is not None and b.edition is not None and a.edition != b.edition:
        return False
    if a.pages is not None and b.pages is not None and abs(a.pages - b.pages) > PAGE_TOLERANCE:
        return False
    if strong:
        # A shared number is not enough on its own: series/publisher ISBNs, reprints that keep the
        # original's OCLC number and typing errors link unrelated books (measured in bench/).
        if not _same_title(a.title_tokens, b.title_tokens):
            return False
        if a.author and b.author and has_han(a.author) == has_han(b.author) and a.author != b.author:
            return False
        if a.isbns and b.isbns and a.isbns.isdisjoint(b.isbns) and set(a.strong) & set(b.strong):
            # Linked by a control number (LCCN, OCLC) while every ISBN differs: a reissue or a
            # record that copied another edition's number.
            return False
        return a.year is None or b.year is None or abs(a.year - b.year) <= STRONG_YEAR_TOLERANCE
    if a.year is not None and b.year is not None and a.year != b.year:
        return False
    if a.isbns and b.isbns and a.isbns.isdisjoint(b.isbns):
        return False
    return not (a.issns and b.issns and a.issns.isdisjoint(b.issns))
