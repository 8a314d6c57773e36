"""Search analytics pages (administrators) and the result-click counter (public: ``/go/<id>``
counts the query and the position, nothing about who, and sends the reader on to the record)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from admin import analytics
from admin.roles import require_admin
from api.deps import ServicesDep
from web.admin.charts import bars
from web.admin.common import ConsolePage

router = APIRouter(include_in_schema=False)
UNION_ID = re.compile(r"^u[0-9a-f]{15}$")


@router.get("/go/{union_id}")
async def result_click(services: ServicesDep, union_id: str, q: Annotated[str, Query(max_length=500)] = "",
                       pos: Annotated[int, Query(ge=1, le=1000)] = 1) -> Response:
    if not UNION_ID.match(union_id):
        return RedirectResponse("/", status_code=303)
    await run_in_threadpool(analytics.record_click, services, q, pos)
    return RedirectResponse(f"/records/{union_id}", status_code=303)


@router.get("/admin/analytics")
def analytics_page(request: Request, services: ServicesDep,
                   days: Annotated[int, Query(ge=1, le=3660)] = 30) -> Response:
    page = ConsolePage(request, services)
    if (denied := page.deny(require_admin)) is not None:
        return denied
    data = analytics.report(services, days)
    return page.render("analytics.html", {
        "data": data, "daily_chart": bars(data["daily"]),
        "ctr_chart": bars([(str(p), n) for p, n, _ in data["ctr_by_position"]]),
    })


@router.get("/admin/analytics.csv")
def analytics_csv(request: Request, services: ServicesDep,
                  days: Annotated[int, Query(ge=1, le=3660)] = 30) -> Response:
    page = ConsolePage(request, services)
    if (denied := page.deny(require_admin)) is not None:
        return denied
    return Response(analytics.report_csv(services, days), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="search-analytics-{days}d.csv"'})
