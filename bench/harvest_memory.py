"""Memory of one long harvest: does a member with many records harvest in constant memory?

The member's feed is one ISO 2709 file of ``--records`` real LC records from the shared data,
whose file holds 250,000 distinct records. Asked for more (the issue's member of 500,000), the
bench writes them again with each record's 001 changed deterministically (``<001>-2``; leader and
directory rewritten to match): the second pass has local ids of its own, so every record is
stored again rather than skipped as unchanged, and since the rest of each record is its first
copy's, each one clusters with it: the second half is real clustering work on a store that
already holds the first.

The harvest runs in a process of its own on SQLite with Elasticsearch left out (projection
deferred) and the crosswalk in process; its resident set is sampled after every page
(``/proc/self/status`` VmRSS and VmHWM). Constant memory shows as a slope of ~0 KiB per 10,000
records over the second half (a least-squares line through the samples) and a peak that stops
growing after the first pages.

With ``--rebuild`` the search index is then rebuilt from that store (``catalog.maintenance.
rebuild_index``, which reads every union record) into a private Elasticsearch node, in a process
of its own, sampled after every 500 documents.

    .venv/bin/python bench/harvest_memory.py [--records 500000] [--rebuild] [--write]
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import LC_FILE, es_node, machine, replace_section, shared_data, stamp  # noqa: E402

HEADING = "## Memory of one long harvest (issue 19)"
SECOND_PASS = ", then the same again under changed 001s, each clustering with its first copy"
#: A sample: (records stored or documents indexed, RSS KiB, peak RSS KiB, seconds)
Sample = tuple[int, int, int, float]


def _rss() -> tuple[int, int]:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------- the feed


def _records(source: Path) -> Iterator[bytes]:
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rb") as inp:
        buf = b""
        while chunk := inp.read(1 << 20):
            parts = (buf + chunk).split(b"\x1d")
            buf = parts.pop()
            yield from (part + b"\x1d" for part in parts if part.strip(b"\r\n\t \x00\x1a"))


def with_control_field(record: bytes, tag: bytes, change: bytes) -> bytes:
    """The ISO 2709 record with ``change`` appended to its ``tag`` control field (directory and
    leader rebuilt); a record without that field, or with a broken leader, is returned as it is."""
    try:
        base = int(record[12:17])
        directory = record[24 : base - 1]
        entries = [directory[i : i + 12] for i in range(0, len(directory) - 11, 12)]
        fields = [(e[:3], record[base + int(e[7:12]) : base + int(e[7:12]) + int(e[3:7])]) for e in entries]
    except ValueError:
        return record
    if not any(t == tag for t, _ in fields):
        return record
    fields = [(t, d.rstrip(b"\x1e").strip() + change + b"\x1e" if t == tag else d) for t, d in fields]
    new_directory, position = b"", 0
    for field_tag, data in fields:
        new_directory += field_tag + b"%04d%05d" % (len(data), position)
        position += len(data)
    new_base = 24 + len(new_directory) + 1
    body = b"".join(d for _, d in fields) + b"\x1d"
    leader = b"%05d" % (new_base + len(body)) + record[5:12] + b"%05d" % new_base + record[17:24]
    return leader + new_directory + b"\x1e" + body


def write_feed(source: Path, target: Path, count: int) -> tuple[int, int]:
    """Write ``count`` records to ``target``: the source's, then (if it has fewer) the source's again
    with a changed 001, and so on. Returns (records written, distinct records of the source used)."""
    written = distinct = 0
    with open(target, "wb") as out:
        for copy in range(1, count + 1):
            for raw in _records(source):
                if written >= count:
                    return written, distinct
                out.write(raw if copy == 1 else with_control_field(raw, b"001", b"-%d" % copy))
                written += 1
                distinct += copy == 1
    return written, distinct


# ---------------------------------------------------------------------- the runs


def _settings(work: str, es_url: str = "http://127.0.0.1:1"):  # type: ignore[no-untyped-def]
    from unicat.settings import Settings

    return Settings(database_url=f"sqlite:///{work}/store.sqlite3", es_url=es_url, index_prefix="benchmem",
                    redis_url="redis://127.0.0.1:1/0", var_dir=Path(work), crosswalk_workers=1)  # fmt: skip


def _harvest(work: str, dump: str, queue: multiprocessing.Queue) -> None:
    from catalog.context import build_services
    from catalog.members import sync_members
    from catalog.pipeline import harvest_feed
    from store.db import transaction

    services = build_services(_settings(work))
    with transaction(services.db) as session:
        sync_members(session, [{"code": "lc", "name": {"zh": "lc", "en": "lc"}, "region": "north", "role": "member",
                                "files": {"url_or_path": dump}}])  # fmt: skip
    samples: list[Sample] = []
    started = time.perf_counter()

    def progress(report) -> None:  # type: ignore[no-untyped-def]
        samples.append((report.added, *_rss(), time.perf_counter() - started))

    report = harvest_feed(services, "lc", "files", progress=progress)
    services.close()
    queue.put((report.status, report.added, report.rejected, samples, _cpu()))


def _rebuild(work: str, es_url: str, queue: multiprocessing.Queue) -> None:
    from catalog.context import build_services
    from catalog.maintenance import rebuild_index

    services = build_services(_settings(work, es_url))
    samples: list[Sample] = [(0, *_rss(), 0.0)]
    started = time.perf_counter()

    def progress(phase: str, done: int, total: int | None) -> None:
        if phase == "index" and done:
            samples.append((done, *_rss(), time.perf_counter() - started))

    result = rebuild_index(services, progress=progress)
    services.close()
    queue.put((result["indexed"], result["failed"], samples, _cpu()))


def _in_child(target, *args):  # type: ignore[no-untyped-def]
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=target, args=(*args, queue))
    child.start()
    out = queue.get()
    child.join()
    return out


# ---------------------------------------------------------------------- the report


def slope(samples: list[Sample]) -> float:
    """Least-squares slope of RSS against records, in KiB per 10,000 records."""
    xs, ys = [s[0] for s in samples], [s[1] for s in samples]
    if len(xs) < 2:
        return 0.0
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 0.0 if var == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var * 10_000


def _table(samples: list[Sample], unit: str, rows: int = 10) -> list[str]:
    marks = sorted({max(1, len(samples) * k // rows) - 1 for k in range(1, rows + 1)} | {0})
    return [
        f"| {unit} | RSS MiB | peak RSS so far MiB | seconds |",
        "|---|---|---|---|",
        *(f"| {samples[i][0]:,} | {samples[i][1] / 1024:.0f} | {samples[i][2] / 1024:.0f} | {samples[i][3]:.0f} |"
          for i in marks),  # fmt: skip
    ]


def harvest_lines(args: argparse.Namespace, written: int, distinct: int, outcome: tuple) -> list[str]:
    status, added, rejected, samples, cpu = outcome
    half = samples[len(samples) // 2 :]
    warm = [s for s in samples if s[0] >= min(20_000, samples[-1][0] // 4)]
    return [
        HEADING,
        "",
        f"{stamp()}; {machine()} (shared with other work, load average {os.getloadavg()[0]:.1f}). "
        f"`bench/harvest_memory.py --records {args.records}`: one files harvest of {written:,} LC records "
        f"({distinct:,} distinct real records{SECOND_PASS if written > distinct else ''}"
        f"; {status}, {added:,} added, {rejected:,} rejected), SQLite, no Elasticsearch, crosswalk in process, "
        f"RSS sampled after each of {len(samples):,} pages.",
        "",
        *_table(samples, "records stored"),
        "",
        f"RSS after the first page {samples[0][1] / 1024:.0f} MiB, peak {max(s[2] for s in samples) / 1024:.0f} MiB; "
        f"slope over the second half (from {half[0][0]:,} records) **{slope(half):+.0f} KiB per 10,000 records**, "
        f"after warm-up (from {warm[0][0]:,}) {slope(warm):+.0f} KiB per 10,000 records; "
        f"CPU {cpu / max(1, written) * 1e3:.2f} ms per record (harvest process).",
        "",
    ]


def rebuild_lines(outcome: tuple) -> list[str]:
    indexed, failed, samples, cpu = outcome
    return [
        f"`--rebuild`: `rebuild_index` of that store into a private Elasticsearch node, in a process of its "
        f"own ({indexed:,} union records indexed, {failed} failed; the union ids and documents are read from "
        f"the store in batches, never all at once).",
        "",
        *_table(samples, "documents indexed"),
        "",
        f"RSS before the rebuild {samples[0][1] / 1024:.0f} MiB, peak {max(s[2] for s in samples) / 1024:.0f} MiB; "
        f"slope over the second half {slope(samples[len(samples) // 2 :]):+.0f} KiB per 10,000 documents; "
        f"CPU {cpu / max(1, indexed) * 1e3:.2f} ms per union record (rebuild process, not the node).",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=40000)
    parser.add_argument("--rebuild", action="store_true", help="then rebuild the index from the store")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="unicat-bench-mem-")
    dump = Path(work) / "lc.mrc"
    written, distinct = write_feed(shared_data() / LC_FILE, dump, args.records)
    print(f"feed: {written:,} records ({distinct:,} distinct) in {dump}", flush=True)
    lines = harvest_lines(args, written, distinct, _in_child(_harvest, work, str(dump)))
    print("\n".join(lines), flush=True)
    if args.write:
        replace_section(HEADING, lines)
    if args.rebuild:
        with es_node(Path(work)) as es_url:
            lines += rebuild_lines(_in_child(_rebuild, work, es_url))
        print("\n".join(lines[-8:]), flush=True)
        if args.write:
            replace_section(HEADING, lines)


if __name__ == "__main__":
    main()
