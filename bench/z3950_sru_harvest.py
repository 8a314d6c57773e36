"""Benchmark: Z39.50 and SRU harvest rates (records/s) against a local Zebra.

Loads MARC records into a fresh Zebra (default: the 300 UVA records in tests/data/zebra; pass a
larger file, e.g. the LC Books All sample, with ``--records`` and ``--limit``), then runs full
harvests through :class:`Z3950Harvester` (ISO 2709 with MARC-8→UTF-8 conversion, and MARCXML) and
:class:`SruHarvester` (MARCXML) at several batch sizes, timing the harvester alone (no store).

    .venv/bin/python -m bench.z3950_sru_harvest [--records FILE.mrc[.gz]] [--limit N] [--write]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.availability_fanout import write_section
from harvesters.sru import SruFeed, SruHarvester
from harvesters.z3950 import Z3950Feed, Z3950Harvester
from tests.peers.zebra import TEMPLATES, read_marc, zebra_server


def timed(harvester: Z3950Harvester | SruHarvester) -> tuple[int, int, float]:
    started = time.perf_counter()
    n = errors = 0
    for page in harvester.pages(None):
        n += len(page.records)
        errors += sum(1 for r in page.records if r.error)
    return n, errors, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=Path, default=TEMPLATES / "uva-sirsi-300.mrc")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = ap.parse_args()
    records = read_marc(args.records, args.limit)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with zebra_server(Path(tmp), records) as zebra:
            load = time.perf_counter() - t0
            for batch in (10, 100, 500):
                runs = [
                    ("Z39.50 usmarc (raw; charset=marc8,utf8)",
                     Z3950Harvester(Z3950Feed(host=zebra.host, port=zebra.port, batch=batch))),
                    ("Z39.50 xml (MARCXML)",
                     Z3950Harvester(Z3950Feed(host=zebra.host, port=zebra.port, batch=batch, syntax="xml"))),
                    ("SRU 1.2 marcxml", SruHarvester(SruFeed(url=zebra.sru_url, batch=batch))),
                ]
                for label, harvester in runs:
                    n, errors, secs = timed(harvester)
                    rows.append((label, batch, n, errors, secs))
    lines = [f"{len(records)} records from `{args.records.name}` loaded into Zebra in {load:.1f} s "
             "(zebraidx init + update + commit); harvester only, loopback; the machine was shared with "
             "other test runs, so rates varied up to 2x between runs.", "",
             "| protocol | batch | records | record errors | seconds | records/s |", "|---|---|---|---|---|---|"]
    lines += [f"| {label} | {batch} | {n} | {err} | {secs:.2f} | {n / secs:,.0f} |"
              for label, batch, n, err, secs in rows]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(Path(__file__).resolve().parent / "RESULTS.md", "Z39.50 and SRU harvest rates", text)


if __name__ == "__main__":
    main()
