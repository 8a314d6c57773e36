""""Harvest now" through the worker: the console queues the job on the real Redis, the dashboard
shows it queued, then running in a real ``unicat worker`` process; "stop" reaches that process (a
row in the store, read at each page boundary) and the checkpoint is kept. Without a worker the
console falls back to a thread of its own, and a queue asked for but not answering is a 503 with
nothing recorded."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from fastapi.testclient import TestClient
from sqlalchemy import select

from admin import audit, harvestqueue
from admin.harvests import start_harvest
from catalog.context import Services, build_services
from catalog.members import sync_members
from ill.auth import actor_of
from store.db import transaction
from store.models import Checkpoint, HarvestRun, Member
from tests.admin.helpers import account, csrf_of, sign_in
from tests.admin.test_harvest_dashboard import UVA, use_oai
from tests.core.conftest import MEMBERS
from tests.core.helpers import read_marc
from tests.portals.conftest import settings_env
from unicat.app import create_app


def _members(services: Services) -> None:
    """The core tests' members with every schedule off, so the worker's scheduler queues nothing."""
    with transaction(services.db) as session:
        sync_members(session, [dict(m, schedule="off") for m in MEMBERS])
        assert {m.config["schedule"] for m in session.scalars(select(Member))} == {"off"}


@pytest.fixture
def fresh_redis(redis_url: str) -> None:
    async def flush() -> None:  # the session's Redis: no job or worker report of an earlier test
        pool = await create_pool(RedisSettings.from_dsn(redis_url))
        await pool.flushdb()
        await pool.aclose()

    asyncio.run(flush())


@pytest.fixture
def queued_services(settings: Any, fresh_redis: None) -> Iterator[Services]:
    built = build_services(settings(session_cookie_secure=False, console_harvests="worker"))
    _members(built)
    yield built
    built.close()


def _run(services: Services, code: str) -> HarvestRun | None:
    with services.db() as session:
        return session.scalars(select(HarvestRun).where(HarvestRun.member_code == code)).first()


def _row(board: str, code: str) -> str:
    return board.split(f'data-member="{code}"')[1].split("</tr>")[0]


def _wait(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def _worker(services: Services) -> subprocess.Popen[bytes]:
    env = {**os.environ, **settings_env(services.settings)}
    return subprocess.Popen([sys.executable, "-m", "unicat.cli", "worker"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_harvest_now_is_queued_run_by_the_worker_and_stopped_there(queued_services, oai_provider):
    services = queued_services
    provider = oai_provider(read_marc(UVA, limit=80), batch_size=10, delay=0.5)
    use_oai(services, "sjtu", provider.url)
    account(services, "nlc", "boss", "admin")
    auto = services.settings.model_copy(update={"console_harvests": "auto"})
    assert not harvestqueue.uses_worker(auto), "no worker has reported in yet"
    with TestClient(create_app(services.settings, services=services)) as http:
        sign_in(http, "nlc", "boss")
        token = csrf_of(http.get("/admin/members/sjtu/harvests").text)
        started = http.post("/admin/members/sjtu/harvest", data={"csrf_token": token}, follow_redirects=False)
        assert started.status_code == 303
        assert "queued for the worker" in _row(http.get("/admin/", params={"lang": "en"}).text, "sjtu")
        page = http.get("/admin/members/sjtu/harvests", params={"lang": "en"}).text
        assert 'id="queued-harvest"' in page and 'id="start-harvest"' not in page
        again = http.post("/admin/members/sjtu/harvest", data={"csrf_token": token}, follow_redirects=False)
        assert again.status_code == 409, "one harvest of a member at a time, queued ones included"
        assert _run(services, "sjtu") is None, "nothing runs in the web process"
        assert not [t for t in threading.enumerate() if t.name == "harvest-sjtu"]

        worker = _worker(services)
        try:
            _wait(lambda: (r := _run(services, "sjtu")) is not None and r.pages >= 1, 90, "the worker starts")
            assert harvestqueue.uses_worker(auto), "a running worker has reported in"
            run = _run(services, "sjtu")
            assert "running" in _row(http.get("/admin/", params={"lang": "en"}).text, "sjtu")
            running = http.get("/admin/members/sjtu/harvests").text
            assert f'action="/admin/runs/{run.id}/stop"' in running
            stopped = http.post(f"/admin/runs/{run.id}/stop", data={"csrf_token": token}, follow_redirects=False)
            assert stopped.status_code == 303
            _wait(lambda: _run(services, "sjtu").status != "running", 60, "the worker's run stops")
            _wait(lambda: not harvestqueue.queued(services.settings), 30, "the job ends")
        finally:
            worker.terminate()
            output = worker.communicate(timeout=30)[0].decode(errors="replace")
    run = _run(services, "sjtu")
    assert run.status == "interrupted" and 1 <= run.pages < 8 and run.added == 10 * run.pages, output[-2000:]
    with services.db() as session:
        assert session.get(Checkpoint, ("sjtu", "oai")).state["complete"] is False, "the checkpoint is kept"
    assert "harvest_member_job('sjtu')" in output and "console-harvest:sjtu:" in output
    started_entry = next(e for e in audit.entries(services, "sjtu") if e["action"] == "harvest.start")
    assert started_entry["after"]["job"].startswith("console-harvest:sjtu:")
    assert not harvestqueue.uses_worker(auto), "a worker that shut down took its report with it"


def test_without_a_worker_the_console_harvests_in_a_thread(settings, fresh_redis, oai_provider):
    services = build_services(settings(session_cookie_secure=False, console_harvests="auto"))
    try:
        _members(services)
        provider = oai_provider(read_marc(UVA, limit=20), batch_size=10)
        use_oai(services, "bnu", provider.url)
        admin = account(services, "nlc", "boss", "admin")
        started = start_harvest(services, actor_of(admin), "bnu")
        assert started.where == "thread" and started.thread is not None
        started.thread.join(timeout=60)
        assert _run(services, "bnu").status == "ok"
    finally:
        services.close()


def test_a_queue_that_does_not_answer_is_a_503_and_records_nothing(settings):
    answering = settings(es=False, session_cookie_secure=False, console_harvests="worker")
    services = build_services(answering.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
    try:
        _members(services)
        account(services, "nlc", "boss", "admin")
        with TestClient(create_app(services.settings, services=services)) as http:
            sign_in(http, "nlc", "boss")
            token = csrf_of(http.get("/admin/members/pku/harvests").text)
            answer = http.post("/admin/members/pku/harvest", data={"csrf_token": token}, follow_redirects=False)
            assert answer.status_code == 503 and "harvest queue" in answer.text
        assert audit.entries(services) == [] and _run(services, "pku") is None
    finally:
        services.close()
