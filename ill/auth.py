"""Sign-in for ILL: a thin layer over :mod:`accounts`, which keeps accounts, connectors and sessions for
the whole consortium. What stays here is about loans: the :class:`~ill.access.Actor` an account acts
as, and the ILL error types the pages and the API already turn into answers.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from accounts.identity import Authenticator, Identity, SignInError
from accounts.local import LocalAuthenticator, hash_password
from accounts.models import Account
from accounts.service import sign_in_with_password
from accounts.sessions import (
    SESSION_COOKIE,
    account_for_token,
    csrf_matches,
    dump_session,
    get_account,
    issue_token,
    load_session,
    new_session,
)
from catalog.context import Services
from ill.access import Actor
from ill.errors import Forbidden, Invalid
from store.db import transaction
from store.models import Member

__all__ = ["SESSION_COOKIE", "Authenticator", "Identity", "LocalAuthenticator", "SignInError", "account_for_token",
           "actor_of", "check_csrf", "create_account", "dump_session", "get_account", "hash_password",
           "issue_token", "load_session", "new_session", "sign_in"]


def actor_of(account: Account) -> Actor:
    return Actor(kind=account.kind, name=account.username, member_code=account.member_code,
                 account_id=account.id, desks=frozenset(account.desks or ()), blocked_reason=account.blocked_reason)


def create_account(services: Services, *, member_code: str, username: str, password: str | None,
                   display_name: str | None = None, email: str | None = None, kind: str = "patron",
                   desks: list[str] | None = None) -> Account:
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
            account = Account(member_code=member_code, username=username, display_name=display_name or username,
                              email=email, kind=kind, desks=sorted(desks or []),
                              password_hash=hash_password(password) if password else None)
            session.add(account)
        return account
    except IntegrityError as exc:
        raise Invalid(f"{username} already exists at {member_code}", field="username") from exc


def sign_in(services: Services, member_code: str, username: str, password: str, client: str = "-") -> Account | None:
    """The account when the member's connector accepts the credentials, else None (see
    :func:`accounts.service.sign_in_with_password` for the reasons)."""
    try:
        return sign_in_with_password(services, member_code, username, password, client)
    except SignInError:
        return None


def check_csrf(session_data: dict | None, submitted: str | None) -> None:  # type: ignore[type-arg]
    if not csrf_matches(session_data, submitted):
        raise Forbidden("the form expired or did not come from this site (CSRF check failed); reload and retry")
