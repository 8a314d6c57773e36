"""Benchmark: build throughput, MARC file to searchable in Elasticsearch, against a bulk-load ceiling.

(a) Pipeline: the first N records of the LC Books All file are written to a plain ISO 2709 file,
one member's ``files`` feed points at it, and :func:`catalog.pipeline.harvest_feed` runs to the end
(store raw → crosswalk → match keys → incremental clustering → projection outbox → bulk to
Elasticsearch, pages of 500) followed by an index refresh: records/s from a cold, empty store.
(b) Ceiling: the very documents the pipeline indexed, read back from the index (untimed), are
bulk-loaded into a fresh index with the same mapping (``indexer.index.latest_spec()``) with
``helpers.bulk`` and ``helpers.parallel_bulk`` (2 threads), then refreshed: documents/s.

The pipeline is timed per phase with thin wrappers around the pipeline's own functions (cost: a
few µs per call), so the breakdown comes from the measured run itself.

(c) CPU account and bounds: the CPU seconds of this process, of the crosswalk worker processes and
of the Elasticsearch node (its ``process.cpu`` node statistic) are read around the pipeline and the
ceiling runs; then the same file is only parsed with pymarc, and only crosswalked (document + match
keys), in as many processes as there are cores. With those per-record CPU costs the best ratio a
pipeline could reach on these cores is computed: one that did nothing but the ceiling's indexing
and the parsing (or the crosswalk), with perfect overlap, needs at least their CPU summed ÷ cores
of wall time per record. ``--profile N`` adds a
cProfile run of N records in a separate store and index and prints the top functions.

    python bench/build_throughput.py [--records 100000] [--ceiling-runs 3] [--profile 10000] [--write]

State (SQLite store, Elasticsearch data) stays in ``--work`` (default ``var/bench/issue2``) so that
``bench.search_latency`` can run over the same index. ``$UNICAT_ES_URL`` set: that node is used
instead of a private one.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import multiprocessing
import os
import pstats
import resource
import shutil
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk, parallel_bulk, scan

import catalog.pipeline as pipeline
import indexer.project as project
from catalog.context import Services, build_services
from catalog.crosswalk_pool import CrosswalkJob, map_one, shared_pool
from catalog.members import sync_members
from catalog.projector import Projector
from indexer.es import make_es_client
from indexer.index import create_index, latest_spec
from mappings import marcio, marclib
from mappings.marcio import parse_iso2709
from store.db import transaction

if __package__ in (None, ""):  # run as a script: `python bench/build_throughput.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    INDEX_PREFIX,
    LC_FILE,
    MEMBER_CODE,
    bench_settings,
    default_work_dir,
    es_node,
    machine,
    shared_data,
    stamp,
    write_marc_subset,
    write_section,
)

#: Issue 19: CPU per record, summed over this process, the crosswalk workers and Elasticsearch.
CPU_TARGET_US = 700

MEMBER: dict[str, Any] = {
    "code": MEMBER_CODE,
    "name": {"zh": "美国国会图书馆", "en": "Library of Congress (bench)"},
    "region": "national",
    "role": "national",
}


class Phases:
    """Wall time and the calling thread's CPU time spent inside named pipeline functions
    (inclusive), by monkeypatching module globals."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._restore: list[tuple[Any, str, Any]] = []

    def wrap(self, module: Any, name: str) -> None:
        original = getattr(module, name)
        label = f"{module.__name__.rsplit('.', 1)[-1]}.{name}"

        def timed(*args: Any, **kwargs: Any) -> Any:
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                self.cpu[label] += time.thread_time() - cpu
                self.calls[label] += 1

        setattr(module, name, timed)
        self._restore.append((module, name, original))

    def __enter__(self) -> Phases:
        for name in ("_submit_crosswalk", "_commit_page", "store_records", "write_keys", "recluster"):
            self.wrap(pipeline, name)
        self.wrap(CrosswalkJob, "result")
        for name in ("_launch", "_settle", "wait"):
            self.wrap(Projector, name)
        for name in ("load_sources", "build_union", "to_es_document"):
            self.wrap(project, name)
        return self

    def __exit__(self, *exc: object) -> None:
        for module, name, original in reversed(self._restore):
            setattr(module, name, original)

    def exclusive(self, total: float, cpu: bool = False) -> list[tuple[str, float]]:
        """Each phase's own share of ``total``: wall seconds, or with ``cpu`` the pipeline thread's
        CPU seconds (``total`` then being that thread's CPU over the run)."""
        s = self.cpu if cpu else self.seconds
        store = s["pipeline.store_records"] - s["CrosswalkJob.result"] - s["pipeline.write_keys"]
        union = s["project.build_union"] + s["project.to_es_document"]
        projection = s["Projector._launch"] + s["Projector._settle"]
        return [
            ("read + split the file (harvester)", total - s["pipeline._commit_page"] - s["pipeline._submit_crosswalk"]
             - projection),
            ("next page to the crosswalk workers (stored checksums, submit)", s["pipeline._submit_crosswalk"]),
            ("waiting for the crosswalk (MARC → document + match keys; worker processes)", s["CrosswalkJob.result"]),
            ("store source records (lookup, checksum, Core insert)", store),
            ("match keys (write_keys)", s["pipeline.write_keys"]),
            ("clustering (recluster)", s["pipeline.recluster"]),
            ("outbox + checkpoint + commit", s["pipeline._commit_page"] - s["pipeline.store_records"]
             - s["pipeline.recluster"]),
            ("projection: load sources from the store", s["project.load_sources"]),
            ("projection: build union + ES document", union),
            ("projection: waiting for the bulk request (sent from a thread)", s["Projector.wait"]),
            ("projection: alias check, outbox, failures, commit", projection - s["project.load_sources"] - union
             - s["Projector.wait"]),
        ]


