"""Unified authentication: one sign-in for the whole consortium, verified by the patron's home member.

- Accounts live in ``ill_account``; local ones carry an argon2 hash.
- Each member may plug in its own :class:`Authenticator` (e.g. one that asks its library system);
  put them in ``services.extras["ill.authenticators"]`` keyed by member code. Members without one use
  :class:`LocalAuthenticator`. A successful external check creates the local account on first sign-in.
- Sessions are signed cookies (itsdangerous) carrying the account id and a CSRF token; every form
  posts the token back (:func:`check_csrf`).
- Third-party systems use bearer tokens (:func:`issue_token`), stored as SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.context import Services
from ill.access import Actor
from ill.errors import Forbidden, Invalid
from ill.models import IllAccount, IllApiToken
from store.db import transaction
from store.models import Member

SESSION_COOKIE = "unicat_ill"
_hasher = PasswordHasher()
#: Verifying against this keeps unknown usernames as slow as wrong passwords.
_DUMMY_HASH = _hasher.hash("not a password")


@dataclass(frozen=True)
class Identity:
    """What an authenticator vouches for."""

    username: str
    display_name: str
    email: str | None = None


class Authenticator(Protocol):
    def authenticate(self, session: Session, member_code: str, username: str, password: str) -> Identity | None:
        """The identity if the credentials are right, else None (never raise for wrong passwords)."""


class LocalAuthenticator:
    def authenticate(self, session: Session, member_code: str, username: str, password: str) -> Identity | None:
        account = _find(session, member_code, username)
        stored = account.password_hash if account and account.password_hash else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if account is None or not account.password_hash:
            return None
        return Identity(account.username, account.display_name, account.email)


def _find(session: Session, member_code: str, username: str) -> IllAccount | None:
    return session.scalar(select(IllAccount).where(IllAccount.member_code == member_code,
                                                   IllAccount.username == username))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def actor_of(account: IllAccount) -> Actor:
    return Actor(kind=account.kind, name=account.username, member_code=account.member_code,
                 account_id=account.id, desks=frozenset(account.desks or ()))


def create_account(services: Services, *, member_code: str, username: str, password: str | None,
                   display_name: str | None = None, email: str | None = None, kind: str = "patron",
                   desks: list[str] | None = None) -> IllAccount:
    if kind not in ("patron", "staff", "admin", "cataloguer"):
        raise Invalid("kind must be patron, staff, admin or cataloguer", field="kind")
    if password is not None and len(password) < 8:
        raise Invalid("passwords have at least 8 characters", field="password")
    bad_desks = set(desks or ()) - {"borrowing", "lending"}
    if bad_desks:
        raise Invalid(f"unknown desks {sorted(bad_desks)}", field="desks")
    try:
        with transaction(services.db) as session:
            if session.get(Member, member_code) is None:
                raise Invalid(f"unknown member {member_code}", field="member_code")
            account = IllAccount(member_code=member_code, username=username, display_name=display_name or username,
                                 email=email, kind=kind, desks=sorted(desks or []),
                                 password_hash=_hasher.hash(password) if password else None)
            session.add(account)
        return account
    except IntegrityError as exc:
        raise Invalid(f"{username} already exists at {member_code}", field="username") from exc


def sign_in(services: Services, member_code: str, username: str, password: str) -> IllAccount | None:
    """Check the credentials with the member's authenticator; None when wrong."""
    authenticators: dict[str, Any] = services.extras.get("ill.authenticators") or {}  # type: ignore[assignment]
    auth: Authenticator = authenticators.get(member_code) or LocalAuthenticator()
    with transaction(services.db) as session:
        identity = auth.authenticate(session, member_code, username, password)
        if identity is None:
            return None
        account = _find(session, member_code, identity.username)
        if account is None and session.get(Member, member_code) is not None:
            account = IllAccount(member_code=member_code, username=identity.username,
                                 display_name=identity.display_name, email=identity.email, kind="patron", desks=[])
            session.add(account)
            session.flush()
        if account is None or not account.active:
            return None
        return account


def get_account(services: Services, account_id: int) -> IllAccount | None:
    with services.db() as session:
        account = session.get(IllAccount, account_id)
        return account if account is not None and account.active else None


# --- sessions and CSRF -------------------------------------------------------------------------------

def _serializer(services: Services) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(services.settings.secret_key, salt="unicat-ill-session")


def new_session(account_id: int | None = None) -> dict[str, Any]:
    return {"uid": account_id, "csrf": secrets.token_urlsafe(32)}


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


def check_csrf(session_data: dict[str, Any] | None, submitted: str | None) -> None:
    """Synchronizer token: the form's token must equal the one in the signed session cookie."""
    expected = (session_data or {}).get("csrf")
    if not expected or not submitted or not hmac.compare_digest(str(expected), str(submitted)):
        raise Forbidden("the form expired or did not come from this site (CSRF check failed); reload and retry")


# --- API tokens ---------------------------------------------------------------------------------------

def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(services: Services, account: IllAccount, days: int = 30) -> str:
    token = secrets.token_urlsafe(32)
    with transaction(services.db) as session:
        session.add(IllApiToken(digest=_digest(token), account_id=account.id,
                                expires_at=datetime.now(UTC) + timedelta(days=days)))
    return token


def account_for_token(services: Services, token: str) -> IllAccount | None:
    with services.db() as session:
        row = session.get(IllApiToken, _digest(token))
        if row is None or _aware(row.expires_at) < datetime.now(UTC):
            return None
        account = session.get(IllAccount, row.account_id)
        return account if account is not None and account.active else None


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)
