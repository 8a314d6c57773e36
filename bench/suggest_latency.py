"""Benchmark: search-box suggestion latency with 20 concurrent clients, through the API and straight
against Elasticsearch.

Runs over the LC catalogue of :mod:`bench.catalogues` (the first 100,000 records of the LC file,
built through the pipeline, or reused). The prefixes are what a search box sends while a reader
types: for 60 records taken in id order, their title's first 1–3 characters (Han titles), the
first 3, 5 and 8 letters of its pinyin, or the first 3, 6 and 10 characters of a Latin title and 4
of the first author. The API (``GET /api/v1/suggest``) is uvicorn with one worker in a subprocess,
as ``unicat serve`` runs it; the direct case posts the very suggest body the service sends (three
completion suggesters per prefix form, with ``_source`` filtered to the display fields) to
``<alias>/_search``. Same load generator as ``bench/search_latency.py``: one thread per client, a
keep-alive ``httpx.Client`` each, rounds alternating API / direct, percentiles pooled.

    python bench/suggest_latency.py [--clients 20] [--requests 100] [--rounds 3] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import httpx

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.catalogues import catalogue, work_dir  # noqa: E402
from bench.common import (  # noqa: E402
    LATENCY_TABLE,
    es_node,
    latency_row,
    load,
    machine,
    stamp,
    start_api,
    summary,
    write_section,
)
from catalog.suggest import suggest_body  # noqa: E402
from mappings.suggest import pinyin_key, query_prefixes  # noqa: E402
from mappings.textnorm import has_han  # noqa: E402

HEADING = "## Search relevance on judged queries (issue 13)"


def prefixes(es_url: str, alias: str, count: int = 60) -> list[str]:
    """What a box sends while 30 Han titles and 30 Latin titles are typed (fixed: lowest ids)."""
    out: list[str] = []
    for han in (True, False):
        query = {"exists": {"field": "suggest_title"}}
        body = {"size": 2000, "query": query, "sort": [{"id": "asc"}], "_source": ["display.title", "display.authors"]}
        hits = httpx.post(f"{es_url}/{alias}/_search", json=body, timeout=60).json()["hits"]["hits"]
        taken = 0
        for hit in hits:
            display = hit["_source"].get("display") or {}
            title = display.get("title") or ""
            if has_han(title) != han or len(title) < 4 or taken >= count // 2:
                continue
            taken += 1
            if han:
                out += [title[:1], title[:2], title[:3]]
                key = pinyin_key(title) or ""
                out += [key[:3], key[:5], key[:8]]
            else:
                out += [title[:3], title[:6], title[:10]]
                authors = display.get("authors") or []
                if authors:
                    out.append(authors[0][:4])
    return [p for p in out if query_prefixes(p)]


class SuggestTarget:
    """One request: through the API or straight to Elasticsearch."""

    def __init__(self, kind: str, base: str, alias: str, typed: list[str]) -> None:
        self.kind, self.base, self.typed = kind, base, typed
        self.bodies = [json.dumps({"size": 0, "suggest": suggest_body(query_prefixes(t)),
                                   "_source": ["display.title", "display.authors", "display.subjects"]}).encode()
                       for t in typed]
        self.url = f"{base}/{alias}/_search"

    def send(self, client: httpx.Client, i: int) -> int:
        i %= len(self.typed)
        if self.kind == "api":
            return client.get(f"{self.base}/api/v1/suggest", params={"q": self.typed[i]}).status_code
        return client.post(self.url, content=self.bodies[i], headers={"content-type": "application/json"}).status_code


def api_cpu(pid: int) -> float:
    """CPU seconds (user + system) the API process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=100, help="requests per client per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = ap.parse_args(argv)
    with es_node(work_dir("lc")) as es_url:
        services, _ = catalogue("lc", es_url, records=args.records)
        alias = services.settings.records_alias
        docs = services.es.count(index=alias)["count"]
        typed = prefixes(es_url, alias)
        api, base = start_api(services.settings, "/api/v1/suggest?q=a")
        try:
            targets = {"api": SuggestTarget("api", base, alias, typed),
                       "direct": SuggestTarget("direct", es_url, alias, typed)}
            with httpx.Client(timeout=60) as client:
                for target in targets.values():
                    bad = [t for i, t in enumerate(typed) if target.send(client, i) != 200]
                    if bad:
                        raise SystemExit(f"{target.kind}: prefixes failed: {bad[:5]}")
                empty = sum(1 for t in typed if not client.get(f"{base}/api/v1/suggest", params={"q": t}).json()[1])
            for target in targets.values():
                load(target, args.clients, 5)
            pooled: dict[str, list[float]] = {"api": [], "direct": []}
            walls = {"api": 0.0, "direct": 0.0}
            errors = {"api": 0, "direct": 0}
            cpu = 0.0
            loads = [os.getloadavg()[0]]
            for r in range(args.rounds):
                for kind in ("api", "direct") if r % 2 == 0 else ("direct", "api"):
                    before = api_cpu(api.pid) if kind == "api" else 0.0
                    lat, wall, err = load(targets[kind], args.clients, args.requests)
                    if kind == "api":
                        cpu += api_cpu(api.pid) - before
                    pooled[kind] += lat
                    walls[kind] += wall
                    errors[kind] += err
                    s = summary(lat, wall)
                    print(f"round {r + 1} {kind}: p50 {s['p50']:.1f} ms, p95 {s['p95']:.1f} ms, {s['rps']:.0f} req/s",
                          flush=True)
                    loads.append(os.getloadavg()[0])
            single = {kind: summary(*load(targets[kind], 1, len(typed))[:2]) for kind in targets}
        finally:
            api.terminate()
            api.wait(timeout=30)
            services.close()
    total = {kind: summary(pooled[kind], walls[kind]) for kind in pooled}
    ratio = total["api"]["p95"] / total["direct"]["p95"]
    n_api = len(pooled["api"])
    lines = [
        f"{stamp()}. Machine: {machine()}.",
        "",
        f"Index: {docs:,} union documents (first {args.records:,} LC records). {args.clients} concurrent clients, "
        f"{args.requests} requests each per round, {args.rounds} rounds alternating API / direct, after a warm-up; "
        f"{len(typed)} prefixes in turn (Han 1–3 characters, pinyin 3/5/8 letters, Latin 3/6/10 characters, author "
        f"4), {empty} of them with no completion. API: uvicorn, 1 worker, on the same 2 cores as Elasticsearch and "
        "the load generator.",
        "",
        *LATENCY_TABLE,
    ]
    for kind, label in (("api", "through the API (`GET /api/v1/suggest`)"), ("direct", "straight to Elasticsearch")):
        lines.append(latency_row(label, total[kind], errors[kind]))
    for kind, label in (("api", "API, one client alone"), ("direct", "Elasticsearch, one client alone")):
        lines.append(latency_row(label, single[kind], "–"))
    lines += ["", f"**Suggest p95 at {args.clients} clients: {total['api']['p95']:.1f} ms through the API**; "
              f"p95(API) / p95(direct) = {ratio:.2f}. API process CPU: {cpu / n_api * 1e3:.2f} ms per suggestion. "
              f"The machine was shared with other work: 1-minute load average {min(loads):.1f}–{max(loads):.1f} "
              f"on {os.cpu_count()} cores during the concurrent rounds, so queueing for a core makes most of the "
              "20-client figures; the one-client rows show a suggestion's own cost."]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(f"Suggest latency, {args.clients} clients", text, heading=HEADING)


if __name__ == "__main__":
    main()
