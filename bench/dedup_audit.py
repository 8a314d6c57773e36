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

Across libraries: the LC file is clustered together with the other libraries' MARC in the shared
data (UVA, RERO, Penn State, the vufindharvest page). Every pair of records from two libraries
that the matcher merged, or that shares an ISBN or the whole title and year and was kept apart,
was read by eye (``dedup_labels/cross_collection_reviewed.tsv``); precision and recall are over
those pairs. Few books overlap (these are small, unrelated samples), so the counts are small.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pymarc
from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from build_dedup_labels import LC_FILE, RawRecord, data_dir, iter_records  # noqa: E402
from dedup_quality import Loaded, _describe, items_of, load, read_tsv  # noqa: E402

from indexer.partition import Item, partition  # noqa: E402

REVIEWED = "lc_merges_reviewed.tsv"


def audit(lc: Loaded) -> dict[str, object]:
    """Every pair of LC records the matcher puts in one union record, against the reviewed verdicts."""
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


#: Other libraries' catalogues in the shared data (file, reader); each is audited against LC and
#: the others: the only real cross-library overlap available here.
OTHER_COLLECTIONS = {
    "uva": "marc21/uva-sirsi-2000.mrc",
    "rero": "marc21/rero-442.marcxml",
    "psu": "oai/pennstate-listrecords-300-one-malformed.xml",
    "vufind": "oai/vufindharvest-listrecords-marc21-100.xml",
}
CROSS_REVIEWED = "cross_collection_reviewed.tsv"


def _xml_records(file: str) -> Iterator[RawRecord]:
    """MARCXML records of a shared file (bare or in OAI-PMH envelopes) as ISO 2709, numbered from 1;
    a record pymarc cannot read is skipped (the Penn State page holds one on purpose)."""
    tree = etree.parse(str(data_dir() / file), etree.XMLParser(resolve_entities=False, no_network=True, recover=True))
    for number, element in enumerate(tree.iter("{http://www.loc.gov/MARC21/slim}record"), 1):
        try:
            [record] = pymarc.parse_xml_to_array(io.BytesIO(etree.tostring(element)))
            yield RawRecord(file, number, record.as_marc())
        except Exception:  # noqa: BLE001 - a malformed record is left out, as a harvest would reject it
            continue


def _control(loaded: Loaded, ref: int) -> str:
    raw = loaded.raw[ref]
    return raw.control or str(raw.offset)


def _collection_records(file: str) -> Iterator[RawRecord]:
    return _xml_records(file) if file.endswith(".xml") or file.endswith(".marcxml") else iter_records(file)


def cross_audit(lc: Loaded) -> dict[str, object]:
    """Cluster LC with the other libraries' records and read every pair across two libraries that
    the matcher merged, or that shares an ISBN or the whole title and year without being merged."""
    collections: dict[str, Loaded] = {"lc": lc}
    start = max(lc.raw) + 1
    for name, file in OTHER_COLLECTIONS.items():
        collections[name] = load(_collection_records(file), start_ref=start)
        start = max(collections[name].raw, default=start) + 1
    items = [
        Item(ref=ref, sort_key=(name, f"{loaded.raw[ref].offset:012d}"), keys=loaded.keys[ref])
        for name, loaded in collections.items()
        for ref in loaded.raw
    ]
    groups = partition(items)
    label = {it.ref: f"{it.sort_key[0]}:{_control(collections[it.sort_key[0]], it.ref)}" for it in items}
    loaded_of = {it.ref: collections[it.sort_key[0]] for it in items}

    def across(a: Item, b: Item) -> tuple[str, str] | None:
        return tuple(sorted((label[a.ref], label[b.ref]))) if a.sort_key[0] != b.sort_key[0] else None  # type: ignore[return-value]

    # Every merged pair across two libraries, and every pair across two libraries that shares an
    # ISBN or the whole title and year (where a missed duplicate would be) but was kept apart.
    pairs: dict[tuple[str, str], bool] = {}
    blocks: dict[str, list[Item]] = {}
    for it in items:
        if it.keys.title_full and it.keys.year:
            blocks.setdefault(f"t:{it.keys.title_full}|{it.keys.year}", []).append(it)
        for isbn in it.keys.isbns:
            blocks.setdefault(f"i:{isbn}", []).append(it)
    for block in blocks.values():
        if len(block) <= 50:
            pairs.update((p, False) for a, b in itertools.combinations(block, 2) if (p := across(a, b)))
    for group in groups:
        pairs.update((p, True) for a, b in itertools.combinations(group.items, 2) if (p := across(a, b)))
    reviewed = {(r["a"], r["b"]): r for r in read_tsv(CROSS_REVIEWED)}
    tally = {"tp": 0, "fp": 0, "fn": 0, "tn": 0, "unsure_merged": 0, "unsure_apart": 0, "unreviewed": 0}
    unreviewed = []
    ref_of = {name: ref for ref, name in label.items()}
    for pair, together in sorted(pairs.items()):
        row = reviewed.get(pair)
        if row is None:
            tally["unreviewed"] += 1
            unreviewed.append([_describe(loaded_of[ref_of[p]], ref_of[p]) for p in pair] + [f"merged={together}"])
            continue
        if row["label"] == "unsure":
            tally["unsure_merged" if together else "unsure_apart"] += 1
            continue
        same = row["label"] == "same"
        tally[("tp" if same else "fp") if together else ("fn" if same else "tn")] += 1
    return {
        "records": {name: len(loaded.raw) for name, loaded in collections.items()},
        "pairs_across_libraries": len(pairs),
        **tally,
        "precision": round(tally["tp"] / (tally["tp"] + tally["fp"]), 3) if tally["tp"] + tally["fp"] else None,
        "recall": round(tally["tp"] / (tally["tp"] + tally["fn"]), 3) if tally["tp"] + tally["fn"] else None,
        "unreviewed_pairs": unreviewed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the full report here")
    args = parser.parse_args()
    lc = load(iter_records(LC_FILE))
    text = json.dumps({"lc": audit(lc), "across_libraries": cross_audit(lc)}, ensure_ascii=False, indent=1)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
