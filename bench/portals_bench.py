"""Benchmarks of the portal-facing services (issue 16), all in one run on the same catalogue:

1. **SRU vs JSON search**: searchRetrieve (CQL, 20 MARCXML records, one 852 per holder) against
   ``GET /api/v1/search`` (20 hits with facets) on the same queries, through the same uvicorn
   process, 4 concurrent clients; p50/p95 and the p95 ratio SRU / JSON.
2. **Export throughput** for a 1,000-hit result page, per format, in process: records per second
   and CPU ms per record, against the ceiling measured in the same run: fetching the same 1,000
   union records (ES ids + store read) with no formatting at all.
3. **Rate limiter overhead**: p95 of a cheap request (``/api/v1/records/{id}``), one client,
   with the limiter off, anonymous (one Redis moving-window hit), and with an API key (store
   look-up + hit); ratios to "off".

The catalogue is built from the demo data (5 k real records of four members) into a private
Elasticsearch node and Redis in ``--work`` (default ``var/bench/portals``).

    python bench/portals_bench.py [--requests 200] [--write]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, pct, stamp, write_section  # noqa: E402
from unicat.localsvc.process import free_port, wait_for_http  # noqa: E402
from unicat.settings import Settings  # noqa: E402

HEADING = "## Portals: SRU, exports, rate limits (issue 16)"
SRU_NOTE = (" The JSON search also computes six facet aggregations, which SRU does not; SRU instead reads the"
            " 20 union records from the store and writes them as MARCXML.")
LIMITER_NOTE = " The p95 of the three cases is noisy on two shared cores; the p50 difference is the steadier figure."
QUERIES = [  # (JSON search parameters, the same search in CQL)
    ({"q": "pride prejudice"}, "pride prejudice"),
    ({"q": "history"}, "history"),
    ({"q": "中国"}, "中国"),
    ({"q": "歷史"}, "歷史"),
    ({"title": "文学"}, "dc.title = 文学"),
    ({"author": "austen"}, "dc.creator = austen"),
    ({"subject": "fiction"}, "dc.subject = fiction"),
    ({"q": "war"}, "war"),
    ({"q": "北京"}, "北京"),
    ({"q": "economic development"}, "economic development"),
]


def build(work: Path, es_url: str, redis_url: str) -> Settings:
    from catalog.context import build_services
    from catalog.members import parse_members, sync_members
    from catalog.pipeline import ingest
    from store.db import transaction
    from tests.core.helpers import DEMO, as_harvested, read_marc

    settings = Settings(var_dir=work, database_url=f"sqlite:///{work / 'store.sqlite3'}", es_url=es_url,
                        redis_url=redis_url, index_prefix="bench16", session_cookie_secure=False)
    services = build_services(settings)
    with transaction(services.db) as session:
        sync_members(session, parse_members(settings.members))
    feeds = {"pku": ["pku/pride-and-prejudice.mrc", "pku/uva-sirsi.mrc.gz"],
             "sjtu": ["sjtu/pride-and-prejudice.mrc", "sjtu/lc-books.mrc.gz"], "calis": ["calis-lc-chinese.mrc"]}
    started = time.perf_counter()
    for member, files in feeds.items():
        for name in files:
            ingest(services, member, as_harvested(read_marc(DEMO / name)))
    services.es.indices.refresh(index=settings.records_alias)
    count = services.es.count(index=settings.records_alias)["count"]
    print(f"catalogue: {count} union records in {time.perf_counter() - started:.0f} s", flush=True)
    services.close()
    return settings


def serve(settings: Settings, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    full = {**os.environ, "UNICAT_ES_URL": settings.es_url, "UNICAT_INDEX_PREFIX": settings.index_prefix,
            "UNICAT_DATABASE_URL": settings.sqlalchemy_url, "UNICAT_VAR_DIR": str(settings.var_dir),
            "UNICAT_REDIS_URL": settings.redis_url, **env}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "unicat.app:create_app", "--factory", "--host",
                             "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log"],
                            env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    if not wait_for_http(f"{url}/robots.txt", timeout=60):
        proc.kill()
        raise RuntimeError("the API did not start")
    return proc, url


def timed_requests(url: str, requests: list[tuple[str, dict[str, Any]]], clients: int,
                   headers: dict[str, str] | None = None) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        with httpx.Client(timeout=60, headers=headers) as client:
            mine = []
            for i in range(offset, len(requests), clients):
                path, params = requests[i]
                started = time.perf_counter()
                response = client.get(url + path, params=params)
                mine.append(time.perf_counter() - started)
                assert response.status_code == 200, (response.status_code, response.text[:300])
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def sru_vs_json(url: str, rounds: int) -> str:
    json_reqs = [("/api/v1/search", {**q, "size": 20}) for q, _ in QUERIES] * rounds
    sru_reqs = [("/sru", {"version": "1.2", "operation": "searchRetrieve", "query": c, "maximumRecords": "20"})
                for _, c in QUERIES] * rounds
    timed_requests(url, json_reqs[: len(QUERIES)], 2)  # warm-up
    timed_requests(url, sru_reqs[: len(QUERIES)], 2)
    js, sr = [], []
    for _ in range(3):  # alternate, pooled
        js += timed_requests(url, json_reqs, 4)
        sr += timed_requests(url, sru_reqs, 4)
    rows = [f"| JSON `/api/v1/search` (20 hits + facets) | {len(js)} | {pct(js, 50) * 1000:.1f} | "
            f"{pct(js, 95) * 1000:.1f} |",
            f"| SRU searchRetrieve (20 MARCXML records) | {len(sr)} | {pct(sr, 50) * 1000:.1f} | "
            f"{pct(sr, 95) * 1000:.1f} |"]
    ratio = pct(sr, 95) / pct(js, 95)
    return ("4 concurrent clients, the same 10 queries (Latin, Chinese simplified/traditional, fielded) in both "
            "forms, 3 alternating rounds pooled." + SRU_NOTE
            + "\n\n| request | n | p50 ms | p95 ms |\n|---|---|---|---|\n"
            + "\n".join(rows) + f"\n\n**p95 ratio SRU / JSON: {ratio:.2f}**")


def exports(settings: Settings) -> str:
    from catalog.context import build_services
    from catalog.search import SearchQuery
    from portals.export import FORMATS, export
    from portals.resultset import result_records

    services = build_services(settings, migrate=False)
    query = SearchQuery(q="", size=20)
    rows = []
    ceiling_wall = ceiling_cpu = 0.0
    for _ in range(3):
        w, c = time.perf_counter(), time.process_time()
        result = result_records(services, query, 1000)
        ceiling_wall += (time.perf_counter() - w) / 3
        ceiling_cpu += (time.process_time() - c) / 3
    n = len(result.records)
    rows.append(f"| fetch only (ceiling: ES ids + store read) | {n} | {n / ceiling_wall:,.0f} | "
                f"{ceiling_cpu / n * 1000:.2f} | 1.00 |")
    for name in FORMATS:
        w, c = time.perf_counter(), time.process_time()
        for _ in range(3):
            result = result_records(services, query, 1000)
            body = export(result.records, name, base_url="http://unicat.example/")
        wall, cpu = (time.perf_counter() - w) / 3, (time.process_time() - c) / 3
        rows.append(f"| {name} ({len(body) / 1024:,.0f} KiB) | {n} | {n / wall:,.0f} | {cpu / n * 1000:.2f} | "
                    f"{(n / wall) / (n / ceiling_wall):.2f} |")
    services.close()
    return (f"One 1,000-hit result page (`q=` all records, relevance order; {result.total:,} hits), in process, "
            "mean of 3.\n\n| export | records | records/s | CPU ms/record | throughput / ceiling |\n"
            "|---|---|---|---|---|\n" + "\n".join(rows))


def limiter_overhead(settings: Settings, requests: int) -> str:
    from catalog.context import build_services
    from portals.apikeys import create_key

    services = build_services(settings, migrate=False)
    uid = services.es.search(index=settings.records_alias, size=1, sort=[{"id": "asc"}])["hits"]["hits"][0]["_id"]
    key, _info = create_key(services, f"bench-{int(time.time())}", ["https://portal.example.edu"], "1000000/minute")
    services.close()
    reqs = [(f"/api/v1/records/{uid}", {"marcxml": "false"})] * requests
    cases = [("limiter off (`UNICAT_ANONYMOUS_RATE=`)", {"UNICAT_ANONYMOUS_RATE": ""}, None),
             ("anonymous (Redis moving window)", {"UNICAT_ANONYMOUS_RATE": "1000000/minute"}, None),
             ("API key (store look-up + Redis)", {"UNICAT_ANONYMOUS_RATE": ""}, {"X-API-Key": key})]
    results = []
    for label, env, headers in cases:
        proc, url = serve(settings, env)
        try:
            timed_requests(url, reqs[:20], 1, headers)
            results.append((label, timed_requests(url, reqs, 1, headers)))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    base = pct(results[0][1], 95)
    rows = [f"| {label} | {len(lat)} | {pct(lat, 50) * 1000:.2f} | {pct(lat, 95) * 1000:.2f} | "
            f"{pct(lat, 95) / base:.2f} | {(pct(lat, 50) - pct(results[0][1], 50)) * 1000:+.2f} |"
            for label, lat in results]
    return ("One client, `GET /api/v1/records/{id}?marcxml=false`, sequential." + LIMITER_NOTE
            + "\n\n| case | n | p50 ms | p95 ms | "
            "p95 / off | p50 added ms |\n|---|---|---|---|---|---|\n" + "\n".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path(Settings().var_dir) / "bench" / "portals")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    from unicat.localsvc import elasticsearch as local_es
    from unicat.localsvc import redis as local_redis

    es = local_es.start(Settings(), port=free_port(), data_dir=args.work / "es")
    redis = local_redis.start(Settings(), port=free_port(), data_dir=args.work / "redis")
    try:
        settings = build(args.work, es.url, redis.url)
        proc, url = serve(settings, {"UNICAT_ANONYMOUS_RATE": "1000000/minute"})
        try:
            sru = sru_vs_json(url, args.rounds)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        sections = {"SRU searchRetrieve vs JSON search": sru, "Export throughput (1,000-hit page)": exports(settings),
                    "Rate limiter overhead": limiter_overhead(settings, args.requests)}
    finally:
        redis.stop()
        es.stop()
    for name, text in sections.items():
        text = f"{stamp()}; {machine()}.\n\n{text}"
        print(f"\n### {name}\n\n{text}")
        if args.write:
            write_section(name, text, heading=HEADING)


if __name__ == "__main__":
    main()
