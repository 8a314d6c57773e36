"""Interlibrary loan pages: sign-in, request form with fee preview, my requests, desk queues, statistics.

Every POST carries the CSRF token of the signed session cookie; the pages call the ILL service layer
in process (the same functions as the API).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from starlette.background import BackgroundTask

from accounts.identity import SignInError
from accounts.service import sign_in_with_password
from api.deps import ServicesDep
from api.outbox_wake import wake
from api.params import RowId, VersionForm
from catalog.context import Services
from ill import auth, delivery, intake, outbox, stats
from ill.access import Actor, require_staff, roles_for, visible
from ill.errors import Forbidden, IllError, Invalid
from ill.fees import format_cents, parse_amount
from ill.models import IllRequest, PeerMessage
from ill.policies import get_policy
from ill.service import Details, get_visible, transition
from ill.states import REASONS_UNFILLED, STATES, allowed
from web import signin
from web.session import SessionPage

router = APIRouter(prefix="/ill", include_in_schema=False)
Text = Annotated[str, Form()]
OptText = Annotated[str | None, Form()]


class Page(SessionPage):
    """The signed session of this browser: account (if signed in) and CSRF token."""

    template_dir = "ill"

    def context(self) -> dict[str, Any]:
        return {**super().context(), "money": format_cents}

    def login_redirect(self) -> Response:
        return RedirectResponse(f"/ill/login?next={quote(str(self.request.url.path))}", status_code=303)


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/ill/my"


@router.get("/login")
def login_form(request: Request, services: ServicesDep, next: str | None = None, q: str | None = None,
               member: str | None = None) -> Response:
    page = Page(request, services)
    return page.render("login.html", signin.login_context(services, _safe_next(next), q, member))


@router.post("/login")
def login(request: Request, services: ServicesDep, member: Text, username: Text, password: Text,
          csrf_token: OptText = None, next: OptText = None) -> Response:
    page = Page(request, services)
    page.csrf(csrf_token)
    client = request.client.host if request.client else "-"
    try:
        account = sign_in_with_password(services, member, username, password, client)
    except SignInError as exc:
        ctx = signin.login_context(services, _safe_next(next), None, member)
        return page.render("login.html", {**ctx, "signin_error": exc.message}, signin.STATUS[exc.code])
    page.data = auth.new_session(account.id)  # a new session id and CSRF token after sign-in
    return page.store(RedirectResponse(_safe_next(next), status_code=303))


@router.post("/logout")
def logout(request: Request, services: ServicesDep, csrf_token: OptText = None) -> Response:
    page = Page(request, services)
    page.csrf(csrf_token)
    ended, page.data = page.data, auth.new_session()
    target = signin.logout_redirect(services, ended) or "/ill/login"  # SAML/OIDC single logout if offered
    return page.store(RedirectResponse(target, status_code=303))


def _form(union_id: str, service: str, pages: str | None, citation: str | None, pickup: str | None,
          needed_by: str | None, max_cost: str | None, note: str | None) -> intake.RequestForm:
    try:
        needed = date.fromisoformat(needed_by) if needed_by else None
    except ValueError as exc:
        raise Invalid("the needed-by date is not a date", field="needed_by") from exc
    try:
        cost = parse_amount(max_cost)
    except ValueError as exc:
        raise Invalid("the most you will pay must be an amount between 0 and 100000", field="max_cost") from exc
    return intake.RequestForm(union_id=union_id, service=service, pages=pages or None, citation=citation or None,
                              pickup_location=pickup or None, needed_by=needed, max_cost_cents=cost, note=note or None)


@router.get("/request")
def request_form(request: Request, services: ServicesDep, union_id: str = "") -> Response:
    page = Page(request, services)
    if page.actor is None:
        return RedirectResponse(f"/ill/login?next={quote(f'/ill/request?union_id={union_id}')}", status_code=303)
    from ill import sources

    record = sources.get_record(services, union_id) if union_id else None
    if record is None:
        return page.render("request.html", {"error": "No such union record.", "record": None, "form": {}}, 404)
    with services.db() as session:
        pickups = get_policy(session, page.actor.member_code or "").pickup_locations
        session.commit()
    return page.render("request.html", {"record": record, "pickups": pickups, "form": {"service": "loan"}})


@router.post("/request")
async def request_submit(request: Request, services: ServicesDep, union_id: Text, service: Text = "loan",
                         pages: OptText = None, citation: OptText = None, pickup_location: OptText = None,
                         needed_by: OptText = None, max_cost: OptText = None, note: OptText = None,
                         step: Text = "preview", csrf_token: OptText = None) -> Response:
    page = await run_in_threadpool(Page, request, services)
    page.csrf(csrf_token)
    if page.actor is None:
        return page.login_redirect()
    raw = {"union_id": union_id, "service": service, "pages": pages, "citation": citation,
           "pickup_location": pickup_location, "needed_by": needed_by, "max_cost": max_cost, "note": note}
    record, pickups = await run_in_threadpool(_record_and_pickups, services, union_id, page.actor)
    ctx: dict[str, Any] = {"record": record, "pickups": pickups, "form": raw}
    try:
        form = _form(union_id, service, pages, citation, pickup_location, needed_by, max_cost, note)
        if step != "submit":
            ctx["plan"] = await intake.plan(services, page.actor, form)
            return page.render("request.html", ctx)
        req = await intake.create(services, page.actor, form)
    except IllError as exc:
        ctx.update(error=exc.message, field=exc.field, code=exc.code)
        return page.render("request.html", ctx, 400 if exc.status == 422 else exc.status)
    return RedirectResponse(f"/ill/requests/{req.id}", status_code=303)


def _record_and_pickups(services: Services, union_id: str, actor: Actor) -> tuple[dict[str, Any] | None, list[str]]:
    from ill import sources

    record = sources.get_record(services, union_id)
    with services.db() as session:
        pickups = list(get_policy(session, actor.member_code or "").pickup_locations or [])
        session.commit()
    return record, pickups


@router.get("/my")
def my_requests(request: Request, services: ServicesDep) -> Response:
    page = Page(request, services)
    if page.actor is None:
        return page.login_redirect()
    with services.db() as session:
        rows = session.scalars(select(IllRequest).where(IllRequest.patron_id == page.actor.account_id)
                               .options(selectinload(IllRequest.audit)).order_by(IllRequest.id.desc())
                               .limit(200)).all()
    return page.render("my.html", {"requests": rows})


@router.get("/requests/{request_id}")
def detail_page(request: Request, services: ServicesDep, request_id: RowId) -> Response:
    return detail(request, services, request_id)


def detail(request: Request, services: ServicesDep, request_id: int, error: str | None = None) -> Response:
    """The request's page; ``error`` is what an action just refused (never taken from the URL, so
    nobody can put words of theirs on our page with a link)."""
    page = Page(request, services)
    if page.actor is None:
        return page.login_redirect()
    try:
        req = get_visible(services, request_id, page.actor)
    except IllError as exc:
        return page.render("detail.html", {"req": None, "error": exc.message}, exc.status)
    roles = roles_for(page.actor, req)
    actions = [t for t in allowed(req.state, req.service, roles) if t.side != "system"]
    show_rota = page.actor.kind in ("staff", "admin")
    return page.render("detail.html", {"req": req, "actions": actions, "reasons": REASONS_UNFILLED,
                                       "show_rota": show_rota, "roles": roles, "error": error},
                       409 if error else 200)


@router.post("/requests/{request_id}/act")
def act(request: Request, services: ServicesDep, request_id: RowId, action: Text, csrf_token: OptText = None,
        version: VersionForm = None, message: OptText = None, reason: OptText = None,
        cost: OptText = None) -> Response:
    page = Page(request, services)
    page.csrf(csrf_token)
    if page.actor is None:
        return page.login_redirect()
    try:
        details = Details(message=message or None, reason=reason or None, cost_cents=parse_amount(cost))
        transition(services, request_id, action, page.actor, expected_version=version, details=details)
    except ValueError:
        return detail(request, services, request_id, error="The offered cost is not an amount.")
    except IllError as exc:
        return detail(request, services, request_id, error=exc.message)
    # a desk's answer to a peer leaves at once (the worker's cron would take up to a second)
    return RedirectResponse(f"/ill/requests/{request_id}", status_code=303,
                            background=BackgroundTask(wake, request.app))


@router.post("/requests/{request_id}/deliver")
async def deliver(request: Request, services: ServicesDep, request_id: RowId, csrf_token: OptText = None,
                  version: VersionForm = None, url: OptText = None,
                  file: UploadFile | None = None) -> Response:
    page = await run_in_threadpool(Page, request, services)
    page.csrf(csrf_token)
    if page.actor is None:
        return page.login_redirect()
    limit = services.settings.ill_upload_max_bytes
    data = await file.read(limit + 1) if file is not None and file.filename else None
    try:
        await run_in_threadpool(delivery.deliver, services, request_id, page.actor, pdf=data, url=url or None,
                                expected_version=version)
    except IllError as exc:
        return await run_in_threadpool(detail, request, services, request_id, exc.message)
    return RedirectResponse(f"/ill/requests/{request_id}", status_code=303)


@router.get("/requests/{request_id}/copy")
def copy(request: Request, services: ServicesDep, request_id: RowId) -> Response:
    page = Page(request, services)
    if page.actor is None:
        return page.login_redirect()
    try:
        row, path = delivery.current(services, request_id, page.actor)
    except IllError as exc:
        return page.render("detail.html", {"req": None, "error": exc.message}, exc.status)
    if path is not None:
        return FileResponse(path, media_type="application/pdf", filename=f"ill-{request_id}.pdf")
    return RedirectResponse(row.url or "/ill/my", status_code=303)


@router.get("/desk/{desk}")
def desk_queue(request: Request, services: ServicesDep, desk: str, state: str | None = None) -> Response:
    page = Page(request, services)
    if page.actor is None:
        return page.login_redirect()
    member = page.actor.member_code or ""
    try:
        if desk not in ("borrowing", "lending"):
            raise Forbidden("unknown desk")
        require_staff(page.actor, member, desk)
    except IllError as exc:
        return page.render("queue.html", {"rows": [], "error": exc.message, "desk": desk}, 403)
    col = IllRequest.borrower_code if desk == "borrowing" else IllRequest.lender_code
    q = visible(page.actor).where(col == member)
    if state in STATES:
        q = q.where(IllRequest.state == state)
    with services.db() as session:
        rows = session.scalars(q.order_by(IllRequest.updated_at.desc()).limit(300)).all()
    return page.render("queue.html", {"rows": rows, "desk": desk, "state": state, "states": STATES,
                                      "member": member})


@router.get("/admin/stats")
def stats_page(request: Request, services: ServicesDep) -> Response:
    page = Page(request, services)
    if page.actor is None:
        return page.login_redirect()
    if page.actor.kind not in ("admin", "staff"):
        return page.render("stats.html", {"rows": [], "error": "For staff and administrators."}, 403)
    rows = stats.member_stats(services)
    peak = max([1] + [max(r["lent"], r["borrowed"]) for r in rows])
    return page.render("stats.html", {"rows": rows, "peak": peak})


def _outbox_member(actor: Actor) -> str | None:
    """None for administrators (everything); else the staff member's own library."""
    if actor.kind == "admin":
        return None
    if actor.kind != "staff" or not actor.member_code:
        raise Forbidden("the outbox is for desk staff and administrators")
    return actor.member_code


@router.get("/outbox")
def outbox_page(request: Request, services: ServicesDep) -> Response:
    page = Page(request, services)
    if page.actor is None:
        return page.login_redirect()
    try:
        member = _outbox_member(page.actor)
    except IllError as exc:
        return page.render("outbox.html", {"rows": [], "refused": [], "error": exc.message}, 403)
    with services.db() as session:
        rows = session.scalars(outbox.visible_messages(member).order_by(PeerMessage.id.desc()).limit(300)).all()
        refused = session.scalars(outbox.refused_inbound(member).limit(100)).all()
    return page.render("outbox.html", {"rows": rows, "refused": refused})


@router.post("/outbox/{message_id}/{action}")
def outbox_act(request: Request, services: ServicesDep, message_id: RowId, action: str,
               csrf_token: OptText = None) -> Response:
    page = Page(request, services)
    page.csrf(csrf_token)
    if page.actor is None:
        return page.login_redirect()
    try:
        outbox.act(services, message_id, action, _outbox_member(page.actor))
    except IllError as exc:
        return page.render("outbox.html", {"rows": [], "refused": [], "error": exc.message}, exc.status)
    return RedirectResponse("/ill/outbox", status_code=303)
