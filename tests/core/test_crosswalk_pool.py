"""Pages crosswalked in worker processes give the same documents, match keys and rejects as in process."""

from __future__ import annotations

import os
import pickle

from catalog.crosswalk_pool import (
    MAX_AUTO_WORKERS,
    MIN_PARALLEL,
    WHOLE_KEYS_SHARE,
    CrosswalkPool,
    _document_json,
    _map_in_worker,
    _received,
    map_one,
)
from mappings import CrosswalkError, crosswalk, match_keys
from store.db import decode_json, encode_json
from tests.core.helpers import DEMO, as_harvested, read_marc
from tests.mappings.golden import SAMPLES, split_records


def test_worker_processes_map_exactly_like_the_main_process():
    records = as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=MIN_PARALLEL + 20))
    items = [(r.raw, r.encoding, None) for r in records]
    items.insert(5, (b"not a MARC record at all", "iso2709", None))
    pool = CrosswalkPool(workers=2)
    try:
        parallel = pool.map(items)
    finally:
        pool.close()
    in_process = CrosswalkPool(workers=1).map(items)
    assert parallel == in_process
    assert parallel[5][0] is None and parallel[5][1] and parallel[5][2] is None
    assert all(text and decode_json(text)["title"] and keys for text, _, keys in parallel[:5] + parallel[6:])


def test_the_default_leaves_a_core_to_the_harvest_and_one_means_in_process():
    cores = os.cpu_count() or 1
    assert CrosswalkPool().processes == min(cores - 1, MAX_AUTO_WORKERS)
    assert CrosswalkPool(workers=1).processes == 0
    assert CrosswalkPool(workers=3).processes == 3
    job = CrosswalkPool(workers=1).submit([(b"not a MARC record at all", "iso2709", None)] * MIN_PARALLEL)
    assert job._futures is None  # mapped in process, on the first result() call


def test_documents_are_stored_as_their_dict_would_be():
    """The workers encode a document from the dataclass (catalog.crosswalk_pool._document_json);
    the stored text must be the one ``to_dict`` gives, for every crosswalk (MARC 21, UNIMARC,
    Dublin Core) and every sample record."""
    formats = set()
    for name in SAMPLES:
        for raw, encoding in split_records(name):
            try:
                doc = crosswalk(raw, encoding)
            except CrosswalkError:
                continue
            formats.add(doc.source_format)
            assert _document_json(doc) == encode_json(doc.to_dict()), name
    assert formats == {"marc21", "unimarc", "dc"}


def test_keys_computed_when_compared_equal_the_keys_computed_whole():
    """A record's match keys are computed whole only when compared (catalog.crosswalk_pool.PageKeys):
    in process, or after a worker sent the key strings alone or every field, they must equal
    ``match_keys`` of the crosswalked document, for every sample record of every crosswalk."""
    checked = 0
    demo = [(r.raw, r.encoding) for r in as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=200))]
    for name, records in [*((name, split_records(name)) for name in SAMPLES), ("calis-lc-chinese.mrc", demo)]:
        for raw, encoding in records:
            item = (raw, encoding, None)
            try:
                whole = match_keys(crosswalk(raw, encoding))
            except CrosswalkError:
                assert map_one(item)[2] is None
                continue
            lazy = map_one(item)[2]
            assert lazy is not None and (lazy.strong, lazy.weak) == (whole.strong, whole.weak)
            assert not lazy.compared and lazy.unpacked() == whole and lazy.compared, name
            for whole_keys in (False, True):
                sent = pickle.loads(pickle.dumps(_map_in_worker([item], whole_keys)))
                assert (sent[0][2][2] is not None) == whole_keys  # the fields travel only when asked for
                assert _received(sent)[0][2].unpacked() == whole, name
            checked += 1
    assert checked > 200


def test_workers_compute_a_feeds_keys_whole_once_most_of_its_page_was_compared():
    records = as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=MIN_PARALLEL))
    items = [(r.raw, r.encoding, None) for r in records]
    pool = CrosswalkPool(workers=2)
    try:
        first = [keys for _, _, keys in pool.map(items)]
        assert all(k._packed is None for k in first)  # nothing known yet: the key strings alone
        compared = int(len(first) * WHOLE_KEYS_SHARE) + 1
        for keys in first[:compared]:
            keys.unpacked()
        pool.observe(first, "m2")
        assert pool.whole_keys("m2")
        second = [keys for _, _, keys in pool.map(items, "m2")]
        assert all(k._packed is not None for k in second) and second == first
        # another member's feed, harvested in turn with it, keeps its own state
        assert not pool.whole_keys("m1")
        assert all(k._packed is None for _, _, k in pool.map(items, "m1"))
        pool.observe([map_one(item)[2] for item in items], "m2")  # a page whose records matched nothing
        assert not pool.whole_keys("m2")
    finally:
        pool.close()
