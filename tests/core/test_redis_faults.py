"""Redis killed (``kill -9``) and started again: queued jobs survive once, pages answer meanwhile,
rate limits and the shared availability breaker come back with it. Redis runs as production
should run it, with an append-only file synced on every write."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from catalog.context import build_services
from catalog.members import sync_members
from catalog.pipeline import ingest
from catalog.records import find_by_source
from holdings import service as holdings_service
from holdings.service import availability_for_record
from store.db import transaction
from store.models import HarvestRun, SourceRecord
from tests.core.helpers import DEMO, as_harvested, read_marc
from tests.core.parallel import members_config, overlapping_dumps
from tests.holdings.helpers import holding
from tests.peers.fake_ils import fault_server
from unicat.app import create_app
from unicat.jobs import harvest_member_job
from unicat.localsvc.process import free_port, wait_for_port


class PersistentRedis:
    """``redis-server`` in the foreground with AOF (``appendfsync always``), killable and restartable."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
                "--appendonly", "yes", "--appendfsync", "always", "--save", ""]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_for_port("127.0.0.1", self.port, timeout=20)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def redis() -> Iterator[PersistentRedis]:
    folder = Path(tempfile.mkdtemp(prefix="unicat-test-aof-"))
    server = PersistentRedis(folder)
    server.start()
    yield server
    if server.proc and server.proc.poll() is None:
        server.kill()
    shutil.rmtree(folder, ignore_errors=True)


def test_a_job_queued_before_redis_dies_runs_once_after_it_returns(settings, redis, tmp_path):
    services = build_services(settings(es=False).model_copy(update={"redis_url": redis.url}))
    with transaction(services.db) as session:
        sync_members(session, members_config(overlapping_dumps(tmp_path, ["a"], per_member=300)))
    redis_settings = RedisSettings.from_dsn(redis.url)

    async def enqueue() -> bool:
        pool = await create_pool(redis_settings)
        job = await pool.enqueue_job("harvest_member_job", "a", _job_id="harvest:a")
        await pool.aclose()
        return job is not None

    async def work_then_enqueue_again() -> bool:
        worker = Worker(functions=[harvest_member_job], redis_settings=redis_settings, burst=True, poll_delay=0.1,
                        ctx={"services": services}, handle_signals=False, keep_result=3600)  # fmt: skip
        await worker.main()
        await worker.close()
        return await enqueue()

    try:
        assert asyncio.run(enqueue())
        redis.kill()
        redis.start()
        again = asyncio.run(work_then_enqueue_again())
        with services.db() as session:
            runs = session.scalar(select(func.count()).select_from(HarvestRun).where(HarvestRun.member_code == "a"))
            stored = session.scalar(select(func.count()).select_from(SourceRecord))
    finally:
        services.close()
    assert (runs, stored) == (1, 300)  # the queued harvest survived the kill and ran once
    assert again is False  # the same job id is refused while its result is kept: not run twice


def test_pages_answer_without_redis_and_limits_and_breakers_come_back(settings, redis, monkeypatch):
    monkeypatch.setattr(holdings_service, "_REDIS_RETRY_AFTER", 0.5)  # try Redis again soon, not in 30 s
    config = settings(anonymous_rate="8/minute", availability_timeout=1.0).model_copy(update={"redis_url": redis.url})
    services = build_services(config)
    from tests.core.conftest import MEMBERS

    with transaction(services.db) as session:
        sync_members(session, [dict(m) for m in MEMBERS])
    pride = read_marc(DEMO / "pku" / "pride-and-prejudice.mrc", limit=5)
    ingest(services, "pku", as_harvested(pride))
    union_id = find_by_source(services, "pku", pride[0]["001"].data.strip())["id"]
    try:
        with TestClient(create_app(config, services=services)) as client:
            redis.kill()
            down = [client.get(path) for path in
                    ("/api/v1/search?q=pride", f"/records/{union_id}", f"/api/v1/records/{union_id}/availability")]
            assert [r.status_code for r in down] == [200, 200, 200]
            assert down[0].json()["total"] >= 1 and all(not e["cached"] for e in down[2].json()["holdings"])
            redis.start()
            time.sleep(0.6)
            codes = [client.get("/api/v1/search?q=pride").status_code for _ in range(12)]
            assert codes.count(429) >= 4  # counted again in Redis: the limit holds once more
        other = build_services(config.model_copy())
        with fault_server("garbage") as port:
            record = {"holdings": [holding("flaky", {"type": "ils-di", "url": f"http://127.0.0.1:{port}/x"}, ["1"])]}
            for _ in range(3):
                asyncio.run(availability_for_record(services, record))
            (entry,) = asyncio.run(availability_for_record(other, record))
        other.close()
    finally:
        services.close()
    assert entry["detail"].startswith("not asked: failed 3 times")  # shared through Redis again
