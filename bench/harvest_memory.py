"""Peak memory of one long harvest: does a member with many records harvest in constant memory?

The member's feed is one ISO 2709 file of the first ``--records`` real LC records of the shared
data (distinct records; the 500,000 of the issue would be a repeat of these and was not run
here). The harvest runs in a process of its own on SQLite with Elasticsearch left out
(projection deferred) and the crosswalk in process; its resident set is sampled after every page
(``/proc/self/status`` VmRSS and VmHWM). Constant memory shows as a peak that stops growing
after the first pages.

    .venv/bin/python bench/harvest_memory.py [--records 40000] [--write]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import LC_FILE, machine, replace_section, shared_data, stamp, write_marc_subset  # noqa: E402

HEADING = "## Memory of one long harvest (issue 19)"


def _rss() -> tuple[int, int]:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def _harvest(work: str, dump: str, queue: multiprocessing.Queue) -> None:
    from catalog.context import build_services
    from catalog.members import sync_members
    from catalog.pipeline import harvest_feed
    from store.db import transaction
    from unicat.settings import Settings

    settings = Settings(database_url=f"sqlite:///{work}/store.sqlite3", es_url="http://127.0.0.1:1",
                        redis_url="redis://127.0.0.1:1/0", var_dir=Path(work), crosswalk_workers=1)  # fmt: skip
    services = build_services(settings)
    with transaction(services.db) as session:
        sync_members(session, [{"code": "lc", "name": {"zh": "lc", "en": "lc"}, "region": "north", "role": "member",
                                "files": {"url_or_path": dump}}])  # fmt: skip
    samples: list[tuple[int, int, int, float]] = []
    started = time.perf_counter()

    def progress(report) -> None:  # type: ignore[no-untyped-def]
        rss, hwm = _rss()
        samples.append((report.added, rss, hwm, time.perf_counter() - started))

    report = harvest_feed(services, "lc", "files", progress=progress)
    services.close()
    queue.put((report.status, report.added, samples))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=40000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="unicat-bench-mem-")
    dump = Path(work) / "lc.mrc"
    written = write_marc_subset(shared_data() / LC_FILE, dump, args.records)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_harvest, args=(work, str(dump), queue))
    child.start()
    status, added, samples = queue.get()
    child.join()
    marks = sorted({max(1, len(samples) * k // 8) - 1 for k in range(1, 9)})
    rows = [f"| {samples[i][0]:,} | {samples[i][1] / 1024:.0f} | {samples[i][2] / 1024:.0f} | {samples[i][3]:.0f} |"
            for i in marks]  # fmt: skip
    lines = [
        HEADING,
        "",
        f"{stamp()}; {machine()} (shared with other work, load average {os.getloadavg()[0]:.1f}). "
        f"`bench/harvest_memory.py --records {args.records}`: one files harvest of {written:,} real LC records "
        f"({status}, {added:,} added), SQLite, no Elasticsearch, crosswalk in process.",
        "",
        "| records stored | RSS MiB | peak RSS so far MiB | seconds |",
        "|---|---|---|---|",
        *rows,
        "",
    ]
    print("\n".join(lines))
    if args.write:
        replace_section(HEADING, lines)


if __name__ == "__main__":
    main()
