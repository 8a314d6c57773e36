"""Working days: weekends and a member's holidays do not count towards a response window."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta


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


def is_working_day(day: date, holidays: frozenset[date] = frozenset()) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: datetime, days: int, holidays: frozenset[date] = frozenset()) -> datetime:
    """The same time of day ``days`` working days later; a start on a closed day counts from the next
    working day's same time (a request sent on Saturday is due at that time on Tuesday for one day)."""
    current = start
    while not is_working_day(current.date(), holidays):
        current += timedelta(days=1)
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current.date(), holidays):
            remaining -= 1
    return current
