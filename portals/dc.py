"""The union record as SRU Dublin Core (``info:srw/schema/1/dc-v1.1``)."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from portals.bib import citable

SRW_DC = "info:srw/schema/1/dc-schema"
DC = "http://purl.org/dc/elements/1.1/"


def dc_elements(record: dict[str, Any], base_url: str = "") -> list[tuple[str, str]]:
    """(element, value) pairs; the first identifier is the record's permalink (or its union id)."""
    view = citable(record, base_url)
    pairs: list[tuple[str, str]] = [("identifier", view.url or record["id"]), ("title", view.full_title)]
    pairs += [("creator", name.display()) for name in view.names]
    pairs += [("subject", s) for s in view.subjects]
    if view.publisher:
        pairs.append(("publisher", view.publisher))
    if view.year:
        pairs.append(("date", str(view.year)))
    pairs.append(("type", "Text" if view.kind in ("book", "serial", "eresource", "thesis", "other") else view.kind))
    if view.extent:
        pairs.append(("format", view.extent))
    pairs += [("identifier", f"URN:ISBN:{isbn}") for isbn in view.isbns]
    pairs += [("identifier", f"URN:ISSN:{issn}") for issn in view.issns]
    pairs += [("language", tag) for tag in view.languages]
    pairs += [("description", note) for note in view.notes]
    return pairs


def srw_dc(record: dict[str, Any], base_url: str = "") -> str:
    body = "".join(f"<dc:{name}>{escape(value)}</dc:{name}>" for name, value in dc_elements(record, base_url))
    return f'<srw_dc:dc xmlns:srw_dc="{SRW_DC}" xmlns:dc="{DC}">{body}</srw_dc:dc>'
