"""Fee schedules per lending member: a flat loan fee, a copy fee of base + per page (integer cents)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_FEES: dict[str, Any] = {"currency": "CNY", "loan": 1000, "copy_base": 200, "copy_per_page": 30}


def schedule(fees: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = dict(DEFAULT_FEES)
    merged.update({k: v for k, v in (fees or {}).items() if v is not None})
    return merged


def fee_cents(fees: Mapping[str, Any] | None, service: str, page_count: int = 0) -> int:
    """What one lender charges for one request."""
    s = schedule(fees)
    if service == "loan":
        return int(s["loan"])
    return int(s["copy_base"]) + int(s["copy_per_page"]) * max(page_count, 0)


def format_cents(cents: int | None, currency: str = "CNY") -> str:
    if cents is None:
        return "—"
    return f"{currency} {cents / 100:.2f}"


def parse_amount(text: str | None) -> int | None:
    """``"12.5"`` -> 1250 cents; empty -> None; refuses negatives and absurd sums."""
    if text is None or not str(text).strip():
        return None
    try:
        value = round(float(str(text).strip()) * 100)
    except (ValueError, OverflowError) as exc:  # "abc", "nan"; "inf" overflows round()
        raise ValueError("not a number") from exc
    if value < 0 or value > 10_000_000:
        raise ValueError("out of range")
    return value
