"""Members' lending policies (rows seeded from defaults and ``Member.config["ill"]``) and their load."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ill.calendar import parse_holidays
from ill.models import IllPolicy, IllRequest
from ill.routing import LenderPolicy, Load
from ill.states import OPEN_LENDING
from store.models import Member

#: States in which a request counts as filled (for ratios, fill rates and turnaround).
FILLED = frozenset({"shipped", "copy_delivered", "received", "overdue", "recalled", "renew_requested",
                    "returned", "completed"})
EDITABLE = ("lending_enabled", "lends_formats", "services", "max_open_lending", "response_days", "holidays",
            "pickup_locations", "fees", "loan_days", "email", "iso18626_url", "iso18626_token")


def get_policy(session: Session, member_code: str) -> IllPolicy:
    """The member's policy row, created from defaults (and the members file's ``ill`` table) on first use."""
    policy = session.get(IllPolicy, member_code)
    if policy is not None:
        return policy
    member = session.get(Member, member_code)
    if member is None:
        from ill.errors import NotFound

        raise NotFound(f"unknown member {member_code}")
    policy = IllPolicy(member_code=member_code, lending_enabled=True, lends_formats=[], services=["loan", "copy"],
                       max_open_lending=50, response_days=1, holidays=[], fees={}, loan_days=28,
                       pickup_locations=[member.name_zh or member.code])
    for key, value in (member.config or {}).get("ill", {}).items():
        if key in EDITABLE:
            setattr(policy, key, value)
    session.add(policy)
    session.flush()
    return policy


def update_policy(session: Session, member_code: str, changes: dict[str, Any]) -> IllPolicy:
    policy = get_policy(session, member_code)
    for key, value in changes.items():
        if key not in EDITABLE:
            raise ValueError(f"unknown policy field {key}")
        setattr(policy, key, value)
    return policy


def lender_policy(policy: IllPolicy) -> LenderPolicy:
    return LenderPolicy(
        member=policy.member_code,
        lending_enabled=policy.lending_enabled,
        lends_formats=frozenset(policy.lends_formats or ()),
        services=frozenset(policy.services or ("loan", "copy")),
        max_open_lending=policy.max_open_lending,
        holidays=parse_holidays(policy.holidays or ()),
    )


def loads(session: Session, members: Iterable[str], now: datetime, days: int = 365) -> dict[str, Load]:
    """Lent and borrowed (filled, last ``days``) and open lending queue length per member."""
    codes = list(set(members))
    if not codes:
        return {}
    since = now - timedelta(days=days)
    filled = IllRequest.state.in_(FILLED)
    lent = dict(session.execute(
        select(IllRequest.lender_code, func.count()).where(
            IllRequest.lender_code.in_(codes), filled, IllRequest.created_at >= since
        ).group_by(IllRequest.lender_code)).tuples().all())
    borrowed = dict(session.execute(
        select(IllRequest.borrower_code, func.count()).where(
            IllRequest.borrower_code.in_(codes), filled, IllRequest.created_at >= since
        ).group_by(IllRequest.borrower_code)).tuples().all())
    open_q = dict(session.execute(
        select(IllRequest.lender_code, func.sum(case((IllRequest.state.in_(OPEN_LENDING), 1), else_=0)))
        .where(IllRequest.lender_code.in_(codes)).group_by(IllRequest.lender_code)).tuples().all())
    return {c: Load(lent=int(lent.get(c, 0)), borrowed=int(borrowed.get(c, 0)), open_lending=int(open_q.get(c) or 0))
            for c in codes}
