"""Precision of every merge the matcher makes over the whole LC file (issue 3); not a timed test.

The labelled sets of ``dedup_quality.py`` are made of hard cases that share an identifier. This
audit looks at the natural distribution instead: it clusters all 250,000 records of
``marc21/lc-booksall-2016-part01.mrc.gz`` and lists every pair of records put in one union record.
Each pair was read by eye (``dedup_labels/lc_merges_reviewed.tsv``: same / different / unsure,
with the reason); pairs nobody has reviewed yet are listed so that a matcher change shows what
needs reading. Run from the repository root::

    .venv/bin/python bench/dedup_audit.py [--json out.json]

Reports: merged pairs; reviewed same / different / unsure; precision with "unsure" counted as
wrong (strict) and as right; and how many of the pairs reviewed as "same" the matcher still merges
(a recall over the duplicates an earlier, looser matcher found).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from build_dedup_labels import LC_FILE, iter_records  # noqa: E402
from dedup_quality import _describe, items_of, load, read_tsv  # noqa: E402

from indexer.partition import partition  # noqa: E402

REVIEWED = "lc_merges_reviewed.tsv"


def audit() -> dict[str, object]:
    lc = load(iter_records(LC_FILE))
    groups = partition(items_of(lc, lc.raw, label_blind=False))
    merged = {
        tuple(sorted((lc.raw[a.ref].control, lc.raw[b.ref].control))): (a.ref, b.ref)
        for g in groups
        if len(g.items) > 1
        for a, b in itertools.combinations(g.items, 2)
    }
    labels = {(r["a_001"], r["b_001"]): r for r in read_tsv(REVIEWED)}
    counts = {"same": 0, "different": 0, "unsure": 0, "unreviewed": 0}
    wrong, unreviewed = [], []
    for pair, (a, b) in sorted(merged.items()):
        row = labels.get(pair)
        label = row["label"] if row else "unreviewed"
        counts[label] += 1
        if label != "same":
            entry = [_describe(lc, a), _describe(lc, b), row["note"] if row else ""]
            (unreviewed if row is None else wrong).append(entry)
    reviewed = counts["same"] + counts["different"] + counts["unsure"]
    same_labels = sum(1 for r in labels.values() if r["label"] == "same")
    return {
        "records": len(lc.raw),
        "union_records": len(groups),
        "merged_pairs": len(merged),
        **counts,
        "precision_strict": round(counts["same"] / reviewed, 3) if reviewed else None,
        "precision_unsure_as_same": round((counts["same"] + counts["unsure"]) / reviewed, 3) if reviewed else None,
        "reviewed_same_pairs": same_labels,
        "reviewed_same_still_merged": counts["same"],
        "wrong_or_unsure": wrong,
        "unreviewed": unreviewed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the full report here")
    args = parser.parse_args()
    text = json.dumps(audit(), ensure_ascii=False, indent=1)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
