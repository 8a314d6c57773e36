"""The audit log of administrative actions: who, when, what, before → after."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from admin.models import AdminAudit
from catalog.context import Services
from ill.access import Actor

SECRET_KEYS = frozenset({"password", "token", "api_key", "iso18626_token", "secret"})


def redact(value: Any) -> Any:
    """The value with every secret (passwords of Z39.50 feeds, tokens) replaced by ``***``."""
    if isinstance(value, dict):
        return {k: ("***" if k in SECRET_KEYS and v else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def record(session: Session, actor: Actor, action: str, target: str, *, member: str | None = None,
           before: Any = None, after: Any = None, note: str | None = None) -> None:
    """Add an entry in the caller's transaction, so the change and its record commit together
    (secrets in ``before``/``after`` are redacted)."""
    session.add(AdminAudit(actor=actor.label, member_code=member, action=action, target=target,
                           before=redact(before), after=redact(after), note=note))


def entries(services: Services, member: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    with services.db() as session:
        stmt = select(AdminAudit).order_by(AdminAudit.id.desc()).limit(limit)
        if member:
            stmt = stmt.where(AdminAudit.member_code == member)
        return [
            {"id": e.id, "at": e.at.isoformat() if e.at else None, "actor": e.actor, "member": e.member_code,
             "action": e.action, "target": e.target, "before": e.before, "after": e.after, "note": e.note}
            for e in session.scalars(stmt)
        ]
