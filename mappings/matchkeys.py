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

Whether records sharing a key may merge is decided by :func:`mappings.matchrules.compatible`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mappings.document import BibDocument
from mappings.textnorm import fold, has_han

LATIN_WORDS = 5
HAN_CHARS = 12
AUTHOR_HAN_CHARS = 4

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
                 "second": 2, "third": 3, "premier": 1, "premiere": 1, "second_": 2, "erster": 1, "erste": 1,
                 "zweiter": 2, "zweite": 2, "primera": 1, "prima": 1, "segunda": 2, "seconda": 2}


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
    #: The whole normalised title proper (the weak key keeps only its first words).
    title_full: str = ""
    #: The subtitle's significant words / Han pairs, numbers included.
    subtitle_tokens: frozenset[str] = frozenset()
    #: Significant words of the publisher's name ("Louisiana State University Press" → {"louisiana", "state"}).
    publisher_tokens: frozenset[str] = frozenset()
    #: The record describes a set in several volumes ("3 v.", "v. <1-4>"), not one book.
    multivolume: bool = False
    #: The numbers of the extent statement without dimensions ("xvi, 214 p." → (214,), "16 v. in 8" → (16, 8)).
    extent_numbers: tuple[int, ...] = ()
    #: Words of the main author's heading without dates ("new york state legislature senate ...").
    author_words: tuple[str, ...] = ()
    #: The edition statement's distinguishing words ("Windows version" → {"windows"}); None
    #: when the record states no edition.
    edition_words: frozenset[str] | None = None
    #: Significant words of the series titles, volume numbers left out.
    series_tokens: frozenset[str] = frozenset()
    #: First letters of the publisher's words (see :func:`publisher_initials`).
    publisher_initials: str = ""
    #: ISBNs the record gives for a box or kit it describes (see ``BibDocument.package_isbns``).
    package_isbns: frozenset[str] = frozenset()
    #: Last year of publication when the record says (see ``BibDocument.year_end``).
    year_end: int | None = None
    #: Significant words of the publisher's romanised name, when ``publisher_tokens`` are of its
    #: vernacular form: compared when the vernacular forms share no script (Han vs Hangul).
    publisher_romanised_tokens: frozenset[str] = frozenset()


_STOP = frozenset({"the", "and", "for", "with", "from", "des", "les", "une", "und", "von", "der", "die", "das",
                   "del", "los", "las", "dei", "della", "per", "sur", "aux", "dans"})
_HAN_RUN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")


def _latin_words(folded: str) -> list[str]:
    """The words of already folded text outside its Han runs."""
    if not folded.isascii():
        folded = _HAN_RUN.sub(" ", folded)
    return _NON_WORD.sub(" ", folded).split()


def _tokens(text: str, *, keep_numbers: bool = False) -> list[str]:
    """Han character pairs (a lone Han character counts alone) and Latin words of 3+ letters
    without stop words (and numbers, when asked), folded, in order."""
    text = fold(text)
    tokens: list[str] = []
    for run in () if text.isascii() else _HAN_RUN.findall(text):
        tokens.extend(run[i : i + 2] for i in range(max(len(run) - 1, 1)))
    for word in _latin_words(text):
        if (len(word) >= 3 and word not in _STOP) or (keep_numbers and word.isdigit()):
            tokens.append(word)
    return tokens


def title_tokens(doc: BibDocument) -> frozenset[str]:
    """:func:`_tokens` of the title proper and the parallel titles (subtitles are left out: series
    like "Chocolate : exploit the versatility…" / "Egg : exploit the versatility…" share them)."""
    return frozenset(_tokens(" ".join(t for t in (doc.title, *doc.parallel_titles) if t)))


#: Words in many publishers' names; what is left names the publisher.
_PUBLISHER_GENERIC = frozenset(
    {"press", "presses", "publishing", "publishers", "publisher", "pub", "publ", "publications", "publication",
     "verlag", "editions", "edition", "editorial", "editora", "editrice", "edizioni", "ediciones", "edicoes",
     "books", "book", "inc", "ltd", "limited", "company", "university", "univ", "corp", "corporation", "gmbh",
     "house", "group", "media", "libros", "sons", "distributed", "distributor", "printed", "printing", "print",
     "bros", "brothers", "and", "the", "association", "institute", "society", "new", "etc", "messrs", "sold",
     "author", "for", "others", "impr", "imprimerie", "druck", "tip", "tipografia", "typ"}
)
_PUBLISHER_GENERIC_HAN = ("出版社", "出版公司", "出版集团", "书局", "书店", "出版", "有限公司", "公司")
#: Han character pairs common to many publishers' names (Japanese trade names: 兵衛, 右衛門).
_PUBLISHER_COMMON_PAIRS = frozenset(
    {"兵卫", "卫门", "右卫", "左卫", "兵衞", "衞门", "右衞", "左衞", "发行", "书肆", "书房", "书院", "藏版", "藏板",
     "梓行", "刊行"}
)


