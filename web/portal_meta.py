"""Files for browsers and crawlers: ``/opensearch.xml``, ``/robots.txt``, ``/sitemap.xml``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from api.deps import ServicesDep
from api.errors import ApiError
from portals.opensearch import description
from portals.sitemap import robots_txt, sitemap_index, sitemap_page

router = APIRouter(include_in_schema=False)


@router.get("/opensearch.xml")
def opensearch(request: Request) -> Response:
    return Response(description(str(request.base_url)), media_type="application/opensearchdescription+xml")


@router.get("/robots.txt", response_class=PlainTextResponse)
def robots(request: Request) -> str:
    return robots_txt(str(request.base_url))


@router.get("/sitemap.xml")
def sitemap(request: Request, services: ServicesDep) -> Response:
    return Response(sitemap_index(services, str(request.base_url)), media_type="application/xml")


@router.get("/sitemap-{number}.xml")
def sitemap_part(request: Request, services: ServicesDep, number: int) -> Response:
    body = sitemap_page(services, number, str(request.base_url))
    if body is None:
        raise ApiError(404, "not_found", f"there is no sitemap page {number}")
    return Response(body, media_type="application/xml")
