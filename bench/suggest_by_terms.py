"""Benchmark: author and subject completions from keyword fields and a terms aggregation, against
the completion fields the index has now, on the same 100,000 LC records.

Why: the completion fields are about half of what Elasticsearch spends indexing a document
(``bench/es_doc_cost.py``), and the author and subject ones could be plain keyword fields holding
the same keys, completed at query time by a ``prefix`` filter and a ``terms`` aggregation ordered
by the highest holdings count (what ``skip_duplicates`` and the weight give now). That is cheaper to
index (``es_doc_cost.py --only kw-headings``); this bench prices it where it is paid instead: every
keystroke in a search box.

The documents of the index of :mod:`bench.catalogues` (``lc``, built through the pipeline, or
reused) are loaded into fresh indices the same way (``parallel_bulk``, untimed): one as it is, the
others with ``suggest_author`` and ``suggest_subject`` as keyword fields holding the same keys;
``--segments N`` force-merges them, else they keep the segments the load left (as an index has
after a build: a terms aggregation then maps every segment's terms to global ordinals). Each
request goes straight to Elasticsearch:

- *completion*: the body :func:`catalog.suggest.suggest_body` sends now;
- *terms*: the title completion as now, authors and subjects from a ``terms`` aggregation per kind;
- *terms-map*: the same with ``execution_hint: map`` (no global ordinals);
- *eager*: the same on a third index whose keyword fields have ``eager_global_ordinals`` (built at
  each refresh instead of at the first aggregation after it).

Then what a write costs (:func:`after_refresh`): documents indexed again, a refresh, the next
suggestions timed and the node's CPU for the cycle.

The prefixes (``--prefixes``): those of ``bench/suggest_latency.py`` (mostly titles being typed),
or the first 1, 3 and 6 characters of the first author and subject heading of 100 records.
Measured, rounds alternating: one client (each prefix once a round), then 20 clients; node CPU per
request (:func:`node_cpu_reader`). Answers: for how many prefixes the authors and subjects
offered (the keys, in order) are the same both ways.

    python bench/suggest_by_terms.py [--prefixes titles|headings] [--segments N] [--rounds 3] [--write]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from elasticsearch import Elasticsearch, helpers

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.catalogues import catalogue, work_dir  # noqa: E402
from bench.common import (  # noqa: E402
    LATENCY_TABLE,
    bench_settings,
    es_node,
    latency_row,
    load,
    machine,
    node_cpu,
    process_cpu,
    stamp,
    summary,
    write_section,
)
from bench.es_doc_cost import keyword_heading_fields, keyword_headings  # noqa: E402
from bench.suggest_latency import prefixes  # noqa: E402
from catalog.suggest import PER_KIND, suggest_body  # noqa: E402
from mappings.suggest import FIELDS, query_prefixes  # noqa: E402

HEADING = "## Consortium scale: cluster and faults (issue 19)"
HEADINGS = ("author", "subject")
INDICES = {"completion": "bench19-suggest-completion", "terms": "bench19-suggest-terms",
           "eager": "bench19-suggest-eager"}
LABELS = {"completion": "completion fields (now)", "terms": "keyword fields + terms aggregation",
          "terms-map": "the same, `execution_hint: map`",
          "eager": "the same, `eager_global_ordinals` (built at each refresh)"}
PREFIXES = {"titles": "those of `bench/suggest_latency.py`",
            "headings": "the first 1, 3 and 6 characters of the first author and subject of 100 records"}
#: Lucene regular-expression operators, escaped in a prefix put into an ``include`` pattern.
_REGEX_SPECIAL = re.compile(r'([.?+*|{}\[\]()"\\#@&<>~^$])')


def copy_index(es: Elasticsearch, alias: str, name: str, as_keywords: bool, segments: int | None,
               eager: bool = False) -> None:
    """``name``: the documents of ``alias`` loaded afresh (``parallel_bulk``, as a build loads them),
    with the author and subject completion inputs as keyword values when ``as_keywords`` (their
    global ordinals built at each refresh when ``eager``); force-merged to ``segments`` segments, or
    left as the load left them."""
    source = next(iter(es.indices.get_alias(name=alias)))
    es.indices.delete(index=name, ignore_unavailable=True)
    mappings = es.indices.get_mapping(index=source)[source]["mappings"]
    if as_keywords:
        keyword_heading_fields(mappings, eager)
    settings = es.indices.get_settings(index=source)[source]["settings"]["index"]
    es.indices.create(index=name, mappings=mappings, settings={"analysis": settings.get("analysis", {}),
                                                               "number_of_shards": 1, "number_of_replicas": 0})

    def actions() -> Any:
        for hit in helpers.scan(es, index=alias, query={"query": {"match_all": {}}}):
            doc = keyword_headings(hit["_source"]) if as_keywords else hit["_source"]
            yield {"_index": name, "_id": hit["_id"], "_source": doc}

    for ok, item in helpers.parallel_bulk(es, actions(), chunk_size=500):
        if not ok:
            raise SystemExit(f"copy refused a document: {item}")
    es.indices.refresh(index=name)
    if segments:
        es.indices.forcemerge(index=name, max_num_segments=segments)


def node_cpu_reader(es: Elasticsearch, es_url: str) -> Callable[[], float]:
    """The node's CPU seconds so far: from ``/proc`` when the node runs on this machine (exact), else
    its ``process.cpu`` statistic (refreshed once a second, so coarse for spans of a few seconds)."""
    pid = next(iter(es.nodes.info(metric="process")["nodes"].values()))["process"]["id"]
    if Path(f"/proc/{pid}/stat").exists():
        return lambda: process_cpu(pid)
    return lambda: node_cpu(es_url)


def after_refresh(es: Elasticsearch, cpu: Callable[[], float], alias: str, targets: dict[str, Direct], rounds: int = 10,
                  batch: int = 500) -> dict[str, tuple[float, float, float, float]]:
    """What a write costs the next suggestions, as during a harvest: ``rounds`` times, ``batch``
    documents indexed again and a refresh, then the first ten prefixes once each. Per target: the
    median and the largest first suggestion after a refresh (ms), the median of the other nine, and
    the node's CPU for the whole cycle (ms, median)."""
    docs = [hit["_source"] for hit in es.search(index=alias, size=batch, sort=[{"id": "asc"}])["hits"]["hits"]]
    first: dict[str, list[float]] = {k: [] for k in targets}
    rest: dict[str, list[float]] = {k: [] for k in targets}
    cycle: dict[str, list[float]] = {k: [] for k in targets}
    with httpx.Client(timeout=60) as client:
        for r in range(rounds):
            for kind, target in targets.items() if r % 2 == 0 else list(targets.items())[::-1]:
                keyword = target.index != INDICES["completion"]
                before = cpu()
                helpers.bulk(es, ({"_index": target.index, "_id": d["id"], "_source": keyword_headings(d) if keyword
                                   else d} for d in docs), refresh=True)
                for i in range(10):
                    started = time.perf_counter()
                    target.send(client, i)
                    (rest[kind] if i else first[kind]).append((time.perf_counter() - started) * 1e3)
                cycle[kind].append((cpu() - before) * 1e3)
    return {k: (statistics.median(first[k]), max(first[k]), statistics.median(rest[k]), statistics.median(cycle[k]))
            for k in targets}


