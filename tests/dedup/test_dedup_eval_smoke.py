"""The dedup evaluation's pairwise metrics on hand-made partitions (bench/dedup_quality.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _module():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("dedup_quality", BENCH / "dedup_quality.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["dedup_quality"] = module
    spec.loader.exec_module(module)
    return module


def test_cluster_scores_count_pairs() -> None:
    dq = _module()
    gold = {1: "a", 2: "a", 3: "a", 4: "b", 5: "c"}
    # predicted: {1,2} {3,4} {5}; gold pairs 12 13 23; predicted pairs 12 34
    predicted = {1: 0, 2: 0, 3: 1, 4: 1, 5: 2, 99: 1}  # 99 is unlabelled: ignored
    s = dq.cluster_scores(predicted, gold)
    assert (s.tp, s.fp, s.fn) == (1, 1, 2)
    assert s.precision == pytest.approx(0.5)
    assert s.recall == pytest.approx(1 / 3)
    assert s.f1 == pytest.approx(0.4)
    assert s.false_merges == [(3, 4)]


def test_pair_scores_use_only_labelled_pairs() -> None:
    dq = _module()
    predicted = {1: 0, 2: 0, 3: 0, 4: 1}
    s = dq.pair_scores(predicted, [(1, 2, True), (1, 3, False), (3, 4, True), (2, 4, False)])
    assert (s.tp, s.fp, s.fn) == (1, 1, 1)
    assert s.misses == [(3, 4)]


def test_label_blind_strips_only_labelling_identifiers() -> None:
    dq = _module()
    from mappings import BibDocument, match_keys

    doc = BibDocument(
        source_format="marc21",
        title="Pride and prejudice",
        authors=["Austen, Jane"],
        year=1813,
        isbns=["9780141439518"],
        oclc=["51033055"],
        lccn=["2002029208"],
    )
    keys = dq.blind(match_keys(doc))
    assert keys.strong == ("lccn:2002029208",)
    assert keys.weak and keys.isbns
