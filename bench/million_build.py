"""A million source records: four members' catalogues of the LC file built into one union catalogue.

The load is what a union catalogue really receives: the ~250,000 real LC records of the shared
data as four members catalogued them, each in its own house style (``bench/member_styles.py``:
own 001s, ISBN forms, punctuation, dropped numbers, CNMARC with the vernacular script). Each
member has a ``files`` feed over a folder holding its catalogue (``full.mrc``); they are
harvested through the real pipeline (:func:`catalog.pipeline.harvest_feed`: store raw →
crosswalk in worker processes → match keys → incremental clustering → outbox → bulk to
Elasticsearch) in harvest processes of their own, from an empty store and an empty index, with a
progress bar and ETA over all records. On SQLite the members go in turn in one process (SQLite
has one writer); on PostgreSQL (``--backend postgres``) ``--processes`` processes share them.

Measured: wall time to searchable (last refresh), records/s, CPU per record (this process, the
harvest processes with their crosswalk workers, the Elasticsearch node's ``process.cpu``, and
PostgreSQL's server processes when used), the peak resident set of every process (VmHWM; the
crosswalk workers' largest from ``getrusage``), index size (``_stats`` store) and database size,
union records and the merge rate (source records per union record), rejects per member. Then
search latency through the API against straight to Elasticsearch at 20 clients on this index
(``bench/search_latency.py``'s queries and load generator) and one incremental harvest: 1,000
changed records of member ``m2`` dropped into its feed folder as ``update-0001.mrc`` (each gains
a local subject heading), timed from harvest start until a search finds them all.

    .venv/bin/python bench/million_build.py [--per-member 250000] [--backend sqlite] [--write]

State (members' files, store, the private Elasticsearch node's data) is kept in ``--work``
(default ``var/bench/million``); each run starts from an empty store and index.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    LATENCY_TABLE,
    LC_FILE,
    bench_settings,
    es_node,
    latency_row,
    machine,
    replace_section,
    shared_data,
    stamp,
    write_marc_subset,
    write_section,
)
from bench.member_styles import MEMBERS, SYNTAX, write_members  # noqa: E402
from bench.search_latency import cpu_line  # noqa: E402

HEADING = "## A million source records (issue 19)"
CHANGE_SUBJECT = "Recatalogued collection"
CHANGE_QUERY = "recatalogued"


def _hwm_kib(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _settings(work: Path, es_url: str, database_url: str | None) -> Any:
    settings = bench_settings(work, es_url)
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings


def _harvest_child(work: str, es_url: str, database_url: str | None, codes: list[str], queue: Any,
                   stop_at: float | None = None, turn_pages: int = 20) -> None:
    """One harvest process: the members ``codes`` in turns of ``turn_pages`` pages each (a
    ``harvest_feed`` with ``max_pages`` that resumes from its checkpoint next turn), so at any
    moment every member has the same share harvested; progress and its own figures to ``queue``.
    At ``stop_at`` (epoch seconds) the running harvest stops after its page (checkpoint kept)."""
    from catalog.context import build_services
    from catalog.pipeline import harvest_feed

    services = build_services(_settings(Path(work), es_url, database_url))
    totals = {code: {"member": code, "status": "not started", "added": 0, "rejected": 0, "error": None,
                     "serial": 0.0, "runs": 0} for code in codes}  # fmt: skip
    base = dict.fromkeys(codes, 0)
    pending = list(codes)
    while pending and not (stop_at is not None and time.time() >= stop_at):
        for code in list(pending):
            def progress(report: Any, code: str = code) -> None:
                done = report.added + report.updated + report.unchanged + report.rejected
                queue.put(("progress", code, base[code] + done))

            report = harvest_feed(services, code, "files", progress=progress, max_pages=turn_pages,
                                  should_stop=_stopper(stop_at))
            row = totals[code]
            row.update(status=report.status, error=report.error, runs=row["runs"] + 1)
            row["added"] += report.added
            row["rejected"] += report.rejected
            row["serial"] += report.serial_seconds
            base[code] += report.added + report.updated + report.unchanged + report.rejected
            if report.status != "interrupted":
                pending.remove(code)
            if stop_at is not None and time.time() >= stop_at:
                break
    services.close()  # joins the crosswalk workers, so getrusage counts them
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    queue.put(("done", os.getpid(), {
        "reports": list(totals.values()), "hwm_kib": _hwm_kib(), "workers_maxrss_kib": kids.ru_maxrss,
        "cpu": own.ru_utime + own.ru_stime, "workers_cpu": kids.ru_utime + kids.ru_stime}))


def _stopper(stop_at: float | None) -> Any:
    return (lambda _run: time.time() >= stop_at) if stop_at is not None else None


def _es_process(es_url: str) -> dict[str, float]:
    """The node's pid, CPU seconds so far and heap figures."""
    info = httpx.get(f"{es_url}/_nodes/_local/process,jvm", timeout=30).json()["nodes"]
    node = next(iter(info.values()))
    stats = httpx.get(f"{es_url}/_nodes/_local/stats/process,jvm", timeout=30).json()["nodes"]
    st = next(iter(stats.values()))
    pools = st["jvm"]["mem"]["pools"]
    return {"pid": node["process"]["id"], "cpu": st["process"]["cpu"]["total_in_millis"] / 1000,
            "heap_max": node["jvm"]["mem"]["heap_max_in_bytes"],
            "old_peak": pools.get("old", {}).get("peak_used_in_bytes", 0)}


