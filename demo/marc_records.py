"""MARC records for the demo OAI-PMH provider: reading files, datestamps, MARCXML and DC writers."""

from __future__ import annotations

import gzip
import io
import logging
import re
import xml.etree.ElementTree as ET  # noqa: N817 - pymarc builds stdlib elements
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymarc
from lxml import etree
from oaipmh import common
from oaipmh.metadata import MetadataRegistry
from oaipmh.server import oai_dc_writer

log = logging.getLogger(__name__)

DEFAULT_DATESTAMP = datetime(2020, 1, 1)
SET_RE = re.compile(r"[^A-Za-z0-9_.!~*'()-]+")


def utcnow() -> datetime:
    """Now, as the naive UTC datetime (whole seconds) the ``oaipmh`` package expects."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def parse_datestamp(value: str) -> datetime:
    value = value.strip()
    if "T" in value:
        return datetime.strptime(value.rstrip("Z"), "%Y-%m-%dT%H:%M:%S")
    return datetime.strptime(value, "%Y-%m-%d")


# --------------------------------------------------------------------------- reading records


def read_marc_file(path: Path) -> list[pymarc.Record]:
    """All records of an ISO 2709 or MARCXML file (gzip allowed), decoded to Unicode."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    if raw.lstrip()[:1] == b"<" or raw[:3] == b"\xef\xbb\xbf":
        return [r for r in pymarc.parse_xml_to_array(io.BytesIO(raw)) if r is not None]
    records = []
    reader = pymarc.MARCReader(raw, to_unicode=True, force_utf8=False, utf8_handling="replace")
    for record in reader:
        if record is None:
            log.warning("%s: skipped an unreadable record: %s", path, reader.current_exception)
            continue
        record.leader = pymarc.Leader(str(record.leader)[:9] + "a" + str(record.leader)[10:])
        records.append(record)
    return records


def record_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    suffixes = (".mrc", ".mrc.gz", ".iso", ".xml", ".xml.gz", ".marcxml")
    return sorted(p for p in source.iterdir() if p.is_file() and p.name.endswith(suffixes))


def set_name_for(path: Path) -> str:
    stem = path.name.split(".")[0]
    return SET_RE.sub("-", stem).strip("-") or "records"


def control(record: pymarc.Record, tag: str) -> str:
    """The data of a control field, or ``""``."""
    fld = record.get(tag)
    return (fld.data or "") if fld is not None else ""


def language_008(record: pymarc.Record) -> str:
    return control(record, "008")[35:38].strip()


def datestamp_from_005(record: pymarc.Record) -> datetime:
    field005 = record.get("005")
    data = field005.data if field005 is not None and field005.data else ""
    try:
        return datetime.strptime(data[:14], "%Y%m%d%H%M%S")
    except ValueError:
        return DEFAULT_DATESTAMP


# --------------------------------------------------------------------------- metadata


def _subfields(record: pymarc.Record, tags: Iterable[str], codes: str) -> list[str]:
    values = []
    for fld in record.get_fields(*tags):
        text = " ".join(v for c, v in ((s.code, s.value) for s in fld.subfields) if c in codes).strip()
        if text:
            values.append(text.rstrip(" /:;,."))
    return values


def marc_to_dc(record: pymarc.Record) -> dict[str, list[str]]:
    """A simple Dublin Core view of a MARC 21 (or UNIMARC) record."""
    if record.get("245") is None and record.get("200") is not None:  # UNIMARC
        return {
            "title": _subfields(record, ["200"], "aehi"),
            "creator": _subfields(record, ["700", "701", "710", "711"], "ab"),
            "subject": _subfields(record, ["606", "600", "610"], "a"),
            "publisher": _subfields(record, ["210", "214"], "c"),
            "date": _subfields(record, ["210", "214"], "d"),
            "identifier": [f"ISBN {v}" for v in _subfields(record, ["010"], "a")],
            "language": _subfields(record, ["101"], "a"),
            "type": ["text"],
        }
    lang = language_008(record)
    return {
        "title": _subfields(record, ["245"], "abnp"),
        "creator": _subfields(record, ["100", "110", "111", "700", "710", "711"], "abcdq"),
        "subject": _subfields(record, ["600", "610", "650", "651"], "a"),
        "description": _subfields(record, ["520"], "a"),
        "publisher": _subfields(record, ["260", "264"], "b"),
        "date": _subfields(record, ["260", "264"], "c"),
        "identifier": [f"ISBN {v}" for v in _subfields(record, ["020"], "a")],
        "language": [lang] if lang else [],
        "type": ["text"],
    }


class MarcMetadata(common.Metadata):
    """The metadata object handed to the writers: the pymarc record plus a lazy DC map."""

    def __init__(self, record: pymarc.Record) -> None:
        super().__init__(None, {})
        self.record = record
        self._map: dict[str, list[str]] = {}

    def getMap(self) -> dict[str, list[str]]:  # noqa: N802 - oaipmh interface
        if not self._map:
            self._map = marc_to_dc(self.record)
        return self._map


def marc21_writer(element: Any, metadata: MarcMetadata) -> None:
    node = pymarc.record_to_xml_node(metadata.record, namespace=True)
    element.append(etree.fromstring(ET.tostring(node, encoding="utf-8")))


def metadata_registry() -> MetadataRegistry:
    registry = MetadataRegistry()
    registry.registerWriter("marc21", marc21_writer)
    registry.registerWriter("oai_dc", oai_dc_writer)
    return registry
