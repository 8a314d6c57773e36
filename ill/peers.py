"""ISO 18626 conversations with peers: what each transition tells them, and what their messages do.

Transitions that concern a peer queue a :class:`PeerMessage` in their own transaction, built for the
schema version that peer speaks; the worker delivers them (:mod:`ill.outbox`). Inbound messages
(:func:`handle`) are validated against the XSD of their own version, authenticated per peer
(:mod:`ill.peerconf`), applied through the same transitions as the pages and the API use, and
answered with a confirmation that echoes their header ids. A repeated message gets the confirmation
it got the first time and changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.context import Services
from ill import iso18626 as iso
from ill.access import Actor
from ill.errors import IllError
from ill.models import AuditEntry, IllRequest, InboundMessage, PeerMessage, PeerState, RotaEntry
from ill.money import from_minor
from ill.peerconf import Credentials, Peer, get_peer, peer_by_agency, verify
from ill.states import BY_ISO_ACTION, BY_ISO_STATUS, CANCELLABLE, Transition
from store.db import transaction
from store.models import MAX_STORED_INT, Member

log = logging.getLogger(__name__)
_RETRY_MARK = "-R"


def our_id(req: IllRequest) -> str:
    """Our request id as the lender knows it: the row id, with ``-R<n>`` after the n-th Retry."""
    return f"{req.id}{_RETRY_MARK}{req.retry_count}" if req.retry_count else str(req.id)


def _request_id_of(text: str | None) -> int | None:
    base = (text or "").split(_RETRY_MARK, 1)[0]
    if len(base) <= 10 and base.isascii() and base.isdigit() and 0 < int(base) <= MAX_STORED_INT:
        return int(base)
    return None


def _us(code: str, peer: Peer) -> iso.Agency:
    return iso.Agency(peer.agency.type, code)


def _queue(session: Session, req: IllRequest, peer: Peer, kind: str, xml: bytes) -> None:
    session.add(PeerMessage(request_id=req.id, peer_code=peer.code, kind=kind, xml=xml.decode(),
                            version=peer.version, status="pending"))


def queue_outbound(session: Session, req: IllRequest, t: Transition, before: str, lender_before: str | None,
                   details: object, now: datetime) -> None:
    """Queue what the peers involved must be told about this transition."""
    if req.origin == "iso18626":
        _tell_borrower(session, req, t, before, lender_before, details)
    else:
        _tell_lenders(session, req, t, before, lender_before, details)


def _tell_lenders(session: Session, req: IllRequest, t: Transition, before: str, lender_before: str | None,
                  details: object) -> None:
    """We borrow: requests to a (new) peer lender, and our actions to the current one."""
    old = get_peer(session, lender_before) if lender_before else None
    note = getattr(details, "message", None)
    if old is not None and t.name == "timeout":
        _requesting(session, req, old, "Cancel", "no answer within the response window")
    elif old is not None and t.side == "requester" and t.name != "reject_condition":
        if t.name == "accept_condition":
            _request(session, req, old, previous=f"{req.id}{_RETRY_MARK}{req.retry_count - 1}"
                     if req.retry_count > 1 else str(req.id))
            return
        _requesting(session, req, old, t.iso or "Notification", note)
    new = get_peer(session, req.lender_code) if req.state == "sent" and req.lender_code != lender_before else None
    if new is not None:
        _request(session, req, new)


def _request(session: Session, req: IllRequest, peer: Peer, previous: str | None = None) -> None:
    from ill.iso18626 import Header, Money, noon

    max_cost = None
    if previous and req.offered_cost_amount is not None:
        max_cost = Money(req.offered_cost_amount, req.offered_cost_currency or "CNY")  # the condition met
    elif req.max_cost_cents is not None:
        currency = _currency(session, req.borrower_code)
        max_cost = Money(from_minor(req.max_cost_cents, currency), currency)
    h = Header(supplier=peer.agency, requester=_us(req.borrower_code, peer), request_id=our_id(req))
    _queue(session, req, peer, "request", iso.build_request(
        h, version=peer.version, record_id=req.union_id, title=req.title, author=req.author, service=req.service,
        pages=req.pages, need_before=noon(req.needed_by), max_cost=max_cost, note=req.citation,
        previous_id=previous))


def _currency(session: Session, member: str) -> str:
    """The currency of a member's fee schedule (what our amounts are in)."""
    from ill.fees import schedule
    from ill.policies import get_policy

    return str(schedule(get_policy(session, member).fees)["currency"])


