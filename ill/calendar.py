"""Working days as China counts them, for the ILL service agreement's response windows.

A day is a working day when the State Council's calendar makes it one — weekdays, minus the public
holidays, plus the weekend days made working days (调休) — and the member has not declared it closed.
The national calendar is the kept ``chinese-calendar`` package (``chinese_calendar.is_workday``),
which carries each year's official arrangement. For a year it has no data for yet (the arrangement
is published each November for the next year), Monday to Friday stands in, and that is logged once
per year so an administrator knows to upgrade the package. Days are China's days: an aware
time is read in Beijing time (a request sent at 20:00 UTC on 30 September arrives on 1 October).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)
_WARNED_YEARS: set[int] = set()
CHINA = ZoneInfo("Asia/Shanghai")


def parse_holidays(values: Iterable[str]) -> frozenset[date]:
    """ISO dates (``2026-10-01``) or inclusive ranges (``2026-10-01..2026-10-07``)."""
    days: set[date] = set()
    for value in values:
        first, _, last = str(value).partition("..")
        start = date.fromisoformat(first.strip())
        end = date.fromisoformat(last.strip()) if last else start
        while start <= end:
            days.add(start)
            start += timedelta(days=1)
    return frozenset(days)


def is_national_working_day(day: date) -> bool:
    """True on a working day of the national calendar (holidays off, 调休 make-up days on)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year the package has no arrangement for
        if day.year not in _WARNED_YEARS:
            _WARNED_YEARS.add(day.year)
            log.warning("chinese-calendar has no holiday arrangement for %d: counting Monday-Friday", day.year)
        return day.weekday() < 5


def is_working_day(day: date, holidays: frozenset[date] = frozenset()) -> bool:
    """A national working day on which the member (``holidays``: its own closed days) is open."""
    return day not in holidays and is_national_working_day(day)


def add_working_days(start: datetime, days: int, holidays: frozenset[date] = frozenset()) -> datetime:
    """The same time of day ``days`` working days later; a start on a closed day counts from the next
    working day's same time (a request sent on Saturday is due at that time on Tuesday for one day)."""
    current = start.astimezone(CHINA) if start.tzinfo is not None else start
    while not is_working_day(current.date(), holidays):
        current += timedelta(days=1)
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current.date(), holidays):
            remaining -= 1
    return current.astimezone(start.tzinfo) if start.tzinfo is not None else current
