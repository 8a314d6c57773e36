"""One function per transition: one transaction, an optimistic version check, one audit row each.

Every change of a request goes through :func:`transition` (pages, API, ISO 18626 peers and the worker
alike), so the audit trail, notifications and peer messages can never be skipped. Two desks acting on
one request at once: both read version *n*, the first ``UPDATE ... WHERE version = n`` wins, the other
matches no row and gets :class:`~ill.errors.Conflict` — nothing is lost silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from catalog.context import Services
from ill import notify
from ill.access import Actor, may_take, require_view
from ill.calendar import add_working_days, parse_holidays
from ill.errors import Conflict, Invalid, InvalidTransition, NotFound
from ill.iso18626 import Money
from ill.models import AuditEntry, IllRequest, RotaEntry
from ill.policies import get_policy
from ill.states import FORWARD, TERMINAL, TRANSITIONS, Transition
from store.db import transaction

#: What a forwarded lender's rota entry is marked with, per transition.
_OUTCOME = {"unfilled": "unfilled", "timeout": "timeout", "reject_condition": "declined"}


@dataclass(frozen=True)
class Details:
    """What an actor may add to a transition."""

    message: str | None = None
    reason: str | None = None  # ISO 18626 reasonUnfilled
    cost_cents: int | None = None  # conditional: the lender's offered cost
    due_date: date | None = None  # loaned / renew_granted
    offered: Money | None = None  # conditional from a peer: its offeredCosts, in its own currency
    url: str | None = None  # copy_completed by link: told to a peer borrower (ISO 18626 deliveryInfo URL)


def now_utc() -> datetime:
    return datetime.now(UTC)


def load_request(session: Session, request_id: int) -> IllRequest | None:
    return session.get(IllRequest, request_id, options=[selectinload(IllRequest.rota)])


def transition(services: Services, request_id: int, action: str, actor: Actor, *,
               expected_version: int | None = None, details: Details | None = None,
               now: datetime | None = None, also: Callable[[Session, IllRequest], None] | None = None) -> IllRequest:
    """Take ``action`` on a request as ``actor``; raises NotFound / Forbidden-as-InvalidTransition /
    Conflict / Invalid, with nothing written. ``also`` writes more in the same transaction (an inbound
    ISO 18626 message is remembered with its effect, so that a resend can never apply it twice)."""
    details = details or Details()
    now = now or now_utc()
    try:
        with transaction(services.db) as session:
            req = require_view(actor, load_request(session, request_id))
            apply(session, req, action, actor, details=details, now=now, expected_version=expected_version)
            if also is not None:
                also(session, req)
            session.flush()
        return req
    except StaleDataError as exc:
        raise Conflict("the request was changed by someone else; reload and try again") from exc
    except OperationalError as exc:
        if "locked" in str(exc):
            raise Conflict("the request is being changed by someone else; try again") from exc
        raise


def apply(session: Session, req: IllRequest, action: str, actor: Actor, *, details: Details,
          now: datetime, expected_version: int | None = None) -> None:
    """The transition itself, inside the caller's transaction (also used by request intake)."""
    t = TRANSITIONS.get(action)
    if t is None:
        raise InvalidTransition(f"unknown action {action}")
    if expected_version is not None and expected_version != req.version:
        raise Conflict("the request was changed by someone else; reload and try again")
    if not may_take(actor, req, t):
        raise InvalidTransition(f"{actor.kind} may not {action} this request")
    target = t.target(req.state)
    if target is None or req.service not in t.services:
        raise InvalidTransition(f"cannot {action} a {req.service} request in state {req.state}")
    _check_details(t, req, details, actor)
    before, lender = req.state, req.lender_code
    target = _peer_target(session, req, t, target)
    _side_effects(session, req, t, details, now)
    if target == FORWARD:
        _mark_current(req, _OUTCOME.get(action, "unfilled"), details.reason, now)
        target = _forward(session, req, now)
    elif t.side == "supplier" and t.iso:
        req.supplier_status = t.iso
    req.state = target
    if action in ("cancel", "cancel_accepted") and target == "cancelled":
        req.supplier_status = "Cancelled"
        _mark_current(req, "cancelled", None, now)
    req.updated_at = now
    if target in TERMINAL:
        req.closed_at = now
        req.response_due = None
    message = details.message or (f"reason: {details.reason}" if details.reason else None)
    session.add(AuditEntry(request=req, at=now, actor=actor.label, action=action, iso_code=t.iso,
                           from_state=before, to_state=target, lender_code=lender, message=message))
    notify.on_transition(session, req, action, before, lender)
    from ill.peers import queue_outbound

    queue_outbound(session, req, t, before, lender, details, now)


