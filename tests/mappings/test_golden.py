"""Real records in, complete expected documents out (see tests/mappings/golden.py)."""

from __future__ import annotations

import json

import pytest

from tests.mappings.golden import SAMPLES, expected_output, golden_path


@pytest.mark.parametrize("name", SAMPLES)
def test_record_maps_to_golden_document(name: str) -> None:
    expected = json.loads(golden_path(name).read_text(encoding="utf-8"))
    actual = json.loads(json.dumps(expected_output(name), ensure_ascii=False))
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert got == want
