"""Measure deduplication quality and clustering throughput (issue 3); not a timed test.

Run from the repository root (labels first: ``bench/build_dedup_labels.py``)::

    .venv/bin/python bench/dedup_quality.py [--limit 100000] [--store] [--json out.json]

Runs the real crosswalk, :func:`mappings.matchkeys.match_keys` and
:func:`indexer.partition.partition` over the labelled records and reports pairwise precision,
recall and F1 in two modes:

* ``full``: the matcher as shipped;
* ``label-blind``: the strong keys used to make the labels (``oclc:`` and ``isbn:``) are removed
  from every record before partitioning, so the labels are not predicted by the very identifier
  that made them. This is the honest measure of the remaining recipe (title/author/year keys,
  LCCN, national numbers, vetoes).

Throughput (records/s) is measured on the first ``--limit`` LC records: crosswalk + keys, and
``partition`` alone; with ``--store`` the same records are also loaded into a throw-away SQLite
store and clustered by :func:`indexer.clusterstore.recluster_all`.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from build_dedup_labels import LC_FILE, OUT, PRIDE_FILE, RawRecord, iter_records  # noqa: E402

from indexer.partition import Item, partition  # noqa: E402
from mappings import BibDocument, CrosswalkError, MatchKeys, crosswalk, match_keys  # noqa: E402

BLIND_PREFIXES = ("oclc:", "isbn:")


@dataclass
class Scores:
    """Pairwise confusion counts; precision/recall are 1.0 when their denominator is empty."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    false_merges: list[tuple[int, int]] = field(default_factory=list)
    misses: list[tuple[int, int]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def summary(self) -> dict[str, float | int]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


def _pairs(groups: dict[object, list[int]]) -> set[tuple[int, int]]:
    return {(a, b) for refs in groups.values() for a, b in itertools.combinations(sorted(refs), 2)}


def cluster_scores(predicted: dict[int, object], gold: dict[int, object]) -> Scores:
    """Pairwise scores of a predicted partition against a complete gold partition, both given
    as record → cluster label, restricted to the records in ``gold``."""
    by_pred: dict[object, list[int]] = defaultdict(list)
    by_gold: dict[object, list[int]] = defaultdict(list)
    for ref, label in gold.items():
        by_gold[label].append(ref)
        by_pred[predicted[ref]].append(ref)
    pred_pairs, gold_pairs = _pairs(by_pred), _pairs(by_gold)
    return Scores(
        tp=len(pred_pairs & gold_pairs),
        fp=len(pred_pairs - gold_pairs),
        fn=len(gold_pairs - pred_pairs),
        false_merges=sorted(pred_pairs - gold_pairs),
        misses=sorted(gold_pairs - pred_pairs),
    )


def pair_scores(predicted: dict[int, object], labels: Iterable[tuple[int, int, bool]]) -> Scores:
    """Scores over explicitly labelled pairs ``(a, b, same)``: a "different" pair put together is a
    false merge, a "same" pair kept apart a miss; unlabelled pairs are not counted."""
    scores = Scores()
    for a, b, same in labels:
        together = predicted[a] == predicted[b]
        if same and together:
            scores.tp += 1
        elif same:
            scores.fn += 1
            scores.misses.append((a, b))
        elif together:
            scores.fp += 1
            scores.false_merges.append((a, b))
    return scores


def blind(keys: MatchKeys) -> MatchKeys:
    """``keys`` without the identifiers used for labelling (ISBN-based vetoes stay: they compare
    the records' ISBN sets, not a shared key)."""
    return dataclasses.replace(keys, strong=tuple(k for k in keys.strong if not k.startswith(BLIND_PREFIXES)))


def cluster_of(items: list[Item]) -> tuple[dict[int, int], float]:
    """Partition ``items``; returns record → group number and the seconds it took."""
    start = time.perf_counter()
    groups = partition(items)
    took = time.perf_counter() - start
    return {it.ref: n for n, g in enumerate(groups) for it in g.items}, took


@dataclass
class Loaded:
    refs: dict[tuple[str, int], int]  # (file, offset) → ref
    raw: dict[int, RawRecord]
    docs: dict[int, BibDocument]
    keys: dict[int, MatchKeys]
    rejected: int
    seconds: float


def load(records: Iterable[RawRecord], start_ref: int = 0) -> Loaded:
    """Crosswalk and key ``records`` (timed)."""
    out = Loaded({}, {}, {}, {}, 0, 0.0)
    ref = start_ref
    begin = time.perf_counter()
    for rec in records:
        try:
            doc = crosswalk(rec.raw, "iso2709")
        except CrosswalkError:
            out.rejected += 1
            continue
        ref += 1
        out.refs[(rec.file, rec.offset)] = ref
        out.raw[ref], out.docs[ref], out.keys[ref] = rec, doc, match_keys(doc)
    out.seconds = time.perf_counter() - begin
    return out


def items_of(loaded: Loaded, refs: Iterable[int], *, label_blind: bool) -> list[Item]:
    return [
        Item(
            ref=r,
            sort_key=("lc" if loaded.raw[r].file == LC_FILE else "x", f"{loaded.raw[r].offset:012d}"),
            keys=blind(loaded.keys[r]) if label_blind else loaded.keys[r],
        )
        for r in refs
    ]


def _describe(loaded: Loaded, ref: int) -> str:
    d = loaded.docs[ref]
    return (
        f"{loaded.raw[ref].control or loaded.raw[ref].offset} | {d.title} | {(d.authors or [''])[0]} | "
        f"{d.year} | {d.pages}p | ed={d.edition} | part={d.part} | {d.format} | src={d.cataloguing_source}"
    )


def _examples(loaded: Loaded, pairs: list[tuple[int, int]], n: int = 8) -> list[list[str]]:
    return [[_describe(loaded, a), _describe(loaded, b)] for a, b in pairs[:n]]


def read_tsv(name: str) -> list[dict[str, str]]:
    lines = (OUT / name).read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


def evaluate(limit: int, use_store: bool) -> dict[str, object]:
    report: dict[str, object] = {
        "machine": {"nproc": os.cpu_count(), "cpu": _cpu(), "python": platform.python_version()},
    }
    # Pride and Prejudice: complete edition-level gold partition.
    gold_rows = read_tsv("clusters.tsv")
    pride = load(iter_records(PRIDE_FILE), start_ref=10_000_000)
    gold = {pride.refs[(r["file"], int(r["offset"]))]: r["gold"] for r in gold_rows}
    for row in gold_rows:
        assert pride.raw[pride.refs[(row["file"], int(row["offset"]))]].sha1 == row["sha1"], "record bytes changed"
    for mode in ("full", "label-blind"):
        predicted, _ = cluster_of(items_of(pride, gold, label_blind=mode == "label-blind"))
        s = cluster_scores(predicted, gold)
        report[f"pride/{mode}"] = {
            **s.summary(),
            "records": len(gold),
            "gold_clusters": len(set(gold.values())),
            "false_merges": _examples(pride, s.false_merges),
            "misses": _examples(pride, s.misses),
        }
    # LC: the first `limit` records plus every labelled record, then the labelled pairs.
    pair_rows = read_tsv("pairs.tsv")
    wanted = {int(r[k]) for r in pair_rows for k in ("a_offset", "b_offset")}
    lc_records = [rec for n, rec in enumerate(iter_records(LC_FILE)) if n < limit or rec.offset in wanted]
    lc = load(lc_records)
    first = [lc.refs[(rec.file, rec.offset)] for rec in lc_records[:limit] if (rec.file, rec.offset) in lc.refs]
    report["throughput"] = {"records": len(first), "crosswalk_keys_rps_all_loaded": round(len(lc.raw) / lc.seconds)}
    labels: dict[str, list[tuple[int, int, bool]]] = defaultdict(list)
    for r in pair_rows:
        a, b = lc.refs[(r["file"], int(r["a_offset"]))], lc.refs[(r["file"], int(r["b_offset"]))]
        labels[r["method"]].append((a, b, r["label"] == "same"))
        labels["all"].append((a, b, r["label"] == "same"))
    for mode in ("full", "label-blind"):
        predicted, took = cluster_of(items_of(lc, lc.raw, label_blind=mode == "label-blind"))
        report[f"lc/{mode}/partition"] = {
            "records": len(lc.raw),
            "seconds": round(took, 2),
            "records_per_s": round(len(lc.raw) / took),
        }
        for method, pairs in sorted(labels.items()):
            s = pair_scores(predicted, pairs)
            report[f"lc/{mode}/{method}"] = {
                **s.summary(),
                "pairs": len(pairs),
                "false_merges": _examples(lc, s.false_merges),
                "misses": _examples(lc, s.misses),
            }
    predicted, took = cluster_of(items_of(lc, first, label_blind=False))
    report["throughput"] |= {
        "partition_seconds": round(took, 2),
        "partition_rps": round(len(first) / took),
        "groups": len(set(predicted.values())),
    }
    report |= evaluate_cross_format()
    if use_store:
        report["store"] = store_run(lc, first)
    return report


CHINESE_FILE = "marc21/lc-booksall-2016-part01-chinese.mrc.gz"
UNIMARC_FILES = ("unimarc/bnu-alma-sru-cnmarc-10.xml", "unimarc/sru-unimarc-10.xml", "unimarc/bnf-sru-unimarc-49.xml")
CROSS_REVIEWED = "cross_format_reviewed.tsv"


def _shared_key_pairs(keys: dict[int, MatchKeys], left: set[int], right: set[int]) -> set[tuple[int, int]]:
    """Pairs (MARC 21 record, UNIMARC record) sharing a strong or the weak key."""
    by_key: dict[str, list[int]] = defaultdict(list)
    for ref, k in keys.items():
        for key in (*k.strong, *([k.weak] if k.weak else [])):
            by_key[key].append(ref)
    pairs = set()
    for refs in by_key.values():
        if len(refs) < 200:
            pairs |= {(a, b) for a in refs for b in refs if a in left and b in right}
    return pairs


def evaluate_cross_format() -> dict[str, object]:
    """MARC 21 ↔ CNMARC: every Chinese LC record beside its CNMARC conversion
    (:mod:`marc21_to_cnmarc`) and the real UNIMARC/CNMARC records of the shared data, clustered
    together. Same = a record and its conversion; different = every other MARC 21 / UNIMARC pair
    sharing a key, unless ``cross_format_reviewed.tsv`` says otherwise (two LC records of one book)."""
    from build_dedup_labels import data_dir
    from lxml import etree
    from marc21_to_cnmarc import convert

    loaded = load(iter_records(CHINESE_FILE))
    marc21 = set(loaded.raw)
    converted: dict[int, int] = {}
    ref = 20_000_000
    for source in sorted(marc21):
        ref += 1
        doc = crosswalk(convert(loaded.raw[source].raw), "iso2709", "unimarc")
        loaded.docs[ref], loaded.keys[ref] = doc, match_keys(doc)
        converted[source] = ref
    for name in UNIMARC_FILES:
        for element in etree.parse(str(data_dir() / name)).getroot().iter("{*}record"):
            if not any(etree.QName(c).localname == "datafield" for c in element if isinstance(c.tag, str)):
                continue
            ref += 1
            try:
                doc = crosswalk(etree.tostring(element), "xml", "unimarc")
            except CrosswalkError:
                continue
            loaded.docs[ref], loaded.keys[ref] = doc, match_keys(doc)
    unimarc = set(loaded.keys) - marc21
    reviewed = {(r["lc_offset"], r["other"]): r["label"] == "same" for r in read_tsv(CROSS_REVIEWED)}
    offset_of = {r: loaded.raw[r].offset for r in marc21}
    source_of = {v: k for k, v in converted.items()}
    labels = [(a, b, True) for a, b in converted.items()]
    for a, b in sorted(_shared_key_pairs(loaded.keys, marc21, unimarc)):
        if converted.get(a) == b:
            continue
        other = f"lc:{offset_of[source_of[b]]}" if b in source_of else f"unimarc:{loaded.docs[b].local_id}"
        labels.append((a, b, reviewed.get((str(offset_of[a]), other), False)))
    items = [Item(ref=r, sort_key=("x", f"{r:012d}"), keys=k) for r, k in loaded.keys.items()]
    predicted, took = cluster_of(items)
    s = pair_scores(predicted, labels)

    def describe(r: int) -> str:
        d = loaded.docs[r]
        if r in offset_of:
            where = f"lc@{offset_of[r]}"
        else:
            where = f"cn(lc@{offset_of[source_of[r]]})" if r in source_of else "unimarc"
        return f"{where} | {d.title} | {(d.authors or [''])[0]} | {d.year} | {d.extent} | {d.isbns[:2]}"

    return {"cross/marc21-cnmarc": {
        **s.summary(), "pairs": len(labels), "same_pairs": sum(1 for *_, same in labels if same),
        "records": {"lc_chinese": len(marc21), "converted": len(converted),
                    "real_unimarc": len(unimarc) - len(converted)},
        "partition_seconds": round(took, 2),
        "false_merges": [[describe(a), describe(b)] for a, b in s.false_merges[:60]],
        "misses": [[describe(a), describe(b)] for a, b in s.misses[:60]],
    }}


def store_run(loaded: Loaded, refs: list[int]) -> dict[str, object]:
    """Load ``refs`` into a throw-away SQLite store (documents + match keys) and time
    :func:`indexer.clusterstore.recluster_all`."""
    from sqlalchemy import func, select

    from indexer.clusterstore import recluster_all, write_keys
    from store.db import make_engine, make_sessionmaker, transaction
    from store.models import Base, Cluster, Member, SourceRecord

    with tempfile.TemporaryDirectory(prefix="unicat-dedup-bench-") as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        Base.metadata.create_all(engine)
        factory = make_sessionmaker(engine)
        begin = time.perf_counter()
        with transaction(factory) as session:
            session.add(Member(code="lc", name_zh="LC", name_en="LC", region="us", config={}))
            session.flush()
            for start in range(0, len(refs), 5000):
                rows = [
                    SourceRecord(
                        member_code="lc",
                        local_id=f"{loaded.raw[r].offset:012d}",
                        feed="files",
                        syntax="marc21",
                        encoding="iso2709",
                        raw=loaded.raw[r].raw,
                        checksum=loaded.raw[r].sha1,
                        document=loaded.docs[r].to_dict(),
                    )
                    for r in refs[start : start + 5000]
                ]
                session.add_all(rows)
                session.flush()
                write_keys(session, rows)
                session.expunge_all()
        load_seconds = time.perf_counter() - begin
        begin = time.perf_counter()
        with transaction(factory) as session:
            change = recluster_all(session)
        took = time.perf_counter() - begin
        with factory() as session:
            clusters = session.scalar(select(func.count()).select_from(Cluster))
        engine.dispose()
    return {
        "records": len(refs),
        "load_seconds": round(load_seconds, 1),
        "recluster_all_seconds": round(took, 1),
        "recluster_all_rps": round(len(refs) / took),
        "clusters": clusters,
        "oversized": len(change.oversized),
    }


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=100_000, help="LC records for throughput")
    parser.add_argument("--store", action="store_true", help="also time recluster_all on SQLite")
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument("--cross-only", action="store_true", help="only the MARC 21 <-> CNMARC set")
    args = parser.parse_args()
    report = evaluate_cross_format() if args.cross_only else evaluate(args.limit, args.store)
    text = json.dumps(report, ensure_ascii=False, indent=1)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
