"""Per-member ILL statistics: requests made and filled, fill rate, turnaround, lending/borrowing balance."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from catalog.context import Services
from ill.models import AuditEntry, IllRequest
from ill.policies import FILLED
from store.models import Member

_FILL_EVENTS = ("loaned", "copy_completed")


def member_stats(services: Services, since: datetime | None = None) -> list[dict[str, Any]]:
    with services.db() as session:
        members = session.execute(select(Member.code, Member.name_zh, Member.name_en).order_by(Member.code)).all()
        where = [IllRequest.created_at >= since] if since else []

        def counts(col: Any, *cond: Any) -> dict[str, int]:
            rows = session.execute(select(col, func.count()).where(*where, *cond).group_by(col)).tuples().all()
            return {k: int(v) for k, v in rows if k}

        made = counts(IllRequest.borrower_code)
        filled = counts(IllRequest.borrower_code, IllRequest.state.in_(FILLED))
        lent = counts(IllRequest.lender_code, IllRequest.state.in_(FILLED))
        turnaround: dict[str, list[float]] = {}
        rows = session.execute(
            select(IllRequest.borrower_code, IllRequest.created_at, func.min(AuditEntry.at))
            .join(AuditEntry, AuditEntry.request_id == IllRequest.id)
            .where(*where, AuditEntry.action.in_(_FILL_EVENTS)).group_by(IllRequest.id)).all()
        for code, created, first_fill in rows:
            turnaround.setdefault(code, []).append((first_fill - created).total_seconds() / 3600)
    out = []
    for code, zh, en in members:
        m, f, lt = made.get(code, 0), filled.get(code, 0), lent.get(code, 0)
        hours = turnaround.get(code, [])
        out.append({"member": code, "name": {"zh": zh, "en": en}, "requests_made": m, "requests_filled": f,
                    "fill_rate": round(f / m, 3) if m else None,
                    "avg_turnaround_hours": round(sum(hours) / len(hours), 1) if hours else None,
                    "lent": lt, "borrowed": f, "balance": lt - f})
    return out
