"""The "sign in with your library" page: which members there are, how each one signs its readers in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from accounts.config import PASSWORD_KINDS, auth_of
from catalog.context import Services
from store.models import Member

#: HTTP status of the sign-in page for each SignInError code.
STATUS = {"rejected": 401, "throttled": 429, "unavailable": 503, "misconfigured": 503}


@dataclass(frozen=True)
class LibraryChoice:
    code: str
    names: dict[str, str]
    kind: str  # local | ldap | sip2 | saml | oidc | broken

    @property
    def uses_password(self) -> bool:
        return self.kind in PASSWORD_KINDS

    def name(self, lang: str) -> str:
        return self.names["zh"] if lang.startswith("zh") else self.names["en"]

    def matches(self, query: str) -> bool:
        q = query.casefold().strip()
        return not q or any(q in text.casefold() for text in (self.code, *self.names.values()))


def _kind(member: Member) -> str:
    try:
        return auth_of(member.config).type
    except ValueError:
        return "broken"


def libraries(services: Services) -> list[LibraryChoice]:
    with services.db() as session:
        members = session.scalars(select(Member).order_by(Member.region, Member.code)).all()
        return [LibraryChoice(m.code, {"zh": m.name_zh, "en": m.name_en}, _kind(m)) for m in members]


def logout_redirect(services: Services, data: dict[str, Any] | None) -> str | None:
    """Single logout at the reader's IdP after the local session has ended, where the IdP offers it."""
    from accounts import oidc, saml
    from accounts.config import OidcAuth, SamlAuth

    data = data or {}
    code = data.get("member")
    if not data.get("sso") or not isinstance(code, str):
        return None
    with services.db() as session:
        member = session.get(Member, code)
        if member is None:
            return None
        try:
            config = auth_of(member.config)
        except ValueError:
            return None
    public = services.settings.sso_public_url
    if isinstance(config, SamlAuth):
        return saml.logout_url(code, config, public, data)
    if isinstance(config, OidcAuth):
        return oidc.logout_url(config, public)
    return None


def login_context(services: Services, next_url: str, query: str | None, member: str | None) -> dict[str, Any]:
    every = libraries(services)
    shown = [lib for lib in every if lib.matches(query or "")]
    return {"libraries": shown, "password_libraries": [lib for lib in every if lib.uses_password],
            "next": next_url, "q": query or "", "chosen": member}