def _peer_target(session: Session, req: IllRequest, t: Transition, target: str) -> str:
    """Where a borrowing request goes when its lender is an ISO 18626 peer that must answer first.

    A Cancel waits for the lender's CancelResponse (``cancel_requested``); accepting a lender's
    RetryPossible condition sends it a Retry request and waits for its answer again (``sent``).
    """
    from ill.peerconf import get_peer

    if req.origin == "iso18626" or t.name not in ("cancel", "accept_condition") or req.state == "submitted":
        return target
    if get_peer(session, req.lender_code) is None:
        return target
    if t.name == "cancel":
        return "cancel_requested"
    req.retry_count = (req.retry_count or 0) + 1
    policy = get_policy(session, req.lender_code or "")
    req.response_due = add_working_days(now_utc(), policy.response_days, parse_holidays(policy.holidays or ()))
    req.supplier_status = "RequestReceived"
    return "sent"


def _check_details(t: Transition, req: IllRequest, d: Details, actor: Actor) -> None:
    if t.needs_reason and not d.reason and actor.kind != "peer":  # ISO 18626 makes reasonUnfilled optional
        raise Invalid("a reason is required", field="reason")
    if t.name == "conditional" and (d.cost_cents is None or d.cost_cents < 0) and not d.message and (
            d.offered is None):
        raise Invalid("say what the condition is: an offered cost or a note", field="cost")
    if d.message and len(d.message) > 2000:
        raise Invalid("message too long (2000 characters at most)", field="message")


def _side_effects(session: Session, req: IllRequest, t: Transition, d: Details, now: datetime) -> None:
    if t.name in ("expect_to_supply", "will_supply", "conditional", "loaned", "copy_completed"):
        req.response_due = None
        _entry(req).answered_at = _entry(req).answered_at or now
        _entry(req).outcome = "supplying"
    if t.name == "conditional":
        req.offered_cost_cents = d.cost_cents
        req.offered_cost_amount = d.offered.amount if d.offered else None
        req.offered_cost_currency = d.offered.currency if d.offered else None
        if d.offered is not None and d.cost_cents is None:
            req.offered_cost_cents = int(d.offered.amount * 100)
    if t.name in ("loaned", "renew_granted"):
        days = get_policy(session, req.lender_code).loan_days if req.lender_code else 28
        req.due_date = d.due_date or (now + timedelta(days=days)).date()


def _entry(req: IllRequest) -> RotaEntry:
    for e in req.rota:
        if e.position == req.rota_position:
            return e
    return RotaEntry(position=-1, member_code=req.lender_code or "", availability="", reason="peer")


def _mark_current(req: IllRequest, outcome: str, reason: str | None, now: datetime) -> None:
    if req.rota_position < 0:
        return
    e = _entry(req)
    e.outcome, e.reason_code, e.answered_at = outcome, reason, now


def _forward(session: Session, req: IllRequest, now: datetime) -> str:
    """Send to the next lender of the rota; ``unfilled`` when the rota is exhausted."""
    for e in req.rota:
        if e.position > req.rota_position and e.outcome == "pending":
            policy = get_policy(session, e.member_code)
            req.rota_position, req.lender_code = e.position, e.member_code
            req.supplier_status = "RequestReceived"
            req.response_due = add_working_days(now, policy.response_days, parse_holidays(policy.holidays or ()))
            e.outcome, e.sent_at = "sent", now
            return "sent"
    req.lender_code = None
    req.supplier_status = None
    return "unfilled"


def due_for_timeout(services: Services, now: datetime, limit: int = 500) -> list[tuple[int, int]]:
    """(id, version) of requests whose lender let the response window pass."""
    from sqlalchemy import select

    with services.db() as session:
        rows = session.execute(
            select(IllRequest.id, IllRequest.version)
            .where(IllRequest.state == "sent", IllRequest.response_due <= now)
            .order_by(IllRequest.response_due).limit(limit)).tuples().all()
    return list(rows)


def get_visible(services: Services, request_id: int, actor: Actor) -> IllRequest:
    with services.db() as session:
        req = session.get(IllRequest, request_id, options=[selectinload(IllRequest.rota),
                                                            selectinload(IllRequest.audit)])
        if req is None:
            raise NotFound("no such request")
        return require_view(actor, req)
