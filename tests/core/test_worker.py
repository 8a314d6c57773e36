"""Scheduled harvests through the real arq worker on the real Redis."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker
from sqlalchemy import func, select

from store.db import transaction
from store.models import HarvestRun, Member, SourceRecord
from tests.core.helpers import DEMO
from unicat.jobs import due_members, harvest_member_job, schedule_harvests


def _files_member(services, code: str, schedule: str) -> None:  # type: ignore[no-untyped-def]
    with transaction(services.db) as session:
        member = session.get(Member, code)
        member.config = {
            **member.config,
            "schedule": schedule,
            "files": {"url_or_path": str(DEMO / "calis-lc-chinese.mrc"), "format": "iso2709"},
        }


def test_schedule_decides_who_is_due(services):
    _files_member(services, "pku", "6h")
    _files_member(services, "sjtu", "off")
    now = datetime.now(UTC)
    assert "pku" in due_members(services, now) and "sjtu" not in due_members(services, now)
    with transaction(services.db) as session:
        session.add(HarvestRun(member_code="pku", feed="files", status="ok", started_at=now - timedelta(hours=1)))
    assert "pku" not in due_members(services, now)
    assert "pku" in due_members(services, now + timedelta(hours=6))


def test_worker_runs_a_scheduled_harvest_job(services, redis_url):
    _files_member(services, "pku", "1d")
    for code in ("nlc", "bnu", "sjtu"):
        with transaction(services.db) as session:
            session.get(Member, code).config = dict(session.get(Member, code).config, schedule="off")

    async def scenario() -> list[str]:
        settings = RedisSettings.from_dsn(redis_url)
        pool = await create_pool(settings)
        await pool.flushdb()
        queued = await schedule_harvests({"services": services, "redis": pool})
        worker = Worker(
            functions=[harvest_member_job],
            redis_settings=settings,
            burst=True,
            poll_delay=0.1,
            ctx={"services": services},
            handle_signals=False,
        )
        await worker.main()
        await worker.close()
        await pool.aclose()
        return queued

    assert asyncio.run(scenario()) == ["pku"]
    with services.db() as session:
        stored = session.scalar(select(func.count()).select_from(SourceRecord).where(SourceRecord.member_code == "pku"))
        run = session.scalars(select(HarvestRun).where(HarvestRun.member_code == "pku")).one()
    assert stored > 1500 and run.status == "ok"
