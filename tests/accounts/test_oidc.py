"""OpenID Connect sign-in against a real Keycloak: its login form, code + PKCE, the ID token checked
against the realm's JWKS; tampered tokens, wrong audience, clock skew, wrong state, a reused code."""

from __future__ import annotations

import base64
import html
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from accounts import oidc
from accounts.config import OidcAuth, parse_auth
from accounts.identity import SignInError
from catalog.context import Services
from store.db import transaction
from tests.accounts.fixtures import oidc_auth

PUBLIC = "http://127.0.0.1:8381"


def config(node: Any, **overrides: object) -> OidcAuth:
    return parse_auth(oidc_auth(node, **overrides))  # type: ignore[return-value]


def provider_login(url: str, username: str, password: str) -> str | None:
    """Keycloak's own login form, as a reader fills it; the callback URL it redirects to, or None."""
    with httpx.Client(timeout=60) as browser:  # a cold Keycloak answers its first logins slowly
        page = browser.get(url, follow_redirects=True)
        action = html.unescape(re.search(r'action="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
        # Keycloak marks its cookies Secure; a browser still sends them to http://127.0.0.1 (a trustworthy
        # origin), httpx does not, so they are sent by hand
        jar = "; ".join(f"{c.name}={c.value}" for c in browser.cookies.jar)
        answer = browser.post(action, data={"username": username, "password": password}, headers={"Cookie": jar})
        location = answer.headers.get("location", "")
        return location if "code=" in location else None


def round_trip(node: Any, cfg: OidcAuth, username: str = "carol", password: str = "carol-secret"):  # type: ignore[no-untyped-def]
    url, trip = oidc.start("fudan", cfg, PUBLIC)
    callback = provider_login(url, username, password)
    assert callback is not None
    return callback, trip


def finish(services: Services, cfg: OidcAuth, callback: str, trip: dict[str, str], state: str | None = None):  # type: ignore[no-untyped-def]
    got = state if state is not None else parse_qs(urlsplit(callback).query)["state"][0]
    with transaction(services.db) as session:
        return oidc.finish(session, "fudan", cfg, PUBLIC, callback, got, trip)


def id_token(node: Any, cfg: OidcAuth) -> tuple[str, str]:
    callback, trip = round_trip(node, cfg)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    doc = oidc.discovery(cfg)
    answer = httpx.post(doc["token_endpoint"], auth=(cfg.client_id, cfg.client_secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": oidc.redirect_uri(PUBLIC, "fudan"),
        "code_verifier": trip["oidc_verifier"]}).json()
    return answer["id_token"], trip["oidc_nonce"]


def test_the_authorization_request_carries_pkce_state_and_nonce(keycloak: Any) -> None:
    url, trip = oidc.start("fudan", config(keycloak), PUBLIC)
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"] == [trip["oidc_state"]] and query["nonce"] == [trip["oidc_nonce"]]
    assert trip["oidc_verifier"] not in url


def test_a_reader_signs_in_through_the_provider_login_form(signin_services: Services, keycloak: Any) -> None:
    cfg = config(keycloak)
    callback, trip = round_trip(keycloak, cfg)
    carol = finish(signin_services, cfg, callback, trip)
    assert (carol.username, carol.display_name, carol.email, carol.source) == (
        "carol", "Carol Wu", "carol@fudan.example", "oidc")


def test_wrong_password_gives_no_code(keycloak: Any) -> None:
    url, _ = oidc.start("fudan", config(keycloak), PUBLIC)
    assert provider_login(url, "carol", "wrong") is None


def test_a_callback_with_another_state_or_a_reused_code_is_refused(signin_services: Services,
                                                                  keycloak: Any) -> None:
    cfg = config(keycloak)
    callback, trip = round_trip(keycloak, cfg)
    with pytest.raises(SignInError) as caught:
        finish(signin_services, cfg, callback, trip, state="forged")
    assert caught.value.code == "rejected"
    finish(signin_services, cfg, callback, trip)
    with pytest.raises(SignInError) as caught:
        finish(signin_services, cfg, callback, trip)
    assert caught.value.code == "rejected"


def _tamper(token: str) -> str:
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["preferred_username"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{sig}"


def test_tampered_token_wrong_audience_wrong_nonce_and_clock_skew_are_refused(keycloak: Any) -> None:
    cfg = config(keycloak)
    token, nonce = id_token(keycloak, cfg)
    assert oidc.verify_id_token(cfg, token, nonce)["preferred_username"] == "carol"
    cases = {
        "tampered": lambda: oidc.verify_id_token(cfg, _tamper(token), nonce),
        "audience": lambda: oidc.verify_id_token(config(keycloak, client_id="another-app"), token, nonce),
        "nonce": lambda: oidc.verify_id_token(cfg, token, "another-nonce"),
        "skew": lambda: oidc.verify_id_token(cfg, token, nonce, now=time.time() + 300 + 61),
    }
    for name, attempt in cases.items():
        with pytest.raises(SignInError) as caught:
            attempt()
        assert caught.value.code == "rejected", name
    # within the allowance the same token is fine
    assert oidc.verify_id_token(cfg, token, nonce, now=time.time() + 30)


def test_a_provider_that_is_down_is_unavailable() -> None:
    cfg = parse_auth({"type": "oidc", "issuer": "http://127.0.0.1:1/realms/x", "client_id": "a",
                      "client_secret": "s", "timeout": 1})
    with pytest.raises(SignInError) as caught:
        oidc.start("x", cfg, PUBLIC)  # type: ignore[arg-type]
    assert caught.value.code == "unavailable"


def test_a_provider_that_hangs_is_unavailable_within_the_timeout(hanging_server: str) -> None:
    cfg = parse_auth({"type": "oidc", "issuer": f"http://{hanging_server}/realms/x", "client_id": "a",
                      "client_secret": "s", "timeout": 1})
    started = time.monotonic()
    with pytest.raises(SignInError) as caught:
        oidc.start("x", cfg, PUBLIC)  # type: ignore[arg-type]
    assert caught.value.code == "unavailable" and time.monotonic() - started < 4
