"""Helpers shared by the crosswalks: the error type, ISBD clean-up and identifier normalisation."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

from stdnum import ean as stdnum_ean
from stdnum import isbn as stdnum_isbn
from stdnum import issn as stdnum_issn
from stdnum.exceptions import ValidationError

from mappings.document import Holding


class CrosswalkError(ValueError):
    """A source record cannot be turned into a document; the message says why."""


_NSB = ("\u0088", "\u0098")
_NSE = ("\u0089", "\u009c")
_MARKERS = dict.fromkeys(map(ord, "\u0088\u0089\u0098\u009c"))
_TRAILING = " /:;,=.\t\u3000"
_YEAR_RE = re.compile(r"(?<!\d)(1[0-9]{3}|20[0-9]{2})(?!\d)")
_NCR_RE = re.compile(r"&#(x[0-9a-fA-F]{1,6}|[0-9]{1,7});")
#: MARC-8 puts a diacritic before its base letter; when the letter is a character reference the
#: converter leaves the mark after the "&" ("&\u0301#x03B1;"): it belongs after the decoded letter.
_COMBINING = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_MARKED_NCR_RE = re.compile(f"&([{_COMBINING}]+)(#(?:x[0-9a-fA-F]{{1,6}}|[0-9]{{1,7}});)")
_PAGES_RE = re.compile(
    r"((?:\[?\d+\]?\s*,\s*)*\[?\d+\]?)\s*(?:p\b|pp\b|pages?\b|pag|páginas|s\.|S\.|f\.|ff\.|leaves|feuillets|页|頁|面)",
    re.IGNORECASE,
)
_PRELIMINARY_LEAVES = re.compile(r"\.?\s*l\.")
_BARE_PAGES_RE = re.compile(r"^(?:\[?[ivxlcdm]+\]?,\s*)?(\d+)\s*[;:,.]?$", re.IGNORECASE)
_ISSN_RE = re.compile(r"\b(\d{4})-?(\d{3}[\dXx])\b")
_LCCN_SPACES = re.compile(r"\s+")


def clean(value: str | None) -> str | None:
    """Strip ISBD trailing punctuation (`` /:;,=.``) and surrounding space; ``None`` when empty.

    A trailing full stop after a single capital (an initial, "Smith, J.") is kept, and an
    unbalanced ISBD bracket left by subfield boundaries ("[New York :") is dropped.
    """
    if value is None:
        return None
    if "&#" in value:
        value = decode_ncr(value)
    if not value.isascii():
        value = value.translate(_MARKERS)
    text = " ".join(value.split())
    stripped = text.rstrip(_TRAILING)
    if len(stripped) < len(text) and text[len(stripped)] == "." and _ends_in_initial(stripped):
        stripped += "."
    if stripped[:1] == "[" and "]" not in stripped:
        stripped = stripped[1:].lstrip()
    elif stripped[-1:] == "]" and "[" not in stripped:
        stripped = stripped[:-1].rstrip(_TRAILING)
    return stripped or None


def _ends_in_initial(text: str) -> bool:
    """``text`` ends in a lone capital (A-Z) after a space, comma or full stop, or is one: an
    initial ("Smith, J"). ``text`` has had its white space collapsed to single spaces."""
    return "A" <= text[-1:] <= "Z" and (len(text) == 1 or text[-2] in " ,.")


def clean_title(value: str | None) -> tuple[str | None, int]:
    """A cleaned title and its non-filing prefix length from non-sorting markers
    (``"\x98The \x9cbook"`` → ``("The book", 4)``)."""
    if not value:
        return None, 0
    text = value.lstrip()
    if text[:1] in _NSB and any(c in text for c in _NSE):
        end = min(text.index(c) for c in _NSE if c in text)
        article = text[1:end]
        prefix = " ".join(article.split()) + (" " if article[-1:].isspace() else "")
        cleaned = clean(text)
        return cleaned, len(prefix) if cleaned and len(prefix) < len(cleaned) else 0
    return clean(value), 0


def decode_ncr(value: str) -> str:
    """Decode numeric character references (``&#x8ECA;``), which MARC-8 uses for unmappable
    characters (LC's lossless conversion rule)."""
    if not value.isascii():
        value = _MARKED_NCR_RE.sub(lambda m: "&" + m.group(2) + m.group(1), value)
    return _NCR_RE.sub(lambda m: html.unescape(m.group(0)), value)


def join_clean(parts: Iterable[str | None], sep: str = " ") -> str | None:
    """Join the cleaned non-empty parts with ``sep``."""
    out = [c for p in parts if (c := clean(p))]
    return sep.join(out) if out else None


def year_from(text: str | None) -> int | None:
    """First plausible four-digit year (1000-2099) in free text such as ``c1994.`` or ``[2003]``."""
    if not text:
        return None
    match = _YEAR_RE.search(text)
    return int(match.group(1)) if match else None


def closing_year(date_type: str, first: int, second: str, *, single: str, span: str) -> int | None:
    """Last year of publication from coded dates: ``first`` for a type in ``single`` (one date, or
    one with a copyright, original or detailed date beside it), the second date for the ``span``
    type once the span has closed (not "9999", "uuuu" or before the first); else None."""
    if date_type and date_type in single:
        return first
    if date_type == span and second.isdigit() and first <= int(second) < 9999:
        return int(second)
    return None


def pages_from(extent: str | None) -> int | None:
    """Page count from an extent statement: the number before "p."/"pages"/"页"/"S.", or a bare
    number ("320", "xii, 320"); ``None`` for volumes, discs and the like ("3 v.", "1 videodisc")."""
    if not extent:
        return None
    # "[4] p. l., lxvi, 104 p.": "p. l." counts preliminary leaves, not the book's pages.
    match = next((m for m in _PAGES_RE.finditer(extent) if not _PRELIMINARY_LEAVES.match(extent, m.end())), None)
    if match:
        # "viii, 68, [1] p." → 68; "70, 56 p." (two sequences) → 70: the main sequence, not a
        # bracketed unnumbered leaf.
        numbers = [n.strip() for n in match.group(1).split(",")]
        plain = [int(n) for n in numbers if n.isdigit()]
        return max(plain) if plain else max(int(n.strip("[]")) for n in numbers)
    bare = _BARE_PAGES_RE.match(extent.strip())
    return int(bare.group(1)) if bare else None


#: An ISBN as cataloguers type it, after NFKC (full-width digits and colons become ASCII): digits
#: with spaces or hyphens between them ("978 7 5037 1744 4", "7-5037-1744-0"), ending in a digit
#: or an X check digit, after an optional "ISBN" label; a price or qualifier may follow
#: ("：CNY25.00", "(pbk.)").
_SEP = r"[\s\-\u2010-\u2013]?"
_ISBN_TEXT = re.compile(
    rf"(?<![0-9])(?:97[89](?:{_SEP}[0-9]){{10}}|[0-9](?:{_SEP}[0-9]){{8}}{_SEP}[0-9Xx])(?![0-9Xx])"
)
_ISBN_SEPARATORS = re.compile(r"[\s\-\u2010-\u2013]")


def _isbn_token(value: str) -> str:
    """The ISBN part of a subfield's text as bare digits (and X), or ``""``: ``"ISBN 978-7-5037-1744-4
    (pbk.)：CNY25.00"`` → ``"9787503717444"``."""
    text = value if value.isascii() else unicodedata.normalize("NFKC", value)
    match = _ISBN_TEXT.search(text)
    return _ISBN_SEPARATORS.sub("", match.group(0)).upper() if match else ""


def isbn13_of(value: str) -> str | None:
    """The ISBN-13 of the ISBN in a subfield's text, or None. The first word is tried first (how
    most records give it: ``"0804429570 (pbk.)"``), then the digits as typed with spaces, an
    "ISBN" label, full-width digits or a price after them (see :data:`_ISBN_TEXT`)."""
    first = value.strip().split(" ")[0].strip("():;,.").replace("-", "")
    if len(first) in (10, 13) and first[:-1].isdigit():
        found = normalise_isbn(first)
        if found:
            return found
    token = _isbn_token(value)
    return normalise_isbn(token) if token else None


#: ISBN qualifiers naming a package of several things rather than the book ("boxed set", "kit").
_PACKAGE = re.compile(r"\b(?:box(?:ed)?(?: set)?|kit|gift set|slipcase)\b|套装|套裝|礼盒|禮盒", re.IGNORECASE)


def package_isbns(values: Iterable[tuple[str, str]], found: list[str]) -> None:
    """Append to ``found`` the ISBN-13 of each (ISBN text, qualifier) whose qualifier names a box
    or kit; the qualifier may also sit in the ISBN text ("081182487X (boxed set)")."""
    for text, qualifier in values:
        if not _PACKAGE.search(f"{text} {qualifier}"):
            continue
        isbn13 = isbn13_of(text)
        if isbn13 and isbn13 not in found:
            found.append(isbn13)


def split_isbns(values: Iterable[str], valid: list[str], invalid: list[str]) -> None:
    """Append each ISBN found in ``values`` to ``valid`` as ISBN-13, or to ``invalid`` as found.

    A value is the subfield text as catalogued, e.g. ``"7-5037-1744-0 (pbk.)"``, ``"ISBN 978 7 5037
    1744 4：CNY25.00"`` or in full-width digits. An ISBN with a wrong check digit (or none found) is
    kept in ``invalid`` for display and gives no match key.
    """
    for value in values:
        if not value.strip():
            continue
        isbn13 = isbn13_of(value)
        if isbn13:
            if isbn13 not in valid:
                valid.append(isbn13)
        elif value.strip() not in invalid:
            invalid.append(value.strip())


def normalise_isbn(token: str) -> str | None:
    """An ISBN-10 or ISBN-13 (hyphens, spaces, an "ISBN" label, full-width digits allowed) →
    ISBN-13 digits, or ``None`` when its check digit is wrong or it is no ISBN (python-stdnum's
    rules: ISBN-13 only with prefix 978/979).

    A number of one repeated digit ("0000000000") is a placeholder, not an ISBN.
    """
    compact = token if len(token) in (10, 13) and token[:-1].isdigit() else _isbn_token(token)
    if len(set(compact[:-1])) <= 1:
        return None
    try:
        number = stdnum_isbn.validate(compact)
    except ValidationError:
        return None
    if len(number) == 13:
        return number
    body = "978" + number[:9]  # stdnum's to_isbn13 would compact and validate the number again
    return body + stdnum_ean.calc_check_digit(body)


def normalise_issn(value: str | None) -> str | None:
    """``00280836`` / ``0028-0836`` / ``ISSN 0028-0836`` / full-width digits → ``0028-0836`` when
    the check digit is right (python-stdnum), else ``None``."""
    if not value:
        return None
    text = value if value.isascii() else unicodedata.normalize("NFKC", value)
    match = _ISSN_RE.search(text)
    if not match:
        return None
    try:
        digits = stdnum_issn.validate(match.group(1) + match.group(2))
    except ValidationError:
        return None
    return f"{digits[:4]}-{digits[4:]}"


def normalise_lccn(value: str | None) -> str | None:
    """LC's LCCN normalisation: drop blanks and anything after "/", then a hyphen-split serial
    is zero-padded to six digits ("n78-890351" → "n78890351", "2001-1234" → "2001001234")."""
    if not value:
        return None
    text = _LCCN_SPACES.sub("", value).split("/")[0]
    if "-" in text:
        prefix, _, serial = text.partition("-")
        if serial.isdigit():
            text = prefix + serial.zfill(6)
    return text.lower() or None


def add_unique(target: list[str], value: str | None) -> None:
    if value and value not in target:
        target.append(value)


def group_items(items: Iterable[Holding]) -> list[Holding]:
    """Group item-level holdings with the same call number, location, collection and status,
    counting items; the item id is kept only for a group of one."""
    groups: dict[tuple[str | None, ...], Holding] = {}
    for item in items:
        key = (item.call_number, item.location, item.collection, item.status)
        found = groups.get(key)
        if found is None:
            groups[key] = Holding(item.call_number, item.location, item.collection, item.item_id, item.status)
        else:
            found.items += 1
            found.item_id = None
    return list(groups.values())
