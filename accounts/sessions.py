"""Browser sessions and API tokens.

- A session is a signed cookie (itsdangerous) holding the account id, a CSRF token and, during a
  SAML/OIDC round trip, the request id / state / nonce / PKCE verifier of that round trip. A sign-in
  always starts a new session (new CSRF token): a session fixed before sign-in is worth nothing after.
- Third-party systems use bearer tokens, stored as SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from accounts.models import Account, ApiToken
from store.db import transaction

if TYPE_CHECKING:
    from catalog.context import Services

SESSION_COOKIE = "unicat_ill"


def _serializer(services: Services) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(services.settings.secret_key, salt="unicat-ill-session")


def new_session(account_id: int | None = None, **extra: Any) -> dict[str, Any]:
    return {"uid": account_id, "csrf": secrets.token_urlsafe(32), **extra}


def dump_session(services: Services, data: dict[str, Any]) -> str:
    return _serializer(services).dumps(data)


def load_session(services: Services, cookie: str | None) -> dict[str, Any] | None:
    if not cookie:
        return None
    try:
        data = _serializer(services).loads(cookie, max_age=services.settings.session_max_age)
    except BadSignature:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("csrf"), str) else None


def csrf_matches(session_data: dict[str, Any] | None, submitted: str | None) -> bool:
    """Synchronizer token: the form's token must equal the one in the signed session cookie."""
    expected = (session_data or {}).get("csrf")
    return bool(expected and submitted and hmac.compare_digest(str(expected), str(submitted)))


def get_account(services: Services, account_id: int) -> Account | None:
    with services.db() as session:
        account = session.get(Account, account_id)
        return account if account is not None and account.active else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(services: Services, account: Account, days: int = 30) -> str:
    token = secrets.token_urlsafe(32)
    with transaction(services.db) as session:
        session.add(ApiToken(digest=_digest(token), account_id=account.id,
                             expires_at=datetime.now(UTC) + timedelta(days=days)))
    return token


def account_for_token(services: Services, token: str) -> Account | None:
    with services.db() as session:
        row = session.get(ApiToken, _digest(token))
        if row is None or _aware(row.expires_at) < datetime.now(UTC):
            return None
        account = session.get(Account, row.account_id)
        return account if account is not None and account.active else None


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)
