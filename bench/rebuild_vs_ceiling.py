"""Benchmark: rebuilding the index from the record store (the path relevance tuning runs) against a
bulk-load ceiling on the same documents, and search latency during a rebuild against at rest.

The catalogue is the LC one of ``bench/catalogues.py`` (built through the real pipeline once, then
reused). Measured in one run, on one node:

- **rebuild**: ``catalog.maintenance.rebuild_index`` (no re-crosswalk, no reclustering): every
  union record read from the store, its document built and bulk-written to a fresh index, alias
  swapped;
- **ceiling**: the same documents, read back from the index, bulk-loaded into a fresh index with
  the same mapping by ``parallel_bulk`` (2 threads) and refreshed: what Elasticsearch alone needs;
- **search p95**: the judged LC queries searched through ``catalog.search.search`` by 2 client
  threads, first at rest, then while a rebuild runs; every failure is counted.

    python bench/rebuild_vs_ceiling.py [--records 100000] [--write]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.build_throughput import Cpu, load_ceiling, read_back  # noqa: E402
from bench.catalogues import catalogue  # noqa: E402
from bench.common import default_work_dir, es_node, pct, stamp, write_section  # noqa: E402
from catalog.maintenance import rebuild_index  # noqa: E402
from catalog.relevance import read_set  # noqa: E402
from catalog.search import SearchQuery, search  # noqa: E402

JUDGED = Path(__file__).resolve().parent / "judgements" / "lc.queries.tsv"


def search_load(services: Any, queries: list[str], clients: int, until: threading.Event | None,
                per_client: int) -> tuple[list[float], int]:
    """Latencies (s) and failures of ``clients`` threads searching ``queries`` in turn, each until
    ``until`` is set (or ``per_client`` searches when it is None)."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()

    def client(offset: int) -> None:
        n = offset
        while (until is None and n - offset < per_client) or (until is not None and not until.is_set()):
            started = time.perf_counter()
            try:
                search(services, SearchQuery(q=queries[n % len(queries)], size=10))
                spent = time.perf_counter() - started
                with lock:
                    latencies.append(spent)
            except Exception:  # a lost search is what this counts
                with lock:
                    failures[0] += 1
            n += 1

    threads = [threading.Thread(target=client, args=(i * 97,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, failures[0]


def timed_rebuild(services: Any) -> tuple[float, dict[str, float], dict[str, Any]]:
    cpu = Cpu(services.es)
    started = time.perf_counter()
    result = rebuild_index(services)
    services.es.indices.refresh(index=services.settings.records_alias)
    return time.perf_counter() - started, Cpu(services.es).since(cpu), result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--rest-searches", type=int, default=300, help="searches per client at rest")
    parser.add_argument("--write", action="store_true", help="write the figures into bench/RESULTS.md")
    args = parser.parse_args(argv)
    queries = [text for _, _, text in read_set(JUDGED).queries]
    with es_node(default_work_dir()) as es_url:
        services, built = catalogue("lc", es_url, records=args.records)
        print(f"catalogue ready ({built:.0f} s to build)", flush=True)
        timed_rebuild(services)  # warms the node and the caches once; not counted
        seconds, cpu, result = timed_rebuild(services)
        docs = read_back(services.es, services.settings.records_alias)
        ceiling, ceiling_cpu = load_ceiling(services.es, docs, "parallel")
        rest, rest_failed = search_load(services, queries, args.clients, None, args.rest_searches)
        done = threading.Event()
        rebuild_seconds: list[float] = []

        def rebuild() -> None:
            rebuild_seconds.append(timed_rebuild(services)[0])
            done.set()

        worker = threading.Thread(target=rebuild)
        worker.start()
        during, during_failed = search_load(services, queries, args.clients, done, 0)
        worker.join()
        services.close()
    n = result["indexed"]
    figures = {
        "documents": n, "rebuild_s": seconds, "rebuild_docs_s": n / seconds, "ceiling_s": ceiling,
        "ceiling_docs_s": n / ceiling, "ratio": ceiling / seconds,
        "cpu_ms_per_doc": 1000 * (cpu["own"] + cpu["node"]) / n,
        "ceiling_cpu_ms_per_doc": 1000 * (ceiling_cpu["own"] + ceiling_cpu["node"]) / n,
        "rest_p95": pct(rest, 95), "rest_p50": pct(rest, 50), "rest_n": len(rest), "rest_failed": rest_failed,
        "during_p95": pct(during, 95), "during_p50": pct(during, 50), "during_n": len(during),
        "during_failed": during_failed, "during_rebuild_s": rebuild_seconds[0],
    }
    text = report(figures, args)
    print(text)
    if args.write:
        write_section("Rebuild from the record store vs bulk-load ceiling (issue 17)", text,
                      heading="## Rebuild for relevance tuning (issue 17)")


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def report(f: dict[str, Any], args: argparse.Namespace) -> str:
    n = f"{f['documents']:,}"
    lines = [
        f"{stamp()}; `python bench/rebuild_vs_ceiling.py --records {args.records}`; LC catalogue",
        f"(`bench/catalogues.py`), one node, {args.clients} search clients.", "",
        _row("path", "documents", "seconds", "docs/s", "CPU ms/doc (this process + node)"), "|---|---|---|---|---|",
        _row("rebuild from the record store (`rebuild_index`, alias swap)", n, f"{f['rebuild_s']:.1f}",
             f"{f['rebuild_docs_s']:,.0f}", f"{f['cpu_ms_per_doc']:.3f}"),
        _row("ceiling: `parallel_bulk` of the same documents", n, f"{f['ceiling_s']:.1f}",
             f"{f['ceiling_docs_s']:,.0f}", f"{f['ceiling_cpu_ms_per_doc']:.3f}"), "",
        f"**Ratio rebuild / ceiling = {f['ratio']:.2f}** (target ≥ 0.5: "
        f"**{'met' if f['ratio'] >= 0.5 else 'missed'}**).", "",
        _row("search (judged LC queries)", "searches", "failed", "p50 (ms)", "p95 (ms)"), "|---|---|---|---|---|",
        _row("at rest", f["rest_n"], f["rest_failed"], f"{1000 * f['rest_p50']:.1f}", f"{1000 * f['rest_p95']:.1f}"),
        _row(f"during a rebuild ({f['during_rebuild_s']:.0f} s)", f["during_n"], f["during_failed"],
             f"{1000 * f['during_p50']:.1f}", f"{1000 * f['during_p95']:.1f}"), "",
        f"Search p95 during / at rest = **{f['during_p95'] / f['rest_p95']:.2f}**.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
