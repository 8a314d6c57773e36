"""Which Chinese analysis to index: overlapping bigrams, jieba words, or the per-character phrases
used before (issue 13). Run: ``python -m bench.cjk_analysis [--es URL]``.

Corpus: the Chinese records of the LC "Books All" 2016 file, part 1 (8,030 records), plus the demo's
CNMARC records. Each record gives one index document with a title field and an "everything" field
(title, authors, subjects, series, publisher, notes), analysed three ways:

* ``char``: the standard tokenizer's one token per Han character, a Han run matched as a phrase
  (the matching before issue 13);
* ``bigram``: overlapping bigrams indexed; the query cut into words by jieba, each word a phrase of
  its bigrams, a one-character word a term of the per-character field (:mod:`mappings.analysis.han`,
  what unicat does);
* ``both``: as ``bigram``, or else most (2/3) of the query's bigrams in any order (a looser net for
  words jieba cuts differently from the record);
* ``jieba``: jieba's search-mode words indexed; the query cut by jieba, each word a term.

Queries are made by rule from the records' own fields, before and apart from any ranking:

* ``apart``: two words jieba finds in a title that do not stand next to each other, typed
  second-first and without a space (``历史中国`` for a title holding 中国 … 历史). The relevant records
  are every record whose text holds both words (substring check on the folded text);
* ``substr``: the same with two 2-character pieces of the title cut at random positions, no
  dictionary involved (words a dictionary may not know, such as names);
* ``known``: the whole title; the target is the record itself (rank of its first hit).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import time
from typing import Any

from elasticsearch import Elasticsearch, helpers

from bench.common import pct, shared_data, stamp, write_section
from mappings import crosswalk
from mappings.analysis import bigrams, cjk_runs, cjk_text, query_words
from mappings.analysis.han import _tokenizer
from mappings.textnorm import fold
from unicat.settings import PROJECT_ROOT

HEADING = "## Chinese search: analysis, pinyin, query syntax (issue 13)"
INDEX = "bench13-cjk"
_HAN_RUN = re.compile(r"[\u3400-\u9fff]+")


def load_documents() -> list[dict[str, str]]:
    docs: list[dict[str, str]] = []
    with gzip.open(shared_data() / "marc21" / "lc-booksall-2016-part01-chinese.mrc.gz") as fh:
        raw_lc = fh.read()
    sources: list[tuple[bytes, str]] = [(r + b"\x1d", "iso2709") for r in raw_lc.split(b"\x1d") if len(r) > 24]
    cnmarc = (PROJECT_ROOT / "demo" / "data" / "bnu-cnmarc.xml").read_bytes()
    sources += [(m.encode(), "xml") for m in re.findall(r"<record\b.*?</record>", cnmarc.decode(), flags=re.S)]
    for raw, encoding in sources:
        try:
            doc = crosswalk(raw, encoding)
        except Exception:  # noqa: BLE001 - an unreadable record is simply not part of the corpus
            continue
        title = fold(" ".join(filter(None, [doc.title, doc.subtitle])))
        if not _HAN_RUN.search(title):
            continue
        rest = [*doc.authors, *doc.subjects, *doc.series, doc.publisher or "", *doc.notes]
        docs.append({"id": str(len(docs)), "title": title, "all": fold(" ".join([title, *rest]))})
    return docs


def jieba_text(text: str) -> str:
    words: list[str] = []
    for run in cjk_runs(text):
        words.extend(w for w in _tokenizer().cut_for_search(run, HMM=False) if w.strip())
    return " ".join(words)


def build_index(es: Elasticsearch, docs: list[dict[str, str]]) -> dict[str, float]:
    es.indices.delete(index=INDEX, ignore_unavailable=True)
    props: dict[str, Any] = {}
    for name in ("title", "all"):
        props[f"{name}_char"] = {"type": "text", "analyzer": "standard"}
        props[f"{name}_bigram"] = {"type": "text", "analyzer": "whitespace"}
        props[f"{name}_jieba"] = {"type": "text", "analyzer": "whitespace"}
    es.indices.create(index=INDEX, mappings={"properties": props}, settings={"number_of_shards": 1})
    cpu = {"bigram": 0.0, "jieba": 0.0}

    def actions():  # type: ignore[no-untyped-def]
        for doc in docs:
            body: dict[str, str] = {}
            for name in ("title", "all"):
                body[f"{name}_char"] = doc[name]
                t0 = time.process_time()
                body[f"{name}_bigram"] = cjk_text(doc[name])
                t1 = time.process_time()
                body[f"{name}_jieba"] = jieba_text(doc[name])
                cpu["bigram"] += t1 - t0
                cpu["jieba"] += time.process_time() - t1
            yield {"_index": INDEX, "_id": doc["id"], "_source": body}

    helpers.bulk(es, actions(), chunk_size=1000)
    es.indices.refresh(index=INDEX)
    return {k: v / len(docs) * 1e6 for k, v in cpu.items()}


def query(method: str, text: str) -> dict[str, Any]:
    fields = [f"title_{method}^3", f"all_{method}"]
    if method == "char":
        must = [{"multi_match": {"query": run, "type": "phrase", "fields": fields}} for run in _HAN_RUN.findall(text)]
    elif method in ("bigram", "both"):
        must = []
        for run in cjk_runs(text):
            words = [_word_clause(word) for word in query_words(run)]
            if method == "both" and len(run) > 2:
                grams = bigrams(run)
                loose = {"multi_match": {"query": " ".join(grams), "fields": ["title_bigram^3", "all_bigram"],
                                         "minimum_should_match": max(1, len(grams) * 2 // 3)}}
                must.append({"bool": {"should": [{"bool": {"must": words, "boost": 2}}, loose],
                                      "minimum_should_match": 1}})
            else:
                must.extend(words)
    else:
        must = [{"multi_match": {"query": w, "fields": fields}} for run in cjk_runs(text) for w in query_words(run)]
    should = [{"match_phrase": {"title_char": {"query": text, "boost": 6}}}]
    return {"bool": {"must": must, "should": should}}


def _word_clause(word: str) -> dict[str, Any]:
    if len(word) < 2:
        return {"multi_match": {"query": word, "type": "phrase", "fields": ["title_char^3", "all_char"]}}
    grams = " ".join(bigrams(word))
    return {"multi_match": {"query": grams, "type": "phrase", "fields": ["title_bigram^3", "all_bigram"]}}


def make_queries(docs: list[dict[str, str]], rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    apart, substr, known = [], [], []
    for doc in rng.sample(docs, min(600, len(docs))):
        title = doc["title"]
        words = [w for run in _HAN_RUN.findall(title) for w in _tokenizer().cut(run, HMM=False) if len(w) >= 2]
        pairs = [(a, b) for i, a in enumerate(words) for b in words[i + 2 :] if a != b and a not in b and b not in a]
        if pairs and len(apart) < 200:
            a, b = rng.choice(pairs)
            apart.append({"q": b + a, "words": (a, b), "target": doc["id"]})
        longest = max(_HAN_RUN.findall(title), key=len)
        if len(longest) >= 7 and len(substr) < 200:
            i = rng.randrange(0, len(longest) - 6)
            j = rng.randrange(i + 4, len(longest) - 1)
            a, b = longest[i : i + 2], longest[j : j + 2]
            substr.append({"q": b + a, "words": (a, b), "target": doc["id"]})
        if len(known) < 200:
            known.append({"q": title, "target": doc["id"]})
    return {"apart": apart, "substr": substr, "known": known}


def evaluate(es: Elasticsearch, docs: list[dict[str, str]], queries: dict[str, list[dict[str, Any]]]) -> list[str]:
    rows = []
    for method in ("char", "bigram", "both", "jieba"):
        for kind, items in queries.items():
            in20, recalls, precisions, ranks, took = 0, [], [], [], []
            for item in items:
                res = es.search(index=INDEX, query=query(method, item["q"]), size=1000, source=False,
                                track_total_hits=True)
                took.append(res["took"])
                ids = [h["_id"] for h in res["hits"]["hits"]]
                if item["target"] in ids[:20]:
                    in20 += 1
                if kind == "known":
                    ranks.append(1.0 / (ids.index(item["target"]) + 1) if item["target"] in ids else 0.0)
                    continue
                relevant = {d["id"] for d in docs if all(w in d["all"] for w in item["words"])}
                found = set(ids) & relevant
                recalls.append(len(found) / len(relevant))
                precisions.append(len(found) / len(ids) if ids else 1.0)
            n = len(items)
            extra = (f"MRR {sum(ranks) / n:.3f}" if kind == "known"
                     else f"recall {sum(recalls) / n:.3f}, precision {sum(precisions) / n:.3f}")
            rows.append(f"| {method} | {kind} | {n} | {in20 / n:.3f} | {extra} | {pct(took, 95):.0f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--es", default="http://127.0.0.1:9200")
    parser.add_argument("--write", action="store_true", help="write the table into bench/RESULTS.md")
    args = parser.parse_args()
    es = Elasticsearch(args.es, request_timeout=120)
    docs = load_documents()
    cpu = build_index(es, docs)
    stats = es.indices.stats(index=INDEX, metric="store")["indices"][INDEX]["primaries"]["store"]["size_in_bytes"]
    sizes = {m: sum(len(d[f"{n}"]) for d in docs for n in ("title", "all")) for m in ("chars",)}
    queries = make_queries(docs, random.Random(13))
    rows = evaluate(es, docs, queries)
    text = "\n".join([
        f"{stamp()}; {len(docs)} records with a Han title (LC Chinese 2016 part 1 + demo CNMARC); "
        f"queries by rule from the records (see `bench/cjk_analysis.py`), random seed 13.",
        "",
        "| method | queries | n | target in top 20 | over the whole result list | p95 took (ms) |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Term-making CPU per record (title + everything field): bigrams {cpu['bigram']:.0f} µs, "
        f"jieba search mode {cpu['jieba']:.0f} µs; test index {stats / 1e6:.1f} MB "
        f"({sizes['chars'] / 1e6:.1f} M characters of text).",
    ])
    print(text)
    if args.write:
        write_section("Bigrams or jieba: measured", text, heading=HEADING)
    print(json.dumps({"docs": len(docs)}))


if __name__ == "__main__":
    main()