def _requesting(session: Session, req: IllRequest, peer: Peer, action: str, note: str | None) -> None:
    h = iso.Header(supplier=peer.agency, requester=_us(req.borrower_code, peer), request_id=our_id(req),
                   supplier_request_id=req.lender_request_id)
    _queue(session, req, peer, "requestingAgencyMessage",
           iso.build_requesting(h, version=peer.version, action=action, note=note))


def _tell_borrower(session: Session, req: IllRequest, t: Transition, before: str, lender_before: str | None,
                   details: object) -> None:
    """We lend to a peer borrower: our answers as supplyingAgencyMessages."""
    peer = get_peer(session, req.borrower_code)
    if peer is None or not lender_before or t.name == "retry_received":
        return
    if t.side == "requester" and t.name != "cancel":
        return  # the peer told us; nothing to echo
    renew = t.name in ("renew_granted", "renew_denied")
    if t.name == "cancel":
        content = iso.Supplying(status="Cancelled", reason="CancelResponse", answer="Y")
    else:
        reason = "RenewResponse" if renew else ("RequestResponse" if before == "sent" else "StatusChange")
        offered = None
        if t.name == "conditional" and req.offered_cost_cents is not None:
            currency = req.offered_cost_currency or _currency(session, lender_before)
            offered = iso.Money(from_minor(req.offered_cost_cents, currency), currency)
        content = iso.Supplying(
            status=t.iso or "RequestReceived", reason=reason,
            answer=("Y" if t.name == "renew_granted" else "N") if renew else None,
            note=getattr(details, "message", None), reason_unfilled=getattr(details, "reason", None),
            due=iso.noon(req.due_date) if t.name in ("loaned", "renew_granted") else None, offered=offered,
            url=getattr(details, "url", None))
    queue_supplying(session, req, peer, lender_before, content)


def queue_supplying(session: Session, req: IllRequest, peer: Peer, supplier: str, content: iso.Supplying) -> None:
    h = iso.Header(supplier=_us(supplier, peer), requester=peer.agency, request_id=req.peer_request_id,
                   supplier_request_id=str(req.id))
    _queue(session, req, peer, "supplyingAgencyMessage", iso.build_supplying(h, content, version=peer.version))


# ---------------------------------------------------------------- inbound
def _digest(peer: str | None, data: bytes) -> str:
    """The message without its header timestamp: a resent message has the same digest."""
    root = iso.parse(data)
    for node in root.iter(f"{{{iso.NS}}}timestamp"):
        node.text = ""
    canonical = etree.tostring(root, method="c14n")
    return hashlib.sha256((peer or "-").encode() + b"\0" + canonical).hexdigest()


def handle(services: Services, data: bytes, creds: Credentials) -> bytes:
    """Answer one inbound message with its confirmation (never raises for the peer's mistakes)."""
    received = datetime.now(UTC)
    seen = iso.loose(data)
    kind = (seen.kind if seen and seen.kind in iso.KINDS else "request").removesuffix("Confirmation")
    header = seen.header() if seen else iso.Header(None, None, None)
    version = seen.version if seen else iso.V2021
    peer_code: str | None = None
    try:
        msg = iso.read(data)
        if msg.kind.endswith("Confirmation"):
            raise iso.IsoError("UnsupportedReasonForMessageType", "confirmations are answers, not requests")
        peer = _authenticate(services, msg, kind, creds)
        peer_code = peer.code
        digest = _digest(peer.code, data)
        repeated = _repeat(services, peer.code, digest)
        if repeated is not None:
            return repeated
        _learn(services, peer, msg)
        handler = {"request": _on_request, "supplyingAgencyMessage": _on_supplying,
                   "requestingAgencyMessage": _on_requesting}[kind]
        answer = iso.build_confirmation(kind, header, version=version, received=received, **_echo(kind, msg))
        memo = _Memo(_row(peer.code, kind, header, digest, version, answer, creds, None))
        try:
            handler(services, msg, peer, memo)
        except IntegrityError:  # the same message, applied meanwhile by a concurrent delivery
            repeated = _repeat(services, peer.code, digest)
            if repeated is None:
                raise
            return repeated
        if not memo.done:  # a message that changed nothing: remembered on its own
            _remember(services, memo.row)
        return answer
    except (iso.IsoError, IllError) as exc:
        error_type = exc.error_type if isinstance(exc, iso.IsoError) else "UnrecognisedDataValue"
        answer = iso.build_confirmation(kind, header, version=version, received=received, ok=False,
                                        error_type=error_type, error_value=str(exc),
                                        reason=seen.get("messageInfo/reasonForMessage") if seen else None,
                                        action=seen.get("action") if seen else None)
        log.warning("ISO 18626 %s from %s (%s) refused: %s: %.300s", kind,
                    peer_code or (header.requester.value if header.requester else "?"), creds.remote_addr,
                    error_type, exc)
        _remember(services, _row(peer_code, kind, header, None, version, answer, creds, (error_type, str(exc))))
        return answer