def segment_count(es: Elasticsearch, name: str) -> int:
    return int(es.indices.stats(index=name, metric="segments")["_all"]["primaries"]["segments"]["count"])


def input_counts(es: Elasticsearch, alias: str, cuts: tuple[int, ...] = (30, 20)) -> list[str]:
    """Lines on what the records give the completion fields: inputs a record per kind, the share of
    them distinct, and the share of distinct keys that share their first ``cuts`` characters with
    another key (what ``skip_duplicates`` would fold together if the keys were cut so)."""
    inputs: dict[str, list[str]] = {kind: [] for kind in FIELDS}
    docs = 0
    for hit in helpers.scan(es, index=alias, query={"query": {"match_all": {}}}, _source=list(FIELDS.values())):
        docs += 1
        for kind, field in FIELDS.items():
            inputs[kind] += (hit["_source"].get(field) or {}).get("input", [])
    lines = [f"{docs:,} documents."]
    for kind, keys in inputs.items():
        distinct = set(keys)
        folded = []
        for cut in cuts:
            heads = Counter(key[:cut].strip() for key in distinct)
            shared = sum(1 for key in distinct if heads[key[:cut].strip()] > 1)
            folded.append(f"{shared / len(distinct):.1%} share their first {cut} characters")
        lines.append(f"{kind}: {len(keys) / docs:.2f} inputs a record, {len(distinct) / len(keys):.0%} of them "
                     f"distinct; of the distinct keys, {', '.join(folded)}")
    return lines


def heading_prefixes(es_url: str, alias: str, count: int = 100) -> list[str]:
    """What a box sends while the first author and first subject of ``count`` records (lowest ids)
    are typed: their first 1, 3 and 6 characters."""
    body = {"size": count, "query": {"exists": {"field": FIELDS["subject"]}}, "sort": [{"id": "asc"}],
            "_source": ["display.authors", "display.subjects"]}
    hits = httpx.post(f"{es_url}/{alias}/_search", json=body, timeout=60).json()["hits"]["hits"]
    out: list[str] = []
    for hit in hits:
        display = hit["_source"].get("display") or {}
        for values in (display.get("authors") or [], display.get("subjects") or []):
            if values:
                out += [values[0][:1], values[0][:3], values[0][:6]]
    return [p for p in out if query_prefixes(p)]


