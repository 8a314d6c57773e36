"""Console harvests through the worker: "harvest now" queues ``harvest_member_job`` on the harvest
queue (arq on Redis) that ``unicat worker`` and the scheduler use, and the dashboard shows it as
queued, then running. Stopping needs nothing from here: a stop request is a row in the store
(``harvest_stop``) that the worker's run reads at every page boundary, whichever process runs it.

Without a worker (``UNICAT_CONSOLE_HARVESTS=thread``, or ``auto`` while no harvest worker has
reported to Redis) the harvest runs in a thread of the web process instead (:mod:`admin.harvests`).
A worker reports in through arq's health-check key, which it refreshes while it runs and deletes
when it shuts down cleanly (a killed worker's key lapses within the hour).
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import default_queue_name, health_check_key_suffix
from arq.jobs import Job, JobStatus
from redis.exceptions import RedisError

from unicat.settings import Settings

JOB = "harvest_member_job"
T = TypeVar("T")


class QueueUnavailable(RuntimeError):
    """The harvest queue was asked for and Redis does not answer."""


def _redis(settings: Settings) -> RedisSettings:
    # One quick attempt: a console page waits on this, arq's default is five tries a second apart.
    return dataclasses.replace(RedisSettings.from_dsn(settings.redis_url), conn_retries=0, conn_timeout=2)


def _with_pool(settings: Settings, use: Callable[[ArqRedis], Awaitable[T]]) -> T:
    """Run ``use(pool)`` on a fresh pool (the console's routes are synchronous, in worker threads)."""

    async def scenario() -> T:
        pool = await create_pool(_redis(settings))
        try:
            return await use(pool)
        finally:
            await pool.aclose()

    try:
        return asyncio.run(scenario())
    except (RedisError, OSError, TimeoutError) as exc:
        raise QueueUnavailable(f"the harvest queue (Redis at {settings.redis_url.split('@')[-1]}) "
                               f"does not answer: {exc}") from exc


def uses_worker(settings: Settings) -> bool:
    """Whether "harvest now" goes to the worker (see the module's docstring)."""
    if settings.console_harvests != "auto":
        return settings.console_harvests == "worker"

    async def reported(pool: ArqRedis) -> bool:
        return await pool.get(default_queue_name + health_check_key_suffix) is not None

    try:
        return _with_pool(settings, reported)
    except QueueUnavailable:
        return False


def enqueue(settings: Settings, member_code: str) -> str:
    """Queue a harvest of every feed of the member; the arq job id. (Ids are new each time: the
    scheduler's ``harvest:<code>`` keeps its finished result an hour and would refuse a re-run.)"""
    job_id = f"console-harvest:{member_code}:{uuid.uuid4().hex[:12]}"

    async def put(pool: ArqRedis) -> Any:
        return await pool.enqueue_job(JOB, member_code, _job_id=job_id)

    if _with_pool(settings, put) is None:  # pragma: no cover - a fresh id is never taken
        raise QueueUnavailable(f"the harvest queue refused job {job_id}")
    return job_id


def queued(settings: Settings) -> dict[str, str]:
    """Member code → ``queued`` or ``running`` for each harvest job on the queue, the scheduler's
    included ({} when Redis does not answer: the dashboard then shows what the store knows)."""

    async def states(pool: ArqRedis) -> dict[str, str]:
        out: dict[str, str] = {}
        for job_id, _score in await pool.zrange(default_queue_name, 0, -1, withscores=True):
            job = Job(job_id.decode(), pool)
            info = await job.info()
            if info is None or info.function != JOB or not info.args:
                continue
            status = await job.status()
            state = "running" if status == JobStatus.in_progress else "queued"
            if out.get(info.args[0]) != "running":
                out[str(info.args[0])] = state
        return out

    try:
        return _with_pool(settings, states)
    except QueueUnavailable:
        return {}
