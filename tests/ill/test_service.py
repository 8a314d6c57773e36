"""Transitions against a real SQLite store: flows, forwarding, audit, locking, authorisation, bad input."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from catalog.context import Services
from ill import intake
from ill.auth import actor_of
from ill.errors import Conflict, Invalid, InvalidTransition, NotFound
from ill.intake import AvailableLocally, RequestForm
from ill.models import AuditEntry, IllRequest, Notification
from ill.service import Details, get_visible, transition
from tests.ill.consortium import Catalogue


def create(services: Services, who: Any, **form: Any) -> IllRequest:
    return asyncio.run(intake.create(services, actor_of(who), RequestForm(**form)))


def test_loan_flow_end_to_end(services: Services, catalogue: Catalogue, accounts: dict[str, Any]) -> None:
    catalogue.add("u1", "Dream of the Red Chamber", {"TSU": "available", "FDU": "available", "BNU": "unknown"})
    patron, borrow, tsu = accounts["patron_pku"], actor_of(accounts["staff_pku"]), actor_of(accounts["staff_tsu"])
    req = create(services, patron, union_id="u1", service="loan", needed_by=date.today() + timedelta(days=10))
    assert req.state == "sent" and req.lender_code == "TSU"
    assert [e.member_code for e in req.rota] == ["TSU", "FDU", "BNU"]
    for actor, action in [(tsu, "will_supply"), (tsu, "loaned"), (borrow, "received"), (borrow, "renew"),
                          (tsu, "renew_granted"), (borrow, "shipped_return"), (tsu, "loan_completed")]:
        req = transition(services, req.id, action, actor)
    assert req.state == "completed" and req.supplier_status == "LoanCompleted" and req.due_date
    full = get_visible(services, req.id, actor_of(patron))
    assert [a.to_state for a in full.audit] == ["submitted", "sent", "will_supply", "shipped", "received",
                                                "renew_requested", "received", "returned", "completed"]
    assert all(a.actor for a in full.audit)


def test_copy_flow_and_unfilled_forwarding(services: Services, catalogue: Catalogue,
                                           accounts: dict[str, Any]) -> None:
    catalogue.add("s1", "Acta Physica Sinica", {"TSU": "available", "SJTU": "available"}, fmt="serial")
    req = create(services, accounts["patron_pku"], union_id="s1", service="copy", pages="12-30, 41",
                 citation="vol. 3, p. 12")
    assert req.page_count == 20 and req.estimated_fee_cents == 200 + 30 * 20
    req = transition(services, req.id, "unfilled", actor_of(accounts["staff_tsu"]),
                     details=Details(reason="NotOnShelf"))
    assert req.state == "sent" and req.lender_code == "SJTU"
    req = transition(services, req.id, "copy_completed", actor_of(accounts["staff_sjtu"]))
    req = transition(services, req.id, "received", actor_of(accounts["patron_pku"]))
    assert req.state == "completed"
    full = get_visible(services, req.id, actor_of(accounts["admin"]))
    assert [e.outcome for e in full.rota] == ["unfilled", "supplying"]
    assert full.rota[0].reason_code == "NotOnShelf"


def test_rota_exhausted_tells_patron_and_desk(services: Services, catalogue: Catalogue,
                                              accounts: dict[str, Any]) -> None:
    catalogue.add("u2", "Rare book", {"TSU": "available"})
    req = create(services, accounts["patron_pku"], union_id="u2")
    req = transition(services, req.id, "unfilled", actor_of(accounts["staff_tsu"]),
                     details=Details(reason="NonCirculating"))
    assert req.state == "unfilled" and req.lender_code is None and req.closed_at
    with services.db() as s:
        to = set(s.scalars(select(Notification.to_addr).where(Notification.request_id == req.id)))
    assert {"patron@pku.example", "ill@pku.example"} <= to


def test_home_library_copy_refuses_ill(services: Services, catalogue: Catalogue, accounts: dict[str, Any]) -> None:
    catalogue.add("u3", "Local book", {"PKU": "available", "TSU": "available"})
    with pytest.raises(AvailableLocally):
        create(services, accounts["patron_pku"], union_id="u3")
    catalogue.live["u3"]["PKU"] = "on_loan"
    assert create(services, accounts["patron_pku"], union_id="u3").lender_code == "TSU"


@pytest.mark.parametrize("form, field", [
    ({"union_id": "nope"}, "union_id"),
    ({"union_id": "u1", "needed_by": date.today() - timedelta(days=1)}, "needed_by"),
    ({"union_id": "u1", "service": "copy", "pages": "30-12"}, "pages"),
    ({"union_id": "u1", "service": "copy", "pages": "-5"}, "pages"),
    ({"union_id": "u1", "service": "copy", "pages": "1-100000"}, "pages"),
    ({"union_id": "u1", "service": "copy", "pages": ""}, "pages"),
    ({"union_id": "u1", "max_cost_cents": -100}, "max_cost"),
    ({"union_id": "u1", "pickup_location": "somewhere else"}, "pickup_location"),
])
def test_bad_input_writes_nothing(services: Services, catalogue: Catalogue, accounts: dict[str, Any],
                                  form: dict[str, Any], field: str) -> None:
    catalogue.add("u1", "Book", {"TSU": "available"})
    with pytest.raises((Invalid, NotFound)) as info:
        create(services, accounts["patron_pku"], **form)
    assert info.value.field == field
    with services.db() as s:
        assert s.scalar(select(func.count()).select_from(IllRequest)) == 0


def test_illegal_transitions_and_authorisation(services: Services, catalogue: Catalogue,
                                               accounts: dict[str, Any]) -> None:
    catalogue.add("u4", "Book", {"TSU": "available", "FDU": "available"})
    req = create(services, accounts["patron_pku"], union_id="u4")
    patron, other = actor_of(accounts["patron_pku"]), actor_of(accounts["patron2_pku"])
    with pytest.raises(NotFound):  # another patron cannot even see it
        transition(services, req.id, "cancel", other)
    with pytest.raises(NotFound):
        get_visible(services, req.id, other)
    with pytest.raises(InvalidTransition):  # a patron cannot forge a lender's answer
        transition(services, req.id, "loaned", patron)
    with pytest.raises(NotFound):  # FDU was never asked: its staff cannot see it, let alone answer
        transition(services, req.id, "will_supply", actor_of(accounts["staff_fdu"]))
    with pytest.raises(InvalidTransition):  # nobody but the worker times out a lender
        transition(services, req.id, "timeout", actor_of(accounts["staff_pku"]))
    with pytest.raises(InvalidTransition):  # not yet shipped
        transition(services, req.id, "received", actor_of(accounts["staff_pku"]))
    with pytest.raises(Invalid):
        transition(services, req.id, "unfilled", actor_of(accounts["staff_tsu"]))  # reason missing
    assert transition(services, req.id, "cancel", patron).state == "cancelled"
    with services.db() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.request_id == req.id)) == 3


def test_stale_version_is_a_conflict(services: Services, catalogue: Catalogue, accounts: dict[str, Any]) -> None:
    catalogue.add("u5", "Book", {"TSU": "available"})
    req = create(services, accounts["patron_pku"], union_id="u5")
    tsu = actor_of(accounts["staff_tsu"])
    transition(services, req.id, "will_supply", tsu, expected_version=req.version)
    with pytest.raises(Conflict):
        transition(services, req.id, "unfilled", tsu, expected_version=req.version,
                   details=Details(reason="NotOnShelf"))


def test_two_desks_at_once_one_wins(services: Services, catalogue: Catalogue, accounts: dict[str, Any]) -> None:
    """The borrowing desk cancels while the lender ships: exactly one succeeds, the other gets a conflict."""
    for round_ in range(5):
        catalogue.add(f"c{round_}", "Book", {"TSU": "available"})
        req = create(services, accounts["patron_pku"], union_id=f"c{round_}")
        barrier, results = threading.Barrier(2), {}

        def act(name: str, action: str, who: str, req_id: int = req.id, version: int = req.version,
                barrier: threading.Barrier = barrier, results: dict[str, str] = results) -> None:
            barrier.wait()
            try:
                results[name] = transition(services, req_id, action, actor_of(accounts[who]),
                                           expected_version=version).state
            except (Conflict, InvalidTransition) as exc:
                results[name] = type(exc).__name__

        threads = [threading.Thread(target=act, args=("lend", "loaned", "staff_tsu")),
                   threading.Thread(target=act, args=("borrow", "cancel", "staff_pku"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results.values()) in (["Conflict", "shipped"], ["Conflict", "cancelled"]), results
        with services.db() as s:
            final = s.get(IllRequest, req.id)
            assert final is not None and final.state in ("shipped", "cancelled") and final.version > req.version
            assert s.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.request_id == req.id)) == 3


def test_timeout_forwards_to_next_lender(services: Services, catalogue: Catalogue, accounts: dict[str, Any]) -> None:
    from ill.jobs import age_requests

    catalogue.add("u6", "Book", {"TSU": "available", "FDU": "available"})
    monday = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    req = asyncio.run(intake.create(services, actor_of(accounts["patron_pku"]), RequestForm(union_id="u6"),
                                    now=monday))
    assert req.response_due is not None
    assert asyncio.run(age_requests({"services": services}, now=monday + timedelta(hours=23))) == 0
    assert asyncio.run(age_requests({"services": services}, now=monday + timedelta(days=1, minutes=1))) == 1
    full = get_visible(services, req.id, actor_of(accounts["admin"]))
    assert full.state == "sent" and full.lender_code == "FDU" and full.rota[0].outcome == "timeout"
    assert full.audit[-1].action == "timeout" and full.audit[-1].actor.startswith("system")
