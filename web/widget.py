"""The embeddable widget: ``/widget.js`` (Shadow DOM, for pages that allow scripts) and
``/widget/frame`` (a plain HTML page for an ``<iframe>``, for pages that allow none).

The frame may only be framed by the key's origins (``Content-Security-Policy: frame-ancestors``);
the key itself is checked, and the request counted, by :mod:`api.access` like any API call.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from api.deps import ServicesDep
from catalog.search import SearchError, SearchQuery, search
from portals.apikeys import lookup
from web.templating import STATIC_DIR, render

router = APIRouter(include_in_schema=False)


@router.get("/widget.js")
def widget_script() -> Response:
    return FileResponse(STATIC_DIR / "widget.js", media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"})


@router.get("/widget/frame", response_class=HTMLResponse)
def widget_frame(
    request: Request,
    services: ServicesDep,
    api_key: Annotated[str, Query(max_length=100)] = "",
    q: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    info = lookup(services, api_key) if api_key else None
    if info is None or info.revoked:  # the access middleware has answered 401 already for a bad key
        return HTMLResponse("<p>An API key is required: /widget/frame?api_key=…</p>", status_code=401)
    result = None
    if q.strip():
        try:
            result = search(services, SearchQuery(q=q, size=10))
        except SearchError:
            result = None
    response = render(request, "widget_frame.html", {"key": api_key, "q": q, "result": result})
    ancestors = " ".join(info.origins) or "'none'"
    response.headers["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
