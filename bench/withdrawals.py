"""Benchmark: what finding withdrawals costs a full harvest.

A member's file feed holds the first N records of the LC Books All file; after an untimed first
harvest, the same dump is harvested in full again (every record unchanged: the pass that runs
every night for a dump feed), alternately

- as a plain pass whose pages carry no sweep id (the ceiling: what a full re-harvest cost before
  withdrawals existed), and
- as a full pass that marks every record seen and, at its end, looks for the member's unseen
  records (``catalog.withdrawals.close_sweep``),

``--runs`` times each; medians of wall seconds and of this process's CPU seconds (the crosswalk
workers idle: unchanged records are not crosswalked). Then one full pass over the dump with 1 %
of its records missing measures withdrawing them (marked deleted, re-clustered, removed from the
index), against the same ceiling.

    python bench/withdrawals.py [--records 20000] [--runs 3] [--write]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.build_throughput import empty_store  # noqa: E402
from bench.common import LC_FILE, es_node, machine, shared_data, stamp, write_marc_subset, write_section  # noqa: E402
from catalog.pipeline import build_harvester, harvest_feed  # noqa: E402
from harvesters.base import Page  # noqa: E402

MEMBER = {"code": "lc", "name": {"zh": "美国国会图书馆", "en": "Library of Congress"}, "region": "national",
          "role": "national"}  # fmt: skip
HEADING = "## Withdrawals (issue 14)"


class _NoSweep:
    """The member's own harvester with the sweep fields removed from its pages (the ceiling)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def pages(self, checkpoint: dict[str, Any] | None) -> Iterator[Page]:
        for page in self.inner.pages(checkpoint):
            page.sweep, page.sweep_complete = None, False
            yield page


def timed_pass(services: Any, *, sweep: bool) -> tuple[float, float, Any]:
    config = {"url_or_path": str(services.settings.var_dir / "dump.mrc"), "format": "iso2709"}
    harvester = build_harvester("files", config, services)
    started, cpu = time.perf_counter(), time.process_time()
    report = harvest_feed(services, "lc", "files", harvester=harvester if sweep else _NoSweep(harvester), full=True)
    return time.perf_counter() - started, time.process_time() - cpu, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("var/bench/withdrawals"))
    parser.add_argument("--write", action="store_true", help="write the figures into bench/RESULTS.md")
    args = parser.parse_args(argv)
    work: Path = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    source = shared_data() / LC_FILE
    full = work / "full.mrc"
    count = write_marc_subset(source, full, args.records)
    with es_node(work) as es_url:
        dump = work / "dump.mrc"
        dump.write_bytes(full.read_bytes())
        services = empty_store(work, es_url, [{**MEMBER, "files": {"url_or_path": str(dump), "format": "iso2709"}}])
        try:
            first = harvest_feed(services, "lc", "files")
            print(f"first harvest: {first.added} records", flush=True)
            plain: list[tuple[float, float]] = []
            swept: list[tuple[float, float]] = []
            for _ in range(args.runs):
                wall, cpu, _report = timed_pass(services, sweep=False)
                plain.append((wall, cpu))
                wall, cpu, report = timed_pass(services, sweep=True)
                assert report.withdrawn == 0 and report.unchanged == first.added, report
                swept.append((wall, cpu))
                print(f"plain {plain[-1][0]:.2f} s, full pass {swept[-1][0]:.2f} s", flush=True)
            records = dump.read_bytes().split(b"\x1d")[:-1]
            kept = [r for i, r in enumerate(records) if i % 100 != 50]
            dump.write_bytes(b"".join(r + b"\x1d" for r in kept))
            wall_w, cpu_w, report_w = timed_pass(services, sweep=True)
            print(f"withdrawing {report_w.withdrawn}: {wall_w:.2f} s", flush=True)
        finally:
            services.close()
    text = _table(count, first.added, plain, swept, (wall_w, cpu_w, report_w.withdrawn))
    print(text)
    if args.write:
        write_section("Full re-harvest with and without looking for withdrawals", text, heading=HEADING)
    return 0


def _spread(runs: list[tuple[float, float]]) -> str:
    walls = [w for w, _ in runs]
    return f" ({min(walls):.2f}–{max(walls):.2f})"


def _table(
    count: int, stored: int, plain: list[tuple[float, float]], swept: list[tuple[float, float]],
    weeded: tuple[float, float, int],
) -> str:  # fmt: skip
    p_wall, p_cpu = statistics.median(w for w, _ in plain), statistics.median(c for _, c in plain)
    s_wall, s_cpu = statistics.median(w for w, _ in swept), statistics.median(c for _, c in swept)
    w_wall, w_cpu, withdrawn = weeded
    per = 1e6 / stored
    spread = {"plain": _spread(plain), "swept": _spread(swept)}
    rows = [
        ("ceiling: full re-harvest, no sweep", p_wall, spread["plain"], p_cpu),
        ("full pass: marks seen + looks for unseen", s_wall, spread["swept"], s_cpu),
        (f"full pass withdrawing {withdrawn:,} records (1 %), once", w_wall, "", w_cpu),
    ]
    lines = [
        f"{stamp()}. Machine: {machine()}.",
        "",
        f"Input: the first {count:,} records of `{LC_FILE}` as one ISO 2709 dump, one member's file feed, "
        f"{stored:,} stored; SQLite store; private Elasticsearch. Medians of {len(plain)} alternating runs "
        "(wall range in brackets: the machine is shared, so CPU is the steadier measure); CPU of this process "
        "(the crosswalk workers idle: unchanged records are not crosswalked).",
        "",
        "| pass | wall s | CPU s | CPU µs per record | wall ÷ ceiling | CPU ÷ ceiling |",
        "|---|---|---|---|---|---|",
    ]
    for name, wall, rng, cpu in rows:
        lines.append(
            f"| {name} | {wall:.2f}{rng} | {cpu:.2f} | {cpu * per:.0f} | {wall / p_wall:.2f} | **{cpu / p_cpu:.2f}** |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