class Cpu:
    """CPU seconds spent so far by this process (all threads), by its children that have ended
    (a process pool counts once it is shut down) and by the Elasticsearch node(s)."""

    def __init__(self, es: Elasticsearch) -> None:
        self.es = es
        self.own = time.process_time()
        self.children = _children_cpu()
        self.node = _node_cpu(es)

    def since(self, start: Cpu) -> dict[str, float]:
        return {"own": self.own - start.own, "children": self.children - start.children,
                "node": self.node - start.node}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _node_cpu(es: Elasticsearch) -> float:
    stats = es.nodes.stats(metric="process")["nodes"]
    return sum(node["process"]["cpu"]["total_in_millis"] for node in stats.values()) / 1000


#: The parse row's note when UTF-8 records are decoded by :mod:`mappings.iso2709` into pymarc's objects.
PARSE_NOTE = " (UTF-8 records through mappings.iso2709)"


def _parse_chunk(raws: list[bytes]) -> int:
    for raw in raws:
        parse_iso2709(raw)
    return len(raws)


def _crosswalk_chunk(raws: list[bytes]) -> int:
    for raw in raws:
        map_one((raw, "iso2709", None))
    return len(raws)


def cpu_alone(mrc: Path, work: Callable[[list[bytes]], int], processes: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the worker processes) to run ``work`` over every record of
    ``mrc`` in ``processes`` processes, pages of 500 (reading the file is not counted)."""
    raws = [raw + b"\x1d" for raw in mrc.read_bytes().split(b"\x1d") if raw.strip()]
    chunks = [raws[i : i + 500] for i in range(0, len(raws), 500)]
    before = _children_cpu()
    started = time.perf_counter()
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
        done = sum(pool.map(work, chunks))
    wall = time.perf_counter() - started
    assert done == len(raws)
    return wall, _children_cpu() - before


def drop_bench_indices(es: Elasticsearch) -> None:
    """Delete this bench's indices (by name: wildcard deletes are refused by default)."""
    for name in es.indices.get(index=f"{INDEX_PREFIX}-*", allow_no_indices=True, expand_wildcards="all"):
        es.indices.delete(index=name)


def empty_store(work: Path, es_url: str, members: list[dict[str, Any]]) -> Services:
    """An empty store in ``work`` holding ``members`` (member-file tables); no index behind the alias yet."""
    db = work / "store.sqlite3"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    services = build_services(bench_settings(work, es_url))
    drop_bench_indices(services.es)
    with transaction(services.db) as session:
        sync_members(session, members)
    return services


def fresh_services(work: Path, es_url: str, mrc: Path) -> Services:
    """An empty store with one member whose file feed is ``mrc``; no index behind the alias yet."""
    return empty_store(work, es_url, [{**MEMBER, "files": {"url_or_path": str(mrc), "format": "iso2709"}}])


def run_pipeline(services: Services) -> tuple[pipeline.HarvestReport, float]:
    started = time.perf_counter()
    report = pipeline.harvest_feed(services, MEMBER_CODE, "files")
    services.es.indices.refresh(index=services.settings.records_alias)
    return report, time.perf_counter() - started


def read_back(es: Elasticsearch, alias: str) -> list[tuple[str, dict[str, Any]]]:
    return [(h["_id"], h["_source"]) for h in scan(es, index=alias, size=2000, preserve_order=False)]