def prepare_feeds(work: Path, per_member: int) -> dict[str, int]:
    """Members' files (generated once for the whole LC file) cut to ``per_member`` records each,
    one folder per member holding ``full.mrc``."""
    members = work / "members"
    if not (members / "counts.json").exists():
        print("writing the four members' files from the LC records (once)...", flush=True)
        write_members(shared_data() / LC_FILE, members)
    counts = {}
    for code in MEMBERS:
        folder = work / "feeds" / code
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        counts[code] = write_marc_subset(members / f"{code}.mrc", folder / "full.mrc", per_member)
    return counts


def members_config(work: Path) -> list[dict[str, Any]]:
    return [{"code": code, "name": {"zh": f"成员{n + 1}", "en": f"Member {n + 1}"}, "region": "north",
             "role": "member", "files": {"url_or_path": str(work / "feeds" / code), "syntax": SYNTAX[code]}}
            for n, code in enumerate(MEMBERS)]  # fmt: skip


def build(work: Path, es_url: str, database_url: str | None, plan: list[list[str]], total: int,
          stop_at: float | None = None, turn_pages: int = 20) -> dict[str, Any]:
    """Run the harvest processes of ``plan`` with a progress bar; their figures and the wall time."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    es_before = _es_process(es_url)
    started = time.perf_counter()
    children = [context.Process(target=_harvest_child,
                                args=(str(work), es_url, database_url, codes, queue, stop_at, turn_pages))
                for codes in plan]
    for child in children:
        child.start()
    done: dict[str, int] = {}
    finished: dict[int, dict[str, Any]] = {}
    said = started
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, refresh_per_second=2) as bar:
        task = bar.add_task("source records", total=total, rate="")
        while len(finished) < len(children):
            kind, key, value = queue.get()
            if kind == "progress":
                done[key] = value
            else:
                finished[key] = value
            completed = sum(done.values())
            elapsed = time.perf_counter() - started
            rate = completed / max(elapsed, 1e-9)
            bar.update(task, completed=completed, rate=f"{rate:,.0f}/s")
            if not bar.console.is_terminal and time.perf_counter() - said > 30:  # a log file: a line each 30 s
                said = time.perf_counter()
                eta = (total - completed) / rate if rate else 0
                print(f"{completed:,}/{total:,} source records, {rate:,.0f}/s, {elapsed:,.0f} s, "
                      f"ETA {eta:,.0f} s", flush=True)
    for child in children:
        child.join()
    return {"children": list(finished.values()), "es_before": es_before, "started": started,
            "done": sum(done.values()), "total": total}


def store_figures(settings: Any) -> dict[str, Any]:
    """Source and union record counts, rejects per member and the database's size on disk."""
    from sqlalchemy import func, select

    from catalog.context import build_services
    from store.models import Cluster, Reject, SourceRecord

    services = build_services(settings)
    with services.db() as session:
        sources = session.scalar(select(func.count()).select_from(SourceRecord).where(SourceRecord.deleted.is_(False)))
        unions = session.scalar(select(func.count()).select_from(Cluster).where(Cluster.size > 0))
        rejects = dict(session.execute(select(Reject.member_code, func.count()).group_by(Reject.member_code)).all())
        by_size = select(Cluster.size, func.count()).where(Cluster.size > 0).group_by(Cluster.size)
        sizes = dict(session.execute(by_size).all())
        if services.engine.dialect.name == "postgresql":
            size = session.scalar(select(func.pg_database_size(func.current_database())))
        else:
            db = Path(settings.database_url.removeprefix("sqlite:///"))
            size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
    services.close()
    return {"sources": sources, "unions": unions, "rejects": rejects, "db_bytes": size, "sizes": sizes}


