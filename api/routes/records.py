"""``GET /api/v1/records/{id}``: a union record with its holdings and every source record."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import ServicesDep
from api.errors import ApiError
from catalog.records import get_record

router = APIRouter(tags=["records"])
UNION_ID = re.compile(r"^u[0-9a-f]{15}$")


@router.get("/records/{union_id}", summary="A union record, its holdings and its source records")
def read_record(
    services: ServicesDep,
    union_id: Annotated[str, Path(max_length=64)],
    marcxml: Annotated[bool, Query(description="Include each source record as MARCXML")] = True,
) -> dict[str, Any]:
    if not UNION_ID.match(union_id):
        raise ApiError(404, "not_found", f"no union record {union_id!r} (ids look like u0123456789abcde)")
    record = get_record(services, union_id, with_marcxml=marcxml)
    if record is None:
        raise ApiError(404, "not_found", f"no union record {union_id!r}")
    return record
