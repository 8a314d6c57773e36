"""Discovery pages: home, results with facets, record page with holdings by region, members."""

from __future__ import annotations

from typing import Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from admin.analytics import observe
from api.deps import ServicesDep
from api.params import FILTER_PARAMS, SearchParams
from catalog.counts import catalogue_counts
from catalog.didyoumean import did_you_mean
from catalog.harvests import members_overview
from catalog.members import region_names
from catalog.records import get_record
from catalog.search import SearchError, search
from store.models import Member
from web.portal_parts import record_parts, results_parts
from web.templating import render

router = APIRouter(include_in_schema=False)


def render_error_page(
    request: Request, status: int, message: str, message_args: dict[str, Any] | None = None
) -> HTMLResponse:
    """A readable error page; ``message`` is a catalog msgid (translated when the catalog has it)."""
    headings = {400: "The request could not be understood", 404: "Not found", 503: "Temporarily unavailable"}
    context = {
        "status": status,
        "heading": headings.get(status, "Something went wrong"),
        "message": message,
        "message_args": message_args or {},
    }
    return render(request, "error.html", context, status=status if status >= 400 else 500)


def home_region(request: Request, services: Any) -> str | None:
    """The user's region: ``?region=``, else the signed-in patron's or staff member's library's
    region, else the ``unicat_region`` cookie."""
    if request.query_params.get("region"):
        return request.query_params["region"]
    from ill import auth

    data = auth.load_session(services, request.cookies.get(auth.SESSION_COOKIE))
    uid = (data or {}).get("uid")
    account = auth.get_account(services, uid) if isinstance(uid, int) else None
    if account is not None and account.member_code:
        with services.db() as session:
            member = session.get(Member, account.member_code)
            if member is not None:
                return member.region
    return request.cookies.get("unicat_region")


def _members(services: Any) -> dict[str, Member]:
    with services.db() as session:
        return {m.code: m for m in session.scalars(select(Member).order_by(Member.region, Member.code))}


@router.get("/", response_class=HTMLResponse)
def home(request: Request, services: ServicesDep) -> HTMLResponse:
    return render(request, "home.html", {"counts": catalogue_counts(services)})


@router.get("/search", response_class=HTMLResponse)
def results(request: Request, services: ServicesDep, query: SearchParams) -> HTMLResponse:
    params = request.query_params
    filters = {name: params.getlist(name) for name in FILTER_PARAMS if params.getlist(name)}
    members = _members(services)
    try:
        result = search(services, query)
        suggestion = did_you_mean(services, query, result["total"])
    except SearchError as exc:
        return render_error_page(request, 400, str(exc))
    except EsApiError as exc:
        if exc.meta.status == 400:
            return render_error_page(request, 400, "This search could not be run. Please try plain words.")
        return render_error_page(request, 503, "The search index is not available right now. Please try again.")
    except TransportError:
        return render_error_page(request, 503, "The search index is not available right now. Please try again.")
    observe(services, query, result)  # a few counters held in memory (admin.analytics)
    page = render(
        request,
        "search.html",
        {
            "q": query.q,
            "result": result,
            "did_you_mean": suggestion,
            "filters": filters,
            "members": members,
            "region_names": region_names(members.values()),
            "query": query,
            "home_region": home_region(request, services),
            "portal": results_parts(request, result["hits"]),
        },
    )
    return page


@router.get("/records/{union_id}", response_class=HTMLResponse)
def record_page(request: Request, services: ServicesDep, union_id: str) -> HTMLResponse:
    record = get_record(services, union_id, with_marcxml=False) if len(union_id) <= 64 else None
    if record is None:
        return render_error_page(
            request, 404, "There is no record %(id)s in the union catalogue.", {"id": union_id[:64]}
        )
    region = home_region(request, services)
    regions: dict[str, list[dict[str, Any]]] = {}
    for holding in record["holdings"]:
        regions.setdefault(holding["region"], []).append(holding)
    order = sorted(regions, key=lambda r: (r != region, r))
    base = services.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return render(
        request,
        "record.html",
        {
            "record": record,
            "permalink": f"{base}/records/{record['id']}",
            "regions": [(r, regions[r]) for r in order],
            "home_region": region,
            "region_names": region_names(_members(services).values()),
            "portal": record_parts(request, record),
        },
    )


@router.get("/members", response_class=HTMLResponse)
def members_page(request: Request, services: ServicesDep) -> HTMLResponse:
    return render(request, "members.html", {"members": members_overview(services)})
