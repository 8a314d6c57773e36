"""The crosswalks read a record through IndexedRecord: it must answer exactly as the Record does."""

from __future__ import annotations

import itertools

from mappings.indexed import IndexedRecord
from mappings.marcio import parse_iso2709, parse_xml
from tests.mappings.golden import SAMPLES, split_records


def _records():
    for name in SAMPLES:
        for raw, encoding in split_records(name):
            record = parse_xml(raw).record if encoding == "xml" else parse_iso2709(raw)
            if record is not None:
                yield name, record


def test_tag_lookups_answer_as_the_record_does():
    checked = 0
    for name, record in _records():
        indexed = IndexedRecord(record)
        tags = sorted({field.tag for field in record.fields})
        for tag in [*tags, "999", "880", "6"]:
            assert indexed.get(tag) is record.get(tag), (name, tag)
            assert indexed.get_fields(tag) == record.get_fields(tag), (name, tag)
            assert (tag in indexed) == (tag in record), (name, tag)
        # several tags: fields in record order, not grouped by the tags' order
        for pair in itertools.combinations([*tags[-6:], "999"], 2):
            for asked in (pair, pair[::-1]):
                assert [id(f) for f in indexed.get_fields(*asked)] == [id(f) for f in record.get_fields(*asked)]
        assert indexed.get_fields() == record.get_fields()
        checked += 1
    assert checked > 30


def test_indexing_an_indexed_record_is_the_same_view():
    _, record = next(_records())
    indexed = IndexedRecord.of(record)
    assert IndexedRecord.of(indexed) is indexed
    assert indexed.leader is record.leader and indexed.fields is record.fields
