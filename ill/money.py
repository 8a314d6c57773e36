"""Money as ``Decimal`` in a currency's own minor unit — never ``float``.

Amounts are stored and passed around as integers of the currency's minor unit (fen for CNY, cents
for USD, yen for JPY, fils for KWD), which is exact; the number of decimal places of each currency
is ISO 4217's as CLDR carries it (``babel.numbers.get_currency_precision``: CNY 2, JPY 0, KWD 3).
Arithmetic on rates (a per-page fee of 0.125) is done in ``Decimal`` and rounded once, half up
(四舍五入), to a whole minor unit.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import get_currency_precision, list_currencies

#: The most any one ILL amount may be, in major units (a guard against typing errors, not a policy).
MAX_MAJOR = Decimal(100_000)
_CURRENCIES = frozenset(list_currencies())


class MoneyError(ValueError):
    """An amount or currency that cannot be used; the message says why."""


def check_currency(code: str) -> str:
    value = (code or "").strip().upper()
    if value not in _CURRENCIES:
        raise MoneyError(f"{code!r} is not an ISO 4217 currency code")
    return value


def minor_digits(currency: str) -> int:
    """Decimal places of the currency's minor unit (CNY 2, JPY 0, KWD 3)."""
    return int(get_currency_precision(check_currency(currency)))


def to_minor(amount: Decimal, currency: str) -> int:
    """``Decimal("12.345")`` CNY → 1235 fen (rounded half up to a whole minor unit)."""
    return int(amount.scaleb(minor_digits(currency)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_minor(units: int, currency: str) -> Decimal:
    """1250 fen → ``Decimal("12.50")``; 1000 JPY → ``Decimal("1000")``."""
    digits = minor_digits(currency)
    return Decimal(int(units)).scaleb(-digits).quantize(Decimal(1).scaleb(-digits))


def format_money(units: int | None, currency: str = "CNY") -> str:
    """``CNY 12.50``, ``JPY 1000``, ``KWD 1.250``; an em dash for no amount."""
    if units is None:
        return "—"
    return f"{check_currency(currency)} {from_minor(units, currency)}"


def parse_amount(text: str | None, currency: str = "CNY") -> int | None:
    """An amount typed or sent in major units → minor units; empty → None.

    Refuses what is not a plain decimal number, negatives, sums above :data:`MAX_MAJOR` and more
    decimal places than the currency has (``12.345`` CNY is a typing error, not 12.35)."""
    if text is None or not str(text).strip():
        return None
    raw = str(text).strip()
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise MoneyError(f"{raw!r} is not an amount") from exc
    if not value.is_finite() or "e" in raw.lower() or "_" in raw:
        raise MoneyError(f"{raw!r} is not an amount")
    if value < 0 or value > MAX_MAJOR:
        raise MoneyError(f"{raw} is out of range (0 to {MAX_MAJOR})")
    digits = minor_digits(currency)
    if -value.as_tuple().exponent > digits:  # type: ignore[operator]
        raise MoneyError(f"{currency} amounts have {digits} decimal places at most, not {raw}")
    return to_minor(value, currency)


def rate(value: object) -> Decimal:
    """A stored schedule amount in minor units (an int, or a decimal string for a fraction of one).

    A JSON number with a point (a hand-edited policy) is read from its shortest decimal text, which
    is what was written, never from its binary value."""
    if isinstance(value, bool):
        raise MoneyError(f"{value!r} is not an amount")
    try:
        found = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation as exc:
        raise MoneyError(f"{value!r} is not an amount") from exc
    if not found.is_finite() or found < 0:
        raise MoneyError(f"{value!r} is not an amount")
    return found
