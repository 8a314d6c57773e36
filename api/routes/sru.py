"""``GET /sru``: the SRU 1.2 / 2.0 server (explain, searchRetrieve with CQL). The protocol lives
in :mod:`portals.sru`; this router only hands it the parameters and the address it is reached at."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import ServicesDep
from portals.sru import Endpoint, respond

router = APIRouter(tags=["sru"])
XML = "text/xml; charset=utf-8"


def endpoint_of(request: Request) -> Endpoint:
    url = request.url
    port = url.port or (443 if url.scheme == "https" else 80)
    return Endpoint(host=url.hostname or "localhost", port=port, database="sru", base_url=str(request.base_url))


@router.get(
    "/sru",
    summary="SRU 1.2 and 2.0: explain and searchRetrieve (CQL)",
    response_class=Response,
    responses={200: {"content": {"text/xml": {}}, "description": "An SRU response, diagnostics included"}},
)
def sru(request: Request, services: ServicesDep) -> Response:
    params = {key: request.query_params[key] for key in request.query_params}
    return Response(respond(services, params, endpoint_of(request)), media_type=XML)
