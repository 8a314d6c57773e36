"""Console pages for members and their feeds: list, add, edit, disable, and "check connection"."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select
from starlette.datastructures import FormData

from admin import members
from admin.connection import CHECKS, check_connection
from admin.roles import ADMIN, AdminError, require_admin, require_console, require_member
from api.deps import ServicesDep
from catalog.members import ROLES
from store.models import Member, SourceRecord
from web.admin.common import ConsolePage

router = APIRouter(prefix="/admin", include_in_schema=False)
FORM_FIELDS = ("code", "name_zh", "name_en", "region", "role", "schedule", "withdraw_limit", *members.TABLE_FIELDS)


def _form(data: FormData) -> dict[str, str]:
    return {k: str(data.get(k) or "") for k in FORM_FIELDS}


def _edit(page: ConsolePage, form: dict[str, str], *, code: str | None, errors: dict[str, list[str]] | None = None,
          check: dict[str, Any] | None = None, status: int = 200, disabled: bool = False) -> Response:
    assert page.actor is not None
    return page.render("member_form.html", {
        "form": form, "code": code, "errors": errors or {}, "check": check, "roles": ROLES,
        "feeds": members.TABLE_FIELDS, "checkable": CHECKS, "disabled": disabled,
        "admin_fields": page.actor.kind == ADMIN,
    }, status)


@router.get("/members")
def member_list(request: Request, services: ServicesDep) -> Response:
    page = ConsolePage(request, services)
    if (denied := page.deny(require_console)) is not None:
        return denied
    assert page.actor is not None
    return page.render("members.html", {"members": members.list_members(services, page.actor)})


@router.get("/members/new")
def new_member(request: Request, services: ServicesDep) -> Response:
    page = ConsolePage(request, services)
    if (denied := page.deny(require_admin)) is not None:
        return denied
    return _edit(page, members.config_to_form({}), code=None)


@router.post("/members/new")
async def add_member(request: Request, services: ServicesDep) -> Response:
    data = await request.form()
    page = ConsolePage(request, services)
    page.csrf(str(data.get("csrf_token") or ""))
    if (denied := page.deny(require_admin)) is not None:
        return denied
    form = _form(data)
    assert page.actor is not None
    saved, errors = await run_in_threadpool(members.save_member, services, page.actor, form)
    if saved is None:
        return _edit(page, form, code=None, errors=errors, status=422)
    return page.redirect(f"/admin/members/{saved['code']}?saved=1")


def _disabled(services: Any, code: str) -> bool:
    with services.db() as session:
        member = session.get(Member, code)
        return bool(member and (member.config or {}).get("disabled"))


@router.get("/members/{code}")
def edit_member(request: Request, services: ServicesDep, code: str) -> Response:
    page = ConsolePage(request, services)
    if (denied := page.deny(lambda a: require_member(a, code))) is not None:
        return denied
    try:
        form = members.member_form(services, code)
    except AdminError as exc:
        raise HTTPException(exc.status, exc.message) from exc
    return _edit(page, form, code=code, disabled=_disabled(services, code))


@router.post("/members/{code}")
async def update_member(request: Request, services: ServicesDep, code: str) -> Response:
    data = await request.form()
    page = ConsolePage(request, services)
    page.csrf(str(data.get("csrf_token") or ""))
    if (denied := page.deny(lambda a: require_member(a, code))) is not None:
        return denied
    assert page.actor is not None
    form = _form(data)
    try:
        saved, errors = await run_in_threadpool(members.save_member, services, page.actor, form, code)
    except AdminError as exc:
        raise HTTPException(exc.status, exc.message) from exc
    if saved is None:
        return _edit(page, form, code=code, errors=errors, status=422, disabled=_disabled(services, code))
    return page.redirect(f"/admin/members/{code}?saved=1")


def _sample_id(services: Any, code: str) -> str | None:
    with services.db() as session:
        return session.scalar(select(SourceRecord.local_id).where(SourceRecord.member_code == code,
                                                                  SourceRecord.deleted.is_(False)).limit(1))


@router.post("/members/{code}/check/{feed}")
async def check_feed(request: Request, services: ServicesDep, code: str, feed: str) -> Response:
    data = await request.form()
    page = ConsolePage(request, services)
    page.csrf(str(data.get("csrf_token") or ""))
    if (denied := page.deny(lambda a: require_member(a, code))) is not None:
        return denied
    with services.db() as session:
        member = session.get(Member, code)
        config = dict(member.config) if member else None
    if config is None:
        raise HTTPException(404, "Not found")
    result = await run_in_threadpool(check_connection, services.settings, config, feed, _sample_id(services, code))
    return _edit(page, members.config_to_form(config), code=code, check=result, disabled=_disabled(services, code))


@router.post("/members/{code}/{action}")
async def toggle_member(request: Request, services: ServicesDep, code: str, action: str) -> Response:
    if action not in ("disable", "enable"):
        raise HTTPException(404, "Not found")
    data = await request.form()
    page = ConsolePage(request, services)
    page.csrf(str(data.get("csrf_token") or ""))
    if (denied := page.deny(require_admin)) is not None:
        return denied
    assert page.actor is not None
    try:
        members.set_disabled(services, page.actor, code, action == "disable")
    except AdminError as exc:
        raise HTTPException(exc.status, exc.message) from exc
    return page.redirect(f"/admin/members/{code}")
