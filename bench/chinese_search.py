"""Chinese search end to end, through :func:`catalog.search.search` with the live profile, over the
LC Chinese records indexed with mapping v3 (issue 13). Run: ``python -m bench.chinese_search [--write]``.

The queries are those of :mod:`bench.cjk_analysis` (two title words apart typed without a space,
two dictionary-free title pieces, the whole title), the first set again in Traditional characters
(OpenCC s2t) and in pinyin (pypinyin's reading of the two words, run together), and pinyin
known-item queries: LC's own romanisation of the title (245 $a $b, ALA-LC)
typed run together without spaces or tones (``zhongguolishi``), which no text field holds, so only
the pinyin fields can find it. The "before" column runs the query the way unicat matched before
issue 13 (each Han run one phrase of characters; Latin words AND), on the same index.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from types import SimpleNamespace
from typing import Any

from elasticsearch import Elasticsearch, helpers

from bench.cjk_analysis import HEADING, make_queries
from bench.common import pct, shared_data, stamp, write_section
from bench.index_fields import MEMBER, raw_records
from catalog.search import SearchQuery, search
from indexer.index import create_index, switch_alias
from indexer.union import SourceView, build_union, to_es_document
from mappings import crosswalk
from mappings.analysis import pinyin_splits, pinyin_syllables
from mappings.textnorm import fold

ALIAS = "bench13-search"
_HAN = re.compile(r"[\u3400-\u9fff]")


def build(es: Elasticsearch) -> list[dict[str, Any]]:
    docs = []
    actions = []
    for i, raw in enumerate(raw_records(shared_data() / "marc21" / "lc-booksall-2016-part01-chinese.mrc.gz", None)):
        try:
            doc = crosswalk(raw, "iso2709")
        except Exception:  # noqa: BLE001 - not part of the corpus
            continue
        union = build_union(f"u{i:08d}", [SourceView(MEMBER, doc.local_id or str(i), doc.to_dict())])
        es_doc = to_es_document(union)
        actions.append({"_index": "", "_id": es_doc["id"], "_source": es_doc})
        title = fold(" ".join(filter(None, [doc.title, doc.subtitle])))
        if _HAN.search(title):
            # LC's romanisation of the title: the parallel title that reads wholly as pinyin (not an
            # English translation)
            roman = next((t for t in doc.parallel_titles if _all_pinyin(t)), "")
            docs.append({"id": es_doc["id"], "title": title, "all": es_doc["all_t"], "roman": roman})
    index = create_index(es, ALIAS)
    for action in actions:
        action["_index"] = index
    helpers.bulk(es, actions, chunk_size=1000)
    es.indices.refresh(index=index)
    switch_alias(es, ALIAS, index)
    return docs


def _all_pinyin(text: str) -> bool:
    words = re.sub(r"[^a-z' ]", " ", fold(text)).split()
    return bool(words) and all(pinyin_splits(w) for w in words)


def before(es: Elasticsearch, q: str) -> list[str]:
    """The matching of unicat before issue 13 (catalog/search.py at that time), for the before column."""
    folded = fold(q)
    fields = ["title_t^4", "author_t^2", "subject_t^2", "series_t", "all_t"]
    must: list[dict[str, Any]] = [{"multi_match": {"query": r, "type": "phrase", "fields": fields}}
                                  for r in re.findall(r"[\u3400-\u9fff\uf900-\ufaff]+", folded)]
    rest = re.sub(r"[\u3400-\u9fff\uf900-\ufaff]+", " ", folded).strip()
    if re.search(r"\w", rest):
        must.append({"multi_match": {"query": rest, "type": "cross_fields", "operator": "and", "fields": fields}})
    should = [{"match_phrase": {"title_t": {"query": folded, "boost": 6}}}]
    res = es.search(index=ALIAS, query={"bool": {"must": must, "should": should}}, size=20, source=False)
    return [h["_id"] for h in res["hits"]["hits"]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--es", default="http://127.0.0.1:9200")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    es = Elasticsearch(args.es, request_timeout=120)
    docs = build(es)
    services = SimpleNamespace(es=es, settings=SimpleNamespace(records_alias=ALIAS, max_result_window=1000,
                                                               search_profile="default-v1"))
    rng = random.Random(13)
    sets = make_queries(docs, rng)
    import opencc

    s2t = opencc.OpenCC("s2t")
    sets["apart, Traditional"] = [{**q, "q": s2t.convert(q["q"])} for q in sets["apart"]]
    # the same two words typed as pinyin, run together (their reading by pypinyin, which the index
    # also uses: this measures the matching of typed pinyin, not the readings; see pinyin_accuracy)
    sets["apart, pinyin"] = [{**q, "q": "".join(pinyin_syllables(q["q"]))} for q in sets["apart"]]
    with_roman = [d for d in docs if len(re.sub(r"[^a-z]", "", fold(d["roman"]))) >= 6]
    sets["pinyin run together"] = [{"q": re.sub(r"[^a-z]", "", fold(d["roman"])), "target": d["id"]}
                                   for d in rng.sample(with_roman, min(200, len(with_roman)))]
    rows = []
    for name, items in sets.items():
        new_in20 = old_in20 = 0
        rr = 0.0
        new_ms: list[float] = []
        old_ms: list[float] = []
        for item in items:
            started = time.perf_counter()
            hits = [h["id"] for h in search(services, SearchQuery(q=item["q"], size=20))["hits"]]  # type: ignore[arg-type]
            new_ms.append((time.perf_counter() - started) * 1000)
            new_in20 += item["target"] in hits
            rr += 1.0 / (hits.index(item["target"]) + 1) if item["target"] in hits else 0.0
            started = time.perf_counter()
            old_in20 += item["target"] in before(es, item["q"])
            old_ms.append((time.perf_counter() - started) * 1000)
        n = len(items)
        rows.append(f"| {name} | {n} | {old_in20 / n:.3f} | {new_in20 / n:.3f} | {rr / n:.3f} | "
                    f"{pct(old_ms, 95):.1f} | {pct(new_ms, 95):.1f} |")
    text = "\n".join([
        f"{stamp()}; {len(docs):,} LC Chinese records with a Han title, indexed with mapping v3; queries through "
        "`catalog.search.search` with profile default-v1; `bench/chinese_search.py`, random seed 13.",
        "",
        "| query set | n | target in top 20, before | target in top 20, now | MRR@20, now | p95 ms, before | "
        "p95 ms, now |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Milliseconds are one client, wall clock per query: \"before\" sends the bare query (no facets), \"now\" "
        "runs `search()` whole (query building in Python, five facets, highlighting), so the ratio is an upper "
        "bound on what the new matching costs.",
    ])
    print(text)
    if args.write:
        write_section("Chinese search end to end: before and now", text, heading=HEADING)


if __name__ == "__main__":
    main()
