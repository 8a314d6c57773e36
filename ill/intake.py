"""A patron's request: validate, look the record up, check the home library, build the rota, save, send.

:func:`plan` does everything but writing (the form's fee preview uses it); :func:`create` writes the
request, its rota, the audit entry and the first send in one transaction. Both are coroutines for the
web and API routes: every database step runs in a worker thread (``asyncio.to_thread``), only the
live-availability fan-out runs on the event loop, so a slow database never stalls other requests.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from catalog.context import Services
from ill import sources
from ill.access import SYSTEM, Actor
from ill.errors import Forbidden, IllError, Invalid, NotFound
from ill.fees import fee_cents, schedule
from ill.models import AuditEntry, IllRequest, RotaEntry
from ill.policies import get_policy, lender_policy, loads
from ill.routing import Rota, availability_of, build_rota
from ill.service import Details, apply, now_utc
from store.db import transaction
from store.models import Member

MAX_PAGES = 500
_RANGE = re.compile(r"^\s*(\d{1,6})\s*(?:[-–]\s*(\d{1,6}))?\s*$")


class AvailableLocally(IllError):
    """The patron's own library has an available copy: they are told so instead of starting an ILL."""

    status, code = 409, "available_locally"


@dataclass(frozen=True)
class RequestForm:
    union_id: str
    service: str = "loan"  # loan | copy
    pages: str | None = None
    citation: str | None = None
    pickup_location: str | None = None
    needed_by: date | None = None
    max_cost_cents: int | None = None
    note: str | None = None


@dataclass
class Plan:
    record: dict[str, Any]
    rota: Rota
    fee_cents: int | None
    currency: str
    page_count: int
    pickup_locations: list[str] = field(default_factory=list)


def page_count(pages: str | None) -> int:
    """``"12-30, 45"`` -> 20; refuses empty, reversed, zero and absurd ranges."""
    if not pages or not pages.strip():
        raise Invalid("give the pages you need, e.g. 12-30", field="pages")
    total = 0
    for part in pages.split(","):
        m = _RANGE.match(part)
        if not m:
            raise Invalid(f"not a page range: {part.strip() or pages}", field="pages")
        first, last = int(m.group(1)), int(m.group(2) or m.group(1))
        if first < 1 or last < first:
            raise Invalid(f"page range {part.strip()} runs backwards or starts at 0", field="pages")
        total += last - first + 1
    if total > MAX_PAGES:
        raise Invalid(f"at most {MAX_PAGES} pages per copy request", field="pages")
    return total


def _validate(form: RequestForm, today: date) -> int:
    if form.service not in ("loan", "copy"):
        raise Invalid("service must be loan or copy", field="service")
    if form.needed_by is not None and form.needed_by < today:
        raise Invalid("the needed-by date is in the past", field="needed_by")
    if form.needed_by is not None and form.needed_by > today + timedelta(days=366):
        raise Invalid("the needed-by date is more than a year away", field="needed_by")
    if form.max_cost_cents is not None and not 0 <= form.max_cost_cents <= 10_000_000:
        raise Invalid("the most you will pay must be between 0 and 100000", field="max_cost")
    for name in ("citation", "note"):
        if len(getattr(form, name) or "") > 2000:
            raise Invalid(f"{name} too long (2000 characters at most)", field=name)
    return page_count(form.pages) if form.service == "copy" else 0


async def plan(services: Services, patron: Actor, form: RequestForm, now: datetime | None = None) -> Plan:
    now = now or now_utc()
    if patron.kind not in ("patron", "staff") or not patron.member_code:
        raise Forbidden("only patrons and borrowing desks place requests")
    if patron.blocked_reason:
        raise Forbidden(f"{patron.blocked_reason.rstrip('.')}. New requests are refused until your home "
                        "library lifts the block.")
    pages = _validate(form, now.date())
    record = await asyncio.to_thread(sources.get_record, services, form.union_id) if form.union_id else None
    if record is None:
        raise NotFound(f"no union record {form.union_id!r}", field="union_id")
    live = await sources.availability(services, record)
    return await asyncio.to_thread(_route, services, patron, form, record, live, pages, now)


