"""The quick ISO 2709 decoder (:mod:`mappings.iso2709`) reads what pymarc reads, or declines.

A record the quick decoder takes must come out exactly as pymarc's strict UTF-8 reading makes it;
every record it declines must still be read by pymarc, with pymarc's warnings and repairs. The
larger check, over the LC files and every peer fixture, is ``bench/quick_iso2709.py``.
"""

from __future__ import annotations

import dataclasses

import pytest
from pymarc import Record

import mappings.marcio as marcio
from harvesters.files import split_iso2709
from mappings import CrosswalkError, crosswalk
from mappings.iso2709 import decode_utf8
from tests.mappings.golden import RECORDS

FILES = sorted(RECORDS.glob("*.mrc")) + sorted((RECORDS / "peer").glob("*.mrc")) + sorted(
    (RECORDS / "dirty").glob("*.mrc"))


def _records() -> list[bytes]:
    raws = []
    for path in FILES:
        with path.open("rb") as stream:
            raws += [raw for raw, _problem in split_iso2709(stream)]
    return raws


def _pymarc(raw: bytes) -> Record | None:
    try:
        return Record(data=raw, force_utf8=True, hide_utf8_warnings=True, utf8_handling="strict")
    except Exception:
        return None


def _shape(record: Record) -> tuple:
    return str(record.leader), [
        (f.tag, f.control_field, f.data, f.indicators, f.subfields) for f in record.fields]


def _field(tag: str, body: bytes) -> bytes:
    """A one-field record: ``body`` is the field's bytes before its terminator."""
    data = body + b"\x1e"
    directory = tag.encode() + b"%04d%05d" % (len(data), 0) + b"\x1e"
    base = 24 + len(directory)
    length = base + len(data) + 1
    leader = b"%05dnam a22%05d   4500" % (length, base)
    return leader + directory + data + b"\x1d"


def test_every_sample_record_it_takes_equals_pymarcs_reading() -> None:
    raws = _records()
    taken = 0
    for raw in raws:
        quick = decode_utf8(raw)
        if quick is None:
            continue
        taken += 1
        slow = _pymarc(raw)
        assert slow is not None, raw[:40]
        assert _shape(quick) == _shape(slow)
    assert taken >= 40  # of 53; the MARC-8 and broken samples are left to pymarc


def test_a_record_read_either_way_gives_the_same_document(monkeypatch: pytest.MonkeyPatch) -> None:
    raws = _records()
    quick = [_document(raw) for raw in raws]
    monkeypatch.setattr(marcio, "QUICK_UTF8", False)
    assert quick == [_document(raw) for raw in raws]


def _document(raw: bytes) -> dict | str:
    try:
        return dataclasses.asdict(crosswalk(raw, "iso2709"))
    except CrosswalkError as exc:
        return str(exc)


@pytest.mark.parametrize(("body", "why"), [
    (b"1\x1faOne indicator", "one indicator"),
    (b"100\x1faThree indicators", "three indicators"),
    (b"10\x1f\xc3\xa9Non-ASCII code", "a subfield code that is not ASCII"),
    (b"10\x1faBad \xff UTF-8", "bytes that are not UTF-8"),
])
def test_what_pymarc_repairs_or_refuses_is_left_to_pymarc(body: bytes, why: str) -> None:
    assert decode_utf8(_field("245", body)) is None, why


def test_a_field_past_the_end_of_the_record_is_left_to_pymarc() -> None:
    raw = _field("245", b"10\x1faTitle")
    cut = raw[:-6] + b"\x1d"
    assert decode_utf8(cut) is None


def test_an_ordinary_built_record_is_taken() -> None:
    record = decode_utf8(_field("245", b"10\x1faTitle /\x1fcAuthor."))
    assert record is not None
    field = record.fields[0]
    assert (field.tag, field.indicators, field.get_subfields("a", "c")) == ("245", ("1", "0"), ["Title /", "Author."])
