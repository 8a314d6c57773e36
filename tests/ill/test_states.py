from __future__ import annotations

from datetime import date, datetime

from ill import states
from ill.calendar import add_working_days, parse_holidays


def test_table_is_consistent() -> None:
    states.check()


def test_patron_may_only_cancel_or_answer_conditions() -> None:
    names = {t.name for t in states.allowed("sent", "loan", {"patron"})}
    assert names == {"cancel"}
    names = {t.name for t in states.allowed("conditional", "loan", {"patron"})}
    assert names == {"accept_condition", "reject_condition", "cancel"}
    assert not states.allowed("shipped", "loan", {"patron"}) or {
        t.name for t in states.allowed("shipped", "loan", {"patron"})} == {"received"}


def test_no_transition_leaves_a_terminal_state() -> None:
    for state in states.TERMINAL:
        assert states.allowed(state, "loan", states.ROLES) == []


def test_working_days_skip_weekends_and_holidays() -> None:
    friday = datetime(2026, 3, 6, 10, 0)
    assert add_working_days(friday, 1) == datetime(2026, 3, 9, 10, 0)
    assert add_working_days(friday, 1, parse_holidays(["2026-03-09..2026-03-10"])) == datetime(2026, 3, 11, 10, 0)
    saturday = datetime(2026, 3, 7, 9, 0)
    assert add_working_days(saturday, 1) == datetime(2026, 3, 10, 9, 0)
    assert date(2026, 10, 3) in parse_holidays(["2026-10-01..2026-10-07"])
