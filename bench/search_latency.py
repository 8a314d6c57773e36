"""Benchmark: search latency with 20 concurrent clients, through the API and straight against Elasticsearch.

Runs over the index ``bench.build_throughput`` left in ``--work`` (default ``var/bench/issue2``; the
private Elasticsearch node is restarted on that data). The API is served by uvicorn in a subprocess
with one worker, exactly as ``unicat serve`` does (``uvicorn.run("unicat.app:create_app",
factory=True, workers=1)``, access log on). The direct case sends the body the service builds for
the same query (``catalog.search.build_query`` + the same facets, sort, size, ``track_total_hits``
and ``_source`` filter) to ``<alias>/_search``. Both cases use the same load generator: one thread
per client, each with its own keep-alive ``httpx.Client``, M requests each over a fixed mixed query
list (Latin words, Chinese words in simplified and traditional forms, author names, ISBNs, filters,
sorts; facets always on), after a warm-up. Rounds alternate API / direct; percentiles are pooled
over the rounds and the p95 ratio is also given per round.

    python bench/search_latency.py [--clients 20] [--requests 50] [--rounds 3] [--write]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import httpx

from catalog.search import FACETS, SORTS, SearchQuery, build_query

if __package__ in (None, ""):  # run as a script: `python bench/search_latency.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    LATENCY_TABLE,
    bench_settings,
    default_work_dir,
    es_node,
    latency_row,
    load,
    machine,
    node_cpu,
    process_cpu,
    stamp,
    start_api,
    summary,
    write_section,
)

FILTERS = ("member", "region", "format", "language", "subject")
FIXED: list[dict[str, Any]] = [
    {"q": "history"},
    {"q": "united states politics"},
    {"q": "war"},
    {"q": "poetry"},
    {"q": "economic development"},
    {"q": "shakespeare"},
    {"q": "climate change"},
    {"q": "world war 1939-1945"},
    {"q": "music"},
    {"q": "law", "sort": "year_desc"},
    {"q": "中国"},
    {"q": "歷史"},
    {"q": "文學"},
    {"q": "中国 历史"},
    {"q": "經濟"},
    {"q": "北京"},
    {"q": "小说"},
    {"q": "history", "language": ["eng"]},
    {"q": "中国", "format": ["book"]},
    {"q": "economics", "year_from": 1990, "year_to": 2000},
    {"author": "Smith"},
    {"author": "Twain"},
    {"title": "introduction", "sort": "title"},
    {"q": ""},
]


def sampled(es_url: str, alias: str, count: int = 4) -> list[dict[str, Any]]:
    """ISBNs and first authors of a few records (fixed: lowest ids with an ISBN)."""
    body = {"size": count * 3, "query": {"exists": {"field": "isbn"}}, "sort": [{"id": "asc"}],
            "_source": ["isbn", "display.authors"]}
    hits = httpx.post(f"{es_url}/{alias}/_search", json=body, timeout=30).json()["hits"]["hits"]
    isbns = [{"q": h["_source"]["isbn"][-1]} for h in hits[:count]]
    authors = [{"author": a[0]} for h in hits if (a := h["_source"].get("display", {}).get("authors"))][:count]
    return isbns + authors


def to_search_query(params: dict[str, Any]) -> SearchQuery:
    return SearchQuery(
        q=params.get("q", ""), title=params.get("title"), author=params.get("author"),
        filters={name: list(params.get(name) or []) for name in FILTERS},
        year_from=params.get("year_from"), year_to=params.get("year_to"), sort=params.get("sort", "relevance"),
    )


def direct_body(params: dict[str, Any]) -> bytes:
    """The body :func:`catalog.search.search` sends for these parameters (page 1, size 20)."""
    query = to_search_query(params)
    aggs: dict[str, Any] = {name: {"terms": {"field": s["field"], "size": s["size"]}} for name, s in FACETS.items()}
    aggs["decade"] = {"histogram": {"field": "year", "interval": 10, "min_doc_count": 1}}
    body = {"query": build_query(query), "aggs": aggs, "sort": SORTS[query.sort], "from": 0, "size": query.size,
            "track_total_hits": True}
    return json.dumps(body).encode()


class Target:
    """How one request is sent: through the API or straight to Elasticsearch."""

    def __init__(self, kind: str, base: str, alias: str, queries: list[dict[str, Any]]) -> None:
        self.kind, self.base = kind, base
        self.api_params = [{k: v for k, v in q.items()} for q in queries]
        self.bodies = [direct_body(q) for q in queries]
        self.url = f"{base}/{alias}/_search"

    def send(self, client: httpx.Client, i: int) -> int:
        i %= len(self.bodies)
        if self.kind == "api":
            r = client.get(f"{self.base}/api/v1/search", params=self.api_params[i])
        else:
            r = client.post(self.url, content=self.bodies[i], params={"_source_includes": "id,display"},
                            headers={"content-type": "application/json"})
        return r.status_code


#: The anonymous rate the load runs under: every request is still counted in Redis (what a
#: production API does), but 20 clients on one address are not refused.
LOAD_RATE = "10000000/minute"


def api_vs_direct(settings: Any, es_url: str, queries: list[dict[str, Any]], clients: int, requests: int,
                  rounds: int) -> dict[str, Any]:
    """Rounds alternating the API (uvicorn, one worker, with a private Redis for its rate-limit
    counters, as production runs it) and straight Elasticsearch: latencies pooled and per round,
    and the CPU per request of the API process and of the node for each path."""
    from tests.services import private_redis

    alias = settings.records_alias
    with private_redis() as redis_url:
        settings = settings.model_copy(update={"redis_url": redis_url})
        api, base = start_api(settings, "/api/v1/search?q=history", timeout=300,
                              extra_env={"UNICAT_ANONYMOUS_RATE": LOAD_RATE})
        try:
            targets = {"api": Target("api", base, alias, queries), "direct": Target("direct", es_url, alias, queries)}
            _check_and_warm(targets, queries, clients)
            return _rounds(targets, api.pid, es_url, clients, requests, rounds)
        finally:
            api.terminate()
            api.wait(timeout=30)


def _check_and_warm(targets: dict[str, Target], queries: list[dict[str, Any]], clients: int) -> None:
    with httpx.Client(timeout=60) as client:
        for target in targets.values():  # every query once, then a short concurrent burst
            bad = [q for i, q in enumerate(queries) if target.send(client, i) != 200]
            if bad:
                raise SystemExit(f"{target.kind}: queries failed: {bad}")
    for target in targets.values():
        load(target, clients, 5)


def _rounds(targets: dict[str, Target], api_pid: int, es_url: str, clients: int, requests: int,
            rounds: int) -> dict[str, Any]:
    pooled: dict[str, list[float]] = {"api": [], "direct": []}
    walls, errors = {"api": 0.0, "direct": 0.0}, {"api": 0, "direct": 0}
    cpu = {"api": {"api": 0.0, "es": 0.0}, "direct": {"api": 0.0, "es": 0.0}}
    per_round: list[dict[str, dict[str, float]]] = []
    for r in range(rounds):
        this: dict[str, dict[str, float]] = {}
        for kind in ("api", "direct") if r % 2 == 0 else ("direct", "api"):
            api_before, es_before = process_cpu(api_pid), node_cpu(es_url)
            lat, wall, err = load(targets[kind], clients, requests)
            cpu[kind]["api"] += process_cpu(api_pid) - api_before
            cpu[kind]["es"] += node_cpu(es_url) - es_before
            pooled[kind] += lat
            walls[kind] += wall
            errors[kind] += err
            this[kind] = summary(lat, wall)
            print(f"round {r + 1} {kind}: p50 {this[kind]['p50']:.1f} ms, p95 {this[kind]['p95']:.1f} ms, "
                  f"{this[kind]['rps']:.0f} req/s", flush=True)
        per_round.append(this)
    per_request = {kind: {part: secs * 1e3 / len(pooled[kind]) for part, secs in parts.items()}
                   for kind, parts in cpu.items()}
    return {"total": {k: summary(pooled[k], walls[k]) for k in pooled}, "errors": errors, "rounds": per_round,
            "per_round": [r["api"]["p95"] / r["direct"]["p95"] for r in per_round], "cpu": per_request}


def cpu_line(cpu: dict[str, dict[str, float]]) -> str:
    """CPU per request of each path, in ms, from :func:`api_vs_direct`'s figures."""
    api, direct = cpu["api"], cpu["direct"]
    return (f"CPU per search (ms): through the API, API process {api['api']:.1f} + Elasticsearch "
            f"{api['es']:.1f}; direct, Elasticsearch {direct['es']:.1f}.")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=50, help="requests per client per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--min-docs", type=int, default=99_000,
                    help="refuse a smaller index (100,000 LC records make 99,679 union documents)")
    ap.add_argument("--work", type=Path, default=None, help="state folder of bench.build_throughput")
    ap.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = ap.parse_args(argv)
    work = (args.work or default_work_dir()).resolve()
    if not (work / "store.sqlite3").exists():
        raise SystemExit(f"no store in {work}: run `python -m bench.build_throughput` first")
    with sqlite3.connect(f"file:{work / 'store.sqlite3'}?mode=ro", uri=True) as db:
        records = db.execute("SELECT count(*) FROM source_record WHERE NOT deleted").fetchone()[0]
    with es_node(work) as es_url:
        alias = bench_settings(work, es_url).records_alias
        # a restarted node recovers its shards first
        httpx.get(f"{es_url}/_cluster/health", params={"wait_for_status": "green", "timeout": "120s"}, timeout=130)
        docs = httpx.get(f"{es_url}/{alias}/_count", timeout=30).json().get("count", 0)
        if docs < args.min_docs:
            raise SystemExit(f"{alias} holds {docs} documents (< {args.min_docs}): run bench.build_throughput")
        queries = FIXED + sampled(es_url, alias)
        measured = api_vs_direct(bench_settings(work, es_url), es_url, queries, args.clients, args.requests,
                                 args.rounds)
    total = measured["total"]
    ratio = total["api"]["p95"] / total["direct"]["p95"]
    per_round = measured["per_round"]
    n_req = args.clients * args.requests
    lines = [
        f"{stamp()}. Machine: {machine()}.",
        "",
        f"Index: {docs:,} union documents built from {records:,} LC records by the build bench (one shard). "
        f"{args.clients} concurrent client{'s' if args.clients != 1 else ''} "
        f"(threads, keep-alive `httpx`), {args.requests} requests each per round, {args.rounds} rounds alternating "
        f"API / direct ({n_req * args.rounds:,} requests each way), after a warm-up; {len(queries)} queries in "
        "turn (Latin words, Chinese simplified and traditional, authors, ISBNs, filters, sorts), page 1, size 20, "
        "facets on (5 terms aggregations + decade histogram), `track_total_hits`. API: uvicorn, 1 worker "
        "(as `unicat serve`), on the same 2 cores as Elasticsearch and the load generator.",
        "",
        *LATENCY_TABLE,
    ]
    for kind, label in (("api", "through the API (`GET /api/v1/search`)"), ("direct", "straight to Elasticsearch")):
        lines.append(latency_row(label, total[kind], measured["errors"][kind]))
    verdict = "meets" if ratio <= 1.5 else "**misses**"
    lines += [
        "",
        f"**API overhead p95(API) / p95(direct) = {ratio:.2f}** (per round: "
        f"{', '.join(f'{x:.2f}' for x in per_round)}); p50 ratio {total['api']['p50'] / total['direct']['p50']:.2f}. "
        f"Target ≤ 1.5: {verdict}.",
        "",
        cpu_line(measured["cpu"]),
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section("Search latency" if args.clients == 20 else f"Search latency, {args.clients} client(s)", text)


if __name__ == "__main__":
    main()