def publisher_tokens(name: str | None) -> frozenset[str]:
    """Significant words / Han character pairs of a publisher's name."""
    if not name:
        return frozenset()
    text = fold(name)
    for generic in () if text.isascii() else _PUBLISHER_GENERIC_HAN:
        text = text.replace(generic, " ")
    return frozenset(t for t in _tokens(text) if t not in _PUBLISHER_GENERIC and t not in _PUBLISHER_COMMON_PAIRS)


def publisher_initials(doc: BibDocument) -> str:
    """First letters of the publisher's words ("U.S. Government Printing Office" → "usgpo"), to
    compare a name given by initials only ("U.S. G.P.O.", "R.H.M. and E.W.J.")."""
    if not doc.publisher:
        return ""
    words = [w for w in _latin_words(fold(doc.publisher)) if w.isalpha() and w not in _INITIALS_SKIPPED]
    initials = "".join(w[0] for w in words)
    return "" if initials in _UNNAMED else initials


_INITIALS_SKIPPED = frozenset({"and", "of", "the", "for", "und", "et", "de", "others", "etc", "al"})
#: "[s.n.]" (sine nomine), "n.p.": the publisher is unknown, not named.
_UNNAMED = frozenset({"sn", "np", "snt", "sl"})


#: Words in many series' names ("… (Series)", "Colección …", "… 丛书").
_SERIES_GENERIC = frozenset(
    {"series", "serie", "coleccion", "collection", "collana", "reihe", "sammlung", "丛书", "文库"}
)


def series_tokens(doc: BibDocument) -> frozenset[str]:
    """Significant words / Han character pairs of the record's series titles."""
    titles = " ".join(s.split(" ; ", 1)[0] for s in doc.series)
    return frozenset(t for t in _tokens(titles) if t not in _SERIES_GENERIC)


_MULTIVOLUME = re.compile(r"^\s*(?:(\d+)\s*v\b|v\.?\s*(?:<|$|:|;|\())|^\s*(\d+)\s*(?:册|冊|卷)", re.IGNORECASE)


_EXTENT_AREA_END = re.compile(r"[;:]")
_DIMENSIONS = re.compile(r"\d+(?:\s*x\s*\d+)?\s*(?:cm|mm|in)\b.*$", re.IGNORECASE)


def extent_numbers(extent: str | None) -> tuple[int, ...]:
    """The numbers of an extent statement, dimensions and illustration statements left out."""
    text = _EXTENT_AREA_END.split(extent or "", maxsplit=1)[0]
    return tuple(int(n) for n in _NUMBER.findall(_DIMENSIONS.sub("", text)))


def is_multivolume(extent: str | None) -> bool:
    """True for a set's extent ("3 v.", "v. <1-4>", "4册"), not for one volume ("1 v.", "320 p.")."""
    match = _MULTIVOLUME.match(extent or "")
    if not match:
        return False
    count = match.group(1) or match.group(2)
    return count is None or int(count) >= 2


#: "First edition" in Chinese and Japanese (初版, 初刷) and Korean (초판, 초판본).
_FIRST_EDITION_WORDS = ("初版", "初刷", "초판")


def edition_number(edition: str | None) -> int | None:
    """The edition's ordinal ("2nd ed." → 2, "第3版" → 3, "Zweite Auflage" → 2, "初版" → 1), None
    without one."""
    if not edition:
        return None
    if any(word in edition for word in _FIRST_EDITION_WORDS):
        return 1
    part = (normalise_part(edition) or "").split("|")[0]
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