def index_figures(es_url: str, alias: str) -> dict[str, Any]:
    httpx.post(f"{es_url}/{alias}/_refresh", timeout=600)
    stats = httpx.get(f"{es_url}/{alias}/_stats/store,docs", timeout=60).json()["_all"]["primaries"]
    return {"docs": stats["docs"]["count"], "index_bytes": stats["store"]["size_in_bytes"]}


def search_latency(settings: Any, es_url: str, clients: int, requests: int, rounds: int) -> dict[str, Any]:
    """p50/p95/p99 through the API and straight to Elasticsearch (``bench/search_latency.py``'s
    queries, load generator and API set-up), rounds alternating."""
    from bench.search_latency import FIXED, api_vs_direct, sampled

    queries = FIXED + sampled(es_url, settings.records_alias)
    measured = api_vs_direct(settings, es_url, queries, clients, requests, rounds)
    return {**measured, "queries": len(queries)}


def changed_records(work: Path, count: int, within: int) -> list[tuple[str, bytes]]:
    """``count`` records spread over the first ``within`` records of m2's catalogue, each with a
    local subject heading added; (001, bytes) of each."""
    import pymarc

    from bench.member_styles import lc_records

    step = max(1, within // count)
    out = []
    for n, raw in enumerate(lc_records(work / "feeds" / "m2" / "full.mrc", within)):
        if n % step == 0 and len(out) < count:
            record = pymarc.Record(data=raw, to_unicode=True, force_utf8=True)
            record.add_ordered_field(pymarc.Field(tag="650", indicators=[" ", "4"],
                                                  subfields=[pymarc.Subfield("a", CHANGE_SUBJECT)]))
            out.append((record["001"].data, record.as_marc()))
    return out


def _found(es_url: str, alias: str) -> int:
    from bench.search_latency import direct_body

    body = direct_body({"q": CHANGE_QUERY})
    r = httpx.post(f"{es_url}/{alias}/_search", content=body, headers={"content-type": "application/json"},
                   params={"size": 0}, timeout=60)
    return int(r.json()["hits"]["total"]["value"])


def incremental(work: Path, settings: Any, es_url: str, count: int) -> dict[str, Any]:
    """One harvest of ``count`` changed records of m2: seconds from the start of the harvest until a
    search finds every union record holding one of them. When m2's catalogue was harvested to the
    end, the changed records are the update file its feed folder gains (the harvest skips the
    unchanged catalogue by its checksum); after a build stopped early, the same records are handed
    to the pipeline directly (``catalog.pipeline.ingest``), as the unfinished file pass would
    otherwise go on first."""
    from sqlalchemy import distinct, func, select

    from catalog.context import build_services
    from catalog.pipeline import harvest_feed, ingest
    from harvesters.base import HarvestedRecord
    from store.models import Checkpoint, SourceRecord

    services = build_services(settings)
    with services.db() as session:
        stored = session.scalar(select(func.count()).select_from(SourceRecord).where(SourceRecord.member_code == "m2"))
        state = session.get(Checkpoint, ("m2", "files"))
        complete = bool(state and (state.state.get("files") or {}).get("full.mrc", {}).get("done"))
    changed = changed_records(work, count, int(stored or 0))
    if complete:
        (work / "feeds" / "m2" / "update-0001.mrc").write_bytes(b"".join(raw for _, raw in changed))
    alias = settings.records_alias
    before = _found(es_url, alias)
    started = time.perf_counter()
    if complete:
        report = harvest_feed(services, "m2", "files")
    else:
        records = [HarvestedRecord(local_id, raw, encoding="iso2709") for local_id, raw in changed]
        report = ingest(services, "m2", records)
    harvested = time.perf_counter() - started
    with services.db() as session:
        expected = session.scalar(select(func.count(distinct(SourceRecord.cluster_id))).where(
            SourceRecord.member_code == "m2", SourceRecord.harvest_run_id == report.run_id))
    services.close()
    found = before
    while time.perf_counter() - started < harvested + 120:
        found = _found(es_url, alias)
        if found - before >= (expected or len(changed)):
            break
        time.sleep(0.1)
    return {"updated": report.updated, "added": report.added, "status": report.status, "harvest_s": harvested,
            "searchable_s": time.perf_counter() - started, "found": found - before, "expected": expected,
            "how": "update file" if complete else "ingest", "changed": len(changed)}


def _stop_at(clock: str | None) -> float | None:
    """``HH:MM`` (UTC, today or, when already past, tomorrow) as epoch seconds."""
    if not clock:
        return None
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    hour, minute = (int(x) for x in clock.split(":"))
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return (at if at > now else at + timedelta(days=1)).timestamp()


def _plan(backend: str, processes: int) -> list[list[str]]:
    if backend == "sqlite":
        return [list(MEMBERS)]
    return [list(MEMBERS[n::processes]) for n in range(processes)]


def _fresh(work: Path) -> None:
    for name in ("es", "store.sqlite3", "store.sqlite3-wal", "store.sqlite3-shm", "pg"):
        path = work / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The build, its figures, the search latency and the incremental harvest."""
    from catalog.context import build_services
    from catalog.members import sync_members
    from store.db import transaction

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    counts = prepare_feeds(work, args.per_member)
    _fresh(work)
    os.environ.setdefault("UNICAT_ES_JAVA_OPTS", "-Xms2g -Xmx2g")
    pg = None
    database_url = None
    if args.backend == "postgres":
        from tests.core.test_postgres import fresh_database
        from unicat.localsvc import postgres as local_pg
        from unicat.localsvc.process import free_port

        work.chmod(0o755)
        pg = local_pg.start(work / "pg", free_port())
        database_url = fresh_database(pg.url)
    try:
        with es_node(work) as es_url:
            settings = _settings(work, es_url, database_url)
            services = build_services(settings)
            with transaction(services.db) as session:
                sync_members(session, members_config(work))
            services.close()
            pg_before = _pg_cpu(pg.data_dir) if pg else 0.0
            main_before = resource.getrusage(resource.RUSAGE_SELF)
            built = build(work, es_url, database_url, _plan(args.backend, args.processes), sum(counts.values()),
                          _stop_at(args.stop_at), args.turn_pages)
            figures = index_figures(es_url, settings.records_alias)
            built["wall"] = time.perf_counter() - built["started"]
            main_after = resource.getrusage(resource.RUSAGE_SELF)
            built["main_cpu"] = _cpu(main_after) - _cpu(main_before)
            built["pg_cpu"] = _pg_cpu(pg.data_dir) - pg_before if pg else 0.0
            built["pg_hwm_kib"] = _pg_hwm(pg.data_dir) if pg else 0
            es_after = _es_process(es_url)
            built["es_cpu"] = es_after["cpu"] - built["es_before"]["cpu"]
            built["es"] = {**es_after, "hwm_kib": _hwm_kib(int(es_after["pid"]))}
            built["main_hwm_kib"] = _hwm_kib()
            figures.update(store_figures(settings))
            _save(work, {"counts": counts, "built": built, "figures": figures})
            latency = update = None
            if args.rounds:
                latency = _step("search latency", lambda: search_latency(
                    settings, es_url, args.clients, args.requests, args.rounds))
            if args.changed:
                update = _step("incremental harvest", lambda: incremental(work, settings, es_url, args.changed))
    finally:
        if pg is not None:
            pg.stop()
    return {"counts": counts, "built": built, "figures": figures, "latency": latency, "update": update}


def _save(work: Path, result: dict[str, Any]) -> None:
    """The build's figures as soon as they are known (a later step failing loses none of them)."""
    import json

    (work / "result.json").write_text(json.dumps(result, indent=1, default=str))


def _step(name: str, step: Any) -> Any:
    """A later step's figures, or None (and the error printed) when it fails."""
    try:
        return step()
    except Exception as exc:  # the build's figures are still reported
        print(f"{name} failed: {type(exc).__name__}: {exc}", flush=True)
        return None


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _pg_procs(data_dir: Path) -> list[tuple[int, list[str]]]:
    master = int((data_dir / "postmaster.pid").read_text().split()[0])
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(pid) == master or int(fields[1]) == master:
                out.append((int(pid), fields))
    return out


def _pg_cpu(data_dir: Path) -> float:
    """CPU seconds of the PostgreSQL server so far: the postmaster (with reaped backends) and live ones."""
    tick = os.sysconf("SC_CLK_TCK")
    master = int((data_dir / "postmaster.pid").read_text().split()[0])
    return sum(sum(int(v) for v in fields[11:15 if pid == master else 13]) / tick
               for pid, fields in _pg_procs(data_dir))


def _pg_hwm(data_dir: Path) -> int:
    return max((_hwm_kib(pid) for pid, _ in _pg_procs(data_dir)), default=0)


def _partial(built: dict[str, Any]) -> str:
    """Empty for a finished build; else what was left and the ETA at the rate reached."""
    done, total, wall = built["done"], built["total"], built["wall"]
    if done >= total:
        return ""
    eta = (total - done) / (done / wall) if done else float("inf")
    return (f" of {total:,} (**stopped at the time limit**: {done / total:.0%} done; at this rate the rest "
            f"would take another {eta / 60:,.0f} min, {(wall + eta) / 60:,.0f} min in all)")


def _sizes(sizes: dict[int, int]) -> str:
    counts = [sizes.get(n, 0) for n in (1, 2, 3, 4)] + [sum(v for k, v in sizes.items() if k > 4)]
    return " / ".join(f"{n:,}" for n in counts)


def _mib(kib: float) -> str:
    return f"{kib / 1024:,.0f}"


def report(args: argparse.Namespace, result: dict[str, Any]) -> list[str]:
    built, fig, counts = result["built"], result["figures"], result["counts"]
    records, wall = built["done"], built["wall"]
    harvest_cpu = sum(c["cpu"] for c in built["children"])
    workers_cpu = sum(c["workers_cpu"] for c in built["children"])
    cpu_rows = [("this process (progress bar)", built["main_cpu"]), ("harvest process(es)", harvest_cpu),
                ("crosswalk workers", workers_cpu), ("Elasticsearch node (`process.cpu`)", built["es_cpu"])]
    if built["pg_cpu"]:
        cpu_rows.append(("PostgreSQL server processes", built["pg_cpu"]))
    total_cpu = sum(v for _, v in cpu_rows)
    rejects = ", ".join(f"{code} {fig['rejects'].get(code, 0):,}" for code in MEMBERS)
    statuses = "; ".join(f"{r['member']} {r['status']} ({r['added']:,} added{', ' + r['error'] if r['error'] else ''})"
                         for c in built["children"] for r in c["reports"])
    lines = [
        HEADING, "",
        f"{stamp()}; {machine()} (shared with other work, load average {os.getloadavg()[0]:.1f}). "
        f"`bench/million_build.py --per-member {args.per_member} --backend {args.backend}"
        f"{f' --processes {args.processes}' if args.backend == 'postgres' else ''}`: four members' catalogues of "
        f"the real LC records ({', '.join(f'{c} {n:,}' for c, n in counts.items())}; house styles in "
        "`bench/member_styles.py`), one `files` feed each, harvested through `catalog.pipeline.harvest_feed` "
        f"from an empty store and index ({len(built['children'])} harvest process(es), crosswalk workers as "
        "configured by default: one per core), private Elasticsearch node. Harvests: " + statuses + ".",
        "",
        "| build | figure |", "|---|---|",
        f"| source records | {records:,}{_partial(built)} |",
        f"| wall time to searchable (all harvests + refresh) | {wall:,.0f} s ({wall / 60:.1f} min) |",
        f"| records/s | **{records / wall:,.0f}** |",
        f"| CPU per record, all processes | **{total_cpu / records * 1e6:,.0f} µs** ({total_cpu:,.0f} CPU s over "
        f"{os.cpu_count()} cores; {total_cpu / wall / (os.cpu_count() or 1):.2f} of the cores' time) |",
        *[f"| … {name} | {cpu / records * 1e6:,.0f} µs |" for name, cpu in cpu_rows],
        f"| union records (Elasticsearch documents) | {fig['docs']:,} (clusters in the store: {fig['unions']:,}) |",
        f"| merge rate (source records per union record) | **{fig['sources'] / max(fig['docs'], 1):.2f}** "
        f"({fig['sources']:,} live source records) |",
        f"| union records by source records held (1 / 2 / 3 / 4 / more) | {_sizes(fig.get('sizes') or {})} |",
        f"| rejects per member | {rejects} |",
        f"| index size (`_stats` store, primaries) | {fig['index_bytes'] / 2**20:,.0f} MiB "
        f"({fig['index_bytes'] / max(fig['docs'], 1):,.0f} bytes per union record) |",
        f"| database size ({args.backend}) | {fig['db_bytes'] / 2**20:,.0f} MiB "
        f"({fig['db_bytes'] / records:,.0f} bytes per source record) |",
        "", "| process | peak resident set (VmHWM) MiB |", "|---|---|",
        f"| this process | {_mib(built['main_hwm_kib'])} |",
        *[f"| harvest process {n + 1} ({', '.join(r['member'] for r in c['reports'])}) | {_mib(c['hwm_kib'])} |"
          for n, c in enumerate(built["children"])],
        *[f"| its largest crosswalk worker | {_mib(c['workers_maxrss_kib'])} |" for c in built["children"]],
        f"| Elasticsearch node (heap max {built['es']['heap_max'] / 2**30:.0f} GiB, old-generation peak "
        f"{built['es']['old_peak'] / 2**20:,.0f} MiB) | {_mib(built['es']['hwm_kib'])} |",
    ]
    if built["pg_hwm_kib"]:
        lines.append(f"| PostgreSQL, largest server process | {_mib(built['pg_hwm_kib'])} |")
    return lines + _latency_lines(args, result["latency"], fig) + _update_lines(args, result["update"])


def _latency_lines(args: argparse.Namespace, latency: dict[str, Any] | None, fig: dict[str, Any]) -> list[str]:
    if latency is None:
        return []
    total = latency["total"]
    ratio = total["api"]["p95"] / total["direct"]["p95"]
    return [
        "", f"Search on this index ({fig['docs']:,} union documents): {args.clients} clients, {args.requests} requests "
        f"each per round, {args.rounds} rounds alternating API / direct, {latency['queries']} queries in turn "
        "(`bench/search_latency.py`'s: Latin, Chinese, authors, ISBNs, filters, sorts; facets on).", "",
        *LATENCY_TABLE,
        latency_row("through the API (`GET /api/v1/search`)", total["api"], latency["errors"]["api"]),
        latency_row("straight to Elasticsearch", total["direct"], latency["errors"]["direct"]), "",
        f"**p95(API) / p95(direct) = {ratio:.2f}** (per round: {', '.join(f'{x:.2f}' for x in latency['per_round'])}). "
        f"Target ≤ 1.5: {'meets' if ratio <= 1.5 else '**misses**'}.",
        *(["", cpu_line(latency["cpu"])] if "cpu" in latency else []),
    ]


def _update_lines(args: argparse.Namespace, update: dict[str, Any] | None) -> list[str]:
    if update is None:
        return []
    how = ("dropped into its feed folder as `update-0001.mrc` beside the unchanged catalogue (skipped by "
           "its checksum); one `harvest_feed` of m2" if update["how"] == "update file" else
           "handed to the pipeline directly (`catalog.pipeline.ingest`; the build stopped before m2's file "
           "was read to the end, so its files feed would have gone on with that first)")
    return [
        "", f"Incremental harvest: {update['changed']:,} changed records of m2 (a local subject heading added to "
        f"each) {how}: {update['status']}, {update['updated']:,} updated, {update['added']:,} added. "
        f"Harvest (with its closing refresh) {update['harvest_s']:.1f} s; **searchable "
        f"{update['searchable_s']:.1f} s after the harvest started** (a search for the new heading finds "
        f"{update['found']:,} more union records than before; {update['expected'] or 0:,} hold the changed records).",
    ]


def search_only(args: argparse.Namespace) -> None:
    """The search bench again on the index and store a previous build left (a subsection of its own,
    so the build's figures keep their own date and commit)."""
    work = args.work.resolve()
    built = json.loads((work / "result.json").read_text())
    os.environ.setdefault("UNICAT_ES_JAVA_OPTS", "-Xms2g -Xmx2g")  # as the build ran
    with es_node(work) as es_url:
        httpx.get(f"{es_url}/_cluster/health", params={"wait_for_status": "green", "timeout": "120s"}, timeout=130)
        settings = _settings(work, es_url, None)
        latency = search_latency(settings, es_url, args.clients, args.requests, args.rounds)
    lines = [f"{stamp()}; {machine()}. `bench/million_build.py --search-only`: the search bench again on the "
             f"index of the build above ({built['figures']['docs']:,} union documents)."]
    lines += _latency_lines(args, latency, built["figures"])
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section("Search on the million-record index, rerun", text, heading=HEADING)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-member", type=int, default=250_000, help="records per member (the LC file has 250,000)")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--processes", type=int, default=2, help="harvest processes on PostgreSQL")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="0 skips the search bench")
    parser.add_argument("--changed", type=int, default=1000, help="0 skips the incremental harvest")
    parser.add_argument("--work", type=Path, default=Path("var/bench/million"))
    parser.add_argument("--stop-at", default=None, metavar="HH:MM",
                        help="UTC time at which the harvests stop after their page (partial figures are reported)")
    parser.add_argument("--turn-pages", type=int, default=20, help="pages of 500 per member per turn")
    parser.add_argument("--search-only", action="store_true",
                        help="only the search bench, on the index a previous run left in --work")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.search_only:
        search_only(args)
        return
    lines = report(args, run(args))
    print("\n".join(lines))
    if args.write:
        replace_section(HEADING, lines)


if __name__ == "__main__":
    main()
