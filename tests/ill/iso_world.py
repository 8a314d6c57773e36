"""The pieces an ISO 18626 conversation test needs: unicat served over real HTTP, the arq worker on
the real Redis delivering the outbox, and a peer configured in the members' config."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker, func
from fastapi import FastAPI
from sqlalchemy import select

from catalog.context import Services
from ill.jobs import send_peer_messages
from ill.models import PeerMessage
from store.db import transaction
from store.models import Member
from tests.peers.iso18626_peer import Iso18626Peer
from unicat.localsvc.process import free_port


def ill_app(services: Services) -> FastAPI:
    from tests.ill.test_api import api_app

    return api_app(services)


@contextmanager
def served(services: Services) -> Iterator[str]:
    """unicat's API on a free loopback port (uvicorn in a thread); yields the ISO 18626 URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(ill_app(services), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/api/v1/iso18626"
    finally:
        server.should_exit = True
        thread.join(5)


def make_peer(services: Services, code: str, agency: str, version: str, configured: str = "auto",
              **auth: Any) -> Iso18626Peer:
    """An independent system for member ``code``, declared in the member's ``iso18626`` table only."""
    peer = Iso18626Peer(agency, version, token=f"{code.lower()}-secret")
    with transaction(services.db) as session:
        member = session.get(Member, code)
        assert member is not None
        member.config = {**(member.config or {}), "iso18626": {
            "url": peer.url, "agency_id": agency, "agency_type": "ISIL", "version": configured,
            "auth": auth or {"type": "bearer", "token": peer.token}}}
    return peer


def drain(services: Services, redis_url: str, queue: str, rounds: int = 1, pause: float = 0.0) -> None:
    """Run the ILL worker (real arq, real Redis, the queue of its own) until the jobs queued are done."""

    async def once() -> None:
        redis = RedisSettings.from_dsn(redis_url)
        pool = await create_pool(redis, default_queue_name=queue)
        await pool.enqueue_job("send_peer_messages", _queue_name=queue)
        worker = Worker(functions=[func(send_peer_messages)], redis_settings=redis,
                        queue_name=queue, burst=True, poll_delay=0.02, ctx={"services": services},
                        handle_signals=False)
        await worker.main()
        await worker.close()
        await pool.aclose()

    for i in range(rounds):
        if i and pause:
            time.sleep(pause)
        asyncio.run(once())


def outbox(services: Services) -> list[PeerMessage]:
    with services.db() as session:
        return list(session.scalars(select(PeerMessage).order_by(PeerMessage.id)))
