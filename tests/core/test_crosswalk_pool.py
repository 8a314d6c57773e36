"""Pages crosswalked in worker processes give the same documents, match keys and rejects as in process."""

from __future__ import annotations

from catalog.crosswalk_pool import MIN_PARALLEL, CrosswalkPool
from store.db import decode_json
from tests.core.helpers import DEMO, as_harvested, read_marc


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
