"""MARCXML and MARC 21 (ISO 2709) exports: the union record as merged, optionally followed by each
member's source record as received (ISO 2709 bytes unchanged when they arrived as ISO 2709)."""

from __future__ import annotations

from typing import Any

from lxml import etree

from mappings import CrosswalkError, to_marcxml
from mappings.marcio import parse_xml
from portals.marc import union_marcxml, union_to_marc
from portals.records import StoredSource

MARC_NS = "http://www.loc.gov/MARC21/slim"


def _source_marcxml(source: StoredSource) -> str | None:
    """A member's record as MARCXML text (Dublin Core sources have no MARC form: None)."""
    try:
        text = to_marcxml(source.raw, source.encoding)
    except CrosswalkError:
        return None
    return text if MARC_NS in text[:400] else None


def _source_iso2709(source: StoredSource) -> bytes | None:
    if source.encoding == "iso2709":
        return source.raw  # as received, byte for byte
    try:
        parsed = parse_xml(source.raw)
    except CrosswalkError:
        return None
    if parsed.record is None:
        return None
    leader = str(parsed.record.leader)
    parsed.record.leader = leader[:9] + "a" + leader[10:]
    return parsed.record.as_marc()


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def write_marcxml(records: list[dict[str, Any]], *, sources: dict[str, list[StoredSource]]) -> bytes:
    collection = etree.Element(f"{{{MARC_NS}}}collection", nsmap={None: MARC_NS})
    for record in records:
        collection.append(etree.fromstring(union_marcxml(record).encode("utf-8"), _PARSER))
        for source in sources.get(record["id"], []):
            text = _source_marcxml(source)
            if text is not None:
                collection.append(etree.fromstring(text.encode("utf-8"), _PARSER))
    etree.cleanup_namespaces(collection)
    return etree.tostring(collection, xml_declaration=True, encoding="UTF-8")


def write_iso2709(records: list[dict[str, Any]], *, sources: dict[str, list[StoredSource]]) -> bytes:
    out = bytearray()
    for record in records:
        out += union_to_marc(record).as_marc()
        for source in sources.get(record["id"], []):
            raw = _source_iso2709(source)
            if raw is not None:
                out += raw
    return bytes(out)


def source_as_received(source: StoredSource, fmt: str) -> bytes | None:
    """One member's record alone: the stored bytes when they are already in ``fmt``."""
    if fmt == "marc":
        return _source_iso2709(source)
    if source.encoding == "xml" and _source_marcxml(source) is not None:
        return source.raw
    text = _source_marcxml(source)
    if text is None:
        return None
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode("utf-8")
