"""The ISO 18626 endpoint: peers POST a message, we answer with its confirmation (always HTTP 200 XML,
as the standard expects errors inside the confirmation)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.deps import ServicesDep
from ill import peers

router = APIRouter(tags=["interlibrary loan"])
MAX_MESSAGE = 1024 * 1024


@router.post("/iso18626", response_class=Response)
async def iso18626(request: Request, services: ServicesDep,
                   authorization: Annotated[str | None, Header()] = None) -> Response:
    body = await request.body()
    if len(body) > MAX_MESSAGE:
        return Response("message too large", status_code=413, media_type="text/plain")
    scheme, _, token = (authorization or "").partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" else None
    answer = await run_in_threadpool(peers.handle, services, body, bearer)
    return Response(answer, media_type="application/xml")
