"""API keys as the administrators handle them: issued and revoked with an audit-log entry, and the
console actor a key's scope stands for on the monitoring API.

- ``admin``: acts as a consortium administrator (every member, the index, the store's state).
- ``admin:<member>``: acts as that member's cataloguer (its runs, rejects and held withdrawals).
- ``search`` only (portals): no monitoring access.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from admin import audit
from admin.roles import ADMIN, CATALOGUER, NotAllowed
from catalog.context import Services
from ill.access import Actor
from portals.apikeys import ADMIN as ADMIN_SCOPE
from portals.apikeys import MEMBER_ADMIN, KeyInfo, create_key, revoke_key


class InsufficientScope(NotAllowed):
    code = "insufficient_scope"


def _audited(actor: Actor):  # noqa: ANN202 - a portals.apikeys.OnChange
    def record(session: Session, action: str, info: KeyInfo) -> None:
        members = [s.removeprefix(MEMBER_ADMIN) for s in info.scopes if s.startswith(MEMBER_ADMIN)]
        after = {"prefix": info.key_prefix, "scopes": list(info.scopes), "origins": list(info.origins),
                 "rate": info.rate, "revoked": info.revoked}
        audit.record(session, actor, f"apikey.{action}", f"apikey {info.name}",
                     member=members[0] if len(members) == 1 else None, after=after)

    return record


def issue(services: Services, actor: Actor, name: str, origins: list[str], rate: str,
          scopes: list[str]) -> tuple[str, KeyInfo]:
    """Issue a key (shown once) and log who issued it with which scopes; the key itself is never logged."""
    return create_key(services, name, origins, rate, scopes, on_change=_audited(actor))


def revoke(services: Services, actor: Actor, name: str) -> KeyInfo:
    """Revoke a key and log it (revoking a revoked key changes and logs nothing)."""
    return revoke_key(services, name, on_change=_audited(actor))


def key_actor(info: KeyInfo) -> Actor:
    """The console actor a live key stands for, or 403 ``insufficient_scope`` naming what it lacks."""
    label = f"apikey/{info.name}"
    if ADMIN_SCOPE in info.scopes:
        return Actor(kind=ADMIN, name=label)
    members = sorted(s.removeprefix(MEMBER_ADMIN) for s in info.scopes if s.startswith(MEMBER_ADMIN))
    if members:
        return Actor(kind=CATALOGUER, name=label, member_code=members[0])
    raise InsufficientScope(
        f"the API key {info.name!r} has the scopes {', '.join(info.scopes)}; the monitoring API needs a key "
        "with the admin scope (unicat apikey create NAME --scope admin, or --scope admin:<member>)")
