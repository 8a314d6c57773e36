"""Ranking quality on judged query sets: nDCG@10, recall@20 and MRR per category and overall.

A judged set is two files side by side (format in ``bench/judgements/README.md``):

- ``<name>.queries.tsv``: ``qid<TAB>category<TAB>query`` per line (a header line ``qid category query``);
- ``<name>.qrels``: TREC qrels, ``qid 0 docid grade`` per line, where ``docid`` is a member's
  record as ``member:local_id`` and ``grade`` is 1 (relevant) or 2 (highly relevant).

Judgements name member records, not union records, so they survive a change of the deduplication:
before measuring, each is resolved through the record store to the union record it belongs to
now, and a union record gets the highest grade of its members' records. The measures are
computed by ``ir-measures`` (trec_eval's definitions: nDCG with linear gains, recall over every
relevant union record, reciprocal rank of the first relevant hit).
"""

from __future__ import annotations

import csv
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ir_measures
from ir_measures import RR, R, nDCG
from sqlalchemy import select, tuple_

from catalog.context import Services
from catalog.search import SearchQuery, search
from store.db import chunks
from store.models import SourceRecord

MEASURES = {"nDCG@10": nDCG @ 10, "R@20": R @ 20, "MRR": RR}
DEPTH = 20
#: Per-query figures closer than this count as a tie.
TIE = 5e-4


class JudgementsError(ValueError):
    """A judged set that cannot be read (missing file, bad line); the message names file and line."""


@dataclass
class JudgedSet:
    name: str
    queries: list[tuple[str, str, str]]  # (qid, category, query text)
    qrels: dict[str, dict[str, int]]  # qid -> {member:local_id: grade}


@dataclass
class Report:
    """Per-query measures and their means per category and overall."""

    label: str
    per_query: dict[str, dict[str, float]]
    categories: dict[str, str]
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def means(self) -> dict[str, dict[str, float]]:
        groups: dict[str, list[str]] = defaultdict(list)
        for qid in self.per_query:
            groups[self.categories[qid]].append(qid)
        out = {cat: _mean(self.per_query, qids) for cat, qids in sorted(groups.items())}
        out["overall"] = _mean(self.per_query, list(self.per_query))
        return out


def _mean(per_query: dict[str, dict[str, float]], qids: list[str]) -> dict[str, float]:
    values = {name: statistics.fmean(per_query[q][name] for q in qids) for name in MEASURES}
    values["queries"] = len(qids)
    return values


