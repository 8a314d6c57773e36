"""The relevance tuning page: an administrator edits a candidate profile (bad edits named next to
their field, nothing saved), measures it against the live profile on an uploaded judged set,
applies it (at once, or by a rebuild with an alias swap while searches keep being answered) and
rolls back to the same ranking as before."""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from admin.models import AdminAudit
from admin.tuning import CANDIDATE_STATE
from catalog.pipeline import ingest
from catalog.search import SearchQuery, live_profile, search
from indexer.index import IndexSpec, alias_targets, create_index, latest_spec, refresh, switch_alias
from indexer.project import project, union_id_stream
from store.state import read_state
from tests.admin.helpers import account, csrf_of, sign_in
from tests.core.helpers import DEMO, RECORDS, as_harvested, read_marc
from unicat.app import create_app

DATA = Path(__file__).resolve().parent.parent / "data" / "tuning"
QUERIES = [("q1", "latin", "pride prejudice"), ("q2", "zh", "红楼梦之谜"), ("q3", "zh", "红楼真味"),
           ("q4", "latin", "austen")]
PROBES = ["pride prejudice", "红楼梦", "hong lou meng", "austen", "红楼真味"]


def build_catalogue(services) -> dict[str, str]:  # type: ignore[no-untyped-def]
    pride = read_marc(DEMO / "pku" / "pride-and-prejudice.mrc", limit=40)
    ingest(services, "pku", as_harvested(pride))
    honglou = read_marc(RECORDS / "marc21-lc-chinese-honglou.mrc")
    ingest(services, "nlc", as_harvested(honglou))
    refresh(services.es, services.settings.records_alias)
    ids = {r["245"]["a"].strip(" /:"): f"nlc:{r['001'].data.strip()}" for r in honglou}
    pp = [f"pku:{r['001'].data.strip()}" for r in pride]
    return {"q1": f"q1 0 {pp[0]} 2\nq1 0 {pp[1]} 2\nq1 0 {pp[5]} 1\n",
            "q2": f"q2 0 {ids['Hong lou meng zhi mi']} 2\n",
            "q3": f"q3 0 {ids['Hong lou zhen wei']} 2\nq3 0 {ids['Hong lou zhen ben']} 1\n",
            "q4": f"q4 0 {pp[3]} 1\n"}


def judged_files(qrels: dict[str, str]) -> dict[str, tuple[str, bytes]]:
    queries = "qid\tcategory\tquery\n" + "".join(f"{q}\t{c}\t{t}\n" for q, c, t in QUERIES)
    return {"queries": ("set.queries.tsv", queries.encode()), "qrels": ("set.qrels", "".join(qrels.values()).encode())}


def _top(services, n: int = 10) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    return {q: [h["id"] for h in search(services, SearchQuery(q=q, size=n))["hits"]] for q in PROBES}


def _post(http: TestClient, path: str, **kw):  # type: ignore[no-untyped-def]
    token = csrf_of(http.get("/admin/tuning").text)
    return http.post(path, data={"csrf_token": token, **kw.pop("data", {})}, follow_redirects=False, **kw)


def _actions(services) -> list[str]:  # type: ignore[no-untyped-def]
    with services.db() as session:
        return [a for a in session.scalars(select(AdminAudit.action).order_by(AdminAudit.id)) if a.startswith("tuning")]


