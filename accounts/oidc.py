"""OpenID Connect relying party per member (authlib): authorization code flow with PKCE (S256), state and
nonce bound to the browser's round-trip cookie, the ID token verified against the issuer's JWKS (signature,
issuer, audience, expiry with the configured clock allowance, nonce), each nonce accepted once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from authlib.jose import JsonWebKey, jwt
from authlib.jose.errors import JoseError

try:  # authlib 1.6+ verifies through joserfc and lets its errors through
    from joserfc.errors import JoseError as JoserfcError
except ImportError:  # pragma: no cover - older authlib
    JoserfcError = JoseError  # type: ignore[misc, assignment]
from authlib.oidc.core import CodeIDToken
from sqlalchemy.orm import Session

from accounts.config import OidcAuth
from accounts.identity import Identity, SignInError
from accounts.models import UsedAssertion
from accounts.roles import mapped_role

_DISCOVERY: dict[str, tuple[float, dict[str, Any]]] = {}
DISCOVERY_TTL = 3600


def redirect_uri(public_url: str, member_code: str) -> str:
    return f"{public_url.rstrip('/')}/ill/login/{member_code}/oidc/callback"


def _get_json(url: str, timeout: float) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=timeout)
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SignInError("unavailable", f"OIDC {url}: {type(exc).__name__}: {exc}") from None
    if not isinstance(data, dict):
        raise SignInError("unavailable", f"OIDC {url}: not a JSON object")
    return data


def discovery(config: OidcAuth) -> dict[str, Any]:
    cached = _DISCOVERY.get(config.issuer)
    if cached and time.monotonic() - cached[0] < DISCOVERY_TTL:
        return cached[1]
    doc = _get_json(f"{config.issuer}/.well-known/openid-configuration", config.timeout)
    if doc.get("issuer") != config.issuer:
        raise SignInError("misconfigured", f"OIDC discovery names issuer {doc.get('issuer')!r}, "
                                           f"configured {config.issuer!r}")
    _DISCOVERY[config.issuer] = (time.monotonic(), doc)
    return doc


def _client(config: OidcAuth, public_url: str, member_code: str) -> OAuth2Client:
    return OAuth2Client(config.client_id, config.client_secret, scope=" ".join(config.scopes),
                        redirect_uri=redirect_uri(public_url, member_code), code_challenge_method="S256",
                        timeout=config.timeout)


def start(member_code: str, config: OidcAuth, public_url: str) -> tuple[str, dict[str, str]]:
    """``(url, round_trip_secrets)``: where to send the reader, and what the callback must match."""
    doc = discovery(config)
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), generate_token(64)
    with _client(config, public_url, member_code) as client:
        url, _ = client.create_authorization_url(doc["authorization_endpoint"], state=state, nonce=nonce,
                                                 code_verifier=verifier)
    return url, {"oidc_state": state, "oidc_nonce": nonce, "oidc_verifier": verifier}


def finish(session: Session, member_code: str, config: OidcAuth, public_url: str, callback_url: str,
           state: str, trip: dict[str, Any]) -> Identity:
    expected = str(trip.get("oidc_state") or "")
    if not expected or not hmac.compare_digest(expected, state):
        raise SignInError("rejected", "OIDC state does not match this browser's sign-in")
    doc = discovery(config)
    try:
        with _client(config, public_url, member_code) as client:
            token = client.fetch_token(doc["token_endpoint"], authorization_response=callback_url,
                                       code_verifier=str(trip.get("oidc_verifier") or ""))
    except httpx.HTTPError as exc:
        raise SignInError("unavailable", f"OIDC token endpoint: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # authlib's OAuthError and friends: the provider refused the code
        raise SignInError("rejected", f"OIDC token endpoint refused the code: {type(exc).__name__}: {exc}") from None
    id_token = token.get("id_token")
    if not id_token:
        raise SignInError("rejected", "OIDC token answer without an id_token (is 'openid' in the scopes?)")
    claims = verify_id_token(config, str(id_token), str(trip.get("oidc_nonce") or ""))
    _remember_nonce(session, config, claims)
    return _identity(config, claims)


def verify_id_token(config: OidcAuth, id_token: str, nonce: str, now: float | None = None) -> dict[str, Any]:
    """The ID token's claims if its signature (issuer's JWKS), iss, aud, exp/iat (± clock_skew) and nonce
    are right, else SignInError("rejected")."""
    jwks = _get_json(discovery(config)["jwks_uri"], config.timeout)
    options = {"iss": {"essential": True, "value": config.issuer},
               "aud": {"essential": True, "value": config.client_id}, "exp": {"essential": True},
               "nonce": {"essential": True}}
    try:
        claims = jwt.decode(id_token, JsonWebKey.import_key_set(jwks), claims_cls=CodeIDToken,
                            claims_options=options, claims_params={"nonce": nonce, "client_id": config.client_id})
        claims.validate(now=int(now if now is not None else time.time()), leeway=config.clock_skew)
    except (JoseError, JoserfcError, ValueError, KeyError) as exc:
        raise SignInError("rejected", f"OIDC id_token refused: {type(exc).__name__}: {exc}") from None
    return dict(claims)


def logout_url(config: OidcAuth, public_url: str) -> str | None:
    """RP-initiated logout at the provider (its ``end_session_endpoint``), coming back to the sign-in page."""
    try:
        endpoint = discovery(config).get("end_session_endpoint")
    except SignInError:
        return None
    if not endpoint:
        return None
    back = f"{public_url.rstrip('/')}/ill/login"
    query = urlencode({"client_id": config.client_id, "post_logout_redirect_uri": back})
    return f"{endpoint}?{query}"


def _remember_nonce(session: Session, config: OidcAuth, claims: dict[str, Any]) -> None:
    key = "oidc:" + hashlib.sha256(f"{config.issuer}|{claims.get('nonce')}".encode()).hexdigest()
    if session.get(UsedAssertion, key) is not None:
        raise SignInError("rejected", "OIDC id_token nonce already used (replay)")
    expires = datetime.fromtimestamp(int(claims.get("exp") or 0), UTC) if claims.get("exp") else None
    session.add(UsedAssertion(key=key, expires_at=expires or datetime.now(UTC) + timedelta(hours=1)))
    session.flush()


def _identity(config: OidcAuth, claims: dict[str, Any]) -> Identity:
    cmap = config.claim_map

    def claim(field: str) -> str | None:
        value = claims.get(cmap.get(field, ""))
        return str(value) if value not in (None, "") else None

    groups_raw = claims.get(config.groups_claim) or []
    groups = tuple(str(g) for g in (groups_raw if isinstance(groups_raw, list) else [groups_raw]))
    kind, desks = mapped_role(groups, config.staff_groups, config.staff_desks)
    username = claim("username") or str(claims["sub"])
    return Identity(username=username, display_name=claim("display_name") or username, email=claim("email"),
                    affiliation=claim("affiliation"), external_id=str(claims["sub"]), source="oidc", kind=kind,
                    desks=desks, groups=groups)