def set_paths(path: Path) -> tuple[Path, Path]:
    """``(queries.tsv, qrels)`` for a path naming either file of a set (or the set's stem)."""
    text = str(path)
    for suffix in (".queries.tsv", ".qrels"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
    return Path(text + ".queries.tsv"), Path(text + ".qrels")


def read_set(path: Path) -> JudgedSet:
    queries_path, qrels_path = set_paths(path)
    for p in (queries_path, qrels_path):
        if not p.is_file():
            raise JudgementsError(f"{p}: no such file (a judged set is NAME.queries.tsv beside NAME.qrels)")
    queries: list[tuple[str, str, str]] = []
    with queries_path.open(encoding="utf-8", newline="") as fh:
        for n, row in enumerate(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if n == 1 and row[:1] == ["qid"]:
                continue
            if len(row) != 3 or not all(row):
                raise JudgementsError(f"{queries_path}:{n}: expected qid<TAB>category<TAB>query")
            queries.append((row[0], row[1], row[2]))
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for n, line in enumerate(qrels_path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4 or not parts[3].lstrip("-").isdigit():
            raise JudgementsError(f"{qrels_path}:{n}: expected 'qid 0 docid grade'")
        qrels[parts[0]][parts[2]] = int(parts[3])
    return JudgedSet(queries_path.name.removesuffix(".queries.tsv"), queries, dict(qrels))


def write_set(queries_path: Path, qrels_path: Path, queries: list[tuple[str, str, str, dict[str, int]]]) -> None:
    """Write ``[(qid, category, query, {docid: grade})]`` as a judged set."""
    queries_path.parent.mkdir(parents=True, exist_ok=True)
    with queries_path.open("w", encoding="utf-8") as fh:
        fh.write("qid\tcategory\tquery\n")
        for qid, category, query, _ in queries:
            fh.write(f"{qid}\t{category}\t{' '.join(query.split())}\n")
    with qrels_path.open("w", encoding="utf-8") as fh:
        for qid, _, _, judged in queries:
            for docid, grade in sorted(judged.items()):
                fh.write(f"{qid} 0 {docid} {grade}\n")


def union_ids(services: Services, docids: set[str]) -> dict[str, str]:
    """``member:local_id`` → the union record (cluster) it belongs to now."""
    pairs = sorted(tuple(d.split(":", 1)) for d in docids if ":" in d)
    out: dict[str, str] = {}
    with services.db() as session:
        for chunk in chunks(pairs):
            rows = session.execute(
                select(SourceRecord.member_code, SourceRecord.local_id, SourceRecord.cluster_id).where(
                    tuple_(SourceRecord.member_code, SourceRecord.local_id).in_(chunk), ~SourceRecord.deleted
                )
            )
            out.update({f"{m}:{lid}": cid for m, lid, cid in rows if cid})
    return out


def union_qrels(services: Services, judged: JudgedSet) -> dict[str, dict[str, int]]:
    """The set's judgements on union records (the highest grade of a union record's members)."""
    resolved = union_ids(services, {d for rels in judged.qrels.values() for d in rels})
    out: dict[str, dict[str, int]] = {}
    for qid, rels in judged.qrels.items():
        graded: dict[str, int] = {}
        for docid, grade in rels.items():
            if docid in resolved and grade > 0:
                uid = resolved[docid]
                graded[uid] = max(grade, graded.get(uid, 0))
        if graded:
            out[qid] = graded
    return out


Searcher = Callable[[str], list[str]]


def searcher(services: Services, profile: Any = None) -> Searcher:
    """The union ids of the first :data:`DEPTH` hits of a query, as the search API ranks them
    (``profile`` is handed to the search only when given, so this runs with or without profiles)."""

    def run(text: str) -> list[str]:
        query = SearchQuery(q=text, size=DEPTH)
        result = search(services, query) if profile is None else search(services, query, profile=profile)  # type: ignore[call-arg]
        return [hit["id"] for hit in result["hits"]]

    return run


def evaluate(judged: JudgedSet, qrels: dict[str, dict[str, int]], run: Searcher, label: str) -> Report:
    """Search every judged query with ``run`` and measure it against ``qrels``."""
    started = time.perf_counter()
    ranked: dict[str, dict[str, float]] = {}
    categories: dict[str, str] = {}
    skipped: list[str] = []
    for qid, category, text in judged.queries:
        if qid not in qrels:
            skipped.append(qid)  # none of its relevant records is in this catalogue
            continue
        categories[qid] = category
        ids = run(text)
        ranked[qid] = {uid: float(DEPTH - rank) for rank, uid in enumerate(ids)}
    seconds = time.perf_counter() - started
    per_query = {qid: dict.fromkeys(MEASURES, 0.0) for qid in ranked}
    names = {str(m): name for name, m in MEASURES.items()}
    run_for_eval = {qid: docs for qid, docs in ranked.items() if docs}
    wanted = {qid: qrels[qid] for qid in ranked}
    for metric in ir_measures.iter_calc(list(MEASURES.values()), wanted, run_for_eval):
        per_query[metric.query_id][names[str(metric.measure)]] = float(metric.value)
    return Report(label, per_query, categories, skipped, seconds)


def wins_losses(live: Report, candidate: Report, measure: str = "nDCG@10") -> dict[str, list[str]]:
    """Queries the candidate does better, worse, or the same on (by ``measure``)."""
    out: dict[str, list[str]] = {"wins": [], "losses": [], "ties": []}
    for qid, values in live.per_query.items():
        other = candidate.per_query.get(qid, {}).get(measure, 0.0)
        delta = other - values[measure]  # figures kept to 4 decimals (write_per_query) compare as equal
        out["wins" if delta > TIE else "losses" if delta < -TIE else "ties"].append(qid)
    return out


def markdown_table(reports: list[Report]) -> str:
    """One row per category (and overall), the measures of each report side by side."""
    header = ["category", "queries"] + [f"{name} ({r.label})" for r in reports for name in MEASURES]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    means = [r.means() for r in reports]
    for cat in means[0]:
        cells = [f"**{cat}**" if cat == "overall" else cat, str(int(means[0][cat]["queries"]))]
        cells += [f"{m[cat][name]:.3f}" if cat in m else "–" for m in means for name in MEASURES]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


class ProfileError(ValueError):
    """A search profile named for the evaluation cannot be loaded."""


def load_profile(name_or_path: str) -> Any:
    """The search profile ``name_or_path`` through :func:`catalog.profiles.load_profile` (the
    search-profiles module; an install without it cannot evaluate profiles)."""
    try:
        from catalog import profiles  # type: ignore[attr-defined]
    except ImportError:
        raise ProfileError(f"{name_or_path}: search profiles are not available in this version") from None
    try:
        return profiles.load_profile(name_or_path)
    except (OSError, ValueError, KeyError) as exc:
        raise ProfileError(f"{name_or_path}: {exc}") from None


@dataclass
class Comparison:
    reports: list[Report]
    outcome: dict[str, list[str]] | None  # wins/losses/ties of the candidate (nDCG@10), if any


def run_evaluation(
    services: Services, path: Path, profile: str | None = None, candidate: str | None = None
) -> Comparison:
    """Measure the judged set at ``path`` with ``profile`` (default: the live search) and, when
    given, with ``candidate`` too, on the same resolved judgements."""
    judged = read_set(path)
    live_profile = load_profile(profile) if profile else None
    candidate_profile = load_profile(candidate) if candidate else None
    qrels = union_qrels(services, judged)
    reports = [evaluate(judged, qrels, searcher(services, live_profile), profile or "live")]
    outcome = None
    if candidate:
        reports.append(evaluate(judged, qrels, searcher(services, candidate_profile), candidate))
        outcome = wins_losses(reports[0], reports[1])
    return Comparison(reports, outcome)


def write_per_query(report: Report, path: Path) -> None:
    """A report's per-query figures as TSV (``qid category nDCG@10 R@20 MRR``), to compare later runs with."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("\t".join(["qid", "category", *MEASURES]) + "\n")
        for qid, values in report.per_query.items():
            fh.write("\t".join([qid, report.categories[qid], *(f"{values[m]:.4f}" for m in MEASURES)]) + "\n")


def read_per_query(path: Path, label: str) -> Report:
    """A report written by :func:`write_per_query`."""
    per_query: dict[str, dict[str, float]] = {}
    categories: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()[1:], start=2):
        cells = line.split("\t")
        if len(cells) != 2 + len(MEASURES):
            raise JudgementsError(f"{path}:{n}: expected qid, category and {len(MEASURES)} figures")
        categories[cells[0]] = cells[1]
        per_query[cells[0]] = {m: float(v) for m, v in zip(MEASURES, cells[2:], strict=True)}
    return Report(label, per_query, categories)
