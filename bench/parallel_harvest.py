"""Parallel harvests on PostgreSQL: two members in two processes vs one process, one after the other.

Each member holds an overlapping slice of the real LC records of the shared data (its own 001s;
half of member b's records are also member a's, so clustering really links across members). Both
runs start from an empty PostgreSQL database; crosswalking runs in the harvesting process
(``crosswalk_workers = 1``), so "one process" uses one core and the ceiling of two is 2×.
Elasticsearch is left out (projection is deferred): the bench measures what the processes share,
the store and its clustering lock. Reported: wall time, records/s, CPU per record of the harvest
processes and of PostgreSQL, the serial part (time the clustering lock was held, per record), and
whether both runs gave the same clusters.

    .venv/bin/python bench/parallel_harvest.py [--records 6000] [--write]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import LC_FILE, RESULTS, git_revision, machine, replace_section, shared_data  # noqa: E402

HEADING = "## Parallel harvests on PostgreSQL (issue 19)"
MEMBERS = ["a", "b"]


def _dumps(folder: Path, per_member: int) -> dict[str, Path]:
    from tests.core.helpers import read_marc, variant

    real = read_marc(shared_data() / LC_FILE, limit=per_member * 3 // 2)
    step = per_member // 2
    dumps = {}
    for n, code in enumerate(MEMBERS):
        path = folder / f"{code}.mrc"
        with open(path, "wb") as out:
            for i, rec in enumerate(real[n * step : n * step + per_member], n * step):
                out.write(variant(rec, f"{code}-{i}").as_marc())
        dumps[code] = path
    return dumps


def _harvest(args: tuple[str, list[str]]) -> tuple[int, float]:
    """Child process: harvest ``codes`` one after the other; returns (records, serial seconds)."""
    url, codes = args
    from catalog.context import build_services
    from catalog.pipeline import harvest_member
    from unicat.settings import Settings

    settings = Settings(
        database_url=url, es_url="http://127.0.0.1:1", redis_url="redis://127.0.0.1:1/0", crosswalk_workers=1
    )
    services = build_services(settings)
    records = serial = 0.0
    try:
        for code in codes:
            for report in harvest_member(services, code):
                assert report.status == "ok", report.error
                records += report.added
                serial += report.serial_seconds
    finally:
        services.close()
    return int(records), serial


def _pg_cpu(data_dir: Path) -> float:
    """CPU seconds of the PostgreSQL server so far: the postmaster, its reaped and live backends."""
    tick = os.sysconf("SC_CLK_TCK")
    master = int((data_dir / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(pid) == master:
            total += sum(int(v) for v in fields[11:15]) / tick  # utime stime cutime cstime
        elif int(fields[1]) == master:
            total += sum(int(v) for v in fields[11:13]) / tick
    return total


def _run(pg, dumps: dict[str, Path], plan: list[list[str]]) -> dict[str, float]:
    from catalog.context import build_services
    from catalog.members import sync_members
    from store.db import transaction
    from tests.core.parallel import clusters, members_config
    from tests.core.test_postgres import fresh_database
    from unicat.settings import Settings

    url = fresh_database(pg.url)
    services = build_services(Settings(database_url=url, es_url="http://127.0.0.1:1"))
    with transaction(services.db) as session:
        sync_members(session, members_config(dumps))
    services.close()
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    before_pg = _pg_cpu(pg.data_dir)
    started = time.perf_counter()
    load = os.getloadavg()[0]
    with multiprocessing.get_context("spawn").Pool(len(plan)) as pool:
        results = pool.map(_harvest, [(url, codes) for codes in plan])
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    records = sum(r for r, _ in results)
    harvest_cpu = (after.ru_utime - before_children.ru_utime) + (after.ru_stime - before_children.ru_stime)
    return {
        "wall": wall, "records": records, "harvest_cpu": harvest_cpu, "pg_cpu": _pg_cpu(pg.data_dir) - before_pg,
        "serial": sum(s for _, s in results), "clusters": clusters(url), "load": (load + os.getloadavg()[0]) / 2,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=6000, help="records per member")
    parser.add_argument("--write", action="store_true", help=f"write the figures to {RESULTS}")
    args = parser.parse_args()
    from unicat.localsvc import postgres as local_pg
    from unicat.localsvc.process import free_port

    work = Path(tempfile.mkdtemp(prefix="unicat-bench-par-"))
    work.chmod(0o755)
    pg = local_pg.start(work / "pg", free_port())
    try:
        dumps = _dumps(work, args.records)
        one = _run(pg, dumps, [MEMBERS])
        two = _run(pg, dumps, [[code] for code in MEMBERS])
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    lines = _report(args.records, one, two)
    print("\n".join(lines))
    if args.write:
        replace_section(HEADING, lines)


def _report(per_member: int, one: dict, two: dict) -> list[str]:
    rows = []
    for name, run in (("1 process, a then b", one), ("2 processes, a ∥ b", two)):
        n = run["records"]
        rows.append(
            f"| {name} | {n:,} | {run['wall']:.1f} | {n / run['wall']:.0f} | {run['harvest_cpu'] / n * 1e6:.0f} "
            f"| {run['pg_cpu'] / n * 1e6:.0f} | {run['serial'] / n * 1e6:.0f} | {run['serial'] / run['wall']:.2f} "
            f"| {run['load']:.1f} |"
        )
    speedup = one["wall"] / two["wall"]
    serial = one["serial"] / one["wall"]
    amdahl = 1 / (serial + (1 - serial) / 2)
    return [
        HEADING,
        "",
        f"{time.strftime('%Y-%m-%d')}, commit {git_revision()}; {machine()} (shared with other work). "
        f"`bench/parallel_harvest.py --records {per_member}`: two members of {per_member:,} real LC records "
        "each (own 001s, half of b's records also a's), empty PostgreSQL each run, crosswalk in process, "
        "Elasticsearch left out (projection deferred).",
        "",
        "| run | records | wall s | records/s | harvest CPU µs/record | PostgreSQL CPU µs/record "
        "| clustering lock held µs/record (serial part) | lock held / wall | load average |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Two processes: {speedup:.2f}× one process, against a ceiling of 2× on 2 cores "
        f"({speedup / 2:.2f} of the ceiling); same clusters in both runs: "
        f"{'yes' if one['clusters'] == two['clusters'] else 'NO'} ({len(one['clusters']):,} union records). "
        f"With a serial share of {serial:.2f} (the clustering lock, one process), two processes on two idle "
        f"cores could reach at most {amdahl:.2f}× (Amdahl); the load average column says how idle they were.",
        "",
    ]



if __name__ == "__main__":
    main()