def terms_body(keys: list[str], hint: str | None = None) -> dict[str, Any]:
    """The titles completed as now; authors and subjects as the distinct keys starting with a
    prefix, the most held first (ties by key), each with one record to take its display text from."""
    aggs = {}
    include = "(" + "|".join(_REGEX_SPECIAL.sub(r"\\\1", k) for k in keys) + ").*"
    for kind in HEADINGS:
        field = FIELDS[kind]
        aggs[kind] = {
            "filter": {"bool": {"should": [{"prefix": {field: k}} for k in keys]}},
            "aggs": {"keys": {
                "terms": {"field": field, "include": include, "size": PER_KIND[kind] * 2,
                          "order": [{"best": "desc"}, {"_key": "asc"}], **({"execution_hint": hint} if hint else {})},
                "aggs": {"best": {"max": {"field": "holdings_count"}},
                         "record": {"top_hits": {"size": 1, "_source": [f"display.{kind}s"]}}},
            }},
        }
    suggesters = {k: v for k, v in suggest_body(keys).items() if k.startswith("title-")}
    return {"size": 0, "suggest": suggesters, "aggs": aggs, "_source": ["display.title"]}


def completion_body(keys: list[str]) -> dict[str, Any]:
    return {"size": 0, "suggest": suggest_body(keys),
            "_source": ["display.title", "display.authors", "display.subjects"]}


def offered(answer: dict[str, Any], kind: str, keys: list[str]) -> list[str]:
    """The keys of ``kind`` an answer offers, best first (the completion's per-form lists merged as
    :func:`catalog.suggest.suggest` merges them: by score, a key once)."""
    if "aggregations" in answer:
        return [b["key"] for b in answer["aggregations"][kind]["keys"]["buckets"]]
    found = [(-(o.get("_score") or 0), o["text"]) for i in range(len(keys))
             for o in answer["suggest"][f"{kind}-{i}"][0]["options"]]
    return list(dict.fromkeys(text for _, text in sorted(found, key=lambda f: f[0])))


def agreeing(es_url: str, keys: list[list[str]]) -> int:
    """How many prefix × kind answers offer the same keys in the same order both ways."""
    same = 0
    with httpx.Client(timeout=60) as client:
        for k in keys:
            now = client.post(f"{es_url}/{INDICES['completion']}/_search", json=completion_body(k)).json()
            terms = client.post(f"{es_url}/{INDICES['terms']}/_search", json=terms_body(k)).json()
            same += sum(offered(now, kind, k) == offered(terms, kind, k) for kind in HEADINGS)
    return same


class Direct:
    """One request straight to Elasticsearch with a prepared body."""

    def __init__(self, kind: str, es_url: str, index: str, bodies: list[bytes]) -> None:
        self.kind, self.index, self.bodies = kind, index, bodies
        self.url = f"{es_url}/{index}/_search"

    def send(self, client: httpx.Client, i: int) -> int:
        body = self.bodies[i % len(self.bodies)]
        return client.post(self.url, content=body, headers={"content-type": "application/json"}).status_code


def measure(node: Callable[[], float], targets: dict[str, Direct], rounds: int, clients: int, per_client: int,
            typed: int) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]], dict[str, float]]:
    """(one-client summaries, many-client summaries, node CPU ms per request) of each target."""
    one: dict[str, list[float]] = {k: [] for k in targets}
    many: dict[str, list[float]] = {k: [] for k in targets}
    walls = {k: [0.0, 0.0] for k in targets}
    cpu = {k: 0.0 for k in targets}
    sent = {k: 0 for k in targets}
    for r in range(rounds):
        for kind in targets if r % 2 == 0 else list(targets)[::-1]:
            before = node()
            lat, wall, errors = load(targets[kind], 1, typed)
            one[kind] += lat
            walls[kind][0] += wall
            lat2, wall2, errors2 = load(targets[kind], clients, per_client)
            many[kind] += lat2
            walls[kind][1] += wall2
            cpu[kind] += node() - before
            sent[kind] += len(lat) + len(lat2)
            if errors or errors2:
                raise SystemExit(f"{kind}: {errors + errors2} requests failed")
            print(f"round {r + 1} {kind}: one client p95 {summary(lat, wall)['p95']:.1f} ms, "
                  f"{clients} clients p95 {summary(lat2, wall2)['p95']:.1f} ms", flush=True)
    return ({k: summary(one[k], walls[k][0]) for k in targets}, {k: summary(many[k], walls[k][1]) for k in targets},
            {k: cpu[k] / sent[k] * 1e3 for k in targets})