def test_edit_measure_apply_and_roll_back(services):
    qrels = build_catalogue(services)
    account(services, "nlc", "boss", "admin")
    account(services, "pku", "cat", "cataloguer")
    before = _top(services)
    index_before = alias_targets(services.es, services.settings.records_alias)
    with TestClient(create_app(services.settings, services=services)) as http:
        sign_in(http, "pku", "cat")
        assert http.get("/admin/tuning").status_code == 403, "cataloguers do not tune the consortium's ranking"
        http.cookies.clear()
        sign_in(http, "nlc", "boss")
        page = http.get("/admin/tuning", params={"lang": "en"}).text
        assert 'id="live-profile">default-v1<' in page and "title = 4.0" in page

        bad = _post(http, "/admin/tuning/candidate", data={
            "boosts": "title = -1\ncolour = 2", "synonyms": "电脑, 计算机\n计算机, computer\nlonely,",
            "stopwords": "the a"})
        assert bad.status_code == 422
        assert 'id="error-boosts"' in bad.text and "between 0 and 1000" in bad.text
        assert 'id="error-synonyms"' in bad.text and "already in the set of line 1" in bad.text
        assert "计算机, computer" in bad.text, "the form comes back as typed"
        unknown = _post(http, "/admin/tuning/candidate", data={"boosts": "colour = 2", "synonyms": "", "stopwords": ""})
        assert unknown.status_code == 422 and "unknown field &#39;colour&#39;" in unknown.text
        empty = _post(http, "/admin/tuning/candidate", data={"boosts": "", "synonyms": "lonely,", "stopwords": ""})
        assert empty.status_code == 422 and "two or more words" in empty.text
        with services.db() as session:
            assert read_state(session, CANDIDATE_STATE) is None, "nothing half-saved"
        assert alias_targets(services.es, services.settings.records_alias) == index_before
        assert _top(services) == before, "the live ranking is untouched"

        # the candidate: authors count as much as titles, no title phrase bonus changes known-item order
        saved = _post(http, "/admin/tuning/candidate", data={
            "boosts": "title = 0.2\nauthor = 6\nsubject = 2\nseries = 1\npublisher = 1\nall = 3",
            "synonyms": "电脑, 计算机\nausten, 奥斯汀", "stopwords": "the of 的"})
        assert saved.status_code == 303
        page = http.get("/admin/tuning", params={"lang": "en"}).text
        assert 'id="candidate-profile">default-v2<' in page and "author = 6.0" in page

        refused = http.post("/admin/tuning/evaluate", data={"csrf_token": csrf_of(page)}, files={
            "queries": ("q.csv", b"qid,category,query\nq1,latin,pride\n"), "qrels": ("r", b"q1 0 pku:1 2\n")})
        assert refused.status_code == 422 and 'id="error-queries"' in refused.text and "header" in refused.text
        three = {"queries": judged_files(qrels)["queries"], "qrels": ("r.qrels", b"q1 pku:1 2\n")}
        refused = http.post("/admin/tuning/evaluate", data={"csrf_token": csrf_of(page)}, files=three)
        assert refused.status_code == 422 and "expected &#39;qid 0 docid grade&#39;" in refused.text

        measured = http.post("/admin/tuning/evaluate", data={"csrf_token": csrf_of(page)}, files=judged_files(qrels),
                             params={"lang": "en"})
        assert measured.status_code == 200, measured.text
        assert 'data-profile="live"' in measured.text and 'data-profile="candidate"' in measured.text
        for qid in qrels:
            assert f'data-qid="{qid}"' in measured.text
        assert 'id="needs-rebuild"' not in measured.text, "boosts and words are query-time changes"

        assert _post(http, "/admin/tuning/apply").status_code == 303
        assert live_profile(services).label == "default-v2"
        assert _top(services) != before, "searches use the candidate at once"
        assert alias_targets(services.es, services.settings.records_alias) == index_before, "no rebuild needed"

        assert _post(http, "/admin/tuning/rollback").status_code == 303
        assert live_profile(services).label == "default-v1"
        assert _top(services) == before, "the rollback restores the old ranking"
    assert _actions(services) == ["tuning.candidate", "tuning.apply", "tuning.rollback"]


