"""Live availability: ``GET /api/v1/records/{id}/availability``, the badge batch
``GET /api/v1/availability?ids=a,b,c`` and the status words members sent that no table could read
(``GET /api/v1/status-words/unknown``). Thin: the logic is in :mod:`holdings.service`."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import ServicesDep
from api.errors import ApiError
from catalog.records import get_record
from holdings.service import availability_for_record, available_somewhere, summarise, unknown_status_words

router = APIRouter(tags=["availability"])
MAX_IDS = 50


@router.get("/records/{union_id}/availability", summary="Live status of every holding member's items")
async def record_availability(services: ServicesDep, union_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    record = await asyncio.to_thread(get_record, services, union_id)
    if record is None:
        raise ApiError(404, "not_found", f"no union record {union_id!r}")
    entries = await availability_for_record(services, record)
    return {"id": union_id, **summarise(entries), "holdings": entries}


@router.get("/availability", summary="Available now somewhere? For a page of search hits (at most 50 ids)")
async def batch_availability(
    services: ServicesDep,
    ids: Annotated[str, Query(description="Comma-separated union record ids", max_length=50 * 65)],
) -> dict[str, dict[str, bool | None]]:
    wanted = list(dict.fromkeys(i.strip() for i in ids.split(",") if i.strip()))
    if not wanted:
        raise ApiError(422, "invalid_parameter", "ids: give at least one record id")
    if len(wanted) > MAX_IDS:
        raise ApiError(422, "invalid_parameter", f"ids: at most {MAX_IDS} record ids, got {len(wanted)}")
    found = await asyncio.gather(*(asyncio.to_thread(get_record, services, i) for i in wanted))
    records = [r for r in found if r is not None]
    answers = await available_somewhere(services, records)
    return {i: {"available_somewhere": answers.get(i)} for i in wanted}


@router.get("/status-words/unknown", summary="Status words members sent that no status table could read")
def unknown_words(services: ServicesDep,
                  member: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    try:
        found = unknown_status_words(services, member)
    except Exception as exc:  # noqa: BLE001 - Redis down: say so, never a traceback
        raise ApiError(503, "unavailable", f"the counts are kept in Redis, which did not answer: {exc}") from exc
    return {"members": [{"member": m, "words": [{"word": w, "count": n} for w, n in words.items()]}
                        for m, words in found.items()]}
