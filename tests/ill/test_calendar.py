"""Response windows count working days as the State Council's 2026 holiday arrangement sets them.

The dates are the official 2026 arrangement (国务院办公厅关于2026年部分节假日安排的通知) as the
kept ``chinese-calendar`` package carries it: National Day and Mid-Autumn off 1-7 October, with
Sunday 20 September and Saturday 10 October made working days (调休); Spring Festival off 15-23
February, with Saturday 14 and Saturday 28 February made working days.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from catalog.context import Services
from ill import intake
from ill.auth import actor_of
from ill.calendar import add_working_days, is_working_day, parse_holidays
from ill.intake import RequestForm
from tests.ill.consortium import Catalogue


def test_national_day_week_is_not_counted() -> None:
    eve = datetime(2026, 9, 30, 10, 0)  # Wednesday before the Golden Week
    assert add_working_days(eve, 1) == datetime(2026, 10, 8, 10, 0)


def test_make_up_saturday_counts_as_a_working_day() -> None:
    assert is_working_day(date(2026, 10, 10)) and is_working_day(date(2026, 2, 28))
    friday = datetime(2026, 10, 9, 10, 0)
    assert add_working_days(friday, 1) == datetime(2026, 10, 10, 10, 0)
    # a member that stays closed on the make-up Saturday (its own closed day) is due on Monday
    assert add_working_days(friday, 1, parse_holidays(["2026-10-10"])) == datetime(2026, 10, 12, 10, 0)


def test_spring_festival_and_its_make_up_days() -> None:
    assert not is_working_day(date(2026, 2, 16))  # 除夕 week, a Monday
    assert is_working_day(date(2026, 2, 14))  # Saturday made a working day
    assert add_working_days(datetime(2026, 2, 13, 9, 0), 2) == datetime(2026, 2, 24, 9, 0)


def test_days_are_counted_in_beijing_time() -> None:
    # 20:00 UTC on 30 September is 04:00 on 1 October in Beijing: the window opens on 8 October
    sent = datetime(2026, 9, 30, 20, 0, tzinfo=UTC)
    assert add_working_days(sent, 1) == datetime(2026, 10, 8, 20, 0, tzinfo=UTC)


def test_lender_response_due_skips_golden_week(services: Services, catalogue: Catalogue,
                                               accounts: dict[str, Any]) -> None:
    catalogue.add("gw1", "Book", {"TSU": "available"})
    sent = datetime(2026, 9, 30, 1, 0, tzinfo=UTC)  # 09:00 Beijing, the day before the holiday
    req = asyncio.run(intake.create(services, actor_of(accounts["patron_pku"]), RequestForm(union_id="gw1"),
                                    now=sent))
    assert req.response_due is not None
    assert req.response_due.replace(tzinfo=UTC) == datetime(2026, 10, 8, 1, 0, tzinfo=UTC)