def _older_index(services) -> str:  # type: ignore[no-untyped-def]
    """Put the records behind the alias in an index made without the pinyin fields (as one made
    before they existed), with the profile of that time live."""
    body = copy.deepcopy(latest_spec().body)
    for name in ("title_py", "author_py", "subject_py"):
        body["mappings"]["properties"].pop(name)
    body["mappings"]["dynamic"] = False
    alias = services.settings.records_alias
    index = create_index(services.es, alias, IndexSpec(version=0, body=body))
    with services.db() as session:
        report = project(services.es, session, index, list(union_id_stream(session)))
    assert not report.failed
    refresh(services.es, index)
    switch_alias(services.es, alias, index)
    return index


@pytest.fixture
def old_services(settings):  # type: ignore[no-untyped-def]
    from catalog.context import build_services
    from catalog.members import sync_members
    from store.db import transaction
    from tests.core.conftest import MEMBERS

    built = build_services(settings(session_cookie_secure=False, search_profile=str(DATA / "nopinyin-v1.toml")))
    with transaction(built.db) as session:
        sync_members(session, [dict(m) for m in MEMBERS])
    yield built
    built.close()


def _load(services, stop: threading.Event, answered: list[int], failed: list[str]) -> None:  # type: ignore[no-untyped-def]
    n = 0
    while not stop.is_set():
        try:
            search(services, SearchQuery(q=PROBES[n % len(PROBES)], size=10))
            answered.append(1)
        except Exception as exc:  # every failure is the finding
            failed.append(f"{type(exc).__name__}: {exc}")
        n += 1


def test_a_candidate_needing_new_fields_rebuilds_under_load_and_rolls_back(old_services):
    services = old_services
    build_catalogue(services)
    old_index = _older_index(services)
    account(services, "nlc", "boss", "admin")
    before = _top(services)
    assert live_profile(services).label == "nopinyin-v1"
    stop, answered, failed = threading.Event(), [], []
    with TestClient(create_app(services.settings, services=services)) as http:
        sign_in(http, "nlc", "boss")
        form = {"boosts": "title = 4\nauthor = 2\nsubject = 2\nseries = 1\npublisher = 1\nall = 1\ntitle_py = 1",
                "synonyms": "电脑, 计算机", "stopwords": "the"}
        assert _post(http, "/admin/tuning/candidate", data=form).status_code == 303
        loaders = [threading.Thread(target=_load, args=(services, stop, answered, failed)) for _ in range(2)]
        for t in loaders:
            t.start()
        started = _post(http, "/admin/tuning/apply")
        assert started.status_code == 303 and started.headers["location"].startswith("/admin/tasks/")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            task = http.get(started.headers["location"], params={"lang": "en"}).text
            if 'class="status">ok<' in task or 'class="status">failed<' in task:
                break
            time.sleep(0.3)
        time.sleep(1.5)  # searches after the swap, too
        stop.set()
        for t in loaders:
            t.join()
        assert 'class="status">ok<' in task, task
        assert not failed, failed[:3]
        assert len(answered) > 20
        new_index = alias_targets(services.es, services.settings.records_alias)
        assert new_index != [old_index] and live_profile(services).label == "nopinyin-v2"
        assert services.es.indices.exists(index=old_index), "the previous index is kept for a rollback"
        assert search(services, SearchQuery(q="hong lou meng", size=5))["total"] > 0

        assert _post(http, "/admin/tuning/rollback").status_code == 303
        assert alias_targets(services.es, services.settings.records_alias) == [old_index]
        assert live_profile(services).label == "nopinyin-v1"
        assert _top(services) == before, "the same top hits as before the apply"
        assert _post(http, "/admin/tuning/rollback").status_code == 303, "a rollback can be rolled back"
        assert alias_targets(services.es, services.settings.records_alias) == new_index
        assert live_profile(services).label == "nopinyin-v2"
    with services.db() as session:
        applied = session.scalars(select(AdminAudit).where(AdminAudit.action == "tuning.apply")).one()
        assert applied.before["index"] == old_index and applied.after["index"] == new_index[0]
    assert _actions(services) == ["tuning.candidate", "tuning.apply", "tuning.rollback", "tuning.rollback"]
