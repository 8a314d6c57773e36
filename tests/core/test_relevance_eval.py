"""``unicat relevance eval`` on a small judged set: the figures it prints are the ones ir-measures
gives for the same hits and judgements, per category and overall; bad files are named errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import ir_measures
import pytest
from fastapi.testclient import TestClient
from ir_measures import RR, R, nDCG

from catalog.pipeline import ingest
from tests.core.helpers import DEMO, RECORDS, as_harvested, read_marc
from unicat.app import create_app

QUERIES = [
    ("q1", "latin", "pride prejudice"),
    ("q2", "latin", "austen persuasion"),
    ("q3", "zh", "红楼梦之谜"),
    ("q4", "zh", "红楼真味"),
    ("q5", "zh", "赵国栋谜"),  # the author's name and a title word
]


def run_cli(settings, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = {**os.environ, "UNICAT_VAR_DIR": str(settings.var_dir), "UNICAT_DATABASE_URL": settings.sqlalchemy_url,
           "UNICAT_ES_URL": settings.es_url, "UNICAT_INDEX_PREFIX": settings.index_prefix, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "unicat.cli", *args], env=env, capture_output=True, text=True,
                          timeout=180)


@pytest.fixture
def judged(services, refresh, tmp_path: Path):  # type: ignore[no-untyped-def]
    pride = read_marc(DEMO / "pku" / "pride-and-prejudice.mrc", limit=40)
    ingest(services, "pku", as_harvested(pride))
    honglou = read_marc(RECORDS / "marc21-lc-chinese-honglou.mrc")
    ingest(services, "nlc", as_harvested(honglou))
    refresh()
    ids = {r["245"]["a"].strip(" /:"): f"nlc:{r['001'].data.strip()}" for r in honglou}
    pp = [f"pku:{r['001'].data.strip()}" for r in pride]
    qrels = {
        # graded by hand from the records: the first few pku copies highly relevant, some merely relevant
        "q1": {pp[0]: 2, pp[1]: 2, pp[5]: 1, pp[30]: 1, pp[39]: 2},
        "q2": {pp[3]: 1, "pku:not-in-the-store": 2},
        "q3": {ids["Hong lou meng zhi mi"]: 2},
        "q4": {ids["Hong lou zhen wei"]: 2, ids["Hong lou zhen ben"]: 1},
        "q5": {ids["Hong lou meng zhi mi"]: 2},
    }
    (tmp_path / "small.queries.tsv").write_text(
        "qid\tcategory\tquery\n" + "".join(f"{q}\t{c}\t{t}\n" for q, c, t in QUERIES), encoding="utf-8")
    (tmp_path / "small.qrels").write_text(
        "".join(f"{q} 0 {d} {g}\n" for q, rels in qrels.items() for d, g in rels.items()), encoding="utf-8")
    return services, tmp_path / "small.queries.tsv", qrels


def expected_by_hand(services, qrels):  # type: ignore[no-untyped-def]
    """The same measures computed here, from the public API: hits of /search and the union record
    of each judged member record from /sources."""
    with TestClient(create_app(services.settings, services=services)) as http:
        run = {}
        for qid, _, text in QUERIES:
            hits = http.get("/api/v1/search", params={"q": text, "size": 20}).json()["hits"]
            run[qid] = {h["id"]: float(20 - i) for i, h in enumerate(hits)}
        union_qrels: dict[str, dict[str, int]] = {}
        for qid, rels in qrels.items():
            for docid, grade in rels.items():
                member, local = docid.split(":")
                found = http.get(f"/api/v1/sources/{member}/{local}")
                if found.status_code == 200:
                    uid = found.json()["id"]
                    union_qrels.setdefault(qid, {})[uid] = max(grade, union_qrels.get(qid, {}).get(uid, 0))
    measures = [nDCG @ 10, R @ 20, RR]
    per_query = {q: dict.fromkeys(map(str, measures), 0.0) for q in union_qrels}
    for m in ir_measures.iter_calc(measures, union_qrels, {q: d for q, d in run.items() if d}):
        per_query[m.query_id][str(m.measure)] = m.value
    groups = {"latin": ["q1", "q2"], "zh": ["q3", "q4", "q5"], "overall": ["q1", "q2", "q3", "q4", "q5"]}
    return {g: [sum(per_query[q][str(m)] for q in qs) / len(qs) for m in measures] for g, qs in groups.items()}, run


def printed_rows(stdout: str) -> dict[str, list[float]]:
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃").split("│")]
        if len(cells) == 5 and cells[0] in {"latin", "zh", "overall"}:
            rows[cells[0]] = [float(c) for c in cells[2:]]
    return rows


def test_eval_prints_the_measures_ir_measures_gives(judged, settings) -> None:  # type: ignore[no-untyped-def]
    services, path, qrels = judged
    expected, run = expected_by_hand(services, qrels)
    # the set is not trivial: measures strictly between 0 and 1
    assert all(0 < v < 1 for v in expected["overall"]), expected
    result = run_cli(services.settings, "relevance", "eval", str(path))
    assert result.returncode == 0, result.stderr
    rows = printed_rows(result.stdout)
    assert set(rows) == {"latin", "zh", "overall"}, result.stdout
    for group, values in expected.items():
        assert rows[group] == pytest.approx(values, abs=0.0006), (group, result.stdout)


def test_eval_names_a_missing_or_malformed_file(judged, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    services, _, _ = judged
    missing = run_cli(services.settings, "relevance", "eval", str(tmp_path / "nothing.queries.tsv"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    (tmp_path / "bad.queries.tsv").write_text("qid\tcategory\tquery\nq1\tonly two\n", encoding="utf-8")
    (tmp_path / "bad.qrels").write_text("q1 0 pku:1 2\n", encoding="utf-8")
    bad = run_cli(services.settings, "relevance", "eval", str(tmp_path / "bad.qrels"))
    assert bad.returncode == 2 and "bad.queries.tsv:2" in bad.stderr


def test_a_run_kept_per_query_compares_with_a_later_one(tmp_path: Path) -> None:
    from catalog.relevance import Report, read_per_query, wins_losses, write_per_query

    b = {"nDCG@10": 0.8, "R@20": 1.0, "MRR": 1.0}
    first = Report("old", {"a": {"nDCG@10": 0.5, "R@20": 1.0, "MRR": 1 / 3}, "b": b}, {"a": "zh", "b": "latin"})
    write_per_query(first, tmp_path / "demo.old.tsv")
    kept = read_per_query(tmp_path / "demo.old.tsv", "old")
    assert kept.means()["overall"]["MRR"] == pytest.approx(first.means()["overall"]["MRR"], abs=1e-4)
    later = Report("new", {"a": {"nDCG@10": 0.9, "R@20": 1.0, "MRR": 1.0}, "b": b}, {"a": "zh", "b": "latin"})
    assert wins_losses(kept, later) == {"wins": ["a"], "losses": [], "ties": ["b"]}
