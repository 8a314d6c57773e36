"""Did-you-mean's sound look-up on mapping v4 against v3: the Han forms offered for pinyin keys.

Mapping v3 had one completion field with the kind as a category context, asked once over every
kind; v4 has a field per kind, asked three times and merged (:func:`catalog.didyoumean._best_options`).
This loads the documents of every Chinese record of LC Books All 2016 part 1 into a v3 index (the
documents reshaped back, as ``bench/es_doc_cost.py`` does) and a v4 index, in corpus order, each
force-merged to one segment, and compares the forms offered for the pinyin of 1–3 characters taken
from the titles (a fixed random draw). Run: ``python -m bench.suggest_fields_check [--keys 1500]``.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from elasticsearch import Elasticsearch, helpers

from bench.common import es_node, shared_data
from bench.es_doc_cost import mapping, with_context
from bench.index_fields import raw_records, unions
from catalog import didyoumean
from indexer.union import to_es_document
from mappings.suggest import KINDS, pinyin_key


def v3_forms(es: Elasticsearch, index: str, key: str) -> list[str]:
    """The forms as the v3 code found them (one completion over every kind's context)."""
    completion = {"field": "suggest", "size": didyoumean.SOUNDS, "skip_duplicates": True,
                  "contexts": {"kind": list(KINDS)}}
    response = es.search(index=index, size=0, suggest={"sound": {"prefix": key, "completion": completion}},
                         source_includes=["display.title", "display.authors", "display.subjects"])
    return didyoumean.han_forms_of(response["suggest"]["sound"][0]["options"], key)


def load(es: Elasticsearch, name: str, body: dict[str, Any], docs: list[dict[str, Any]]) -> None:
    es.indices.delete(index=name, ignore_unavailable=True)
    es.indices.create(index=name, settings={**body["settings"], "refresh_interval": "-1"}, mappings=body["mappings"])
    helpers.bulk(es, ({"_index": name, "_id": d["id"], "_source": d} for d in docs), chunk_size=500)
    es.indices.refresh(index=name)
    es.indices.forcemerge(index=name, max_num_segments=1)


def sound_keys(docs: list[dict[str, Any]], count: int) -> list[str]:
    draw, keys = random.Random(7), set()
    for doc in docs:
        title = doc["display"].get("title") or ""
        if len(title) >= 2 and not title[:1].isascii():
            start = draw.randrange(0, max(1, len(title) - 1))
            if key := pinyin_key(title[start : start + draw.choice((1, 2, 3))]):
                keys.add(key)
    return sorted(keys)[:count]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=1500)
    args = ap.parse_args()
    records = raw_records(shared_data() / "marc21" / "lc-booksall-2016-part01-chinese.mrc.gz", None)
    docs = [to_es_document(u) for u in unions(records)]
    with es_node(Path("var/bench/suggest_fields").resolve()) as url:
        es = Elasticsearch(url, request_timeout=300)
        load(es, "check-v3", mapping(3), [with_context(d) for d in docs])
        load(es, "check-v4", mapping(4), docs)
        v4 = SimpleNamespace(es=es, settings=SimpleNamespace(records_alias="check-v4"))
        keys = sound_keys(docs, args.keys)
        lists = first = 0
        for key in keys:
            old, new = v3_forms(es, "check-v3", key), didyoumean._han_forms(v4, key)  # type: ignore[arg-type]
            lists += old != new
            first += old[:1] != new[:1]
    print(f"{len(docs):,} documents, {len(keys):,} pinyin keys: the forms differ for {lists} "
          f"(the first form for {first})")


if __name__ == "__main__":
    main()