#: Words every edition statement uses; what is left names the edition ("Louisiana paperback").
_EDITION_GENERIC = frozenset(
    {"ed", "edition", "edn", "editio", "edicion", "edizione", "edicao", "eds", "aufl", "auflage", "ausg",
     "ausgabe", "version", "vers", "printing", "print", "impression", "opl", "oplag", "udg", "udgave", "izd",
     "izdanie", "wyd", "wydanie", "uitg", "uitgave", "new", "nouvelle", "neue", "nueva", "nuova", "nova", "da",
     "a", "de", "la", "the", "and", "1st", "2nd", "3rd", "first", "second", "third", "st", "nd", "rd", "th"}
)


def edition_words(edition: str | None) -> frozenset[str] | None:
    """The distinguishing words of an edition statement (generic words and numbers removed);
    None when there is no statement. Han statements keep their Han characters other than 版/第/次."""
    if not edition:
        return None
    text = fold(edition)
    han = {c for c in _HAN_ONLY.sub("", text) if c not in "版第次印刷一二三四五六七八九十"}
    latin = {w for w in _latin_words(text)
             if w not in _EDITION_GENERIC and not w.isdigit() and not w.rstrip("aeo").isdigit()}
    return frozenset(latin | han)


def strong_keys(doc: BibDocument) -> tuple[str, ...]:
    """The identifier keys of a document (``isbn:``, ``issn:``, ``oclc:``, ``lccn:``, ``nbn:``)."""
    strong: list[str] = [f"isbn:{i}" for i in doc.isbns]
    strong += [f"issn:{i}" for i in doc.issns]
    strong += [f"oclc:{i}" for i in doc.oclc]
    strong += [f"lccn:{i}" for i in doc.lccn]
    strong += [f"nbn:{fold(n).replace(' ', '')}" for n in doc.national_numbers]
    return tuple(dict.fromkeys(strong))


def key_strings(doc: BibDocument) -> tuple[tuple[str, ...], str | None]:
    """``(strong, weak)`` of :func:`match_keys`, without the fields that are only compared when
    two records share a key: what the store writes and looks up for every record."""
    return strong_keys(doc), weak_key(doc, normalise_part(doc.part))


