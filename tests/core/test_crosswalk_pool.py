"""Pages crosswalked in worker processes give the same documents, match keys and rejects as in process."""

from __future__ import annotations

import os

from catalog.crosswalk_pool import MAX_AUTO_WORKERS, MIN_PARALLEL, CrosswalkPool, _document_json
from mappings import CrosswalkError, crosswalk
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