def _authenticate(services: Services, msg: iso.Message, kind: str, creds: Credentials) -> Peer:
    side = "requestingAgencyId" if kind in ("request", "requestingAgencyMessage") else "supplyingAgencyId"
    agency = msg.get(f"header/{side}/agencyIdValue")
    with services.db() as session:
        peer = peer_by_agency(session, agency)
    if peer is None or not verify(peer, creds):
        raise iso.IsoError("UnrecognisedDataValue", f"agency {agency!r} is not an authenticated peer")
    return peer


def _repeat(services: Services, peer: str, digest: str) -> bytes | None:
    with services.db() as session:
        row = session.scalar(select(InboundMessage).where(InboundMessage.peer_code == peer,
                                                          InboundMessage.digest == digest))
        return row.confirmation.encode() if row is not None else None


def _echo(kind: str, msg: iso.Message) -> dict[str, str]:
    """What a confirmation repeats of the message it confirms."""
    if kind == "supplyingAgencyMessage":
        return {"reason": msg.get("messageInfo/reasonForMessage") or "StatusChange"}
    if kind == "requestingAgencyMessage":
        return {"action": msg.get("action") or ""}
    return {}


def _row(peer: str | None, kind: str, h: iso.Header, digest: str | None, version: str, answer: bytes,
         creds: Credentials, error: tuple[str, str] | None) -> InboundMessage:
    unique = digest or hashlib.sha256(answer + str(datetime.now(UTC).timestamp()).encode()).hexdigest()
    return InboundMessage(peer_code=peer, kind=kind, request_ref=(h.request_id or "")[:128] or None,
                          digest=unique, version=version, ok=error is None, error_type=error[0] if error else None,
                          error_value=error[1][:2000] if error else None,
                          remote_addr=(creds.remote_addr or "")[:64] or None, confirmation=answer.decode())


@dataclass
class _Memo:
    """An inbound message with our answer, written in the very transaction of its effect: a process
    killed before that commit leaves neither (the peer's resend is applied), one killed after leaves
    both (the resend gets the same answer and changes nothing)."""

    row: InboundMessage
    done: bool = False

    def __call__(self, session: Session, req: IllRequest | None = None) -> None:
        session.add(self.row)
        self.done = True


def _remember(services: Services, row: InboundMessage) -> None:
    try:
        with transaction(services.db) as session:
            session.add(row)
    except Exception:  # noqa: BLE001 - a concurrent duplicate already stored it; the answer stands
        log.info("inbound ISO 18626 message from %s already recorded", row.peer_code)


def _learn(services: Services, peer: Peer, msg: iso.Message) -> None:
    """Remember the version and agency id type a peer speaks, from its first message."""
    side = "requestingAgencyId" if msg.kind in ("request", "requestingAgencyMessage") else "supplyingAgencyId"
    agency_type = msg.get(f"header/{side}/agencyIdType")
    with transaction(services.db) as session:
        state = session.get(PeerState, peer.code)
        if state is None:
            session.add(PeerState(peer_code=peer.code, version=msg.version, agency_type=agency_type))
        elif state.version != msg.version and peer.configured_version == "auto":
            state.version, state.learned_at = msg.version, datetime.now(UTC)


