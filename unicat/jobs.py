"""arq worker: scheduled harvests per member (and any jobs other domains register).

Shared resources are built once in ``startup`` and handed to jobs in ``ctx``; each job is a thin
call into a service function.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from typing import Any

from arq import cron
from sqlalchemy import select

from unicat.settings import get_settings


async def startup(ctx: dict[str, Any]) -> None:
    from catalog.context import build_services

    ctx["services"] = build_services(get_settings())


async def shutdown(ctx: dict[str, Any]) -> None:
    ctx["services"].close()


async def harvest_member_job(ctx: dict[str, Any], code: str) -> list[dict[str, Any]]:
    """Harvest every feed of one member (run in a thread: the pipeline is blocking I/O); an
    administrator's stop request ends it after the page being stored."""
    from admin.harvests import stop_check
    from catalog.pipeline import harvest_member

    services = ctx["services"]
    reports = await asyncio.to_thread(harvest_member, services, code, should_stop=stop_check(services))
    return [r.as_dict() for r in reports]


def due_members(services: Any, now: datetime) -> list[str]:
    """Members whose schedule interval has passed since their last harvest started."""
    from catalog.members import schedule_interval
    from store.models import HarvestRun, Member

    due = []
    with services.db() as session:
        for member in session.scalars(select(Member)):
            interval = schedule_interval(member.config.get("schedule", "1d"))
            if interval is None or member.config.get("disabled"):
                continue
            last = session.scalar(
                select(HarvestRun.started_at)
                .where(HarvestRun.member_code == member.code)
                .order_by(HarvestRun.started_at.desc())
                .limit(1)
            )
            if last is not None and last.tzinfo is None:
                last = last.replace(tzinfo=UTC)
            if last is None or now - last >= interval:
                due.append(member.code)
    return due


async def schedule_harvests(ctx: dict[str, Any]) -> list[str]:
    """Every few minutes: queue a harvest for each member that is due (one job per member at a time)."""
    codes = due_members(ctx["services"], datetime.now(UTC))
    for code in codes:
        await ctx["redis"].enqueue_job("harvest_member_job", code, _job_id=f"harvest:{code}")
    return codes


async def drain_outbox(ctx: dict[str, Any]) -> dict[str, Any]:
    """Every minute: project what the outbox still holds, so work deferred while Elasticsearch was
    down reaches the index once it answers again, with no harvest and no operator needed."""
    from elasticsearch import ApiError, TransportError

    from catalog.pipeline import project_pending
    from indexer.es import describe_es_error

    try:
        done, failed = await asyncio.to_thread(project_pending, ctx["services"])
    except (TransportError, ApiError) as exc:
        return {"deferred": describe_es_error(exc)}
    return {"projected": done, "failed": failed}


def _extra_functions() -> tuple[list[Any], list[Any]]:
    try:
        from ill.jobs import CRON_JOBS, FUNCTIONS
    except ImportError:  # pragma: no cover - ILL not installed in this build
        return [], []
    return list(FUNCTIONS), list(CRON_JOBS)


_ill_functions, _ill_cron = _extra_functions()


class WorkerSettings:
    """Harvests (arq's default queue): long jobs, and the projection backlog's drain."""

    functions = [harvest_member_job]
    cron_jobs = [
        cron(schedule_harvests, minute=set(range(0, 60, 5)), run_at_startup=True),
        cron(drain_outbox, unique=True),
    ]
    on_startup = startup
    on_shutdown = shutdown
    job_timeout = 6 * 3600
    max_jobs = 4
    #: A harvest job ends in one worker process with its result kept, so an enqueue with the same
    #: job id while it is queued, running or just finished does not run it twice.
    keep_result = 3600


class IllWorkerSettings:
    """ILL timers, e-mail and the ISO 18626 peer outbox: short jobs on their own queue and process, so
    a harvest never delays them (the queue name comes from ``UNICAT_ILL_QUEUE_NAME`` at start)."""

    functions = _ill_functions
    cron_jobs = _ill_cron
    on_startup = startup
    on_shutdown = shutdown
    job_timeout = 300
    max_jobs = 4
    poll_delay = 0.05  # a woken outbox job starts within 50 ms


QUEUES = ("harvest", "ill")


def run_processes(count: int, queue: str = "harvest") -> None:
    """Run ``count`` worker processes on one queue, each running one job at a time, so harvests of
    different members run in separate processes, not threads of one interpreter (their clustering
    steps take turns on the store's clustering lock, see :mod:`indexer.clusterlock`). Returns when
    every process has ended."""
    import multiprocessing
    import signal

    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=run, args=(queue, 1), name=f"unicat-worker-{n}") for n in range(count)]
    for child in children:
        child.start()

    def stop(signum: int, _frame: object) -> None:  # each worker shuts down as arq does on a signal
        for child in children:
            if child.is_alive() and child.pid:
                os.kill(child.pid, signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        for child in children:
            child.join()
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()


def run(queue: str = "harvest", max_jobs: int | None = None) -> None:
    """Start the worker of one queue with the Redis of the current settings (built now, not at
    import); ``max_jobs`` overrides how many jobs it runs at once."""
    import logging

    from arq import run_worker
    from arq.connections import RedisSettings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    redis = RedisSettings.from_dsn(settings.redis_url)
    extra = {"max_jobs": max_jobs} if max_jobs else {}
    if queue == "ill":
        run_worker(IllWorkerSettings, redis_settings=redis, queue_name=settings.ill_queue_name, **extra)  # type: ignore[arg-type]
    else:
        run_worker(WorkerSettings, redis_settings=redis, **extra)  # type: ignore[arg-type]
