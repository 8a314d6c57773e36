"""The local services really start, answer and report their status."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis

from unicat.localsvc import elasticsearch as local_es
from unicat.localsvc import redis as local_redis
from unicat.localsvc.process import LocalServiceError, find_java_home, free_port, java_major
from unicat.settings import Settings


def test_private_elasticsearch_answers(es_url: str) -> None:
    health = httpx.get(f"{es_url}/_cluster/health").json()
    assert health["status"] in ("green", "yellow")
    assert not es_url.endswith(":9200")


def test_status_reports_version_and_indices(es_url: str, settings: Callable[..., Settings]) -> None:
    s = settings()
    httpx.put(f"{es_url}/{s.index_prefix}-probe").raise_for_status()
    info = local_es.status(s)
    assert info["running"] is True
    assert info["version"] == s.es_version
    assert isinstance(info["indices"], int) and info["indices"] >= 1
    assert info["url"] == es_url


def test_status_of_nothing_running(tmp_path: Path) -> None:
    port = free_port()
    s = Settings(var_dir=tmp_path, es_url=f"http://127.0.0.1:{port}", es_port=port)
    info = local_es.status(s)
    assert info["running"] is False and info["pid"] is None
    assert local_es.stop(s) is False


def test_start_is_idempotent_when_node_answers(es_url: str) -> None:
    port = int(es_url.rsplit(":", 1)[1])
    again = local_es.start(Settings(), port=port)
    assert again.url == es_url and again.started is False
    again.stop()  # not ours: must not stop the session's node
    assert httpx.get(f"{es_url}/_cluster/health").status_code == 200


def test_settings_fixture_cleans_its_indices(es_url: str, settings: Callable[..., Settings]) -> None:
    s = settings()
    assert s.index_prefix.startswith("t-")
    assert s.sqlalchemy_url.startswith("sqlite:///")
    assert Path(s.var_dir).is_dir()


def test_java_is_found() -> None:
    home = find_java_home()
    assert (java_major(home) or 0) >= 17


def test_missing_maven_is_a_named_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda *_a, **_k: None)
    with pytest.raises(LocalServiceError, match="mvn"):
        local_es.ensure_distribution(Settings(var_dir=tmp_path))


def test_redis_answers(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.ping()
        client.set("unicat-test", "1")
        assert client.get("unicat-test") == b"1"
    finally:
        client.close()


def test_redis_start_stop_status(tmp_path: Path) -> None:
    port = free_port()
    s = Settings(var_dir=tmp_path, redis_url=f"redis://127.0.0.1:{port}/0")
    server = local_redis.start(s)
    try:
        assert server.started and server.pid
        info = local_redis.status(s)
        assert info["running"] is True and str(info["version"]).count(".") == 2
        assert local_redis.start(s).started is False
    finally:
        assert local_redis.stop(s) is True
    assert local_redis.status(s)["running"] is False
