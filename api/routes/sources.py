"""``GET /api/v1/sources/{member}/{local_id}``: which union record holds a member's own record."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import ServicesDep
from api.errors import ApiError
from catalog.records import find_by_source

router = APIRouter(tags=["records"])


@router.get("/sources/{member}/{local_id:path}", summary="Find the union record of a member's record")
def read_source(
    services: ServicesDep,
    member: Annotated[str, Path(max_length=64)],
    local_id: Annotated[str, Path(max_length=255)],
) -> dict[str, Any]:
    found = find_by_source(services, member, local_id)
    if found is None:
        raise ApiError(404, "not_found", f"member {member!r} has no live record {local_id!r} in the union catalogue")
    return found
