"""Wake the ILL worker when a request handled here queued ISO 18626 messages for peers.

The worker's outbox cron runs every second anyway; this only saves that wait. One arq pool per app,
created on first use; a Redis that is down costs nothing but the wait (the cron still delivers).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

log = logging.getLogger(__name__)


async def wake(app: FastAPI) -> None:
    from arq import create_pool
    from arq.connections import RedisSettings

    services = app.state.services
    pool: Any = getattr(app.state, "ill_arq_pool", None)
    try:
        if pool is None:
            pool = await create_pool(RedisSettings.from_dsn(services.settings.redis_url))
            app.state.ill_arq_pool = pool
        await pool.enqueue_job("send_peer_messages", _queue_name=services.settings.ill_queue_name)
    except Exception as exc:  # noqa: BLE001 - the cron delivers anyway
        app.state.ill_arq_pool = None  # e.g. a pool of another event loop: make a new one next time
        log.info("could not wake the ILL worker (%s); its cron will send the outbox", exc)
