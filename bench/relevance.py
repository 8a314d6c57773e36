"""Benchmark: ranking quality on the judged query sets, with the matching of this checkout.

Builds (or reuses) the two catalogues of :mod:`bench.catalogues` through the real pipeline — the
demo consortium (5,034 records) and the first 100,000 LC records — runs every query of
``bench/judgements/demo`` and ``bench/judgements/lc`` through :func:`catalog.search.search` and
measures nDCG@10, recall@20 and MRR per category (:mod:`catalog.relevance`, ir-measures).

Run it once per matching to compare: ``--label old`` before a change, ``--label new --compare old``
after it; each label is its own table in bench/RESULTS.md, and ``--write`` keeps each run's
per-query figures in ``bench/judgements/runs/<set>.<label>.tsv``, so ``--compare`` shows the two
side by side with the queries that got better or worse. ``--reindex``
rebuilds each index from its store first (needed after the mapping or the document builder
changed: new fields); the rebuild time and the index size are reported with the table.

``--field-cost`` also copies the documents, without the fields added since ``records-v2``, into an
index with that mapping and compares the sizes (both force-merged to one segment).

    python bench/relevance.py [--label old] [--compare LABEL] [--set demo --set lc] [--profile P] [--reindex]
                              [--field-cost] [--write]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: `python bench/relevance.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from elasticsearch.helpers import bulk, scan  # noqa: E402

from bench.catalogues import catalogue, reindex, work_dir  # noqa: E402
from bench.common import es_node, machine, stamp, write_section  # noqa: E402
from catalog.relevance import (  # noqa: E402
    Report,
    evaluate,
    load_profile,
    markdown_table,
    read_per_query,
    read_set,
    searcher,
    union_qrels,
    wins_losses,
    write_per_query,
)
from indexer.index import MAPPINGS_DIR, IndexSpec, create_index  # noqa: E402

JUDGEMENTS = Path(__file__).resolve().parent / "judgements"
#: Per-query figures of each labelled run (``<set>.<label>.tsv``), for ``--compare``.
RUNS = JUDGEMENTS / "runs"
HEADING = "## Search relevance on judged queries (issue 13)"
#: Targets of issue 13, checked on the "new" numbers.
TARGETS = "Chinese topical R@20 ≥ 0.95 and nDCG@10 ≥ 0.80; Chinese known-item R@20 ≥ 0.99"


def index_size(services: Any) -> tuple[int, int]:
    """(documents, bytes on disk) of the index behind the alias."""
    stats = services.es.indices.stats(index=services.settings.records_alias, metric=["docs", "store"])
    total = stats["_all"]["primaries"]
    return total["docs"]["count"], total["store"]["size_in_bytes"]


def field_cost(services: Any, baseline_version: int = 2) -> str:
    """The index size the fields added since ``records-v<baseline>`` cost: the live documents are
    copied, without those fields, into an index with the baseline mapping, and both indices are
    force-merged to one segment so that the sizes compare."""
    es, alias = services.es, services.settings.records_alias
    spec = json.loads((MAPPINGS_DIR / f"records-v{baseline_version}.json").read_text(encoding="utf-8"))
    spec.pop("_comment", None)
    known = set(spec["mappings"]["properties"])
    index = create_index(es, f"{alias}-baseline", IndexSpec(baseline_version, spec))
    started = time.perf_counter()
    try:
        actions = ({"_index": index, "_id": h["_id"], "_source": {k: v for k, v in h["_source"].items() if k in known}}
                   for h in scan(es, index=alias, size=2000))
        bulk(es, actions, chunk_size=2000, request_timeout=300)
        copied = time.perf_counter() - started
        sizes = []
        for name in (alias, index):
            es.indices.refresh(index=name)
            es.indices.forcemerge(index=name, max_num_segments=1, request_timeout=600)
            sizes.append(index_size_of(es, name))
    finally:
        es.indices.delete(index=index, ignore_unavailable=True)
    live, base = sizes
    return (f"Index size after force-merging to one segment: {live / 1e6:.1f} MB with this mapping, "
            f"{base / 1e6:.1f} MB with `records-v{baseline_version}` (the fields added since dropped): "
            f"{(live - base) / 1e6:+.1f} MB ({(live / base - 1) * 100:+.0f} %); the baseline copy was bulk-loaded in "
            f"{copied:.0f} s.")


def index_size_of(es: Any, index: str) -> int:
    return es.indices.stats(index=index, metric=["store"])["_all"]["primaries"]["store"]["size_in_bytes"]


def measure(name: str, es_url: str, args: argparse.Namespace, profile: Any) -> tuple[Report, str]:
    services, built = catalogue(name, es_url, records=args.records)
    try:
        rebuilt = reindex(services) if args.reindex else 0.0
        judged = read_set(JUDGEMENTS / f"{name}.queries.tsv")
        qrels = union_qrels(services, judged)
        report = evaluate(judged, qrels, searcher(services, profile), args.label)
        docs, size = index_size(services)
        cost = field_cost(services) if args.field_cost else ""
    finally:
        services.close()
    how = f"built in {built:.0f} s" if built else "reused"
    if rebuilt:
        how += f", index rebuilt from the store in {rebuilt:.0f} s"
    note = (f"`{name}`: {len(judged.queries)} judged queries ({len(report.skipped)} with no relevant record in the "
            f"catalogue); {docs:,} union documents, index {size / 1e6:.1f} MB ({how}); all queries searched in "
            f"{report.seconds:.1f} s. {cost}").strip()
    return report, note


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", default="old", help="name of this matching in the table (old, new, …)")
    ap.add_argument("--set", dest="sets", action="append", choices=["demo", "lc"], help="default: both")
    ap.add_argument("--records", type=int, default=100_000, help="LC records of the large catalogue")
    ap.add_argument("--about", default="", help="a sentence saying what this matching is (printed with the table)")
    ap.add_argument("--profile", default=None, help="search profile (default: the live search)")
    ap.add_argument("--reindex", action="store_true", help="rebuild each index from its store first")
    ap.add_argument("--field-cost", action="store_true",
                    help="also measure the index size against the records-v2 mapping (force-merges the index)")
    ap.add_argument("--compare", default=None, metavar="LABEL",
                    help="also show the run written earlier under LABEL, side by side, with per-query wins/losses")
    ap.add_argument("--write", action="store_true", help="update bench/RESULTS.md and bench/judgements/runs/")
    args = ap.parse_args(argv)
    profile = load_profile(args.profile) if args.profile else None
    lines = [f"{stamp()}. Machine: {machine()}. Matching: **{args.label}**"
             + (f", profile `{args.profile}`" if args.profile else "") + "." + (f" {args.about}" if args.about else "")]
    for name in args.sets or ["demo", "lc"]:
        with es_node(work_dir(name)) as es_url:
            report, note = measure(name, es_url, args, profile)
        reports = [report]
        if args.compare:
            earlier = read_per_query(RUNS / f"{name}.{args.compare}.tsv", args.compare)
            reports.insert(0, earlier)
            outcome = wins_losses(earlier, report)
            note += (f" Against `{args.compare}` on nDCG@10: {len(outcome['wins'])} queries better, "
                     f"{len(outcome['losses'])} worse ({', '.join(outcome['losses'][:15]) or 'none'}), "
                     f"{len(outcome['ties'])} the same.")
        table = markdown_table(reports)
        print(note, table, sep="\n", flush=True)
        lines += ["", note, "", table]
        if args.write:
            write_per_query(report, RUNS / f"{name}.{args.label}.tsv")
    lines += ["", f"Targets (issue 13): {TARGETS}."]
    text = "\n".join(lines)
    if args.write:
        write_section(f"Relevance, {args.label} matching", text, heading=HEADING)


if __name__ == "__main__":
    main()