def _on_request(services: Services, msg: iso.Message, peer: Peer, memo: _Memo) -> None:
    from ill.service import Details, transition

    supplier = msg.get("header/supplyingAgencyId/agencyIdValue")
    their_id = msg.get("header/requestingAgencyRequestId") or ""
    previous = msg.get("serviceInfo/requestingAgencyPreviousRequestId")
    with services.db() as session:
        if supplier is None or session.get(Member, supplier) is None or get_peer(session, supplier) is not None:
            raise iso.IsoError("UnrecognisedDataValue", f"unknown supplying agency {supplier!r}")
        dup = session.scalar(select(IllRequest.id).where(IllRequest.borrower_code == peer.code,
                                                         IllRequest.peer_request_id == their_id))
        original = session.scalar(select(IllRequest.id).where(
            IllRequest.borrower_code == peer.code, IllRequest.peer_request_id == previous)) if previous else None
    if dup is not None:
        raise iso.IsoError("UnrecognisedDataValue", f"request {their_id} already received")
    if msg.get("serviceInfo/requestType") == "Retry":
        if original is None:
            raise iso.IsoError("UnrecognisedDataValue", f"retry of unknown request {previous!r}")

        def renamed(session: Session, req: IllRequest) -> None:  # from now on the peer uses the new id
            req.peer_request_id = their_id
            memo(session)

        transition(services, original, "retry_received", _actor(peer), also=renamed, details=Details(
            message=f"Retry {their_id} of {previous}: " + (msg.get("serviceInfo/note") or "conditions met")))
        return
    _new_request(services, msg, peer, supplier, their_id, memo)


def _new_request(services: Services, msg: iso.Message, peer: Peer, supplier: str, their_id: str,
                 memo: _Memo) -> None:
    service = "copy" if msg.get("serviceInfo/serviceType") == "Copy" else "loan"
    now = datetime.now(UTC)
    limit = msg.money("billingInfo/maximumCosts")
    with transaction(services.db) as session:
        req = IllRequest(borrower_code=peer.code, lender_code=supplier, union_id=(msg.get(
            "bibliographicInfo/supplierUniqueRecordId") or "")[:64], title=msg.get("bibliographicInfo/title") or "",
            author=msg.get("bibliographicInfo/author"), record_format="book", service=service,
            pages=(msg.get("bibliographicInfo/pagesRequested") or "")[:64] or None,
            citation=msg.get("serviceInfo/note"), needed_by=msg.date("serviceInfo/needBeforeDate"),
            max_cost_cents=int(limit.amount * 100) if limit else None, state="sent",
            supplier_status="RequestReceived", rota_position=0, origin="iso18626", peer_request_id=their_id,
            created_at=now, updated_at=now)
        req.rota = [RotaEntry(position=0, member_code=supplier, availability="maybe", reason="named by the peer",
                              outcome="sent", sent_at=now)]
        session.add(req)
        session.flush()
        cost = f"; most they pay {limit}" if limit else ""
        session.add(AuditEntry(request=req, at=now, actor=f"peer:{peer.code}", action="submit", iso_code="Request",
                               from_state=None, to_state="sent", lender_code=supplier,
                               message=f"ISO 18626 {msg.version} request {their_id}{cost}"))
        from ill import notify

        notify.on_transition(session, req, "route", "submitted", None)
        memo(session)


def _actor(peer: Peer) -> Actor:
    return Actor(kind="peer", name=peer.code, member_code=peer.code)


def _on_supplying(services: Services, msg: iso.Message, peer: Peer, memo: _Memo) -> None:
    from ill.service import Details, transition

    status = msg.get("statusInfo/status") or ""
    reason = msg.get("messageInfo/reasonForMessage") or "StatusChange"
    ref = msg.get("header/requestingAgencyRequestId") or ""
    ours = _request_id_of(ref)
    with services.db() as session:
        req = session.get(IllRequest, ours) if ours else None
        if req is None or req.lender_code != peer.code:
            raise iso.IsoError("UnrecognisedDataValue", f"unknown request {ref[:64]}")
        state, known_id = req.state, req.lender_request_id
    action = _supplying_action(status, reason, msg.get("messageInfo/answerYesNo"), state)
    details = Details(message=msg.get("messageInfo/note"), reason=msg.get("messageInfo/reasonUnfilled"),
                      offered=msg.offered_costs(), due_date=msg.date("statusInfo/dueDate"))
    their_id = msg.get("header/supplyingAgencyRequestId")
    if their_id and their_id != known_id:
        with transaction(services.db) as tx:
            row = tx.get(IllRequest, ours)
            assert row is not None
            row.lender_request_id = their_id[:128]
    if action is None:
        return  # an acknowledgement or a note: nothing changes
    assert ours is not None
    transition(services, ours, action, _actor(peer), details=details, also=memo)