def load_ceiling(es: Elasticsearch, docs: list[tuple[str, dict[str, Any]]], how: str) -> tuple[float, dict[str, float]]:
    """Seconds (and CPU, see :class:`Cpu`) to bulk-load ``docs`` into a fresh index with the live
    mapping and refresh it."""
    index = create_index(es, f"{INDEX_PREFIX}-ceiling", latest_spec())
    es.cluster.health(index=index, wait_for_status="green", timeout="60s")

    def actions() -> Iterator[dict[str, Any]]:
        for uid, source in docs:
            yield {"_op_type": "index", "_index": index, "_id": uid, "_source": source}

    cpu = Cpu(es)
    started = time.perf_counter()
    if how == "bulk":
        ok, errors = bulk(es, actions(), chunk_size=500, raise_on_error=False)
        failed = len(errors) if isinstance(errors, list) else errors
    else:
        failed = sum(1 for ok, _ in parallel_bulk(es, actions(), thread_count=2, chunk_size=500,
                                                   raise_on_error=False) if not ok)
    es.indices.refresh(index=index)
    seconds = time.perf_counter() - started
    used = Cpu(es).since(cpu)
    count = es.count(index=index)["count"]
    es.indices.delete(index=index)
    if failed or count != len(docs):
        raise RuntimeError(f"ceiling load into {index}: {failed} failures, {count} of {len(docs)} documents")
    return seconds, used


def side_run(work: Path, es_url: str, source: Path, count: int, name: str,
             profiler: cProfile.Profile | None = None) -> list[tuple[str, dict[str, Any]]]:
    """A pipeline run of the first ``count`` records in a store and index of its own (removed
    after); returns the documents it indexed."""
    side = work / name
    shutil.rmtree(side, ignore_errors=True)
    side.mkdir(parents=True)
    mrc = side / "records.mrc"
    write_marc_subset(source, mrc, count)
    services = fresh_services(side, es_url, mrc)
    if profiler:
        profiler.enable()
    run_pipeline(services)
    if profiler:
        profiler.disable()
    docs = read_back(services.es, services.settings.records_alias)
    drop_bench_indices(services.es)
    services.close()
    return docs


def warm_node(es: Elasticsearch, docs: list[tuple[str, dict[str, Any]]], max_rounds: int,
              settle: float = 0.05) -> list[float]:
    """Bulk-load ``docs`` again and again until the node's CPU per document stops falling.

    A fresh Elasticsearch JVM keeps getting cheaper per document for a few hundred thousand
    documents (JIT compiling, heap sizing): on 2 cores, 20,000 LC documents cost 6.5 CPU s on
    the first load and 2.9 s on the fourteenth. A production node is warm, and a measurement on
    a half-warm node charges whichever run comes first. Stops when the median of the last three
    rounds is within ``settle`` of the median of the three before. Returns each round's node CPU
    µs per document."""
    per_doc: list[float] = []
    while len(per_doc) < max_rounds:
        _, used = load_ceiling(es, docs, "parallel_bulk")
        per_doc.append(used["node"] / len(docs) * 1e6)
        if len(per_doc) >= 6:
            last, before = statistics.median(per_doc[-3:]), statistics.median(per_doc[-6:-3])
            if last >= before * (1 - settle):
                break
    return per_doc


