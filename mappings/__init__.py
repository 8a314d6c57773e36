"""Crosswalks: one raw source record → one :class:`BibDocument` plus match keys.

Pure functions, no I/O::

    doc = crosswalk(raw, "iso2709")          # syntax detected
    keys = match_keys(doc)
    xml = to_marcxml(raw, "iso2709")         # for display

Anything unusable (unparseable XML, garbage leader, no title) raises :class:`CrosswalkError`
and nothing else.
"""

from __future__ import annotations

from mappings._common import CrosswalkError
from mappings.dc import map_dc
from mappings.document import BibDocument, Holding, Link
from mappings.indexed import IndexedRecord
from mappings.marc21 import map_marc21
from mappings.marcio import dc_to_text, detect_marc, parse_iso2709, parse_xml, record_to_marcxml
from mappings.matchkeys import MatchKeys, key_strings, match_keys
from mappings.matchrules import compatible
from mappings.textnorm import fold, has_han
from mappings.unimarc import map_unimarc

__all__ = [
    "BibDocument",
    "CrosswalkError",
    "Holding",
    "Link",
    "MatchKeys",
    "compatible",
    "crosswalk",
    "detect_syntax",
    "fold",
    "has_han",
    "key_strings",
    "match_keys",
    "to_marcxml",
]

_SYNTAXES = ("marc21", "unimarc", "dc")


def _iso2709(encoding: str) -> str | None | bool:
    """For ``"iso2709"`` None, for ``"iso2709;cp1251"`` (a files feed's declared character set,
    see :data:`mappings.marcio.CHARSETS`) the character set; False for any other encoding."""
    base, _, charset = encoding.partition(";")
    return (charset or None) if base == "iso2709" else False


def crosswalk(raw: bytes, encoding: str, syntax: str | None = None) -> BibDocument:
    """Parse ``raw`` (``encoding`` "xml", "iso2709" or "iso2709;<charset>") and map it to a document.

    ``syntax`` ("marc21", "unimarc", "dc") is trusted for MARC 21 vs UNIMARC; ``None`` means
    detect. Whether XML holds MARC or Dublin Core is always decided by its content. A title that
    still holds bytes no character set could read (U+FFFD) is a named reject, not a stored
    garbled title.
    """
    try:
        charset = _iso2709(encoding)
        if encoding == "xml":
            parsed = parse_xml(raw)
            if parsed.dc is not None:
                return map_dc(parsed.dc)
            record, hint = parsed.record, parsed.hint
        elif charset is not False:
            record, hint = parse_iso2709(raw, charset), None
        else:
            raise CrosswalkError(f"unknown encoding {encoding!r}")
        assert record is not None
        indexed = IndexedRecord(record)
        chosen = syntax if syntax in ("marc21", "unimarc") else detect_marc(indexed, hint)
        doc = map_unimarc(indexed) if chosen == "unimarc" else map_marc21(indexed)
        if doc.title and "\ufffd" in doc.title:
            raise CrosswalkError(f"title has bytes that are neither UTF-8 nor MARC-8: {doc.title[:80]!r}")
        return doc
    except CrosswalkError:
        raise
    except Exception as exc:  # a crosswalk bug or hostile input must not stop a harvest page
        raise CrosswalkError(f"{type(exc).__name__}: {exc}") from exc


def detect_syntax(raw: bytes, encoding: str) -> str:
    """"marc21", "unimarc" or "dc" for a raw record; :class:`CrosswalkError` when unreadable."""
    try:
        if encoding == "xml":
            parsed = parse_xml(raw)
            if parsed.dc is not None:
                return "dc"
            assert parsed.record is not None
            return detect_marc(parsed.record, parsed.hint)
        charset = _iso2709(encoding)
        if charset is not False:
            return detect_marc(parse_iso2709(raw, charset))
        raise CrosswalkError(f"unknown encoding {encoding!r}")
    except CrosswalkError:
        raise
    except Exception as exc:
        raise CrosswalkError(f"{type(exc).__name__}: {exc}") from exc


def to_marcxml(raw: bytes, encoding: str) -> str:
    """MARCXML (UTF-8, MARC 21 slim namespace) of a MARC record for display; for Dublin Core the
    ``oai_dc:dc`` XML itself. :class:`CrosswalkError` when unreadable."""
    try:
        if encoding == "xml":
            parsed = parse_xml(raw)
            if parsed.dc is not None:
                return dc_to_text(parsed.dc)
            assert parsed.record is not None
            return record_to_marcxml(parsed.record)
        charset = _iso2709(encoding)
        if charset is not False:
            return record_to_marcxml(parse_iso2709(raw, charset))
        raise CrosswalkError(f"unknown encoding {encoding!r}")
    except CrosswalkError:
        raise
    except Exception as exc:
        raise CrosswalkError(f"{type(exc).__name__}: {exc}") from exc
