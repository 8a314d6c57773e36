"""Progress for long actions: a rebuild reports how far it got phase by phase, the console shows
done of total with an ETA, and `unicat reindex` runs with its progress bars."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from admin.models import AdminTask
from admin.tasks import eta_seconds
from catalog.maintenance import rebuild_index
from catalog.pipeline import ingest
from store.db import transaction
from tests.admin.helpers import account, csrf_of, sign_in
from tests.core.helpers import DEMO, as_harvested, read_marc
from tests.core.test_union_ids import run_cli
from unicat.app import create_app


def test_eta_is_the_pace_so_far_applied_to_what_is_left():
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert eta_seconds(now - timedelta(seconds=10), 25, 100, now) == 30.0
    assert eta_seconds(now - timedelta(seconds=10), 0, 100, now) is None, "no pace yet"
    assert eta_seconds(now, 5, None, now) is None, "nothing to count against"
    assert eta_seconds(now, 100, 100, now) == 0.0


def test_rebuild_reports_progress_and_the_console_shows_it(services):
    ingest(services, "nlc", as_harvested(read_marc(DEMO / "pku" / "uva-sirsi.mrc.gz", limit=1200)))
    seen: list[tuple[str, int, int | None]] = []
    result = rebuild_index(services, recluster=True, progress=lambda *p: seen.append(p))
    assert seen[0] == ("recluster", 0, None)
    counted = [p for p in seen if p[0] == "index"]
    total = counted[0][2]
    assert total == result["indexed"] > 1000
    assert [d for _, d, _ in counted] == sorted(d for _, d, _ in counted) and counted[-1][1] == total
    assert len(counted) >= 3, "reported along the way, not only at the end"

    account(services, "nlc", "boss", "admin")
    with TestClient(create_app(services.settings, services=services)) as http:
        sign_in(http, "nlc", "boss")
        token = csrf_of(http.get("/admin/tasks").text)
        started = http.post("/admin/tasks", data={"kind": "rebuild", "csrf_token": token}, follow_redirects=False)
        assert started.status_code == 303
        location = started.headers["location"]
        deadline = time.monotonic() + 60
        while True:
            page = http.get(location, params={"lang": "en"}).text
            if 'class="status">ok<' in page or time.monotonic() > deadline:
                break
            assert 'http-equiv="refresh"' in page, "a running action's page refreshes itself (no script needed)"
            time.sleep(0.3)
        assert f"{total} / {total}" in page and "(100%)" in page
        assert "union records indexed" in page

        with transaction(services.db) as session:  # an action half-way: 25 of 100 done in 10 s
            session.add(AdminTask(kind="rebuild", started_by="admin:nlc:boss", phase="index", done=25, total=100,
                                  phase_started_at=datetime.now(UTC) - timedelta(seconds=10)))
        listed = http.get("/admin/tasks", params={"lang": "en"}).text
        assert "25 / 100" in listed and "about 30 s" in listed


def test_reindex_command_runs_with_its_progress(services):
    ingest(services, "nlc", as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=20)))
    shown = run_cli(services, "reindex", "--recluster")
    assert shown.returncode == 0, shown.stderr
    assert "20 union records" in shown.stdout or "union records, 0 failed" in shown.stdout


def test_admin_cli_creates_a_cataloguer_and_shows_the_audit_log(services, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # the table is not wrapped
    made = run_cli(services, "admin", "create-cataloguer", "pku", "cat-wang", "--password", "long enough pw")
    assert made.returncode == 0 and "created cataloguer cat-wang@pku" in made.stdout, made.stderr
    from admin.harvests import request_stop
    from ill.auth import actor_of, sign_in

    actor = actor_of(sign_in(services, "pku", "cat-wang", "long enough pw"))
    assert actor.kind == "cataloguer" and actor.member_code == "pku"
    ingest(services, "pku", as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=1)))
    with transaction(services.db) as session:
        from store.models import HarvestRun

        run = session.query(HarvestRun).first()
        run.status = "running"
    request_stop(services, actor, run.id)
    shown = run_cli(services, "admin", "audit", "--member", "pku")
    assert shown.returncode == 0 and "harvest.stop" in shown.stdout and "cataloguer:pku:cat-wang" in shown.stdout
