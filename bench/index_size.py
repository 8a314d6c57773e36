"""Bytes per union record in the search index and the record store: the basis of the sizing guidance.

Builds the first N LC "Books All" records (shared data) through the real pipeline into a private
node, force-merges the index to one segment (what a settled index looks like), and reads the
primary store size from ``_cat/indices`` and the SQLite file size. With ``--write``, puts "Index
size per record" into bench/RESULTS.md with the extrapolation to 1 million and 7 million union records.

    .venv/bin/python bench/index_size.py [--records 20000] [--write]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402
from catalog.context import build_services  # noqa: E402
from catalog.members import sync_members  # noqa: E402
from catalog.pipeline import harvest_feed  # noqa: E402
from store.db import transaction  # noqa: E402

HEADING = "## Consortium scale: cluster and faults (issue 19)"


def build(work: Path, es_url: str, count: int) -> dict[str, float]:
    subset = work / "lc-subset.mrc"
    common.write_marc_subset(common.shared_data() / common.LC_FILE, subset, count)
    settings = common.bench_settings(work, es_url).model_copy(update={"index_prefix": "bench19"})
    services = build_services(settings)
    try:
        with transaction(services.db) as session:
            member = {
                "code": "lc",
                "name": {"zh": "美国国会图书馆", "en": "Library of Congress"},
                "region": "national",
                "role": "national",
                "files": {"url_or_path": str(subset)},
            }
            sync_members(session, [member])
        began = time.perf_counter()
        report = harvest_feed(services, "lc", "files")
        seconds = time.perf_counter() - began
        alias = settings.records_alias
        services.es.indices.forcemerge(index=alias, max_num_segments=1)
        services.es.indices.refresh(index=alias)
        row = services.es.cat.indices(index=alias, format="json", bytes="b")[0]
        docs, primary = int(row["docs.count"]), int(row["pri.store.size"])
        services.es.indices.delete(index=row["index"])
    finally:
        services.close()
    db = Path(settings.sqlalchemy_url.removeprefix("sqlite:///")).stat().st_size
    return {"records": report.added, "docs": docs, "index_bytes": primary, "db_bytes": db, "seconds": seconds}


def report(m: dict[str, float]) -> str:
    per_doc, per_rec = m["index_bytes"] / m["docs"], m["db_bytes"] / m["records"]
    gib = 1024**3
    lines = [
        f"{common.stamp()}. Machine: {common.machine()}.",
        "",
        f"Input: the first {m['records']:,.0f} records of `{common.LC_FILE}`, one member, file feed, through"
        " `harvest_feed`; the index then force-merged to one segment; one primary copy measured"
        " (`pri.store.size`), SQLite file size for the store.",
        "",
        "| what | measured | per union record | 1 M union records | 7 M union records |",
        "|---|---|---|---|---|",
        f"| search index (one copy) | {m['index_bytes'] / 2**20:,.1f} MiB for {m['docs']:,.0f} docs |"
        f" {per_doc:,.0f} B | {per_doc * 1e6 / gib:,.1f} GiB | {per_doc * 7e6 / gib:,.1f} GiB |",
        f"| record store (raw + documents + keys) | {m['db_bytes'] / 2**20:,.1f} MiB for {m['records']:,.0f} records |"
        f" {per_rec:,.0f} B | {per_rec * 1e6 / gib:,.1f} GiB | {per_rec * 7e6 / gib:,.1f} GiB |",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--write", action="store_true", help="replace its section of bench/RESULTS.md")
    args = parser.parse_args()
    work = Path(common.default_work_dir()).parent / "issue19-size"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with common.es_node(work) as es_url:
        measured = build(work, es_url, args.records)
    text = report(measured)
    print(text)
    if args.write:
        common.write_section("Index size per record", text, heading=HEADING)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
