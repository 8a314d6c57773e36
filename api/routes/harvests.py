"""Harvest monitoring for administrators: members, runs, rejected records, indexing failures, and
whether the store's derived data is due for a rebuild after an upgrade."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ServicesDep
from catalog.harvests import harvest_runs, index_failures, members_overview, rejects
from catalog.quality import derivation_state
from catalog.withdrawals import list_withdrawals

router = APIRouter(tags=["harvests"])


@router.get("/members", summary="Member libraries with their record counts and last harvest")
def list_members(services: ServicesDep) -> dict[str, Any]:
    return {"members": members_overview(services)}


@router.get("/harvests", summary="Recent harvest runs with counts, errors and notes")
def list_harvests(
    services: ServicesDep,
    member: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    return {"runs": harvest_runs(services, member, limit)}


@router.get("/withdrawals", summary="Full harvests held because they would withdraw more than the member's limit")
def list_held_withdrawals(
    services: ServicesDep,
    member: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[
        str, Query(pattern="^(pending|applied|discarded|superseded|all)$", description="pending, a decision, or all")
    ] = "pending",
) -> dict[str, Any]:
    return {"withdrawals": list_withdrawals(services, status=None if status == "all" else status, member=member)}


@router.get("/rejects", summary="Records that could not be used, with the reason")
def list_rejects(
    services: ServicesDep,
    member: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    return {"rejects": rejects(services, member, limit)}


@router.get("/index-failures", summary="Union records Elasticsearch refused, and the projection backlog")
def list_index_failures(services: ServicesDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    return index_failures(services, limit)


@router.get(
    "/store-state",
    summary="Which crosswalk and matcher made the stored documents and union records, and whether a rebuild is due",
)
def store_state(services: ServicesDep) -> dict[str, Any]:
    return derivation_state(services)
