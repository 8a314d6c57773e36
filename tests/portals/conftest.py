"""Fixtures for the portal-facing services: a small real catalogue (English and Chinese records
held by several members) and ``unicat serve`` as a separate process for real clients.

- ``catalogue``: services with Pride-and-Prejudice records from pku and sjtu (20 shared) and 20
  Library of Congress Chinese records from nlc, indexed and refreshed.
- ``client``: a TestClient of the app over ``catalogue``.
- ``served``: factory ``served(settings, workers=1, env={})`` → base URL of ``unicat serve`` on a
  free port (stopped after the test).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from catalog.context import Services, build_services
from catalog.members import sync_members
from catalog.pipeline import ingest
from store.db import transaction
from tests.core.conftest import MEMBERS
from tests.core.helpers import DEMO, as_harvested, read_marc
from unicat.app import create_app
from unicat.localsvc.process import free_port
from unicat.settings import Settings

VENV_BIN = Path(sys.executable).parent


def load_catalogue(services: Services) -> None:
    with transaction(services.db) as session:
        sync_members(session, [dict(m) for m in MEMBERS])
    pride = read_marc(DEMO / "pku" / "pride-and-prejudice.mrc", limit=40)
    ingest(services, "pku", as_harvested(pride[:30]))
    ingest(services, "sjtu", as_harvested(pride[20:40]))
    ingest(services, "nlc", as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=20)))
    services.es.indices.refresh(index=services.settings.records_alias)


@pytest.fixture
def catalogue(settings: Callable[..., Settings]) -> Iterator[Services]:
    built = build_services(settings())
    load_catalogue(built)
    yield built
    built.close()


@pytest.fixture
def client(catalogue: Services) -> Iterator[TestClient]:
    with TestClient(create_app(catalogue.settings, services=catalogue)) as http:
        yield http


def settings_env(settings: Settings) -> dict[str, str]:
    """The ``UNICAT_*`` environment that makes a child process use these settings."""
    return {
        "UNICAT_VAR_DIR": str(settings.var_dir),
        "UNICAT_DATABASE_URL": settings.sqlalchemy_url,
        "UNICAT_ES_URL": settings.es_url,
        "UNICAT_REDIS_URL": settings.redis_url,
        "UNICAT_INDEX_PREFIX": settings.index_prefix,
        "UNICAT_MEMBERS": str(settings.members),
        "UNICAT_SESSION_COOKIE_SECURE": "false",
    }


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Callable[..., str]]:
    started: list[subprocess.Popen[bytes]] = []

    def factory(settings: Settings, workers: int = 1, env: dict[str, str] | None = None) -> str:
        port = free_port()
        log = open(tmp_path / f"serve-{port}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [str(VENV_BIN / "unicat"), "serve", "--port", str(port), "--workers", str(workers)],
            env={**os.environ, **settings_env(settings), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError((tmp_path / f"serve-{port}.log").read_text()[-3000:])
            try:
                if httpx.get(f"{url}/robots.txt", timeout=2).status_code == 200:  # not rate-limited
                    return url
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"unicat serve on {port} did not answer within 60 s")

    yield factory
    for proc in started:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def hits(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    return client.get("/api/v1/search", params={"size": 100, **params}).json()["hits"]
