"""The event loop stays free while an ILL request waits on the database (a real uvicorn server on
a real PostgreSQL whose policy table another session holds locked)."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from catalog.context import Services, build_services
from ill import auth
from tests.ill.consortium import Catalogue, seed
from tests.peers.zebra import free_port
from unicat.app import create_app
from unicat.settings import Settings

LOCK_SECONDS = 4.0


@pytest.fixture
def pg_services(settings: Callable[..., Settings], postgres_url: str) -> Iterator[Services]:
    name = f"t{secrets.token_hex(4)}"
    admin = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    services = build_services(settings(es=False, session_cookie_secure=False,
                                       database_url=postgres_url.rsplit("/", 1)[0] + f"/{name}"))
    yield services
    services.close()


@pytest.fixture
def server(pg_services: Services) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(create_app(pg_services.settings, pg_services), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def hold_policy_lock(services: Services, held: threading.Event) -> None:
    with services.engine.connect() as conn, conn.begin():
        conn.execute(sa.text("LOCK TABLE ill_policy IN ACCESS EXCLUSIVE MODE"))
        held.set()
        time.sleep(LOCK_SECONDS)


def test_estimate_waiting_on_the_database_does_not_block_other_requests(
        pg_services: Services, server: str) -> None:
    catalogue = Catalogue()
    catalogue.install(pg_services)
    accounts = seed(pg_services)
    catalogue.add("r1", "A book", {"TSU": "available"})
    token = auth.issue_token(pg_services, accounts["patron_pku"])
    held = threading.Event()
    locker = threading.Thread(target=hold_policy_lock, args=(pg_services, held))
    locker.start()
    assert held.wait(10)

    async def scenario() -> tuple[Any, float, float]:
        async with httpx.AsyncClient(base_url=server, timeout=30) as client:
            estimate = asyncio.create_task(client.post(
                "/api/v1/ill/estimate", json={"union_id": "r1"}, headers={"Authorization": f"Bearer {token}"}))
            await asyncio.sleep(0.3)  # the estimate is now waiting for the lock
            started = time.monotonic()
            probe = await client.get("/api/v1/openapi.json")
            probe_took = time.monotonic() - started
            assert probe.status_code == 200
            answer = await estimate
            return answer, probe_took, time.monotonic() - started

    answer, probe_took, total = asyncio.run(scenario())
    locker.join()
    assert answer.status_code == 200, answer.text
    assert answer.json()["rota"][0]["member"] == "TSU"
    assert total > 0.5 * LOCK_SECONDS  # the estimate really waited for the lock
    assert probe_took < 0.4 * LOCK_SECONDS, f"another request waited {probe_took:.2f} s behind the blocked one"