def match_keys(doc: BibDocument) -> MatchKeys:
    """Compute the match keys of a crosswalked document."""
    part = normalise_part(doc.part)
    proper = _title_words(doc.title, doc.title_nonfiling) if doc.title else ""
    author = author_key(doc)
    return MatchKeys(
        strong=strong_keys(doc),
        weak=weak_key(doc, part, proper=proper, author=author),
        year=doc.year,
        format=doc.format,
        part=part,
        pages=doc.pages,
        isbns=frozenset(doc.isbns),
        issns=frozenset(doc.issns),
        title_tokens=title_tokens(doc),
        edition=edition_number(doc.edition),
        author=author,
        language=primary_language(doc),
        title_full=full_title(doc, proper=proper),
        subtitle_tokens=frozenset(_tokens(doc.subtitle or "", keep_numbers=True)),
        publisher_tokens=publisher_tokens(doc.publisher),
        multivolume=is_multivolume(doc.extent),
        extent_numbers=extent_numbers(doc.extent),
        author_words=author_words(doc),
        edition_words=edition_words(doc.edition),
        series_tokens=series_tokens(doc),
        publisher_initials=publisher_initials(doc),
        package_isbns=frozenset(doc.package_isbns),
        year_end=doc.year_end,
        publisher_romanised_tokens=publisher_tokens(doc.publisher_romanised),
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
        if len(text) <= 6:  # "第二卷", "卷三"; a longer Han part is a name ("四ッ木駅--青砥駅間 …")
            numbers += [str(_HAN_DIGITS[c]) for c in text if c in _HAN_DIGITS]
    if numbers:
        named = _part_names(text)
        numbered = ".".join(str(int(n)) for n in numbers)
        return f"{numbered}|{named}" if named else numbered
    compact = _NON_WORD.sub("", text)
    return compact or None


_PART_GENERIC = frozenset(
    {"vol", "vols", "volume", "volumes", "v", "pt", "pts", "part", "parts", "partie", "teil", "tl", "bd", "band",
     "tome", "tomes", "t", "tomo", "no", "nr", "num", "number", "book", "bk", "livre", "libro", "heft", "fasc",
     "fascicle", "fascicule", "section", "sect", "sec", "series", "ser", "and", "the", "of", "de", "et", "und"}
)
_PART_GENERIC_HAN = "第卷册冊部编編集辑輯期分本号號之" + "".join(_HAN_DIGITS)


def _part_names(text: str) -> str:
    """What a numbered part designation says besides its numbers ("North Carolina, 1775-1783" →
    "north carolina"), so that two regions of one series with the same dates stay apart."""
    words = [w for w in _latin_words(text)
             if not w.isdigit() and w not in _PART_GENERIC and w not in _ROMAN and w not in _WORD_NUMBERS]
    han = [c for c in _HAN_ONLY.sub("", text) if c not in _PART_GENERIC_HAN]
    return " ".join(words + ["".join(han)] if han else words)


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


def full_title(doc: BibDocument, *, with_short_subtitle: bool = False, proper: str | None = None) -> str:
    """The normalised title proper, whole; Han script without spaces. ``with_short_subtitle``
    adds the subtitle to a short title (see module docstring). ``proper``: the title proper's
    words (``_title_words``) when the caller has them already."""
    if not doc.title:
        return ""
    words = _title_words(doc.title, doc.title_nonfiling) if proper is None else proper
    han = has_han(words)
    short = len(words.replace(" ", "")) < 3 if han else len(words.split()) < 3
    if with_short_subtitle and short and doc.subtitle and has_han(doc.subtitle) == han:
        words = f"{words} {_title_words(doc.subtitle, 0)}".strip()
    return words.replace(" ", "") if han else " ".join(words.split())


def title_key(doc: BibDocument, *, proper: str | None = None) -> str:
    """The title part of the weak key: the first words / Han characters of :func:`full_title`."""
    words = full_title(doc, with_short_subtitle=True, proper=proper)
    if has_han(words):
        return words[:HAN_CHARS]
    return " ".join(words.split()[:LATIN_WORDS])


#: Words that qualify a name's dates ("active 13th century", "approximately 1210-approximately 1270").
_DATE_QUALIFIERS = frozenset({"active", "approximately", "ca", "fl", "floruit", "born", "died"})


#: A comma or space between the surname and forename of a Han name ("谢, 宗一" in some LC 880s,
#: "谢 宗一" from a UNIMARC $a/$b pair): Chinese writes the name as one word (谢宗一).
_HAN_NAME_GAP = re.compile(r"(?<=[\u3400-\u9fff])[\s,，]+(?=[\u3400-\u9fff])")


def _main_name(doc: BibDocument) -> str:
    name = _BRACKETED.sub("", doc.authors[0])
    return _HAN_NAME_GAP.sub("", name) if has_han(name) else name


def author_words(doc: BibDocument) -> tuple[str, ...]:
    """The main author's heading as folded words, up to its dates (two headings of one person
    differ most often there: "active 13th century" / "approximately 1210-approximately 1270")."""
    if not doc.authors:
        return ()
    name = _main_name(doc)
    words: list[str] = []
    for word in _NON_WORD.sub(" ", fold(name)).split():
        if not word.isalpha() and any(c.isdigit() for c in word):  # a letter is never a digit
            break
        if word not in _DATE_QUALIFIERS:
            words.append(word)
    return tuple(words)


#: Where a Han name's heading stops being the name: a comma, dates, a bracketed addition.
_HAN_NAME_END = re.compile(r"[,，\d(（]")


def author_key(doc: BibDocument) -> str:
    """The author part of the weak key (see module docstring)."""
    if not doc.authors:
        return ""
    name = _main_name(doc)
    if has_han(name):
        name = _HAN_NAME_END.split(name, maxsplit=1)[0]
        return _HAN_ONLY.sub("", fold(name))[:AUTHOR_HAN_CHARS]
    surname = fold(name.split(",", 1)[0])
    words = _NON_WORD.sub(" ", surname).split()
    return words[0] if words else ""


def weak_key(
    doc: BibDocument, part: str | None = None, *, proper: str | None = None, author: str | None = None
) -> str | None:
    """``w:<title>|<author>|<year>|<part>``, or ``None`` when missing or too generic. ``proper``
    and ``author``: the title proper's words and :func:`author_key` when the caller has them."""
    title = title_key(doc, proper=proper)
    if not title:
        return None
    author = author_key(doc) if author is None else author
    generic = title in _GENERIC or len(title.replace(" ", "")) < (2 if has_han(title) else 4)
    if generic and not author:
        return None
    year = str(doc.year) if doc.year else ""
    return f"w:{title}|{author}|{year}|{part or ''}"