@contextmanager
def source_index(work: Path | None) -> Iterator[tuple[str, Elasticsearch, str, str]]:
    """(node URL, client, alias, what the index holds): the 100,000-record LC catalogue of
    :mod:`bench.catalogues`, or the index a ``bench/million_build.py`` run left in ``work``."""
    if work is None:
        with es_node(work_dir("lc")) as es_url:
            services, _ = catalogue("lc", es_url)
            try:
                yield (es_url, services.es.options(request_timeout=600), services.settings.records_alias,
                       "first 100,000 LC records")
            finally:
                services.close()
        return
    os.environ.setdefault("UNICAT_ES_JAVA_OPTS", "-Xms2g -Xmx2g")  # as the million-record build ran
    with es_node(work.resolve()) as es_url:
        httpx.get(f"{es_url}/_cluster/health", params={"wait_for_status": "green", "timeout": "120s"}, timeout=130)
        yield (es_url, Elasticsearch(es_url, request_timeout=600), bench_settings(work.resolve(), es_url).records_alias,
               "the million-record build's index")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=100, help="requests per client per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prefixes", choices=("titles", "headings"), default="titles",
                    help="those of bench/suggest_latency.py, or the starts of authors and subject headings")
    ap.add_argument("--segments", type=int, default=0,
                    help="force-merge both indices to this many segments (0: as the load leaves them)")
    ap.add_argument("--work", type=Path, default=None,
                    help="use the index a bench/million_build.py run left in this folder (default: 100,000 LC records)")
    ap.add_argument("--inputs", action="store_true", help="only count what the records give the completion fields")
    ap.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = ap.parse_args(argv)
    with source_index(args.work) as (es_url, es, alias, holding):
        if args.inputs:
            print("\n".join(input_counts(es, alias)))
            return
        for kind, name in INDICES.items():
            copy_index(es, alias, name, kind != "completion", args.segments or None, eager=kind == "eager")
        segments = {kind: segment_count(es, name) for kind, name in INDICES.items()}
        typed = prefixes(es_url, alias) if args.prefixes == "titles" else heading_prefixes(es_url, alias)
        keys = [query_prefixes(t) for t in typed]
        bodies = {"completion": [httpx.Request("POST", "/", json=completion_body(k)).content for k in keys],
                  "terms": [httpx.Request("POST", "/", json=terms_body(k)).content for k in keys],
                  "terms-map": [httpx.Request("POST", "/", json=terms_body(k, "map")).content for k in keys]}
        bodies["eager"] = bodies["terms"]
        targets = {kind: Direct(kind, es_url, INDICES[kind.split("-")[0]], body) for kind, body in bodies.items()}
        same = agreeing(es_url, keys)
        for target in targets.values():
            load(target, args.clients, 5)
        node = node_cpu_reader(es, es_url)
        one, many, cpu = measure(node, targets, args.rounds, args.clients, args.requests, len(typed))
        writes = after_refresh(es, node, alias, targets)
        docs = es.count(index=alias)["count"]
        for name in INDICES.values():
            es.indices.delete(index=name)
    lines = [
        f"{stamp()}. Machine: {machine()}. `bench/suggest_by_terms.py`.",
        "",
        f"Index: {docs:,} union documents ({holding}) loaded into {len(INDICES)} fresh indices with "
        f"`parallel_bulk`, segments: {', '.join(f'{k} {n}' for k, n in segments.items())}"
        f"{' (force-merged)' if args.segments else ' (as loaded)'}; "
        f"{len(typed)} prefixes ({PREFIXES[args.prefixes]}), straight to Elasticsearch; {args.rounds} rounds "
        f"alternating, each one client (every prefix once) then {args.clients} clients × {args.requests} requests.",
        "",
        *LATENCY_TABLE,
    ]
    for kind, label in LABELS.items():
        lines.append(latency_row(f"{label}, one client", one[kind], 0))
        lines.append(latency_row(f"{label}, {args.clients} clients", many[kind], 0))
    lines += ["", "Node CPU per suggestion: " + ", ".join(
        f"{kind} {cpu[kind]:.2f} ms ({cpu[kind] / cpu['completion']:.2f}×)" for kind in LABELS)
        + f". Authors and subjects offered alike by completion and terms (same keys, same order): {same} of "
        f"{len(keys) * len(HEADINGS)} prefix × kind answers.", "",
        "After a write (10 times: 500 documents indexed again and a refresh, then ten prefixes once each; ms):", "",
        "| path | first suggestion after the refresh, median | largest | the next nine, median | node CPU a cycle |",
        "|---|---|---|---|---|",
        *(f"| {LABELS[k]} | {w[0]:.1f} | {w[1]:.1f} | {w[2]:.1f} | {w[3]:.0f} |" for k, w in writes.items())]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(f"Completions from keyword fields, {args.prefixes} prefixes, {segments['terms']} segments", text,
                      heading=HEADING)


if __name__ == "__main__":
    main()
