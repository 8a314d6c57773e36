"""Benchmark: several members harvested at once, against the same members one after another.

The worker runs up to four harvests at a time (arq ``max_jobs``), each in a thread of one process
sharing one crosswalk pool, one store and one index. This measures what that buys on these cores.
N members each get a file feed holding a disjoint slice of the LC file (records ``i*K`` to
``(i+1)*K``); on a node warmed as the build bench warms it, the N feeds are harvested one after
another and, from an emptied store and index, all at once in N threads. The two ways alternate
(``--pairs`` times) and the medians are reported, with the documents each way indexed.

    python bench/concurrent_members.py [--members 2] [--records-each 20000] [--pairs 2] [--write]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: `python bench/concurrent_members.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import catalog.pipeline as pipeline  # noqa: E402
from bench import common  # noqa: E402
from bench.build_throughput import empty_store, side_run, warm_node  # noqa: E402
from catalog.context import Services  # noqa: E402
from indexer.es import make_es_client  # noqa: E402


def split_feeds(source: Path, work: Path, members: int, each: int) -> list[Path]:
    """``members`` ISO 2709 files of ``each`` records, consecutive slices of ``source``."""
    whole = work / "all.mrc"
    written = common.write_marc_subset(source, whole, members * each)
    if written < members * each:
        raise SystemExit(f"{source} has only {written} records")
    records = [raw + b"\x1d" for raw in whole.read_bytes().split(b"\x1d") if raw.strip()]
    paths = []
    for i in range(members):
        path = work / f"member{i + 1}.mrc"
        path.write_bytes(b"".join(records[i * each : (i + 1) * each]))
        paths.append(path)
    return paths


def fresh(work: Path, es_url: str, feeds: list[Path]) -> tuple[Services, list[str]]:
    """An empty store with one member per feed, and no index behind the alias."""
    members: list[dict[str, Any]] = [
        {"code": f"m{i + 1}", "name": {"zh": f"成员{i + 1}", "en": f"Member {i + 1}"}, "region": "north",
         "role": "member", "files": {"url_or_path": str(path), "format": "iso2709"}}
        for i, path in enumerate(feeds)
    ]
    return empty_store(work, es_url, members), [m["code"] for m in members]


def run(work: Path, es_url: str, feeds: list[Path], together: bool) -> tuple[float, int]:
    """(wall seconds, union documents) to harvest every feed, in turn or all at once."""
    services, codes = fresh(work, es_url, feeds)
    try:
        started = time.perf_counter()
        if together:
            with ThreadPoolExecutor(len(codes)) as threads:
                reports = list(threads.map(lambda code: pipeline.harvest_feed(services, code, "files"), codes))
        else:
            reports = [pipeline.harvest_feed(services, code, "files") for code in codes]
        services.es.indices.refresh(index=services.settings.records_alias)
        seconds = time.perf_counter() - started
        bad = [r.as_dict() for r in reports if r.status != "ok" or r.index_failed]
        if bad:
            raise SystemExit(f"harvest failed: {bad}")
        return seconds, services.es.count(index=services.settings.records_alias)["count"]
    finally:
        services.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=2)
    ap.add_argument("--records-each", type=int, default=20_000)
    ap.add_argument("--pairs", type=int, default=2, help="alternating (in turn, at once) pairs; medians kept")
    ap.add_argument("--warmup", type=int, default=20_000, help="records whose documents warm the node (0: none)")
    ap.add_argument("--work", type=Path, default=None, help="state folder (default var/bench/concurrent)")
    ap.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = ap.parse_args(argv)
    source = common.shared_data() / common.LC_FILE
    if not source.exists():
        raise SystemExit(f"{source} not found; set UNICAT_SHARED_DATA")
    work = (args.work or common.default_work_dir().parent / "concurrent").resolve()
    work.mkdir(parents=True, exist_ok=True)
    feeds = split_feeds(source, work, args.members, args.records_each)
    total = args.members * args.records_each
    times: dict[bool, list[float]] = {False: [], True: []}
    docs: dict[bool, set[int]] = {False: set(), True: set()}
    with common.es_node(work) as es_url:
        warming: list[float] = []
        if args.warmup:
            warm_docs = side_run(work, es_url, source, args.warmup, "warmup")
            warming = warm_node(make_es_client(common.bench_settings(work, es_url)), warm_docs, 30)
        for _ in range(args.pairs):
            for together in (False, True):
                seconds, count = run(work, es_url, feeds, together)
                times[together].append(seconds)
                docs[together].add(count)
                print(f"{'at once' if together else 'in turn'}: {total / seconds:,.0f} records/s "
                      f"({count:,} documents)", flush=True)
    in_turn, at_once = (statistics.median(times[k]) for k in (False, True))
    warm = f"warmed by {len(warming)} bulk loads of a {args.warmup:,}-record run's documents" if warming else "cold"
    text = "\n".join([
        f"{common.stamp()}. Machine: {common.machine()}.",
        "",
        f"{args.members} members, each a file feed of {args.records_each:,} consecutive records of `{source.name}` "
        f"({total:,} in all); cold empty SQLite store each run; private Elasticsearch node {warm}. "
        f"In turn = `harvest_feed` for each member in one thread; at once = one thread per member, as the "
        f"worker runs concurrent jobs (one process, one crosswalk pool, one store). {args.pairs} alternating "
        f"pairs, medians.",
        "",
        "| how | seconds | records/s | union documents |",
        "|---|---|---|---|",
        f"| in turn | {in_turn:.1f} | {total / in_turn:,.0f} | {', '.join(f'{d:,}' for d in sorted(docs[False]))} |",
        f"| at once | {at_once:.1f} | {total / at_once:,.0f} | {', '.join(f'{d:,}' for d in sorted(docs[True]))} |",
        "",
        f"**At once / in turn = {in_turn / at_once:.2f}×** the rate (runs: in turn "
        f"{', '.join(f'{s:.1f}' for s in times[False])} s; at once {', '.join(f'{s:.1f}' for s in times[True])} s).",
    ])
    print(text)
    if args.write:
        common.write_section("Several members at once", text)


if __name__ == "__main__":
    main()
