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
    assert {"elasticsearch", "redis", "postgres", "api", "worker"} <= set(spec["services"])
    image = spec["services"]["elasticsearch"]["image"]
    from unicat.settings import Settings

    assert image.endswith(":" + Settings().es_version), "the server in production matches the client's major"
    env = spec["services"]["api"]["environment"]
    assert env["UNICAT_DATABASE_URL"].startswith("postgresql://") and env["UNICAT_ES_URL"].startswith("http://")
