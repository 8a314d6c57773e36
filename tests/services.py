"""Real services for tests: a private Elasticsearch node, a Redis and demo OAI-PMH providers.

The fixtures in ``conftest.py`` use these; tests may import them too (``from tests.services import …``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pymarc

from demo.oai_provider import MarcRepository, ProviderServer, serve_in_thread
from unicat.localsvc import elasticsearch as local_es
from unicat.localsvc import escluster as local_escluster
from unicat.localsvc import redis as local_redis
from unicat.localsvc.process import free_port
from unicat.settings import Settings

#: Set this to use an existing cluster instead of starting a private node.
EXTERNAL_ES_ENV = "UNICAT_TEST_ES_URL"
#: Set this to use an existing Redis instead of starting one.
EXTERNAL_REDIS_ENV = "UNICAT_TEST_REDIS_URL"


def _service_tmpdir(prefix: str) -> Path:
    """A temporary folder other users may enter (Elasticsearch runs as its own user)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


@contextmanager
def private_elasticsearch() -> Iterator[str]:
    """Start an Elasticsearch node on a free port with throw-away data; yields its URL."""
    external = os.environ.get(EXTERNAL_ES_ENV)
    if external:
        yield external.rstrip("/")
        return
    base = _service_tmpdir("unicat-test-es-")
    node = local_es.start(Settings(), port=free_port(), data_dir=base / "data")
    try:
        yield node.url
    finally:
        node.stop()
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def private_es_cluster(nodes: int = 3, *, secure: bool = False) -> Iterator[local_escluster.EsCluster]:
    """Start a cluster of ``nodes`` Elasticsearch nodes on free ports with throw-away data (TLS and
    a password when ``secure``); yields it formed (green). Nodes may be killed and restarted."""
    base = _service_tmpdir("unicat-test-escluster-")
    http = [free_port() for _ in range(nodes)]
    transport = [free_port() for _ in range(nodes)]
    cluster = local_escluster.plan(base, Settings(), nodes, http, transport, secure=secure, name="unicat-test")
    try:
        cluster.start(wait=False)
        cluster.wait_for(status="green")
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def private_redis() -> Iterator[str]:
    """Start ``redis-server`` on a free port; yields its URL."""
    external = os.environ.get(EXTERNAL_REDIS_ENV)
    if external:
        yield external
        return
    base = _service_tmpdir("unicat-test-redis-")
    server = local_redis.start(Settings(), port=free_port(), data_dir=base)
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def es_indices(es_url: str, pattern: str) -> list[str]:
    """Names of the indices matching ``pattern`` (hidden ones included)."""
    resp = httpx.get(
        f"{es_url}/_cat/indices/{pattern}", params={"format": "json", "h": "index", "expand_wildcards": "all"}
    )
    resp.raise_for_status()
    return sorted(row["index"] for row in resp.json())


def delete_prefix(es_url: str, prefix: str) -> None:
    """Delete every index and index template of ``prefix`` (wildcard deletes are refused by default)."""
    names = es_indices(es_url, f"{prefix}-*")
    for start in range(0, len(names), 50):
        httpx.delete(f"{es_url}/{','.join(names[start : start + 50])}", params={"ignore_unavailable": "true"})
    for kind in ("_index_template", "_component_template"):
        resp = httpx.get(f"{es_url}/{kind}/{prefix}-*")
        if resp.status_code == 200:
            key = "index_templates" if kind == "_index_template" else "component_templates"
            for item in resp.json().get(key, []):
                httpx.delete(f"{es_url}/{kind}/{item['name']}")


def unique_prefix() -> str:
    return f"t-{secrets.token_hex(4)}"


def make_settings(tmp: Path, es_url: str, redis_url: str, **overrides: object) -> Settings:
    """Settings for one test: var and SQLite under ``tmp``, a unique index prefix."""
    values: dict[str, object] = {
        "var_dir": tmp / "var",
        "database_url": f"sqlite:///{tmp / 'unicat.sqlite3'}",
        "es_url": es_url,
        "redis_url": redis_url,
        "index_prefix": unique_prefix(),
        # the session's Redis is shared: a worker another test ran must not pull console harvests
        # away from the test at hand (tests of the worker path ask for "worker" or "auto")
        "console_harvests": "thread",
    }
    values.update(overrides)
    (tmp / "var").mkdir(parents=True, exist_ok=True)
    return Settings(**values)  # type: ignore[arg-type]


def start_oai_provider(
    records: Path | str | Iterable[Path | str] | Iterable[pymarc.Record],
    batch_size: int = 100,
    repository_id: str = "test",
    set_name: str = "records",
    delay: float = 0.0,
) -> ProviderServer:
    """Serve MARC files/folders (or pymarc records) over OAI-PMH on a free port.

    The returned handle has ``url`` and ``repository`` (``delete``, ``touch``, ``update``, ``add``,
    ``identifiers``) to change what the next harvest sees; call ``stop()`` when done.
    """
    repository = MarcRepository(repository_id)
    items = [records] if isinstance(records, str | Path) else list(records)
    paths = [Path(item) for item in items if isinstance(item, str | Path)]
    repository.load(paths)
    for item in items:
        if isinstance(item, pymarc.Record):
            repository.add(item, sets=[set_name])
    return serve_in_thread(repository, batch_size=batch_size, delay=delay)


@contextmanager
def private_postgres() -> Iterator[str]:
    """Start a throw-away PostgreSQL cluster on a free port; yields its SQLAlchemy URL."""
    from unicat.localsvc import postgres as local_pg

    external = os.environ.get("UNICAT_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    base = _service_tmpdir("unicat-test-pg-")
    server = local_pg.start(base, free_port())
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
