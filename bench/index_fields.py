"""What the issue 13 fields cost: document-building CPU, indexing time and index size, mapping v2
against v3 over the same union documents. Run: ``python -m bench.index_fields [--es URL] [--write]``.

Corpus: the first ``--latin`` records of LC "Books All" 2016 part 1 (mostly Latin script) and all
8,030 Chinese records of the same file. Each record becomes a one-source union record
(:func:`indexer.union.build_union`) and its index document (:func:`indexer.union.to_es_document`).
The v2 index gets the same documents without the v3 fields. Each index is bulk-loaded from the
prepared documents (timed), refreshed and force-merged to one segment before its size is read.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, helpers

from bench.cjk_analysis import HEADING
from bench.common import shared_data, stamp, write_section
from indexer.index import MAPPINGS_DIR
from indexer.union import MemberInfo, SourceView, _analysed_fields, _call_numbers, build_union, to_es_document
from mappings import crosswalk

V3_ONLY = ("publisher_t", "title_cjk", "author_cjk", "subject_cjk", "series_cjk", "publisher_cjk", "all_cjk",
           "title_py", "author_py", "subject_py", "callnumber")
MEMBER = MemberInfo("lc", "美国国会图书馆", "Library of Congress", "national", "national")


def raw_records(path: Path, limit: int | None) -> list[bytes]:
    with gzip.open(path) as fh:
        data = fh.read() if limit is None else fh.read(limit * 4000)
    records = [r + b"\x1d" for r in data.split(b"\x1d") if len(r) > 24]
    return records[:limit] if limit else records


def unions(raws: list[bytes]) -> list[dict[str, Any]]:
    out = []
    for i, raw in enumerate(raws):
        try:
            doc = crosswalk(raw, "iso2709")
        except Exception:  # noqa: BLE001 - a record the crosswalk refuses is not part of the corpus
            continue
        out.append(build_union(f"u{i:08d}", [SourceView(MEMBER, doc.local_id or str(i), doc.to_dict())]))
    return out


def load(es: Elasticsearch, version: int, docs: list[dict[str, Any]]) -> tuple[float, int]:
    body = json.loads((MAPPINGS_DIR / f"records-v{version}.json").read_text())
    body.pop("_comment")
    name = f"bench13-fields-v{version}"
    es.indices.delete(index=name, ignore_unavailable=True)
    es.indices.create(index=name, settings={**body["settings"], "refresh_interval": "-1"}, mappings=body["mappings"])
    started = time.perf_counter()
    helpers.bulk(es, ({"_index": name, "_id": d["id"], "_source": d} for d in docs), chunk_size=1000)
    es.indices.refresh(index=name)
    took = time.perf_counter() - started
    es.indices.forcemerge(index=name, max_num_segments=1, request_timeout=600)
    size = es.indices.stats(index=name, metric="store")["indices"][name]["primaries"]["store"]["size_in_bytes"]
    es.indices.delete(index=name)
    return took, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--es", default="http://127.0.0.1:9200")
    parser.add_argument("--latin", type=int, default=20_000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    es = Elasticsearch(args.es, request_timeout=300)
    data = shared_data() / "marc21"
    records = unions(raw_records(data / "lc-booksall-2016-part01.mrc.gz", args.latin)
                     + raw_records(data / "lc-booksall-2016-part01-chinese.mrc.gz", None))
    started = time.process_time()
    v3 = [to_es_document(u) for u in records]
    whole = time.process_time() - started
    started = time.process_time()
    for union, doc in zip(records, v3, strict=True):
        _analysed_fields({k: doc[k] for k in ("title_t", "author_t", "subject_t", "series_t")},
                         doc["publisher_t"], doc["all_t"])
        _call_numbers(union)
    extra = time.process_time() - started
    v2 = [{k: v for k, v in d.items() if k not in V3_ONLY} for d in v3]
    t2, s2 = load(es, 2, v2)
    t3, s3 = load(es, 3, v3)
    n = len(records)
    text = "\n".join([
        f"{stamp()}; {n:,} union documents ({args.latin:,} first records of LC Books All 2016 part 1 + its 8,030 "
        "Chinese records), one source each; `bench/index_fields.py`.",
        "",
        "| | mapping v2 | mapping v3 (issue 13 fields) | v3 / v2 |",
        "|---|---|---|---|",
        f"| document building, CPU µs per record | {(whole - extra) / n * 1e6:.0f} | {whole / n * 1e6:.0f} | "
        f"{whole / (whole - extra):.2f} |",
        f"| bulk indexing + refresh, s | {t2:.1f} | {t3:.1f} | {t3 / t2:.2f} |",
        f"| index size after force merge, MB | {s2 / 1e6:.1f} | {s3 / 1e6:.1f} | {s3 / s2:.2f} |",
    ])
    print(text)
    if args.write:
        write_section("Index size and build time of the new fields", text, heading=HEADING)


if __name__ == "__main__":
    main()
