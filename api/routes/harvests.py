"""Harvest monitoring for administrators: members, runs, rejected records, indexing failures, and
whether the store's derived data is due for a rebuild after an upgrade.

Everything but the members list needs a console role (:mod:`api.console`): administrators see every
member, a member's cataloguer only that member's runs, rejects and held withdrawals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from admin.roles import AdminError, member_scope
from api.console import AdminActor, ConsoleActor, api_error
from api.deps import ServicesDep
from catalog.harvests import harvest_runs, index_failures, members_overview, rejects
from catalog.quality import derivation_and_index_state
from catalog.withdrawals import list_withdrawals

router = APIRouter(tags=["harvests"])


@router.get("/members", summary="Member libraries with their record counts and last harvest")
def list_members(services: ServicesDep) -> dict[str, Any]:
    return {"members": members_overview(services)}


def _scope(actor: ConsoleActor, member: str | None) -> str | None:
    try:
        return member_scope(actor, member)
    except AdminError as exc:
        raise api_error(exc) from exc


@router.get("/harvests", summary="Recent harvest runs with counts, errors and notes")
def list_harvests(
    services: ServicesDep,
    actor: ConsoleActor,
    member: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    return {"runs": harvest_runs(services, _scope(actor, member), limit)}


@router.get("/withdrawals", summary="Full harvests held because they would withdraw more than the member's limit")
def list_held_withdrawals(
    services: ServicesDep,
    actor: ConsoleActor,
    member: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[
        str, Query(pattern="^(pending|applied|discarded|superseded|all)$", description="pending, a decision, or all")
    ] = "pending",
) -> dict[str, Any]:
    return {"withdrawals": list_withdrawals(services, status=None if status == "all" else status,
                                           member=_scope(actor, member))}


@router.get("/rejects", summary="Records that could not be used, with the reason")
def list_rejects(
    services: ServicesDep,
    actor: ConsoleActor,
    member: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    return {"rejects": rejects(services, _scope(actor, member), limit)}


@router.get("/index-failures", summary="Union records Elasticsearch refused, and the projection backlog")
def list_index_failures(
    services: ServicesDep, actor: AdminActor, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    return index_failures(services, limit)


@router.get(
    "/store-state",
    summary="Which crosswalk, matcher and index mapping made the stored documents, union records and live index, "
    "and whether a rebuild is due",
)
def store_state(services: ServicesDep, actor: AdminActor) -> dict[str, Any]:
    return derivation_and_index_state(services)
