"""The ISO 18626 endpoint: peers POST a message, we answer with its confirmation (always HTTP 200 XML,
as the standard expects errors inside the confirmation). Who the peer is, is decided per peer from
what the request carries: a bearer token, HTTP Basic, a shared-secret header, the client certificate
subject passed by the TLS terminator, or the source address (see ``ill/peerconf.py``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.background import BackgroundTask

from api.deps import ServicesDep
from api.outbox_wake import wake
from ill import peers
from ill.peerconf import Credentials

router = APIRouter(tags=["interlibrary loan"])
MAX_MESSAGE = 1024 * 1024


@router.post("/iso18626", response_class=Response)
async def iso18626(request: Request, services: ServicesDep) -> Response:
    body = await request.body()
    if len(body) > MAX_MESSAGE:
        return Response("message too large", status_code=413, media_type="text/plain")
    creds = Credentials(remote_addr=request.client.host if request.client else None,
                        headers={k.lower(): v for k, v in request.headers.items()})
    answer = await run_in_threadpool(peers.handle, services, body, creds)
    # An accepted message may have queued answers or a next lender's request: wake the worker after
    # the confirmation has gone out (the peer never waits for it).
    task = BackgroundTask(wake, request.app) if b"<messageStatus>OK<" in answer else None
    return Response(answer, media_type="application/xml", background=task)
