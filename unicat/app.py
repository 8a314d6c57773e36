"""The ASGI application factory: API under /api/v1, web pages at /, services built in the lifespan."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import access
from api.errors import ApiError, error_body
from catalog.context import Services, build_services
from unicat import __version__
from unicat.settings import Settings, get_settings
from web.templating import STATIC_DIR


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or build_services(settings)
        if owned:
            from catalog.search import prepare

            prepare(settings.search_profile)
        try:
            yield
        finally:
            from admin.analytics import flush_counts

            flush_counts(app.state.services)  # the search counts held in memory
            if owned:
                app.state.services.close()

    app = FastAPI(
        title="unicat",
        version=__version__,
        description="Union-catalogue discovery and resource sharing: one search over every member library.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/api/v1/openapi.json",
    )
    app.state.settings = settings
    _install_error_handlers(app)
    app.add_middleware(MovedRecords)
    access.install(app)
    _include_routers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _include_routers(app: FastAPI) -> None:
    from api.routes import availability, exports, feeds, harvests, ill, iso18626, records, search, sources, sru, suggest
    from web import ill_pages, pages, portal_meta, sso_pages, widget
    from web.admin import analytics as admin_analytics
    from web.admin import cataloguing as admin_cataloguing
    from web.admin import harvests as admin_harvests
    from web.admin import members as admin_members
    from web.admin import tuning as admin_tuning

    for module in (exports, feeds, search, suggest, records, sources, availability, harvests, ill, iso18626):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(sru.router)
    app.include_router(portal_meta.router)
    app.include_router(widget.router)
    app.include_router(pages.router)
    app.include_router(ill_pages.router)
    app.include_router(sso_pages.router)
    app.include_router(admin_harvests.router)
    app.include_router(admin_members.router)
    app.include_router(admin_cataloguing.router)
    app.include_router(admin_analytics.router)
    app.include_router(admin_tuning.router)


#: A union record's own pages, in the API and on the web: the id, then any sub-path.
RECORD_PATH = re.compile(r"^(/api/v1/records/|/records/)(u[0-9a-f]{15})(/.*)?$")


class MovedRecords:
    """A union id merged away answers ``301 Moved Permanently`` to the record it joined, on every
    page of the record (API and web, sub-paths included), so that links kept by portals and ILL
    requests keep working. Only answers that would have been 404 are looked at; plain ASGI, so a
    request elsewhere pays one regular-expression match."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = RECORD_PATH.match(scope["path"]) if scope["type"] == "http" else None
        if match is None or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold_not_found(message: Message) -> None:
            if held or (message["type"] == "http.response.start" and message["status"] == 404):
                held.append(message)
            else:
                await send(message)

        await self.app(scope, receive, hold_not_found)
        if not held:
            return
        from catalog.records import moved_to

        target = await run_in_threadpool(moved_to, scope["app"].state.services, match.group(2))
        if target is None:
            for message in held:
                await send(message)
            return
        location = f"{match.group(1)}{target}{match.group(3) or ''}"
        if scope.get("query_string"):
            location += f"?{scope['query_string'].decode('latin-1')}"
        await RedirectResponse(location, status_code=301)(scope, receive, send)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _install_error_handlers(app: FastAPI) -> None:
    from web.pages import render_error_page

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = exc.code if isinstance(exc, ApiError) else _default_code(exc.status_code)
        if _is_api(request):
            return JSONResponse(error_body(exc.status_code, code, str(exc.detail)), status_code=exc.status_code)
        return render_error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [{"field": ".".join(str(p) for p in err["loc"][1:]), "message": err["msg"]} for err in exc.errors()]
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        if _is_api(request):
            return JSONResponse(error_body(422, "invalid_parameter", message, problems=problems), status_code=422)
        return render_error_page(request, 400, message)


def _default_code(status: int) -> str:
    return {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "too_large",
        422: "invalid_parameter",
        429: "too_many_requests",
    }.get(status, "error")
