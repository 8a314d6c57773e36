"""SQLite's page cache and checkpoint interval for a large harvest: the pipeline's own thread CPU
with SQLite's defaults against the store's settings (:data:`store.db.SQLITE_CACHE_KIB`,
:data:`store.db.SQLITE_CHECKPOINT_PAGES`), alternating, on one warm private Elasticsearch node.

Each run is a cold store harvesting the first ``--records`` LC records from one file feed
(``catalog.pipeline.harvest_feed`` to the end, the crosswalk in its worker processes). The figure
is the CPU of the pipeline's thread (``RUSAGE_THREAD``: the store, clustering and projection
work, where every SQLite statement runs), per record, and the process's CPU (with the bulk
thread). Run: ``python -m bench.sqlite_pragmas [--records 100000] [--rounds 3] [--write]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from pathlib import Path

import store.db
from bench.build_throughput import LC_FILE, fresh_services, run_pipeline, side_run, write_marc_subset
from bench.common import es_node, machine, shared_data, stamp, write_section
from catalog.crosswalk_pool import shared_pool

HEADING = "## Consortium scale: cluster and faults (issue 19)"
#: SQLite's own defaults: a 2,000 KiB page cache, a checkpoint every 1,000 pages of log.
VARIANTS = {"SQLite defaults": (2000, 1000), "the store's settings": (store.db.SQLITE_CACHE_KIB,
                                                                      store.db.SQLITE_CHECKPOINT_PAGES)}


def _thread_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime + usage.ru_stime


def one_run(work: Path, es_url: str, mrc: Path, n: int, cache_kib: int, pages: int) -> tuple[float, float, float]:
    """(thread CPU µs, process CPU µs) per record and wall seconds of one cold harvest."""
    store.db.SQLITE_CACHE_KIB, store.db.SQLITE_CHECKPOINT_PAGES = cache_kib, pages
    services = fresh_services(work, es_url, mrc)
    thread, process = _thread_cpu(), time.process_time()
    report, seconds = run_pipeline(services)
    thread, process = _thread_cpu() - thread, time.process_time() - process
    shared_pool(services).close()
    services.close()
    if report.status != "ok":
        raise SystemExit(f"harvest failed: {report.as_dict()}")
    return thread / n * 1e6, process / n * 1e6, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", type=Path, default=Path("var/bench/sqlite"))
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    mrc = work / "records.mrc"
    n = write_marc_subset(shared_data() / LC_FILE, mrc, args.records)
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in VARIANTS}
    with es_node(work) as es_url:
        side_run(work, es_url, shared_data() / LC_FILE, 20_000, "warmup")
        for _ in range(args.rounds):
            for name, (cache_kib, pages) in VARIANTS.items():
                runs[name].append(one_run(work, es_url, mrc, n, cache_kib, pages))
                print(name, [f"{v:,.1f}" for v in runs[name][-1]], flush=True)
    text = report(runs, n, args.rounds)
    print(text)
    if args.write:
        write_section("SQLite's page cache and checkpoints (issue 19)", text, heading=HEADING)


def report(runs: dict[str, list[tuple[float, float, float]]], n: int, rounds: int) -> str:
    lines = [
        f"{stamp()}. Machine: {machine()}; load average at the end "
        f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}.",
        "",
        f"`bench/sqlite_pragmas.py --records {n}`: cold SQLite stores harvesting the first {n:,} LC records "
        f"from one file feed, the variants alternating, {rounds} rounds, one warm private node. CPU µs per "
        "record, median (range).",
        "",
        "| SQLite settings | page cache | checkpoint every | pipeline thread CPU | process CPU | wall s |",
        "|---|---|---|---|---|---|",
    ]
    for name, (cache_kib, pages) in VARIANTS.items():
        cols = list(zip(*runs[name], strict=True))
        cells = [f"{statistics.median(c):,.0f} ({min(c):,.0f}–{max(c):,.0f})" for c in cols[:2]]
        lines.append(f"| {name} | {cache_kib / 1024:,.0f} MiB | {pages:,} pages | {cells[0]} | {cells[1]} | "
                     f"{statistics.median(cols[2]):,.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