def profile_run(work: Path, es_url: str, source: Path, count: int, top: int = 25) -> str:
    profiler = cProfile.Profile()
    side_run(work, es_url, source, count, "profile", profiler)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def cpu_account(
    n: int,
    docs: int,
    seconds: float,
    pipeline_cpu: dict[str, float],
    ceiling_seconds: float,
    ceiling_runs: list[dict[str, float]],
    alone: dict[str, tuple[float, float]],
    cores: int,
) -> list[str]:
    """The CPU table and the bounds it implies (see the module docstring, part c)."""
    us = 1e6
    ceiling = {k: statistics.median(run[k] for run in ceiling_runs) for k in ("own", "node")}
    ceiling_per_doc = (ceiling["own"] + ceiling["node"]) / docs
    wall_per_doc = ceiling_seconds / docs
    rows = [
        ("pipeline (this run)", pipeline_cpu["own"] / n, pipeline_cpu["children"] / n, pipeline_cpu["node"] / n,
         seconds / n),
        ("ceiling, same documents", ceiling["own"] / docs, 0.0, ceiling["node"] / docs, wall_per_doc),
        (f"{marclib.NAME} parse alone{PARSE_NOTE if marcio.QUICK_UTF8 else ''}", 0.0, alone["parse"][1] / n, 0.0,
         alone["parse"][0] / n),
        ("crosswalk + match keys alone (parse included)", 0.0, alone["crosswalk"][1] / n, 0.0,
         alone["crosswalk"][0] / n),
    ]
    lines = [
        "",
        f"CPU per record (same run; µs; {cores} cores; 'workers' are the crosswalk processes, or the "
        f"{cores} processes that only parse or only crosswalk; Elasticsearch from its node statistics):",
        "",
        "| what | this process | workers | Elasticsearch | CPU total | wall | CPU ÷ (wall × cores) |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, own, workers, node, wall in rows:
        total = own + workers + node
        lines.append(f"| {label} | {own * us:,.0f} | {workers * us:,.0f} | {node * us:,.0f} | {total * us:,.0f} | "
                     f"{wall * us:,.0f} | {total / (wall * cores):.2f} |")
    total = sum(pipeline_cpu[k] for k in ("own", "children", "node")) / n * us
    verdict = "meets" if total <= CPU_TARGET_US else "**misses**"
    lines += ["", f"**CPU per record, MARC file → searchable, every process = {total:,.0f} µs** (this process "
              f"{pipeline_cpu['own'] / n * us:,.0f} + crosswalk workers {pipeline_cpu['children'] / n * us:,.0f} + "
              f"Elasticsearch {pipeline_cpu['node'] / n * us:,.0f}). Target ≤ {CPU_TARGET_US:,} µs (issue 19): "
              f"{verdict}."]
    lines += ["", "Best ratio a pipeline could reach here, doing the ceiling's work plus only (perfect overlap, "
              "nothing else: no store, no clustering, no union records):", ""]
    for label, key in ((f"parsing every record with {marclib.NAME}", "parse"),
                       ("crosswalking every record (this crosswalk)", "crosswalk")):
        floor = max(wall_per_doc, (ceiling_per_doc + alone[key][1] / n) / cores)
        lines.append(f"- {label}: ratio ≤ **{wall_per_doc / floor:.2f}**")
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--source", type=Path, default=None, help=f"ISO 2709 file (default $UNICAT_SHARED_DATA/{LC_FILE})")
    ap.add_argument("--work", type=Path, default=None, help="state folder (default var/bench/issue2)")
    ap.add_argument("--ceiling-runs", type=int, default=3, help="runs of each bulk-load ceiling (median kept)")
    ap.add_argument("--profile", type=int, default=0, metavar="N", help="also cProfile a pipeline run of N records")
    ap.add_argument("--warmup", type=int, default=20_000, metavar="N",
                    help="records of an unmeasured pipeline run first, whose documents are then bulk-loaded again "
                         "and again until the node's CPU per document settles, so that both measured runs meet a "
                         "warm node (0: none)")
    ap.add_argument("--warm-rounds", type=int, default=30, metavar="R",
                    help="at most R bulk loads of the warm-up documents")
    ap.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = ap.parse_args(argv)
    source = args.source or shared_data() / LC_FILE
    if not source.exists():
        raise SystemExit(f"{source} not found; set UNICAT_SHARED_DATA")
    work = (args.work or default_work_dir()).resolve()
    work.mkdir(parents=True, exist_ok=True)
    mrc = work / "records.mrc"
    n = write_marc_subset(source, mrc, args.records)
    print(f"{n} records from {source.name} → {mrc.name} ({mrc.stat().st_size / 1e6:.0f} MB)", flush=True)

    with es_node(work) as es_url:
        warming: list[float] = []
        if args.warmup:
            warm_docs = side_run(work, es_url, source, min(args.warmup, n), "warmup")
            warming = warm_node(make_es_client(bench_settings(work, es_url)), warm_docs, args.warm_rounds)
            print(f"node warmed: {len(warming)} loads of {len(warm_docs):,} documents, node CPU "
                  f"{warming[0]:,.0f} → {warming[-1]:,.0f} µs per document", flush=True)
        profile_text = profile_run(work, es_url, source, args.profile) if args.profile else ""
        services = fresh_services(work, es_url, mrc)
        cpu = Cpu(services.es)
        with Phases() as phases:
            thread_cpu = time.thread_time()
            report, seconds = run_pipeline(services)
            thread_cpu = time.thread_time() - thread_cpu
        shared_pool(services).close()  # its workers' CPU is counted once they have ended
        pipeline_cpu = Cpu(services.es).since(cpu)
        alias = services.settings.records_alias
        union_docs = services.es.count(index=alias)["count"]
        if report.status != "ok" or report.index_failed:
            raise SystemExit(f"pipeline run failed: {report.as_dict()}")
        print(f"pipeline: {n} records → {union_docs} union documents in {seconds:.1f} s", flush=True)
        docs = read_back(services.es, alias)
        ceilings: dict[str, list[float]] = {"bulk": [], "parallel_bulk": []}
        ceiling_cpu: dict[str, list[dict[str, float]]] = {"bulk": [], "parallel_bulk": []}
        for _ in range(args.ceiling_runs):
            for how in ceilings:
                secs, used = load_ceiling(services.es, docs, how)
                ceilings[how].append(secs)
                ceiling_cpu[how].append(used)
                print(f"ceiling {how}: {len(docs) / secs:,.0f} docs/s", flush=True)
        services.close()
    cores = len(os.sched_getaffinity(0))
    alone = {label: cpu_alone(mrc, work_fn, cores) for label, work_fn in
             (("parse", _parse_chunk), ("crosswalk", _crosswalk_chunk))}

    rec_rate = n / seconds
    doc_rate = union_docs / seconds
    ceil = {how: len(docs) / statistics.median(runs) for how, runs in ceilings.items()}
    best_how = max(ceil, key=lambda k: ceil[k])
    best = ceil[best_how]
    warm = (f", warmed first by an unmeasured {min(args.warmup, n):,}-record pipeline run and {len(warming)} bulk "
            f"loads of its documents, until the node's CPU per document settled ({warming[0]:,.0f} µs on the "
            f"first load, {warming[-1]:,.0f} on the last), so that neither measured run pays for the JVM's "
            f"warming" if warming else "")
    lines = [
        f"{stamp()}. Machine: {machine()}.",
        "",
        f"Input: the first {n:,} records of `{source.name}` (LC Books All, ISO 2709, UTF-8) as one plain `.mrc` "
        f"file; one member, file feed; cold empty SQLite store; private single-node Elasticsearch on loopback{warm}. "
        f"Pipeline = `catalog.pipeline.harvest_feed` to the end + refresh (its thread, the crosswalk worker "
        f"processes and one bulk-request thread). Ceiling = "
        f"the same {len(docs):,} documents read back from the pipeline's index, bulk-loaded into a fresh index "
        f"with the same mapping, chunks of 500, + refresh; median of {args.ceiling_runs} runs each.",
        "",
        "| what | count | seconds | rate |",
        "|---|---|---|---|",
        f"| pipeline, MARC file → searchable | {n:,} records | {seconds:.1f} | **{rec_rate:,.0f} records/s** |",
        f"| (same run, counted in union documents) | {union_docs:,} docs | {seconds:.1f} | {doc_rate:,.0f} docs/s |",
    ]
    for how, rate in ceil.items():
        lines.append(f"| ceiling, `helpers.{how}`{' (2 threads)' if how == 'parallel_bulk' else ''} | "
                     f"{len(docs):,} docs | {statistics.median(ceilings[how]):.1f} | {rate:,.0f} docs/s |")
    verdict = "meets" if doc_rate / best >= 0.5 else "**misses**"
    lines += [
        "",
        f"**Ratio pipeline / ceiling = {doc_rate / best:.3f}** (union docs/s ÷ best ceiling, `{best_how}`); "
        f"records/s ÷ ceiling docs/s = {rec_rate / best:.3f}. Target ≥ 0.5: {verdict}.",
        "",
        "Where the pipeline's time goes (same run; wall seconds, exclusive; and the CPU of the pipeline's "
        "own thread in each phase, `time.thread_time`: the bulk-request thread and the workers are not in it):",
        "",
        "| phase | seconds | share | µs per record | thread CPU µs per record |",
        "|---|---|---|---|---|",
    ]
    for (label, secs), (_, used) in zip(phases.exclusive(seconds), phases.exclusive(thread_cpu, cpu=True), strict=True):
        lines.append(f"| {label} | {secs:.1f} | {secs / seconds:.0%} | {secs / n * 1e6:,.0f} | {used / n * 1e6:,.0f} |")
    lines.append(f"| total | {seconds:.1f} | 100% | {seconds / n * 1e6:,.0f} | {thread_cpu / n * 1e6:,.0f} |")
    lines += cpu_account(n, len(docs), seconds, pipeline_cpu, statistics.median(ceilings[best_how]),
                         ceiling_cpu[best_how], alone, cores)
    text = "\n".join(lines)
    print(text)
    if profile_text:
        print(f"\ncProfile of a {args.profile}-record pipeline run (top functions by own time):\n")
        print(profile_text)
    if args.write:
        write_section("Build throughput", text)


if __name__ == "__main__":
    main()

