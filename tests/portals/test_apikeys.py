"""API keys and rate limits as portals meet them: keys issued on the command line, two API
processes (two ``unicat serve``) counting in one Redis, 429 with Retry-After, CORS only for the
key's origins, forged origins and revoked keys refused at once."""

from __future__ import annotations

import os
import subprocess

import httpx

from catalog.context import build_services
from tests.portals.conftest import VENV_BIN, load_catalogue, settings_env

PORTAL = "https://portal.example.edu"


def unicat(settings, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run([str(VENV_BIN / "unicat"), *args], env={**os.environ, **settings_env(settings)},
                          capture_output=True, text=True, timeout=120, check=False)


def test_keys_limits_and_cors_across_two_api_processes(settings, served):
    services = build_services(settings())
    try:
        load_catalogue(services)
        created = unicat(services.settings, "apikey", "create", "portal", "--origin", PORTAL, "--rate", "6/minute")
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        assert key.startswith("uc_") and len(key) > 30 and " " not in key
        assert unicat(services.settings, "apikey", "create", "portal", "--origin", PORTAL).returncode == 2
        listed = unicat(services.settings, "apikey", "list").stdout
        assert "portal" in listed and PORTAL in listed and "active" in listed and key not in listed

        env = {"UNICAT_ANONYMOUS_RATE": "3/minute"}
        a, b = served(services.settings, env=env), served(services.settings, env=env)
        headers = {"X-API-Key": key, "Origin": PORTAL}
        answers = [httpx.get(f"{(a, b)[i % 2]}/api/v1/search", params={"q": "pride"}, headers=headers)
                   for i in range(7)]
        assert [r.status_code for r in answers] == [200] * 6 + [429]
        ok, refused = answers[0], answers[-1]
        assert ok.headers["access-control-allow-origin"] == PORTAL and ok.headers["x-ratelimit-limit"] == "6"
        assert refused.json()["error"]["code"] == "too_many_requests"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["access-control-allow-origin"] == PORTAL  # the portal's page can read the 429

        anonymous = [httpx.get(f"{(a, b)[i % 2]}/sru", params={"query": "pride"}) for i in range(4)]
        assert [r.status_code for r in anonymous] == [200, 200, 200, 429]
        assert "access-control-allow-origin" not in anonymous[0].headers

        forged = httpx.get(f"{b}/api/v1/search", params={"q": "pride"},
                           headers={"X-API-Key": key, "Origin": "https://evil.example.com"})
        assert forged.status_code == 403 and forged.json()["error"]["code"] == "origin_not_allowed"
        assert "access-control-allow-origin" not in forged.headers
        preflight = httpx.options(f"{a}/api/v1/search", headers={
            "Origin": PORTAL, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-api-key"})
        assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == PORTAL
        evil_preflight = httpx.options(f"{a}/api/v1/search", headers={
            "Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"})
        assert evil_preflight.status_code == 403

        invalid = httpx.get(f"{a}/api/v1/search", params={"q": "pride", "api_key": "uc_not-a-key"})
        assert invalid.status_code == 401 and invalid.json()["error"]["code"] == "invalid_api_key"
        assert unicat(services.settings, "apikey", "revoke", "portal").returncode == 0
        for server in (a, b):
            revoked = httpx.get(f"{server}/api/v1/records/u0000000000000000", params={"api_key": key})
            assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "revoked_api_key"
        assert "revoked" in unicat(services.settings, "apikey", "list").stdout
    finally:
        services.close()


def test_bad_key_requests_on_the_command_line(settings):
    services = build_services(settings(es=False))
    try:
        bad_origin = unicat(services.settings, "apikey", "create", "p", "--origin", "portal.example.edu/path")
        assert bad_origin.returncode == 2 and "must look like https://" in bad_origin.stderr
        bad_rate = unicat(services.settings, "apikey", "create", "p", "--origin", PORTAL, "--rate", "lots")
        assert bad_rate.returncode == 2 and "600/minute" in bad_rate.stderr
        missing = unicat(services.settings, "apikey", "revoke", "nobody")
        assert missing.returncode == 2 and "no key named" in missing.stderr
    finally:
        services.close()
