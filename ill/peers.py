"""ISO 18626 peers: members (or other networks) that run their own ILL system.

A member is a peer when its policy has ``iso18626_url``. Transitions that concern a peer queue a
:class:`PeerMessage` in their own transaction; the worker posts it (:func:`send_pending`). Inbound
messages (:func:`handle`) are validated, authenticated by the peer's bearer token, and applied through
the same transitions as the pages and the API use.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, time

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.context import Services
from ill import iso18626 as iso
from ill.access import Actor
from ill.errors import IllError
from ill.fees import parse_amount, schedule
from ill.models import AuditEntry, IllPolicy, IllRequest, PeerMessage, RotaEntry
from ill.states import BY_ISO_ACTION, BY_ISO_STATUS, FORWARD, Transition
from store.db import transaction
from store.models import MAX_STORED_INT


def _peer(session: Session, code: str | None) -> IllPolicy | None:
    policy = session.get(IllPolicy, code) if code else None
    return policy if policy is not None and policy.iso18626_url else None


def _our_id(req: IllRequest) -> str:
    return req.peer_request_id if req.origin == "iso18626" and req.peer_request_id else str(req.id)


def queue_outbound(session: Session, req: IllRequest, t: Transition, before: str, lender_before: str | None,
                   details: object, now: datetime) -> None:
    """Queue what the peers involved must be told about this transition."""
    if req.origin == "iso18626" and t.side == "requester":
        return  # the peer borrower told us; nothing to echo
    if t.side in ("requester", "system") and lender_before and _peer(session, lender_before) and (
            t.name != "route") and (t.moves.get(before) == FORWARD or t.side == "requester"):
        action = "Cancel" if t.name in ("timeout", "reject_condition") else (t.iso or "Notification")
        _queue(session, req, lender_before, "requestingAgencyMessage", iso.build_requesting(
            requester=req.borrower_code, supplier=lender_before, request_id=_our_id(req),
            supplier_request_id=None, action=action, note=getattr(details, "message", None)))
    if req.state == "sent" and req.lender_code and req.lender_code != lender_before and _peer(session, req.lender_code):
        _queue(session, req, req.lender_code, "request", iso.build_request(
            requester=req.borrower_code, supplier=req.lender_code, request_id=_our_id(req), record_id=req.union_id,
            title=req.title, author=req.author, service=req.service, pages=req.pages,
            need_before=datetime.combine(req.needed_by, time(12), UTC) if req.needed_by else None,
            max_cost_cents=req.max_cost_cents, note=req.citation))
    if t.side == "supplier" and req.origin == "iso18626" and _peer(session, req.borrower_code) and lender_before:
        renew = t.name in ("renew_granted", "renew_denied")
        _queue(session, req, req.borrower_code, "supplyingAgencyMessage", iso.build_supplying(
            requester=req.borrower_code, supplier=lender_before, request_id=_our_id(req),
            supplier_request_id=str(req.id), status=t.iso or "RequestReceived",
            reason="RenewResponse" if renew else "StatusChange",
            answer=("Y" if t.name == "renew_granted" else "N") if renew else None,
            note=getattr(details, "message", None), reason_unfilled=getattr(details, "reason", None),
            due=datetime.combine(req.due_date, time(12), UTC) if req.due_date else None,
            offered_cost_cents=req.offered_cost_cents if t.name == "conditional" else None))


def _queue(session: Session, req: IllRequest, peer: str, kind: str, xml: bytes) -> None:
    session.add(PeerMessage(request_id=req.id, peer_code=peer, kind=kind, xml=xml.decode()))


def send_pending(services: Services, limit: int = 50) -> int:
    """Post queued messages; a message counts as sent when the peer confirms with messageStatus OK."""
    sent = 0
    with transaction(services.db) as session, httpx.Client(timeout=10) as client:
        msgs = session.scalars(select(PeerMessage).where(PeerMessage.sent_at.is_(None), PeerMessage.attempts < 10)
                               .order_by(PeerMessage.id).limit(limit)).all()
        for msg in msgs:
            peer = _peer(session, msg.peer_code)
            msg.attempts += 1
            if peer is None:
                msg.error = "peer has no ISO 18626 address"
                continue
            try:
                resp = client.post(peer.iso18626_url or "", content=msg.xml.encode(), headers={
                    "Content-Type": "application/xml", "Authorization": f"Bearer {peer.iso18626_token or ''}"})
                answer = iso.read(resp.content)
                status = answer.get("confirmationHeader/messageStatus")
                if status == "OK":
                    msg.sent_at, msg.error, sent = datetime.now(UTC), None, sent + 1
                else:
                    msg.error = answer.get("errorData/errorValue") or "peer answered ERROR"
            except (httpx.HTTPError, iso.IsoError) as exc:
                msg.error = str(exc)[:500]
    return sent


def authenticate(services: Services, agency: str | None, token: str | None) -> str:
    """The peer member code whose configured token matches, else IsoError."""
    with services.db() as session:
        peer = _peer(session, agency)
        if peer is None or not peer.iso18626_token or not token or not hmac.compare_digest(
                peer.iso18626_token, token):
            raise iso.IsoError("UnrecognisedDataValue", f"agency {agency!r} is not an authenticated peer")
        return peer.member_code


def handle(services: Services, data: bytes, token: str | None) -> bytes:
    """Answer one inbound message with its confirmation (never raises for the peer's mistakes)."""
    received = datetime.now(UTC)
    kind = iso.kind_of(data) or "request"
    kind = kind.removesuffix("Confirmation")
    try:
        msg = iso.read(data)
        if msg.kind.endswith("Confirmation"):
            raise iso.IsoError("UnsupportedReasonForMessageType", "confirmations are answers, not requests")
        sender_path = "header/requestingAgencyId/agencyIdValue" if kind in ("request", "requestingAgencyMessage") \
            else "header/supplyingAgencyId/agencyIdValue"
        peer = authenticate(services, msg.get(sender_path), token)
        extra = {"request": _on_request, "supplyingAgencyMessage": _on_supplying,
                 "requestingAgencyMessage": _on_requesting}[kind](services, msg, peer)
        return iso.build_confirmation(kind, supplier=msg.get("header/supplyingAgencyId/agencyIdValue"),
                                      requester=msg.get("header/requestingAgencyId/agencyIdValue"),
                                      request_id=msg.get("header/requestingAgencyRequestId"), received=received,
                                      **extra)
    except (iso.IsoError, IllError) as exc:
        error_type = exc.error_type if isinstance(exc, iso.IsoError) else "UnrecognisedDataValue"
        return iso.build_confirmation(kind, received=received, ok=False, error_type=error_type, error_value=str(exc))


def _on_request(services: Services, msg: iso.Message, peer: str) -> dict[str, str]:
    supplier = msg.get("header/supplyingAgencyId/agencyIdValue")
    their_id = msg.get("header/requestingAgencyRequestId") or ""
    with transaction(services.db) as session:
        if supplier is None or session.get(IllPolicy, supplier) is None:
            raise iso.IsoError("UnrecognisedDataValue", f"unknown supplying agency {supplier!r}")
        dup = session.scalar(select(IllRequest.id).where(IllRequest.borrower_code == peer,
                                                         IllRequest.peer_request_id == their_id))
        if dup is not None:
            raise iso.IsoError("UnrecognisedDataValue", f"request {their_id} already received")
        service = "copy" if msg.get("serviceInfo/serviceType") == "Copy" else "loan"
        now = datetime.now(UTC)
        req = IllRequest(borrower_code=peer, lender_code=supplier, union_id=msg.get(
            "bibliographicInfo/supplierUniqueRecordId") or "", title=msg.get("bibliographicInfo/title") or "",
            author=msg.get("bibliographicInfo/author"), record_format="book", service=service,
            pages=msg.get("bibliographicInfo/pagesRequested"), citation=msg.get("serviceInfo/note"),
            state="sent", supplier_status="RequestReceived", rota_position=0, origin="iso18626",
            peer_request_id=their_id, created_at=now, updated_at=now)
        req.rota = [RotaEntry(position=0, member_code=supplier, availability="maybe", reason="named by the peer",
                              outcome="sent", sent_at=now)]
        session.add(req)
        session.flush()
        session.add(AuditEntry(request=req, at=now, actor=f"peer:{peer}", action="submit", iso_code="Request",
                               from_state=None, to_state="sent", lender_code=supplier,
                               message=f"ISO 18626 request {their_id}; currency {schedule(None)['currency']}"))
    return {}


def _on_supplying(services: Services, msg: iso.Message, peer: str) -> dict[str, str]:
    from ill.service import Details, transition

    status = msg.get("statusInfo/status") or ""
    reason = msg.get("messageInfo/reasonForMessage") or "StatusChange"
    ours = msg.get("header/requestingAgencyRequestId") or ""
    if not (len(ours) <= 10 and ours.isascii() and ours.isdigit() and 0 < int(ours) <= MAX_STORED_INT):
        raise iso.IsoError("UnrecognisedDataValue", f"unknown request {ours}")
    if status in ("RequestReceived", "Cancelled"):
        return {"reason": reason}  # acknowledgements: nothing to change
    action = BY_ISO_STATUS.get(status)
    if reason == "RenewResponse":
        action = "renew_granted" if msg.get("messageInfo/answerYesNo") == "Y" else "renew_denied"
    if action is None:
        raise iso.IsoError("UnrecognisedDataValue", f"status {status} not supported")
    cost = msg.get("retryInfo/offeredCosts/monetaryValue")
    try:
        cost_cents = parse_amount(cost)
    except ValueError as exc:
        raise iso.IsoError("UnrecognisedDataValue", f"offered cost {cost} is not an amount we accept") from exc
    details = Details(message=msg.get("messageInfo/note"), reason=msg.get("messageInfo/reasonUnfilled"),
                      cost_cents=cost_cents)
    transition(services, int(ours), action, Actor(kind="peer", name=peer, member_code=peer), details=details)
    return {"reason": reason}


def _on_requesting(services: Services, msg: iso.Message, peer: str) -> dict[str, str]:
    from ill.service import Details, transition

    action_code = msg.get("action") or ""
    if action_code == "StatusRequest":
        return {"action": action_code}
    action = BY_ISO_ACTION.get(action_code)
    if action is None:
        raise iso.IsoError("UnsupportedActionType", f"action {action_code} not supported")
    with services.db() as session:
        req_id = session.scalar(select(IllRequest.id).where(
            IllRequest.borrower_code == peer,
            IllRequest.peer_request_id == msg.get("header/requestingAgencyRequestId")))
    if req_id is None:
        raise iso.IsoError("UnrecognisedDataValue", "unknown request")
    transition(services, req_id, action, Actor(kind="peer", name=peer, member_code=peer),
               details=Details(message=msg.get("note")))
    return {"action": action_code}
