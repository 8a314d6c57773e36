"""Fees in Decimal, in each currency's own minor unit (ISO 4217 exponents as CLDR carries them:
CNY 2 — 元/分, USD 2, JPY 0, KWD 3 — dinar/fils); never a float on the way."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from catalog.context import Services
from ill.fees import fee_cents, format_cents
from ill.models import IllPolicy
from ill.money import MoneyError, format_money, from_minor, minor_digits, parse_amount, to_minor
from tests.core.test_members_cli import run_cli


def test_currency_exponents_are_iso_4217s() -> None:
    assert [minor_digits(c) for c in ("CNY", "USD", "JPY", "KWD")] == [2, 2, 0, 3]
    with pytest.raises(MoneyError):
        minor_digits("RMB")  # what people say, not the ISO code


@pytest.mark.parametrize(("text", "currency", "units"), [
    ("12.50", "CNY", 1250), ("0.3", "CNY", 30), ("1000", "JPY", 1000), ("1.250", "KWD", 1250),
    ("19.99", "USD", 1999), ("0.29", "CNY", 29), (" 100000 ", "CNY", 10_000_000),
])
def test_amounts_parse_into_the_currency_s_minor_unit(text: str, currency: str, units: int) -> None:
    assert parse_amount(text, currency) == units


@pytest.mark.parametrize(("text", "currency"), [
    ("12.345", "CNY"), ("10.5", "JPY"), ("-1", "CNY"), ("1e3", "CNY"), ("nan", "CNY"), ("inf", "CNY"),
    ("100000.01", "CNY"), ("abc", "CNY"), ("1_000", "CNY"),
])
def test_what_is_not_an_amount_is_refused(text: str, currency: str) -> None:
    with pytest.raises(MoneyError):
        parse_amount(text, currency)


def test_formatting_uses_the_currency_s_decimals() -> None:
    assert format_money(1000, "JPY") == "JPY 1000"
    assert format_money(1250, "KWD") == "KWD 1.250"
    assert format_cents(1250) == "CNY 12.50" and format_cents(None) == "—"
    assert from_minor(5, "CNY") == Decimal("0.05") and to_minor(Decimal("0.285"), "CNY") == 29


def test_a_per_page_rate_below_one_fen_is_rounded_once_half_up() -> None:
    fees = {"currency": "CNY", "copy_base": 200, "copy_per_page": "12.5"}  # 2.00 + 0.125 a page
    assert fee_cents(fees, "copy", 7) == 288  # 2.875 元 -> 2.88 元
    assert fee_cents(fees, "copy", 4) == 250
    assert fee_cents({"loan": 10.5}, "loan") == 11  # a hand-edited JSON number is read as written


def test_cli_sets_fees_in_the_currency_s_own_units(ill_settings: Any, services: Services, tmp_path: Any,
                                                   accounts: dict[str, Any]) -> None:
    members_file = tmp_path / "unused.toml"
    done = run_cli(ill_settings, members_file, "ill", "set-fees", "TSU", "--currency", "JPY", "--loan", "1000",
                   "--copy-base", "200", "--copy-per-page", "12.5")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["loan"] == 1000  # yen, not 100000
    with services.db() as session:
        fees = session.scalars(select(IllPolicy.fees).where(IllPolicy.member_code == "TSU")).one()
    assert fees["currency"] == "JPY" and fees["copy_per_page"] == "12.5"
    assert format_money(fee_cents(fees, "copy", 3), "JPY") == "JPY 238"  # 200 + 37.5 -> 238
    refused = run_cli(ill_settings, members_file, "ill", "set-fees", "TSU", "--currency", "CNY", "--loan", "1.005")
    assert refused.returncode != 0 and "2 decimal places" in " ".join(refused.stderr.split())
