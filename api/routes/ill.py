"""Interlibrary loan over HTTP for third-party systems: the same actions and rules as the pages.

Authenticate with ``POST /ill/tokens`` (member, username, password) and send
``Authorization: Bearer <token>``; no cookies, hence no CSRF here.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import ServicesDep
from api.errors import ApiError
from api.outbox_wake import wake
from api.params import RowId, Version, VersionForm
from ill import auth, delivery, intake, outbox, stats
from ill.access import Actor, require_staff, visible
from ill.errors import IllError
from ill.models import IllRequest, PeerMessage
from ill.money import from_minor
from ill.service import Details, get_visible, transition
from store.models import MAX_STORED_INT

router = APIRouter(prefix="/ill", tags=["interlibrary loan"])


def _api_error(exc: IllError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message)


def current_actor(services: ServicesDep, authorization: Annotated[str | None, Header()] = None) -> Actor:
    scheme, _, token = (authorization or "").partition(" ")
    account = auth.account_for_token(services, token.strip()) if scheme.lower() == "bearer" and token else None
    if account is None:
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <token> (POST /api/v1/ill/tokens)")
    return auth.actor_of(account)


ActorDep = Annotated[Actor, Depends(current_actor)]


class Credentials(BaseModel):
    member: str
    username: str
    password: str


class NewRequest(BaseModel):
    union_id: str = Field(max_length=64)
    service: str = "loan"
    pages: str | None = Field(default=None, max_length=64)
    citation: str | None = Field(default=None, max_length=2000)
    pickup_location: str | None = Field(default=None, max_length=255)
    needed_by: date | None = None
    max_cost_cents: int | None = Field(default=None, ge=0, le=MAX_STORED_INT)
    note: str | None = Field(default=None, max_length=2000)


class Action(BaseModel):
    action: str
    expected_version: Version | None = None
    message: str | None = Field(default=None, max_length=2000)
    reason: str | None = Field(default=None, max_length=64)
    cost_cents: int | None = Field(default=None, ge=0, le=MAX_STORED_INT)
    due_date: date | None = None


def request_json(req: IllRequest, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(req, k) for k in (
        "id", "version", "state", "supplier_status", "service", "union_id", "title", "borrower_code", "lender_code",
        "pages", "page_count", "citation", "pickup_location", "needed_by", "max_cost_cents", "estimated_fee_cents",
        "offered_cost_cents", "offered_cost_currency", "due_date", "response_due", "created_at", "updated_at",
        "origin", "peer_error")}
    out["offered_cost"] = str(req.offered_cost_amount) if req.offered_cost_amount is not None else None
    if full:
        out["rota"] = [{"position": e.position, "member": e.member_code, "availability": e.availability,
                        "reason": e.reason, "outcome": e.outcome, "reason_code": e.reason_code} for e in req.rota]
        out["history"] = [{"at": a.at, "actor": a.actor, "action": a.action, "iso": a.iso_code, "from": a.from_state,
                           "to": a.to_state, "lender": a.lender_code, "message": a.message} for a in req.audit]
    return out


@router.post("/tokens", status_code=201)
def create_token(body: Credentials, services: ServicesDep) -> dict[str, str]:
    account = auth.sign_in(services, body.member, body.username, body.password)
    if account is None:
        raise ApiError(401, "unauthorized", "wrong member, username or password")
    return {"token": auth.issue_token(services, account), "token_type": "bearer"}


@router.post("/requests", status_code=201)
async def create_request(body: NewRequest, services: ServicesDep, actor: ActorDep) -> dict[str, Any]:
    try:
        req = await intake.create(services, actor, intake.RequestForm(**body.model_dump()), origin="api")
        return request_json(await run_in_threadpool(get_visible, services, req.id, actor), full=True)
    except IllError as exc:
        raise _api_error(exc) from exc


@router.post("/estimate")
async def estimate(body: NewRequest, services: ServicesDep, actor: ActorDep) -> dict[str, Any]:
    try:
        plan = await intake.plan(services, actor, intake.RequestForm(**body.model_dump()))
    except IllError as exc:
        raise _api_error(exc) from exc
    fee = None if plan.fee_cents is None else str(from_minor(plan.fee_cents, plan.currency))
    return {"fee_cents": plan.fee_cents, "fee": fee, "currency": plan.currency, "page_count": plan.page_count,
            "rota": [p.__dict__ for p in plan.rota.picks], "skipped": [s.__dict__ for s in plan.rota.skipped],
            "pickup_locations": plan.pickup_locations}


@router.get("/requests")
def list_requests(services: ServicesDep, actor: ActorDep,
                  desk: str | None = Query(None, pattern="^(borrowing|lending)$"), state: str | None = None,
                  limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    q = visible(actor)
    if desk and actor.member_code:
        col = IllRequest.borrower_code if desk == "borrowing" else IllRequest.lender_code
        q = q.where(col == actor.member_code)
    if state:
        q = q.where(IllRequest.state == state)
    with services.db() as session:
        rows = session.scalars(q.order_by(IllRequest.id.desc()).limit(limit)).all()
        return {"requests": [request_json(r) for r in rows]}


@router.get("/requests/{request_id}")
def get_request(request_id: RowId, services: ServicesDep, actor: ActorDep) -> dict[str, Any]:
    try:
        return request_json(get_visible(services, request_id, actor), full=True)
    except IllError as exc:
        raise _api_error(exc) from exc


@router.post("/requests/{request_id}/actions")
def act(request_id: RowId, body: Action, services: ServicesDep, actor: ActorDep, request: Request,
        background: BackgroundTasks) -> dict[str, Any]:
    details = Details(message=body.message, reason=body.reason, cost_cents=body.cost_cents, due_date=body.due_date)
    try:
        transition(services, request_id, body.action, actor, expected_version=body.expected_version, details=details)
        background.add_task(wake, request.app)  # anything queued for a peer leaves at once
        return request_json(get_visible(services, request_id, actor), full=True)
    except IllError as exc:
        raise _api_error(exc) from exc


@router.post("/requests/{request_id}/delivery", status_code=201)
async def deliver(request_id: RowId, services: ServicesDep, actor: ActorDep, file: UploadFile | None = File(None),
                  url: str | None = Form(None), expected_version: VersionForm = None) -> dict[str, Any]:
    limit = services.settings.ill_upload_max_bytes
    data = await file.read(limit + 1) if file is not None else None
    try:
        row = await run_in_threadpool(delivery.deliver, services, request_id, actor, pdf=data, url=url or None,
                                      expected_version=expected_version)
    except IllError as exc:
        raise _api_error(exc) from exc
    return {"kind": row.kind, "size": row.size, "expires_at": row.expires_at}


@router.get("/stats")
def member_stats(services: ServicesDep, actor: ActorDep) -> dict[str, Any]:
    if actor.kind not in ("admin", "staff"):
        raise ApiError(403, "forbidden", "statistics are for staff and administrators")
    return {"members": stats.member_stats(services)}


@router.get("/members/{member}/queue")
def member_queue(member: str, services: ServicesDep, actor: ActorDep, desk: str = "lending") -> dict[str, Any]:
    try:
        require_staff(actor, member, desk)
    except IllError as exc:
        raise _api_error(exc) from exc
    col = IllRequest.lender_code if desk == "lending" else IllRequest.borrower_code
    with services.db() as session:
        rows = session.scalars(select(IllRequest).where(col == member).order_by(IllRequest.id.desc()).limit(200))
        return {"requests": [request_json(r) for r in rows]}


def _outbox_member(actor: Actor) -> str | None:
    if actor.kind == "admin":
        return None
    if actor.kind != "staff" or not actor.member_code:
        raise ApiError(403, "forbidden", "the outbox is for desk staff and administrators")
    return actor.member_code


class OutboxAction(BaseModel):
    action: str = Field(pattern="^(retry|discard)$")


@router.get("/outbox")
def list_outbox(services: ServicesDep, actor: ActorDep,
                status: str | None = Query(None, pattern="^(pending|sent|rejected|failed|discarded)$"),
                limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """ISO 18626 messages for peers with their delivery state and every peer error."""
    q = outbox.visible_messages(_outbox_member(actor))
    if status:
        q = q.where(PeerMessage.status == status)
    with services.db() as session:
        rows = session.scalars(q.order_by(PeerMessage.id.desc()).limit(limit)).all()
        return {"messages": [outbox.message_json(m) for m in rows]}


@router.post("/outbox/{message_id}/actions")
def outbox_action(message_id: RowId, body: OutboxAction, services: ServicesDep, actor: ActorDep) -> dict[str, Any]:
    try:
        return outbox.message_json(outbox.act(services, message_id, body.action, _outbox_member(actor)))
    except IllError as exc:
        raise _api_error(exc) from exc


@router.get("/inbound")
def list_inbound(services: ServicesDep, actor: ActorDep, ok: bool | None = None,
                 limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """ISO 18626 messages peers sent us (``ok=false``: the ones we refused, with the error we answered)."""
    from ill.models import InboundMessage

    member = _outbox_member(actor)
    q = outbox.refused_inbound(member) if ok is False else select(InboundMessage).order_by(InboundMessage.id.desc())
    if ok is True:
        q = q.where(InboundMessage.ok.is_(True))
    with services.db() as session:
        rows = session.scalars(q.limit(limit)).all()
        return {"messages": [{k: getattr(m, k) for k in ("id", "peer_code", "kind", "version", "request_ref", "ok",
                                                         "error_type", "error_value", "remote_addr", "received_at")}
                             for m in rows]}
