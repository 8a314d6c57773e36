"""Delivering queued ISO 18626 messages to peers, reliably and in order, and showing how it goes.

* Per request, messages leave strictly in the order they were queued: a message waits while an
  earlier one of the same request is not confirmed (a Cancel never overtakes its Request).
* An HTTP error status, a transport failure or an answer that is not a valid confirmation is retried
  with capped exponential backoff (``ill_peer_backoff_base`` doubling up to ``ill_peer_backoff_cap``
  seconds), at most ``ill_peer_max_attempts`` times; then the message is ``failed``.
* A confirmation with ``messageStatus`` ERROR is not retried: the message is ``rejected`` with the
  peer's errorType/errorValue, the request is flagged (``peer_error``) and a person decides (retry
  after fixing the cause, or discard).
* No database transaction is open while a peer is being called.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from catalog.context import Services
from ill import iso18626 as iso
from ill.errors import InvalidTransition, NotFound
from ill.models import AuditEntry, IllRequest, InboundMessage, PeerMessage
from ill.peerconf import Peer, get_peer
from store.db import transaction

STATUSES = ("pending", "sent", "rejected", "failed", "discarded")


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | rejected | retry
    http_status: int | None = None
    error_type: str | None = None
    error_value: str | None = None


def backoff(attempts: int, base: float, cap: float) -> timedelta:
    """Wait before the next attempt after ``attempts`` failed ones: base, 2·base, 4·base, … ≤ cap."""
    return timedelta(seconds=min(cap, base * (2 ** max(attempts - 1, 0))))


def due_messages(session: Session, now: datetime, limit: int) -> list[PeerMessage]:
    """The first unconfirmed message of each request, when it is pending and due."""
    heads = (select(func.min(PeerMessage.id)).where(PeerMessage.status.in_(("pending", "rejected", "failed")))
             .group_by(PeerMessage.request_id))
    return list(session.scalars(select(PeerMessage).where(
        PeerMessage.id.in_(heads), PeerMessage.status == "pending",
        (PeerMessage.next_attempt_at.is_(None)) | (PeerMessage.next_attempt_at <= now))
        .order_by(PeerMessage.id).limit(limit)))


def post(client: httpx.Client, peer: Peer, kind: str, xml: bytes) -> Outcome:
    """Send one message and judge the answer."""
    try:
        resp = client.post(peer.url or "", content=xml, timeout=peer.timeout, **peer.outbound())
    except httpx.HTTPError as exc:
        return Outcome("retry", error_type="transport", error_value=f"{type(exc).__name__}: {exc}"[:500])
    if not 200 <= resp.status_code < 300:
        return Outcome("retry", resp.status_code, "http", f"HTTP {resp.status_code}: {resp.text[:200]}")
    try:
        answer = iso.read(resp.content)
    except iso.IsoError as exc:
        return Outcome("retry", resp.status_code, "answer", f"the answer is no valid confirmation: {exc.value}"[:500])
    if answer.kind != f"{kind}Confirmation":
        return Outcome("retry", resp.status_code, "answer", f"answered {answer.kind} to a {kind}")
    if answer.get("confirmationHeader/messageStatus") == "OK":
        return Outcome("sent", resp.status_code)
    return Outcome("rejected", resp.status_code, answer.get("errorData/errorType") or "ERROR",
                   answer.get("errorData/errorValue") or "")


def send_pending(services: Services, limit: int = 200, now: datetime | None = None) -> int:
    """Deliver what is due (a request's next message follows as soon as the one before is confirmed);
    returns how many messages the peers confirmed OK."""
    sent = tried = 0
    with httpx.Client() as plain:
        while tried < limit:
            with services.db() as session:
                batch = [(m.id, m.peer_code, m.kind, m.xml)
                         for m in due_messages(session, now or datetime.now(UTC), limit - tried)]
            if not batch:
                break
            for msg_id, peer_code, kind, xml in batch:
                if not claim(services, msg_id, now or datetime.now(UTC)):
                    continue  # another worker run took it
                outcome = _deliver(services, plain, peer_code, kind, xml)
                _record(services, msg_id, outcome)
                sent, tried = sent + (outcome.status == "sent"), tried + 1
    return sent


def claim(services: Services, msg_id: int, now: datetime) -> bool:
    """Lease a due message for one sender (compare-and-set on ``next_attempt_at``): two worker runs
    never post the same message at once; a sender that dies leaves it due again when the lease ends."""
    lease = datetime.now(UTC) + timedelta(seconds=services.settings.ill_peer_lease_seconds)
    with transaction(services.db) as session:
        result = session.execute(update(PeerMessage).where(
            PeerMessage.id == msg_id, PeerMessage.status == "pending",
            (PeerMessage.next_attempt_at.is_(None)) | (PeerMessage.next_attempt_at <= now))
            .values(next_attempt_at=lease).execution_options(synchronize_session=False))
        return bool(getattr(result, "rowcount", 0))


def _deliver(services: Services, plain: httpx.Client, peer_code: str, kind: str, xml: str) -> Outcome:
    with services.db() as session:
        peer = get_peer(session, peer_code, services.settings.ill_iso18626_default_version)
    if peer is None or not peer.url:
        return Outcome("retry", error_type="config", error_value="peer has no ISO 18626 address")
    if peer.client_options():
        with httpx.Client(**peer.client_options()) as tls:
            return post(tls, peer, kind, xml.encode())
    return post(plain, peer, kind, xml.encode())


def _record(services: Services, msg_id: int, outcome: Outcome) -> None:
    s = services.settings
    now = datetime.now(UTC)
    with transaction(services.db) as session:
        msg = session.get(PeerMessage, msg_id)
        if msg is None:
            return
        msg.attempts += 1
        msg.http_status = outcome.http_status
        msg.error_type, msg.error_value = outcome.error_type, outcome.error_value
        msg.error = f"{outcome.error_type}: {outcome.error_value}" if outcome.error_type else None
        if outcome.status == "sent":
            msg.status, msg.sent_at, msg.next_attempt_at = "sent", now, None
            return
        if outcome.status == "rejected":
            msg.status = "rejected"
            _flag(session, msg, f"{outcome.error_type}: {outcome.error_value}", now)
            return
        if msg.attempts >= s.ill_peer_max_attempts:
            msg.status = "failed"
            _flag(session, msg, f"undeliverable after {msg.attempts} attempts: {msg.error}", now)
            return
        msg.next_attempt_at = now + backoff(msg.attempts, s.ill_peer_backoff_base, s.ill_peer_backoff_cap)


def _flag(session: Session, msg: PeerMessage, text: str, now: datetime) -> None:
    req = session.get(IllRequest, msg.request_id)
    if req is None:
        return
    req.peer_error = f"{msg.peer_code} {msg.kind}: {text}"[:2000]
    session.add(AuditEntry(request_id=req.id, at=now, actor="system:-:outbox", action="peer_error",
                           iso_code=msg.kind, from_state=req.state, to_state=req.state, lender_code=msg.peer_code,
                           message=req.peer_error))


def visible_messages(member: str | None) -> Select[tuple[PeerMessage]]:
    """Outbox rows a desk of ``member`` may see (None: all, for administrators)."""
    q = select(PeerMessage)
    if member is None:
        return q
    mine = select(IllRequest.id).where((IllRequest.borrower_code == member) | (IllRequest.lender_code == member))
    return q.where(PeerMessage.request_id.in_(mine))


def message_json(m: PeerMessage) -> dict[str, Any]:
    return {k: getattr(m, k) for k in ("id", "request_id", "peer_code", "kind", "version", "status", "attempts",
                                        "created_at", "sent_at", "next_attempt_at", "http_status", "error_type",
                                        "error_value")}


def act(services: Services, msg_id: int, action: str, member: str | None) -> PeerMessage:
    """``retry`` (send again now) or ``discard`` a rejected, failed or waiting message."""
    if action not in ("retry", "discard"):
        raise InvalidTransition(f"unknown outbox action {action}")
    with transaction(services.db) as session:
        msg = session.scalar(visible_messages(member).where(PeerMessage.id == msg_id))
        if msg is None:
            raise NotFound("no such outbox message")
        if msg.status == "sent":
            raise InvalidTransition("the peer already confirmed this message")
        msg.status = "pending" if action == "retry" else "discarded"
        msg.next_attempt_at = None
        if action == "retry":
            msg.attempts = 0
        req = session.get(IllRequest, msg.request_id)
        if req is not None and not session.scalar(select(func.count()).select_from(PeerMessage).where(
                PeerMessage.request_id == req.id, PeerMessage.status.in_(("rejected", "failed")),
                PeerMessage.id != msg.id)):
            req.peer_error = None
        session.flush()
        session.expunge(msg)
        return msg


def refused_inbound(member: str | None) -> Select[tuple[InboundMessage]]:
    """Inbound messages we answered with ERROR, newest first (a desk sees those of its peers' requests)."""
    q = select(InboundMessage).where(InboundMessage.ok.is_(False)).order_by(InboundMessage.id.desc())
    if member is None:
        return q
    return q.where(InboundMessage.peer_code.in_(
        select(IllRequest.borrower_code).where(IllRequest.lender_code == member).union(
            select(IllRequest.lender_code).where(IllRequest.borrower_code == member))))
