"""docker-compose.yml is checked against the Compose specification (no Docker engine runs here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml  # type: ignore[import-untyped]

REPO = Path(__file__).resolve().parents[1]


def test_compose_file_is_valid_against_the_compose_spec():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(REPO / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_the_production_shape():
    spec = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    services = spec["services"]
    assert {"es01", "es02", "es03", "redis", "postgres", "api", "worker", "ill-worker"} <= set(services)
    from unicat.settings import Settings

    nodes = [services[name] for name in ("es01", "es02", "es03")]
    for node in nodes:
        assert node["image"].endswith(":" + Settings().es_version), "production runs the client's server major"
        env = node["environment"]
        assert env["xpack.security.enabled"] == "true" and env["xpack.security.http.ssl.enabled"] == "true"
        assert env["cluster.initial_master_nodes"] == "es01,es02,es03"
    assert len({node["environment"]["node.name"] for node in nodes}) == 3
    assert "--appendonly" in services["redis"]["command"], "queued jobs survive a Redis restart"
    assert services["api"]["deploy"]["replicas"] >= 2 and "--workers" in services["api"]["command"]
    assert services["ill-worker"]["command"][-2:] == ["--queue", "ill"]
    env = services["api"]["environment"]
    assert env["UNICAT_DATABASE_URL"].startswith("postgresql://")
    urls = env["UNICAT_ES_URL"].split(",")
    assert len(urls) == 3 and all(url.startswith("https://") for url in urls)
    assert env["UNICAT_ES_CA_FILE"] and env["UNICAT_ES_USERNAME"] and env["UNICAT_ES_PASSWORD"]
