"""The relevance tuning page (administrators): edit a candidate profile, measure it against the live
one on an uploaded judged set, apply it, roll back."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from admin import tuning
from admin.roles import AdminError, require_admin
from api.deps import ServicesDep
from web.admin.common import ConsolePage

router = APIRouter(prefix="/admin", include_in_schema=False)


def _page(page: ConsolePage, *, errors: dict[str, str] | None = None, form: dict[str, str] | None = None,
          result: dict[str, Any] | None = None, notice: str | None = None, status: int = 200) -> Response:
    view = tuning.state(page.services)
    return page.render("tuning.html", {**view, "form": form or view["form"], "errors": errors or {},
                                       "result": result, "notice": notice}, status)


def _failed(page: ConsolePage, exc: AdminError, form: dict[str, str] | None = None) -> Response:
    errors = getattr(exc, "errors", None) or {exc.field or "page": exc.message}
    return _page(page, errors=errors, form=form, status=exc.status)


@router.get("/tuning")
def tuning_page(request: Request, services: ServicesDep) -> Response:
    page = ConsolePage(request, services)
    if (denied := page.deny(require_admin)) is not None:
        return denied
    return _page(page)


async def _posted(request: Request, services: ServicesDep) -> tuple[ConsolePage, Any, Response | None]:
    data = await request.form()
    page = ConsolePage(request, services)
    page.csrf(str(data.get("csrf_token") or ""))
    return page, data, page.deny(require_admin)


@router.post("/tuning/candidate")
async def save_candidate(request: Request, services: ServicesDep) -> Response:
    page, data, denied = await _posted(request, services)
    if denied is not None:
        return denied
    form = {k: str(data.get(k) or "") for k in ("boosts", "synonyms", "stopwords")}
    try:
        await run_in_threadpool(tuning.save_candidate, services, page.actor, **form)
    except AdminError as exc:
        return _failed(page, exc, form)
    return page.redirect("/admin/tuning?saved=1")


async def _blob(value: Any) -> bytes:
    return await value.read() if isinstance(value, UploadFile) else b""


@router.post("/tuning/evaluate")
async def evaluate(request: Request, services: ServicesDep) -> Response:
    page, data, denied = await _posted(request, services)
    if denied is not None:
        return denied
    try:
        judged = tuning.read_upload(await _blob(data.get("queries")), await _blob(data.get("qrels")))
        result = await run_in_threadpool(tuning.compare, services, judged)
    except AdminError as exc:
        return _failed(page, exc)
    return _page(page, result=result)


@router.post("/tuning/apply")
async def apply(request: Request, services: ServicesDep) -> Response:
    page, _, denied = await _posted(request, services)
    if denied is not None:
        return denied
    try:
        done = await run_in_threadpool(tuning.apply, services, page.actor)
    except AdminError as exc:
        return _failed(page, exc)
    if "task" in done:
        return page.redirect(f"/admin/tasks/{done['task']}")
    return page.redirect("/admin/tuning?applied=1")


@router.post("/tuning/rollback")
async def rollback(request: Request, services: ServicesDep) -> Response:
    page, _, denied = await _posted(request, services)
    if denied is not None:
        return denied
    try:
        await run_in_threadpool(tuning.rollback, services, page.actor)
    except AdminError as exc:
        return _failed(page, exc)
    return page.redirect("/admin/tuning?rolledback=1")
