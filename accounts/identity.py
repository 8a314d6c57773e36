"""What an authenticator vouches for, and how a sign-in fails."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Identity:
    """A reader as the home library's system describes them.

    ``kind``/``desks`` are set only when the connector maps groups or attributes to staff roles;
    ``None`` leaves the account's role as administrators set it. ``blocked_reason`` is the library's
    own words when it says the reader may not borrow (SIP2 flags, a revoked directory entry, a missing
    entitlement).
    """

    username: str
    display_name: str
    email: str | None = None
    affiliation: str | None = None
    external_id: str | None = None
    source: str = "local"
    kind: str | None = None
    desks: tuple[str, ...] = ()
    blocked_reason: str | None = None
    groups: tuple[str, ...] = field(default=(), repr=False)
    #: What single logout at the IdP needs later (SAML NameID and session index), kept in the session.
    logout: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


class SignInError(Exception):
    """A sign-in that did not succeed. ``code`` is stable (logs, tests, API); ``message`` is for the reader
    and never says whether the account exists.

    - ``rejected``: wrong credentials, unknown reader, or an assertion/token that does not verify;
    - ``unavailable``: the library's system is down, hangs or answers something unreadable;
    - ``throttled``: too many failures for this account or this client address;
    - ``misconfigured``: the member's connector cannot be used (an operator problem).
    """

    MESSAGES = {
        "rejected": "Sign-in failed: the card number, username or password is not right, or your library did "
                    "not confirm who you are.",
        "unavailable": "Your library's sign-in service did not answer in time or answered something we could "
                       "not read. Please try again later.",
        "throttled": "Too many failed sign-ins. Please wait a few minutes before trying again.",
        "misconfigured": "Sign-in through this library is not set up correctly. Please tell the library.",
    }

    def __init__(self, code: str, detail: str = "") -> None:
        detail = _scrub(detail)
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        #: For the log only: what went wrong, never a password, token or assertion.
        self.detail = detail

    @property
    def message(self) -> str:
        return self.MESSAGES[self.code]


_XML = re.compile(r"<[^<>]{0,4000}>")
_BEARER = re.compile(r"[A-Za-z0-9+/=_.-]{80,}")


def _scrub(detail: str) -> str:
    """Library error texts sometimes quote the XML or token they refused: keep the words, drop those."""
    return _BEARER.sub("[…]", _XML.sub("<…>", detail))[:1000]


class PasswordAuthenticator(Protocol):
    """A connector the reader gives a username and password to (local, LDAP, SIP2)."""

    def authenticate(self, session: Session, member_code: str, username: str, password: str) -> Identity | None:
        """The identity if the credentials are right, None if not; raise SignInError("unavailable") when the
        library's system cannot be asked."""


#: The old name, kept for callers that plug their own checkers in.
Authenticator = PasswordAuthenticator
