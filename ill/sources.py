"""Where ILL gets union records and live availability from (the catalogue's and holdings' contracts).

A deployment (or a test building a crafted consortium) may put its own callables in
``services.extras["ill.get_record"]`` / ``services.extras["ill.availability"]``; otherwise the
catalogue's record store and the holdings service are asked.
"""

from __future__ import annotations

import inspect
from typing import Any

from catalog.context import Services


def get_record(services: Services, union_id: str) -> dict[str, Any] | None:
    custom = services.extras.get("ill.get_record")
    if callable(custom):
        return custom(services, union_id)  # type: ignore[no-any-return]
    from catalog.records import get_record as catalog_get_record  # type: ignore[import-not-found]
    from catalog.records import moved_to  # type: ignore[import-not-found]

    record = catalog_get_record(services, union_id)
    if record is None:  # a link kept from before a merge: the record it joined (its "id" is the new one)
        target = moved_to(services, union_id)
        record = catalog_get_record(services, target) if target else None
    return record  # type: ignore[no-any-return]


async def availability(services: Services, record: dict[str, Any]) -> list[dict[str, Any]]:
    """Live availability per holding member; a failing lookup means "unknown" (routing asks anyway)."""
    custom = services.extras.get("ill.availability")
    try:
        if callable(custom):
            result = custom(services, record)
        else:
            from holdings.service import availability_for_record  # type: ignore[import-not-found]

            result = availability_for_record(services, record)
        if inspect.isawaitable(result):
            result = await result
        return list(result)
    except Exception:  # noqa: BLE001 - availability is advisory; routing treats silence as "maybe"
        return [{"member": h["member"], "state": "unknown", "items": []} for h in record.get("holdings", [])]
