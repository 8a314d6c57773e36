"""Fee schedules per lending member: a flat loan fee, a copy fee of base + per page.

A schedule is kept in the policy's ``fees`` JSON as amounts in the currency's minor unit (integers,
or decimal strings for a rate below one minor unit, e.g. ``"12.5"`` fen a page); the fee of one
request is computed in ``Decimal`` and rounded once, half up, to a whole minor unit
(:mod:`ill.money`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ill.money import MoneyError, format_money, parse_amount, rate

DEFAULT_FEES: dict[str, Any] = {"currency": "CNY", "loan": 1000, "copy_base": 200, "copy_per_page": 30}

__all__ = ["DEFAULT_FEES", "MoneyError", "fee_cents", "format_cents", "parse_amount", "schedule"]


def schedule(fees: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = dict(DEFAULT_FEES)
    merged.update({k: v for k, v in (fees or {}).items() if v is not None})
    return merged


def fee_cents(fees: Mapping[str, Any] | None, service: str, page_count: int = 0) -> int:
    """What one lender charges for one request, in minor units of its schedule's currency."""
    s = schedule(fees)
    if service == "loan":
        amount = rate(s["loan"])
    else:
        amount = rate(s["copy_base"]) + rate(s["copy_per_page"]) * max(page_count, 0)
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_cents(cents: int | None, currency: str = "CNY") -> str:
    """``CNY 12.50`` (kept under its old name for the templates: the amount is in minor units)."""
    return format_money(cents, currency)