def _route(services: Services, patron: Actor, form: RequestForm, record: dict[str, Any],
           live: list[dict[str, Any]], pages: int, now: datetime) -> Plan:
    """The blocking half of :func:`plan`: policies, loads and the rota, read from the database."""
    home = patron.member_code or ""
    mine = [h for h in record.get("holdings", []) if h["member"] == home]
    if mine and any(availability_of(a) == "available" for a in live if a.get("member") == home):
        where = mine[0].get("call_number") or ""
        raise AvailableLocally(f"your own library has an available copy {where}".strip())
    with services.db() as session:
        members = {h["member"] for h in record.get("holdings", [])}
        try:
            policies = {c: get_policy(session, c) for c in members | {home}}
            session.commit()
        except IntegrityError:  # another request seeded the same default policy first
            session.rollback()
            policies = {c: get_policy(session, c) for c in members | {home}}
            session.commit()
        home_member = session.get(Member, home)
        rota = build_rota(
            borrower=home, borrower_region=home_member.region if home_member else "",
            record_format=record.get("format") or "book", service=form.service,
            holdings=record.get("holdings", []), availability=live,
            policies={c: lender_policy(p) for c, p in policies.items()},
            loads=loads(session, members, now), today=now.date(),
            fees={c: fee_cents(p.fees, form.service, pages) for c, p in policies.items()},
            max_cost_cents=form.max_cost_cents,
            currencies={c: schedule(p.fees)["currency"] for c, p in policies.items()})
        first = policies[rota.picks[0].member] if rota.picks else None
        pickups = list(policies[home].pickup_locations or []) if home in policies else []
    if form.pickup_location and pickups and form.pickup_location not in pickups:
        raise Invalid("choose a pickup location of your library", field="pickup_location")
    fee = fee_cents(first.fees, form.service, pages) if first else None
    return Plan(record, rota, fee, schedule(first.fees if first else None)["currency"], pages, pickups)


async def create(services: Services, patron: Actor, form: RequestForm, origin: str = "web",
                 now: datetime | None = None) -> IllRequest:
    """Plan, then write request + rota + audit and send to the first lender, in one transaction."""
    now = now or now_utc()
    p = await plan(services, patron, form, now)
    return await asyncio.to_thread(_write, services, patron, form, p, origin, now)


def _write(services: Services, patron: Actor, form: RequestForm, p: Plan, origin: str, now: datetime) -> IllRequest:
    rec = p.record
    with transaction(services.db) as session:
        req = IllRequest(
            patron_id=patron.account_id, borrower_code=patron.member_code, union_id=rec["id"],
            title=str(rec.get("title") or "")[:2000], author="; ".join(rec.get("authors") or [])[:2000] or None,
            record_format=rec.get("format") or "book", service=form.service, pages=form.pages if p.page_count else None,
            page_count=p.page_count, citation=form.citation, pickup_location=form.pickup_location or
            (p.pickup_locations[0] if p.pickup_locations else None), needed_by=form.needed_by,
            max_cost_cents=form.max_cost_cents, estimated_fee_cents=p.fee_cents, state="submitted",
            origin=origin, created_at=now, updated_at=now)
        req.rota = [RotaEntry(position=i, member_code=pick.member, availability=pick.availability,
                              reason=pick.reason) for i, pick in enumerate(p.rota.picks)]
        skipped = "; ".join(f"{s.member}: {s.reason}" for s in p.rota.skipped)
        session.add(req)
        session.flush()
        session.add(AuditEntry(request=req, at=now, actor=patron.label, action="submit", from_state=None,
                               to_state="submitted", message=(form.note or "") + (
                                   f" [skipped {skipped}]" if skipped else "")))
        apply(session, req, "route", SYSTEM, details=Details(), now=now)
        session.flush()
    return req
