"""Signing readers in and keeping their accounts: the one entry point pages, API and CLI use.

- :func:`sign_in_with_password` checks a username and password with the member's connector (local,
  LDAP, SIP2), throttled per account and per client address; every failure takes at least
  ``signin_failure_floor`` seconds and gives the same answer, whether or not the account exists.
- :func:`provision` turns a verified :class:`Identity` into the account: created at the first sign-in
  (no password stored for external accounts), name/e-mail/affiliation/block refreshed later.
- Failures are logged with the member, the reason code and the connector's own words, never a
  password, token or assertion.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from accounts.config import PASSWORD_KINDS, LdapAuth, LocalAuth, Sip2Auth, auth_of
from accounts.identity import Identity, PasswordAuthenticator, SignInError
from accounts.ldap import LdapAuthenticator
from accounts.local import LocalAuthenticator, find_account
from accounts.models import Account
from accounts.sip2 import Sip2Authenticator
from accounts.throttle import SignInThrottle
from store.db import transaction
from store.models import Member

if TYPE_CHECKING:
    from catalog.context import Services

log = logging.getLogger("unicat.signin")
#: Plug-in checkers by member code (tests, or a library system without a standard protocol).
EXTRA_AUTHENTICATORS = "ill.authenticators"


def throttle(services: Services) -> SignInThrottle:
    found = services.extras.get("accounts.throttle")
    if not isinstance(found, SignInThrottle):
        s = services.settings
        found = SignInThrottle(s.signin_failures_per_account, s.signin_failures_per_client, s.signin_rate_storage)
        services.extras["accounts.throttle"] = found
    return found


def password_authenticator(services: Services, member: Member) -> PasswordAuthenticator:
    extra: dict[str, Any] = services.extras.get(EXTRA_AUTHENTICATORS) or {}  # type: ignore[assignment]
    if member.code in extra:
        return extra[member.code]  # type: ignore[no-any-return]
    try:
        config = auth_of(member.config)
    except ValueError as exc:
        raise SignInError("misconfigured", f"member {member.code}: auth: {exc}") from None
    if isinstance(config, LdapAuth):
        return LdapAuthenticator(config)
    if isinstance(config, Sip2Auth):
        return Sip2Authenticator(config)
    if isinstance(config, LocalAuth):
        return LocalAuthenticator()
    raise SignInError("misconfigured", f"member {member.code}: {config.type} readers sign in at their "
                                       "library's own page, not with a password here")


def sign_in_with_password(services: Services, member_code: str, username: str, password: str,
                          client: str = "-") -> Account:
    """The reader's account, or :class:`SignInError` (``rejected``/``throttled``/``unavailable``/...)."""
    started = time.monotonic()
    gate = throttle(services)
    username = username.strip()
    try:
        if not gate.allowed(member_code, username, client):
            raise SignInError("throttled", "too many failures for this account or client")
        with transaction(services.db) as session:
            member = session.get(Member, member_code)
            if member is None:
                raise SignInError("rejected", "unknown member")
            identity = password_authenticator(services, member).authenticate(session, member_code, username,
                                                                               password)
            if identity is None:
                raise SignInError("rejected", "wrong credentials or unknown reader")
            account = provision(session, member_code, identity)
            session.flush()
        return account
    except SignInError as exc:
        if exc.code in ("rejected", "unavailable"):
            gate.failed(member_code, username, client)
        log.warning("sign-in failed: member=%s user=%r client=%s code=%s detail=%s",
                    member_code, username[:64], client, exc.code, exc.detail)
        _pad(started, services.settings.signin_failure_floor)
        raise


def _pad(started: float, floor: float) -> None:
    """Let every failure take the same time, so answering fast does not mean "no such account"."""
    left = floor - (time.monotonic() - started)
    if left > 0:
        time.sleep(left)


def provision(session: Session, member_code: str, identity: Identity) -> Account:
    """Create or refresh the account the identity belongs to (inside the caller's transaction)."""
    account = find_account(session, member_code, identity.username)
    if account is None:
        account = Account(member_code=member_code, username=identity.username, display_name=identity.display_name,
                          email=identity.email, kind="patron", desks=[], password_hash=None, active=True)
        session.add(account)
        log.info("account created at first sign-in: member=%s user=%r source=%s", member_code,
                 identity.username, identity.source)
    if not account.active:
        raise SignInError("rejected", "account deactivated by an administrator")
    account.display_name = identity.display_name or account.display_name
    account.email = identity.email or account.email
    account.affiliation = identity.affiliation or account.affiliation
    account.external_id = identity.external_id or account.external_id
    account.source = identity.source
    account.blocked_reason = identity.blocked_reason
    if identity.kind is not None and account.kind != "admin":
        account.kind, account.desks = identity.kind, list(identity.desks)
    account.last_sign_in_at = datetime.now(UTC)
    return account


def complete_sso(services: Services, member_code: str, verify: Any,
                 client: str = "-") -> tuple[Account, dict[str, Any]]:
    """Finish a SAML/OIDC round trip: ``verify(session, member, config)`` returns the Identity the IdP
    vouched for (or raises SignInError); the account is provisioned in the same transaction. Returns the
    account and what a later single logout needs (for the session)."""
    started = time.monotonic()
    try:
        with transaction(services.db) as session:
            member = session.get(Member, member_code)
            if member is None:
                raise SignInError("rejected", "unknown member")
            try:
                config = auth_of(member.config)
            except ValueError as exc:
                raise SignInError("misconfigured", f"member {member_code}: auth: {exc}") from None
            identity = verify(session, member, config)
            account = provision(session, member_code, identity)
            session.flush()
        return account, dict(identity.logout)
    except SignInError as exc:
        log.warning("sign-in failed: member=%s client=%s code=%s detail=%s", member_code, client, exc.code,
                    exc.detail[:500])
        _pad(started, services.settings.signin_failure_floor)
        raise


def is_password_member(member: Member) -> bool:
    try:
        return auth_of(member.config).type in PASSWORD_KINDS
    except ValueError:
        return False
