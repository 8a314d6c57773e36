"""API keys, rate limits and CORS for the API and SRU (the HTTP side of :mod:`portals.apikeys`
and :mod:`portals.ratelimit`).

- A key comes as the ``X-API-Key`` header or the ``api_key`` query parameter (the widget's GETs).
  An unknown key is 401 ``invalid_api_key``, a revoked one 401 ``revoked_api_key``; a browser
  request whose ``Origin`` is not one of the key's origins is 403 ``origin_not_allowed``.
- Each key has its own rate; requests without a key share ``UNICAT_ANONYMOUS_RATE`` per client
  address. Over the limit: 429 with ``Retry-After`` and the standard error JSON.
- CORS headers are sent only to the origins of the key in use (preflights, which carry no key,
  are answered for origins of any live key).

Interlibrary loan endpoints have their own accounts and are not limited here.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from portals.apikeys import ApiKeyError, KeyInfo, known_origins, lookup, normalise_origin
from portals.ratelimit import Decision, RateLimiter, limiter_for

log = logging.getLogger(__name__)
LIMITED = ("/api/", "/sru", "/widget/")
EXEMPT = ("/api/v1/ill", "/api/v1/iso18626")
EXPOSED = "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-Total-Hits, X-Exported-Records"


def _limited(path: str) -> bool:
    return path.startswith(LIMITED) and not path.startswith(EXEMPT)


def _limiter(app: FastAPI) -> RateLimiter:
    limiter = getattr(app.state, "rate_limiter", None)
    if limiter is None:
        settings = app.state.settings
        limiter = limiter_for(settings.rate_limit_storage, settings.redis_url, settings.index_prefix)
        app.state.rate_limiter = limiter
    return limiter


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, code, message), status_code=status, headers=headers)


def _cors(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin", "Access-Control-Expose-Headers": EXPOSED}


def _origin(raw: str | None) -> str | None:
    """The request's Origin normalised; ``""`` when it is present but not a web origin."""
    if raw is None:
        return None
    try:
        return normalise_origin(raw)
    except ApiKeyError:
        return ""


async def _preflight(request: Request, origin: str | None) -> Response:
    services = request.app.state.services
    if not origin or origin not in await run_in_threadpool(known_origins, services):
        return _error(403, "origin_not_allowed", f"no API key is issued for the origin {request.headers['origin']!r}")
    headers = {**_cors(origin), "Access-Control-Allow-Methods": "GET, OPTIONS",
               "Access-Control-Allow-Headers": "X-API-Key, Content-Type", "Access-Control-Max-Age": "600"}
    return Response(status_code=204, headers=headers)


async def _key(request: Request, origin: str | None) -> KeyInfo | Response | None:
    presented = request.headers.get("x-api-key") or request.query_params.get("api_key")
    if not presented:
        return None
    info = await run_in_threadpool(lookup, request.app.state.services, presented)
    if info is None:
        return _error(401, "invalid_api_key", "the API key is not known; ask the catalogue's administrators for one")
    if info.revoked:
        return _error(401, "revoked_api_key", f"the API key {info.key_prefix}… was revoked")
    if origin is not None and origin not in info.origins:
        shown = request.headers.get("origin", "")[:200]
        return _error(403, "origin_not_allowed", f"the API key is not issued for pages on {shown!r}")
    return info


async def _decide(request: Request, info: KeyInfo | None) -> Decision | None:
    if info is not None:
        identity, rate = f"key:{info.id}", info.rate
    else:
        rate = request.app.state.settings.anonymous_rate
        identity = f"addr:{request.client.host if request.client else 'unknown'}"
        if not rate:
            return None
    try:
        return await run_in_threadpool(_limiter(request.app).check, identity, rate)
    except Exception as exc:  # noqa: BLE001 - counters unavailable: serve rather than refuse everyone
        log.warning("rate limiting skipped: %s", exc)
        return None


async def _check(request: Request) -> tuple[Response | None, dict[str, str]]:
    """The answer that refuses the request, if any, and the headers the app's answer gets."""
    origin = _origin(request.headers.get("origin"))
    if request.method == "OPTIONS" and "access-control-request-method" in request.headers:
        return await _preflight(request, origin), {}
    if origin == "":
        return _error(403, "origin_not_allowed", "the Origin header is not a web origin"), {}
    info = await _key(request, origin)
    if isinstance(info, Response):
        return info, {}
    cors = _cors(origin) if info is not None and origin else {}
    decision = await _decide(request, info)
    limits = {}
    if decision is not None:
        limits = {"X-RateLimit-Limit": str(decision.limit), "X-RateLimit-Remaining": str(decision.remaining)}
        if not decision.allowed:
            who = f"the key {info.name!r}" if info else "requests without an API key"
            headers = {**cors, **limits, "Retry-After": str(decision.retry_after)}
            message = f"rate limit of {who} reached; retry after {decision.retry_after} s"
            return _error(429, "too_many_requests", message, headers), {}
    return None, {**limits, **cors}


class AccessControl:
    """Keys, limits and CORS on the limited paths, as plain ASGI middleware: Starlette's
    ``BaseHTTPMiddleware`` would add a task and a body stream to every request, a measurable share
    of a search's own CPU."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _limited(scope["path"]):
            await self.app(scope, receive, send)
            return
        refusal, extra = await _check(Request(scope))
        if refusal is not None:
            await refusal(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and extra:
                MutableHeaders(scope=message).update(extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI) -> None:
    app.add_middleware(AccessControl)
