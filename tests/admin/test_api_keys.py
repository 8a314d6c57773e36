"""API keys with scopes on the monitoring API: issued on the real command line (and recorded in the
audit log), an ``admin`` key sees everything, an ``admin:<member>`` key only that member, a portal's
``search`` key is refused with 403 ``insufficient_scope``, a revoked key with 401 from the next
request on; keys issued before scopes existed stay search keys."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from admin import audit
from store.migrate import upgrade
from tests.admin.test_access import MONITORING, _garbage_reject
from tests.core.test_postgres import fresh_database
from tests.portals.conftest import VENV_BIN, settings_env
from unicat.app import create_app


def unicat(settings, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run([str(VENV_BIN / "unicat"), *args], env={**os.environ, **settings_env(settings)},
                          capture_output=True, text=True, timeout=120, check=False)


def _issued(settings, name: str, *args: str) -> str:  # type: ignore[no-untyped-def]
    created = unicat(settings, "apikey", "create", name, *args)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def test_key_scopes_on_the_monitoring_api(services):
    _garbage_reject(services, "pku")
    _garbage_reject(services, "bnu")
    admin = _issued(services.settings, "monitoring", "--scope", "admin")
    pku = _issued(services.settings, "pku-dashboard", "--scope", "admin:pku")
    portal = _issued(services.settings, "portal", "--origin", "https://portal.example.edu")
    listed = unicat(services.settings, "apikey", "list").stdout
    assert "monitoring\tuc_" in listed and "\tadmin\t" in listed and "\tadmin:pku\t" in listed
    assert "\tsearch\thttps://portal.example.edu" in listed, "a portal's key is a search key by default"

    with TestClient(create_app(services.settings, services=services)) as http:
        for path in MONITORING:
            assert http.get(path, headers={"X-API-Key": admin}).status_code == 200, path
            refused = http.get(path, headers={"X-API-Key": portal})
            assert refused.status_code == 403, path
            error = refused.json()["error"]
            assert error["code"] == "insufficient_scope" and "needs a key with the admin scope" in error["message"]
            assert "'portal' has the scopes search" in error["message"]
        everything = http.get("/api/v1/rejects", headers={"X-API-Key": admin}).json()["rejects"]
        assert {r["member"] for r in everything} == {"pku", "bnu"}
        mine = http.get("/api/v1/rejects", headers={"X-API-Key": pku}).json()["rejects"]
        assert mine and {r["member"] for r in mine} == {"pku"}
        assert http.get("/api/v1/rejects", params={"member": "bnu"}, headers={"X-API-Key": pku}).status_code == 403
        assert http.get("/api/v1/index-failures", headers={"X-API-Key": pku}).status_code == 403
        assert http.get("/api/v1/search", params={"q": "pride"}, headers={"X-API-Key": portal}).status_code == 200

        assert unicat(services.settings, "apikey", "revoke", "monitoring").returncode == 0
        revoked = http.get("/api/v1/harvests", headers={"X-API-Key": admin})
        assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "revoked_api_key"

    log = audit.entries(services)
    assert [(e["action"], e["target"]) for e in reversed(log)] == [
        ("apikey.create", "apikey monitoring"), ("apikey.create", "apikey pku-dashboard"),
        ("apikey.create", "apikey portal"), ("apikey.revoke", "apikey monitoring")]
    assert all(e["actor"].startswith("operator:-:cli/") for e in log)
    assert log[-1]["after"]["scopes"] == ["admin"] and log[-2]["member"] == "pku"
    assert not any(key in repr(log) for key in (admin, pku, portal)), "the audit log never holds a key"


def test_bad_scopes_are_named_and_issue_nothing(services):
    for scope, why in [("admin:nosuch", "there is no member 'nosuch'"), ("root", "one of search, admin or admin:"),
                       ("admin:pku --scope admin:bnu", "one member at most")]:
        args = [a for part in scope.split(" --scope ") for a in ("--scope", part)]
        answer = unicat(services.settings, "apikey", "create", "k", *args)
        assert answer.returncode == 2 and why in answer.stderr, (scope, answer.stderr)
    assert "k\t" not in unicat(services.settings, "apikey", "list").stdout
    assert audit.entries(services) == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_keys_issued_before_scopes_stay_search_keys(request, tmp_path, backend):
    """Migration 0011 on a store that already holds a portal's key: it becomes a search key."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    else:
        url = fresh_database(request.getfixturevalue("postgres_url")).replace("postgresql://", "postgresql+psycopg://")
    upgrade(url, "0010")
    engine = create_engine(url)
    with engine.begin() as db:
        db.execute(text("INSERT INTO api_key (name, key_hash, key_prefix, origins, rate, created_at) "
                        "VALUES ('old-portal', 'h', 'uc_abcde', '[]', '600/minute', '2026-11-30 10:00:00')"))
    upgrade(url)
    with engine.connect() as db:
        stored = db.execute(text("SELECT scopes FROM api_key")).scalar_one()
    engine.dispose()
    assert (json.loads(stored) if isinstance(stored, str) else stored) == ["search"]
