"""Console pages for harvests: the dashboard, a member's runs and rejects, start/stop, downloads,
index failures and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from admin import audit, harvests, tasks
from admin.roles import AdminError, require_admin, require_console, require_member
from api.deps import ServicesDep
from catalog.harvests import rejects
from web.admin.charts import bars
from web.admin.common import ConsolePage

router = APIRouter(prefix="/admin", include_in_schema=False)
OptText = Annotated[str | None, Form()]


@router.get("/")
def dashboard(request: Request, services: ServicesDep) -> Response:
    page = ConsolePage(request, services)
    if (denied := page.deny(require_console)) is not None:
        return denied
    assert page.actor is not None
    scope = None if page.actor.kind == "admin" else page.actor.member_code
    rows = harvests.member_rows(services, scope)
    hist = harvests.history(services, scope)
    return page.render("dashboard.html", {
        "rows": rows, "history": hist,
        "records_chart": bars([(r["code"], r["records"]) for r in rows]),
        "rejects_chart": bars(hist["rejects_per_day"]),
    })


@router.get("/login")
def login(request: Request) -> Response:
    return RedirectResponse("/ill/login?next=/admin/", status_code=303)


@router.get("/members/{code}/harvests")
def member_harvests(request: Request, services: ServicesDep, code: str) -> Response:
    page = ConsolePage(request, services)
    if (denied := page.deny(lambda a: require_member(a, code))) is not None:
        return denied
    rows = harvests.member_rows(services, code)
    if not rows:
        raise HTTPException(404, "Not found")
    hist = harvests.history(services, code)
    return page.render("member_harvests.html", {
        "m": rows[0], "history": hist, "rejects": rejects(services, code, 50),
        "checkpoints": harvests.checkpoints(services, code),
        "runs_chart": bars([(f"#{r['id']}", r["records"]) for r in hist["runs"]]),
    })


@router.post("/members/{code}/harvest")
def start(request: Request, services: ServicesDep, code: str, csrf_token: OptText = None,
          full: OptText = None) -> Response:
    page = ConsolePage(request, services)
    page.csrf(csrf_token)
    if (denied := page.deny(lambda a: require_member(a, code))) is not None:
        return denied
    assert page.actor is not None
    try:
        if full:  # a long action: followed with its progress on the tasks page
            return page.redirect(f"/admin/tasks/{tasks.start_task(services, page.actor, 'full_harvest', code)}")
        harvests.start_harvest(services, page.actor, code)
    except AdminError as exc:
        raise HTTPException(exc.status, exc.message) from exc
    return page.redirect(f"/admin/members/{code}/harvests")


@router.post("/runs/{run_id}/stop")
def stop(request: Request, services: ServicesDep, run_id: int, csrf_token: OptText = None) -> Response:
    page = ConsolePage(request, services)
    page.csrf(csrf_token)
    code = harvests.run_member(services, run_id)
    if code is None:
        raise HTTPException(404, "Not found")
    if (denied := page.deny(lambda a: require_member(a, code))) is not None:
        return denied
    assert page.actor is not None
    harvests.request_stop(services, page.actor, run_id)
    return page.redirect(f"/admin/members/{code}/harvests")


@router.get("/members/{code}/rejects.zip")
async def rejects_download(request: Request, services: ServicesDep, code: str) -> Response:
    page = ConsolePage(request, services)
    if (denied := page.deny(lambda a: require_member(a, code))) is not None:
        return denied
    body = await run_in_threadpool(harvests.rejects_bundle, services, code)
    return Response(body, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="rejects-{code}.zip"'})


@router.get("/index-failures")
def failures(request: Request, services: ServicesDep) -> Response:
    page = ConsolePage(request, services)
    if (denied := page.deny(require_admin)) is not None:
        return denied
    return page.render("index_failures.html", {"data": harvests.index_failures(services)})


@router.get("/audit")
def audit_log(request: Request, services: ServicesDep) -> Response:
    page = ConsolePage(request, services)
    if (denied := page.deny(require_console)) is not None:
        return denied
    assert page.actor is not None
    scope = None if page.actor.kind == "admin" else page.actor.member_code
    return page.render("audit.html", {"entries": audit.entries(services, scope)})


@router.get("/tasks")
def task_list(request: Request, services: ServicesDep) -> Response:
    page = ConsolePage(request, services)
    if (denied := page.deny(require_console)) is not None:
        return denied
    assert page.actor is not None
    listed = tasks.tasks(services, page.actor)
    return page.render("tasks.html", {"tasks": listed, "running": any(t["status"] == "running" for t in listed)})


@router.get("/tasks/{task_id}")
def task_page(request: Request, services: ServicesDep, task_id: int) -> Response:
    page = ConsolePage(request, services)
    if (denied := page.deny(require_console)) is not None:
        return denied
    assert page.actor is not None
    found = tasks.task(services, task_id)
    if found is None or (page.actor.kind != "admin" and found["target"] != page.actor.member_code):
        raise HTTPException(404, "Not found")
    return page.render("tasks.html", {"tasks": [found], "running": found["status"] == "running", "single": True})


@router.post("/tasks")
def start_task(request: Request, services: ServicesDep, kind: Annotated[str, Form()],
               csrf_token: OptText = None) -> Response:
    page = ConsolePage(request, services)
    page.csrf(csrf_token)
    if (denied := page.deny(require_admin)) is not None:
        return denied
    assert page.actor is not None
    try:
        task_id = tasks.start_task(services, page.actor, kind)
    except AdminError as exc:
        raise HTTPException(exc.status, exc.message) from exc
    return page.redirect(f"/admin/tasks/{task_id}")
