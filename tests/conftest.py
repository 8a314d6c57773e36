"""Session-wide real services and per-test settings.

- ``es_url``: URL of a private Elasticsearch node started once per session on a free port (or the
  cluster named by ``UNICAT_TEST_ES_URL``).
- ``redis_url``: URL of a private ``redis-server`` (or ``UNICAT_TEST_REDIS_URL``).
- ``oai_provider``: factory ``oai_provider(records, batch_size=100, repository_id="test")`` returning
  a running :class:`demo.oai_provider.ProviderServer` (``.url``, ``.repository``); stopped after the test.
- ``settings``: factory ``settings(es=True, **overrides)`` returning a :class:`unicat.settings.Settings`
  with var and SQLite in the test's tmp folder and a unique ``index_prefix``; that prefix's indices
  are deleted after the test. Elasticsearch is started only when a test asks for it.
- ``slapd``, ``sip2_ils``, ``keycloak``: the identity servers of the sign-in tests, started once per
  session when a test asks (tests/accounts/fixtures.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.oai_provider import ProviderServer
from tests.accounts.fixtures import keycloak, sip2_ils, slapd  # noqa: F401 - session fixtures for sign-in tests
from tests.services import delete_prefix, make_settings, private_elasticsearch, private_redis, start_oai_provider
from unicat.settings import Settings


@pytest.fixture(scope="session")
def es_url() -> Iterator[str]:
    with private_elasticsearch() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with private_redis() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    from tests.services import private_postgres

    with private_postgres() as url:
        yield url


@pytest.fixture
def oai_provider() -> Iterator[Callable[..., ProviderServer]]:
    started: list[ProviderServer] = []

    def factory(records: Any, batch_size: int = 100, repository_id: str = "test", delay: float = 0.0) -> ProviderServer:
        server = start_oai_provider(records, batch_size=batch_size, repository_id=repository_id, delay=delay)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Settings]]:
    made: list[Settings] = []

    def factory(es: bool = True, **overrides: Any) -> Settings:
        es_url = request.getfixturevalue("es_url") if es else "http://127.0.0.1:1"
        redis_url = request.getfixturevalue("redis_url")
        folder = tmp_path / f"s{len(made)}"
        folder.mkdir()
        made.append(make_settings(folder, es_url, redis_url, **overrides))
        return made[-1]

    yield factory
    for item in made:
        if item.es_url != "http://127.0.0.1:1":
            delete_prefix(item.es_url, item.index_prefix)
