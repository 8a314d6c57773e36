"""Holding entries shaped like ``catalog.records.get_record``'s, each carrying its member's config."""

from __future__ import annotations

from typing import Any


def holding(member: str, config: dict[str, Any] | None, local_ids: list[str], **extra: Any) -> dict[str, Any]:
    """A holding entry shaped like ``catalog.records.get_record``'s, with its member's config."""
    return {"member": member, "member_name": {"zh": member, "en": member}, "region": "test",
            "local_ids": local_ids, "call_number": None, "location": None, "items": 1,
            "as_of": extra.pop("as_of", None),
            "harvested_items": extra.pop("harvested_items", []), "holdings_config": config, **extra}
