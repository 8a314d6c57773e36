"""Console pages for cataloguers: duplicates and suspicious merges, the staff view of a union
record's source records as formatted MARC, and split/merge decisions with a reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from admin import cataloguing
from admin.roles import AdminError, require_console
from api.deps import ServicesDep
from web.admin.common import ConsolePage

router = APIRouter(prefix="/admin", include_in_schema=False)
Text = Annotated[str, Form()]
OptText = Annotated[str | None, Form()]


@router.get("/duplicates")
def duplicates(request: Request, services: ServicesDep) -> Response:
    page = ConsolePage(request, services)
    if (denied := page.deny(require_console)) is not None:
        return denied
    assert page.actor is not None
    return page.render("duplicates.html", {"report": cataloguing.duplicates(services, page.actor)})


def _staff_page(page: ConsolePage, union_id: str, error: str | None = None, status: int = 200,
                form: dict[str, str] | None = None) -> Response:
    try:
        sources = cataloguing.staff_sources(page.services, union_id)
    except AdminError as exc:
        raise HTTPException(exc.status, exc.message) from exc
    refs = [(s["member"], s["local_id"]) for s in sources]
    return page.render("record_staff.html", {
        "union_id": union_id, "sources": sources, "decisions": cataloguing.decisions(page.services, refs),
        "error": error, "form": form or {},
    }, status)


@router.get("/records/{union_id}")
def staff_view(request: Request, services: ServicesDep, union_id: str) -> Response:
    page = ConsolePage(request, services)
    if (denied := page.deny(require_console)) is not None:
        return denied
    return _staff_page(page, union_id)


@router.post("/records/{union_id}/{kind}")
async def decide(request: Request, services: ServicesDep, union_id: str, kind: str, a: Text,
                 b: Text, reason: OptText = None, csrf_token: OptText = None) -> Response:
    if kind not in ("split", "merge"):
        raise HTTPException(404, "Not found")
    page = ConsolePage(request, services)
    page.csrf(csrf_token)
    if (denied := page.deny(require_console)) is not None:
        return denied
    assert page.actor is not None
    try:
        result = await run_in_threadpool(cataloguing.decide, services, page.actor, kind, a.strip(), b.strip(),
                                         reason or "")
    except AdminError as exc:
        if exc.status == 422:
            return _staff_page(page, union_id, exc.message, 422, {"kind": kind, "a": a, "b": b, "reason": reason or ""})
        raise HTTPException(exc.status, exc.message) from exc
    target = union_id if union_id in result["union_ids"] else result["union_ids"][0]
    return page.redirect(f"/admin/records/{target}?done={kind}")
