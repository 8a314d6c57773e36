"""Load test of several API processes with locust: requests/s and p95 for search, record page and
availability, for 1, 2 and 4 processes of ``unicat serve --workers N``.

The store holds the demo's real records harvested as three members (SQLite, a private
Elasticsearch node, a private Redis shared by the API processes for the availability cache, the
breaker and the rate-limit counters; the anonymous rate limit is switched off so that the load is
measured, not refused). Availability reads the harvested holdings (no live peer here), so it
measures the fan-out service with its Redis cache and breaker, not a member's OPAC. Locust
(``bench/api_locustfile.py``) runs headless in its own process with 20 users for ``--seconds``;
CPU is that of the API processes (master and workers) per request, from the kernel's accounting.

    .venv/bin/python bench/api_load.py [--processes 1,2,4] [--users 20] [--seconds 20] [--write]
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import es_node, machine, replace_section, stamp  # noqa: E402

HEADING = "## Several API processes under load (issue 19)"
QUERIES = ["pride prejudice", "austen", "history", "china", "science", "war", "傲慢与偏见", "music", "law", "art"]


def _build(work: Path, es_url: str, redis_url: str) -> tuple[dict[str, str], list[str]]:
    from catalog.context import build_services
    from catalog.members import sync_members
    from catalog.pipeline import ingest
    from catalog.records import find_by_source
    from store.db import transaction
    from tests.core.conftest import MEMBERS
    from tests.core.helpers import DEMO, as_harvested, read_marc
    from unicat.settings import Settings

    env = {"UNICAT_DATABASE_URL": f"sqlite:///{work / 'store.sqlite3'}", "UNICAT_ES_URL": es_url,
           "UNICAT_REDIS_URL": redis_url, "UNICAT_VAR_DIR": str(work), "UNICAT_INDEX_PREFIX": "load",
           "UNICAT_ANONYMOUS_RATE": ""}  # fmt: skip
    services = build_services(Settings(database_url=env["UNICAT_DATABASE_URL"], es_url=es_url,
                                       redis_url=redis_url, var_dir=work, index_prefix="load"))  # fmt: skip
    with transaction(services.db) as session:
        sync_members(session, [dict(m) for m in MEMBERS])
    uva = as_harvested(read_marc(DEMO / "pku" / "uva-sirsi.mrc.gz"))
    pride = as_harvested(read_marc(DEMO / "sjtu" / "pride-and-prejudice.mrc"))
    lc = as_harvested(read_marc(DEMO / "sjtu" / "lc-books.mrc.gz"))
    ingest(services, "pku", uva)
    ingest(services, "sjtu", pride + lc)
    ingest(services, "nlc", uva[:1000])  # a second holder for a thousand of them
    ids = sorted({find_by_source(services, "pku", r.local_id)["id"] for r in uva[:1000:5]})
    services.close()
    return env, ids


def _serve(env: dict[str, str], processes: int, port: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "unicat.cli", "serve", "--port", str(port), "--workers", str(processes)]
    return subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _locust(url: str, ids: list[str], users: int, seconds: int, prefix: Path) -> None:
    locust = Path(sys.executable).parent / "locust"
    argv = [str(locust), "-f", str(Path(__file__).parent / "api_locustfile.py"), "--headless", "-u", str(users),
            "-r", str(users), "-t", f"{seconds}s", "--host", url, "--csv", str(prefix), "--only-summary"]
    env = {**os.environ, "UNICAT_LOAD_IDS": ",".join(ids), "UNICAT_LOAD_QUERIES": "|".join(QUERIES)}
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _one(env: dict[str, str], ids: list[str], processes: int, users: int, seconds: int, work: Path) -> dict:
    from unicat.localsvc.process import free_port, wait_for_http

    port = free_port()
    server = _serve(env, processes, port)
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_for_http(f"{url}/api/v1/search?q=austen", timeout=120), "the API did not start"
        _locust(url, ids[:20], 4, 3, work / f"warm{processes}")  # warm every worker's caches
        load = os.getloadavg()[0]
        _locust(url, ids, users, seconds, work / f"run{processes}")
        locust_done = _cpu()
    finally:
        server.terminate()
        server.wait(timeout=60)
    server_cpu = _cpu() - locust_done
    with open(work / f"run{processes}_stats.csv") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    return {"rows": rows, "server_cpu": server_cpu, "load": (load + os.getloadavg()[0]) / 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    from tests.services import private_redis

    work = Path(tempfile.mkdtemp(prefix="unicat-bench-load-"))
    work.chmod(0o755)
    results = {}
    with es_node(work) as es_url, private_redis() as redis_url:
        env, ids = _build(work, es_url, redis_url)
        for n in [int(p) for p in args.processes.split(",")]:
            results[n] = _one(env, ids, n, args.users, args.seconds, work)
    lines = _report(results, args.users, args.seconds, len(ids))
    print("\n".join(lines))
    if args.write:
        replace_section(HEADING, lines)


def _report(results: dict[int, dict], users: int, seconds: int, ids: int) -> list[str]:
    rows = []
    for n, result in results.items():
        total = result["rows"]["Aggregated"]
        requests = int(total["Request Count"])
        for name in ("search", "record page", "availability", "Aggregated"):
            row = result["rows"][name]
            rows.append(
                f"| {n} | {name if name != 'Aggregated' else 'all'} | {int(row['Request Count']):,} "
                f"| {int(row['Failure Count'])} | {float(row['Requests/s']):.1f} | {row['50%']} | {row['95%']} "
                + (f"| {result['server_cpu'] / requests * 1e3:.1f} | {result['load']:.1f} |" if name == "Aggregated"
                   else "| | |")
            )
    return [
        HEADING,
        "",
        f"{stamp()}; {machine()} (shared with other work: see the load average). `bench/api_load.py`: "
        f"locust, {users} users for {seconds} s with no think time beyond 0–50 ms, over {ids} union records "
        "(search 3 : record page 2 : availability 2); `unicat serve --workers N` on SQLite, one private "
        "Elasticsearch node and one Redis shared by the processes.",
        "",
        "| API processes | request | requests | failures | requests/s | p50 ms | p95 ms "
        "| API CPU ms/request | load average |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]



if __name__ == "__main__":
    main()
