"""Dublin Core (``oai_dc``) → :class:`BibDocument`.

dc:title (first is the title, later ones parallel titles; a " : " splits off a subtitle),
dc:creator then dc:contributor → authors, dc:subject → subjects, dc:identifier → ISBN / ISSN /
link (``http(s)://`` URLs; ``urn:isbn:`` and ``ISBN ...`` prefixes understood; other identifiers
are ignored), dc:date → year (first four-digit year), dc:language → ISO 639-2 code when it is
one (two-letter ISO 639-1 codes converted through ``tables/iso639.json``), dc:publisher,
dc:type → format, dc:description → notes, dc:format → extent.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

from lxml import etree

from mappings._common import CrosswalkError, add_unique, clean, normalise_issn, split_isbns, year_from
from mappings.document import BibDocument, Link

DC_NS = "http://purl.org/dc/elements/1.1/"
_ISBN_RE = re.compile(r"^(?:urn:isbn:|isbn[:\s]*)?([0-9][0-9\- ]{8,16}[0-9Xx])$", re.IGNORECASE)
_ISSN_RE = re.compile(r"^(?:urn:issn:|issn[:\s]*)(\d{4}-?\d{3}[\dXx])$", re.IGNORECASE)
#: dc:type words (lower case, substring match, first hit wins) → format.
_TYPES = (
    ("thesis", "thesis"), ("dissertation", "thesis"), ("学位论文", "thesis"),
    ("periodical", "serial"), ("journal", "serial"), ("serial", "serial"), ("期刊", "serial"),
    ("map", "map"), ("cartographic", "map"), ("score", "score"), ("notated music", "score"),
    ("sound", "audio"), ("audio", "audio"), ("moving image", "video"), ("video", "video"),
    ("film", "video"), ("software", "eresource"), ("dataset", "eresource"),
    ("electronic", "eresource"), ("e-book", "eresource"), ("ebook", "eresource"),
    ("text", "book"), ("book", "book"), ("图书", "book"), ("image", "other"),
)


@cache
def _iso639() -> dict[str, str]:
    table = resources.files("mappings").joinpath("tables/iso639.json").read_text("utf-8")
    return dict(json.loads(table))


def _values(element: etree._Element, name: str) -> list[str]:
    out = []
    for child in element.iter(f"{{{DC_NS}}}{name}"):
        text = " ".join("".join(child.itertext()).split())
        if text:
            out.append(text)
    return out


def map_dc(element: etree._Element, local_id: str | None = None) -> BibDocument:
    """Map an ``oai_dc:dc`` element; :class:`CrosswalkError` when it has no title."""
    doc = BibDocument(source_format="dc", local_id=local_id)
    titles = _values(element, "title")
    if not titles:
        raise CrosswalkError("Dublin Core record has no dc:title")
    title, _, subtitle = titles[0].partition(" : ")
    doc.title = clean(title)
    doc.subtitle = clean(subtitle)
    for other in titles[1:]:
        add_unique(doc.parallel_titles, clean(other))
    if not doc.title:
        raise CrosswalkError("Dublin Core record has an empty dc:title")
    for value in _values(element, "creator") + _values(element, "contributor"):
        add_unique(doc.authors, clean(value))
    for value in _values(element, "subject"):
        add_unique(doc.subjects, clean(value))
    _identifiers(_values(element, "identifier"), doc)
    for value in _values(element, "date"):
        doc.year = year_from(value)
        if doc.year:
            break
    for value in _values(element, "language"):
        code = value.strip().lower()
        code = _iso639().get(code, code) if len(code) == 2 else code
        if len(code) == 3 and code.isalpha():
            add_unique(doc.languages, code)
    publishers = _values(element, "publisher")
    doc.publisher = clean(publishers[0]) if publishers else None
    doc.format = _format(_values(element, "type"), doc)
    for value in _values(element, "description"):
        add_unique(doc.notes, clean(value))
    extents = _values(element, "format")
    doc.extent = clean(extents[0]) if extents else None
    return doc


def _identifiers(values: list[str], doc: BibDocument) -> None:
    for value in values:
        if value.lower().startswith(("http://", "https://")):
            doc.links.append(Link(url=value))
            continue
        issn = _ISSN_RE.match(value)
        if issn:
            add_unique(doc.issns, normalise_issn(issn.group(1)))
            continue
        isbn = _ISBN_RE.match(value)
        if isbn:
            split_isbns([isbn.group(1).replace(" ", "")], doc.isbns, doc.invalid_isbns)


def _format(types: list[str], doc: BibDocument) -> str:
    for value in types:
        lower = value.lower()
        for word, fmt in _TYPES:
            if word in lower:
                return fmt
    return "serial" if doc.issns and not doc.isbns else "book"