def _supplying_action(status: str, reason: str, answer: str | None, state: str) -> str | None:
    """Our transition for a peer lender's status (None: nothing to change)."""
    if reason == "CancelResponse" or state == "cancel_requested":
        if answer == "Y" or status in ("Cancelled", "Unfilled"):
            return "cancel_accepted"
        if status in ("Loaned", "CopyCompleted"):
            return BY_ISO_STATUS[status]
        return "cancel_refused" if answer == "N" else None
    if reason == "RenewResponse":
        return "renew_granted" if answer == "Y" else "renew_denied"
    if status in ("RequestReceived", "Cancelled") or (reason == "Notification" and status != "RetryPossible"):
        return None
    if status == "Loaned" and state in ("received", "overdue", "recalled", "shipped"):
        return None  # a repeat of Loaned (e.g. after a renewal): nothing new
    action = BY_ISO_STATUS.get(status)
    if action is None:
        raise iso.IsoError("UnrecognisedDataValue", f"status {status} not supported")
    return action


def _on_requesting(services: Services, msg: iso.Message, peer: Peer, memo: _Memo) -> None:
    from ill.service import Details, transition

    action_code = msg.get("action") or ""
    action = BY_ISO_ACTION.get(action_code)
    if action is None and action_code != "StatusRequest":
        raise iso.IsoError("UnsupportedActionType", f"action {action_code} not supported")
    with services.db() as session:
        req = session.scalar(select(IllRequest).where(
            IllRequest.borrower_code == peer.code,
            IllRequest.peer_request_id == msg.get("header/requestingAgencyRequestId")))
        if req is None:
            raise iso.IsoError("UnrecognisedDataValue", "unknown request")
        req_id, state, lender = req.id, req.state, req.lender_code
    if action is None:  # StatusRequest: answered with our current status (StatusRequestResponse)
        _status_response(services, req_id, peer, memo)
        return
    if action == "cancel" and state not in CANCELLABLE:
        _refuse_cancel(services, req_id, peer, lender or "", msg.get("note"), memo)
        return
    transition(services, req_id, action, _actor(peer), details=Details(message=msg.get("note")), also=memo)


def _refuse_cancel(services: Services, req_id: int, peer: Peer, lender: str, note: str | None,
                   memo: _Memo) -> None:
    """A Cancel after we shipped: CancelResponse with answerYesNo N; the loan goes on unchanged."""
    now = datetime.now(UTC)
    with transaction(services.db) as session:
        req = session.get(IllRequest, req_id)
        assert req is not None
        status = req.supplier_status if req.supplier_status in ("Loaned", "CopyCompleted", "Overdue",
                                                                "Recalled", "LoanCompleted") else "Loaned"
        session.add(AuditEntry(request=req, at=now, actor=f"peer:{peer.code}", action="cancel_refused",
                               iso_code="CancelResponse", from_state=req.state, to_state=req.state,
                               lender_code=lender, message=f"cancel asked after shipping; answered N. {note or ''}"))
        queue_supplying(session, req, peer, lender, iso.Supplying(status=status, reason="CancelResponse",
                                                                  answer="N", note="already shipped"))
        memo(session)


def _status_response(services: Services, req_id: int, peer: Peer, memo: _Memo) -> None:
    with transaction(services.db) as session:
        req = session.get(IllRequest, req_id)
        assert req is not None
        supplier = req.lender_code or (req.rota[0].member_code if req.rota else "")
        queue_supplying(session, req, peer, supplier, iso.Supplying(
            status=req.supplier_status or "RequestReceived", reason="StatusRequestResponse",
            due=iso.noon(req.due_date) if req.due_date else None))
        memo(session)
