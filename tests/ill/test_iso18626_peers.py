"""ISO 18626 conversations with an independent peer speaking the 1.2 or the 2021 schema.

unicat runs for real (HTTP endpoint served by uvicorn, SQLite, the ILL worker under arq on a private
Redis delivering the outbox); the peer (tests/peers/iso18626_peer.py) sends messages made from ones
captured from CrossLink and checks everything unicat sends against its own version's XSD.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from catalog.context import build_services
from ill import intake, iso18626
from ill.auth import actor_of
from ill.intake import RequestForm
from ill.models import IllRequest, InboundMessage, Notification
from ill.service import Details, get_visible, transition
from tests.ill.consortium import Catalogue, seed
from tests.ill.iso_world import drain, make_peer, outbox, served
from tests.peers.iso18626_peer import Iso18626Peer, status_of

VERSIONS = ["1.2", "2021"]


@pytest.fixture
def world(settings: Any) -> Iterator[dict[str, Any]]:
    queue = f"test-ill-{uuid.uuid4().hex[:8]}"
    svc = build_services(settings(es=False, session_cookie_secure=False, ill_peer_backoff_base=0.05,
                                  ill_peer_backoff_cap=0.2, ill_peer_max_attempts=4, ill_queue_name=queue))
    catalogue = Catalogue()
    catalogue.install(svc)
    accounts = seed(svc)
    with served(svc) as url:
        yield {"services": svc, "catalogue": catalogue, "accounts": accounts, "url": url, "queue": queue,
               "redis": svc.settings.redis_url}
    svc.close()


def _peer(world: dict[str, Any], version: str, code: str = "SJTU", agency: str = "CN-SJTU",
          configured: str | None = None) -> Iso18626Peer:
    """The peer, with its version configured (we speak first) or ``auto`` (learned from its first message)."""
    peer = make_peer(world["services"], code, agency, version, configured or version)
    peer.unicat_url, peer.unicat_headers = world["url"], {"Authorization": f"Bearer {peer.token}"}
    return peer


def _borrow(world: dict[str, Any], holders: dict[str, str] | None = None, service: str = "loan") -> IllRequest:
    """A PKU patron asks for a book SJTU holds (BNU has it too, availability unknown: second)."""
    union_id = f"u{uuid.uuid4().hex[:6]}"
    world["catalogue"].add(union_id, "The Dream of the Red Chamber", holders or {"SJTU": "available",
                                                                                 "BNU": "unknown"})
    form = RequestForm(union_id=union_id, service=service, pages="1-10" if service == "copy" else None)
    return asyncio.run(intake.create(world["services"], actor_of(world["accounts"]["patron_pku"]), form))


def _deliver(world: dict[str, Any], rounds: int = 1) -> None:
    drain(world["services"], world["redis"], world["queue"], rounds=rounds, pause=0.25)


def _state(world: dict[str, Any], rid: int) -> IllRequest:
    return get_visible(world["services"], rid, actor_of(world["accounts"]["admin"]))


def _patron(world: dict[str, Any]) -> Any:
    return actor_of(world["accounts"]["patron_pku"])


def _answer(peer: Iso18626Peer, req: IllRequest, rid: str | None = None, **content: Any) -> str | None:
    data = peer.supplying(requester="PKU", rid=rid or str(req.id), srid=f"sup-{req.id}", **content)
    return status_of(peer.send(data))


@pytest.mark.parametrize("version", VERSIONS)
def test_loan_with_the_lenders_due_date_then_return(world: dict[str, Any], version: str) -> None:
    peer = _peer(world, version)
    with peer.running():
        req = _borrow(world)
        _deliver(world)
        request = peer.last("request")
        assert request.get("header/requestingAgencyRequestId") == str(req.id)
        assert request.root.get(f"{{{iso18626.NS}}}version") == iso18626.VERSION_ATTR[version]
        assert _answer(peer, req, status="WillSupply", reason="RequestResponse") == "OK"
        assert _state(world, req.id).state == "will_supply"
        assert _answer(peer, req, status="Loaned", due="2027-03-31T23:59:59Z") == "OK"
        got = _state(world, req.id)
        assert (got.state, got.due_date, got.supplier_status) == ("shipped", date(2027, 3, 31), "Loaned")
        transition(world["services"], req.id, "received", _patron(world))
        transition(world["services"], req.id, "shipped_return", actor_of(world["accounts"]["staff_pku"]))
        _deliver(world)
        assert [r.get("action") for r in peer.received if r.kind == "requestingAgencyMessage"] == [
            "Received", "ShippedReturn"]
        assert _answer(peer, req, status="LoanCompleted") == "OK"
    assert _state(world, req.id).state == "completed" and peer.states[str(req.id)].status == "LoanCompleted"
    sent = [m for m in outbox(world["services"])]
    assert all(m.status == "sent" for m in sent) and {m.version for m in sent} == {version}
    assert peer.invalid() == []
    with world["services"].db() as session:
        mails = session.scalars(select(Notification.subject).where(Notification.request_id == req.id)).all()
    assert any("on its way" in s for s in mails)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("reason", [None, "NotOnShelf"])
def test_unfilled_with_or_without_reason_moves_to_the_next_lender(world: dict[str, Any], version: str,
                                                                  reason: str | None) -> None:
    peer = _peer(world, version, configured=version)
    with peer.running():
        req = _borrow(world)
        _deliver(world)
        assert peer.last("request").get("header/supplyingAgencyId/agencyIdType") == "ISIL"  # the peer's own type
        assert _answer(peer, req, status="Unfilled", reason="RequestResponse", reason_unfilled=reason) == "OK"
    got = _state(world, req.id)
    assert (got.state, got.lender_code, got.supplier_status) == ("sent", "BNU", "RequestReceived")
    assert got.rota[0].outcome == "unfilled" and got.rota[0].reason_code == reason
    assert peer.invalid() == []


@pytest.mark.parametrize("version", VERSIONS)
def test_retry_on_cost_accepted_sends_a_retry_request(world: dict[str, Any], version: str) -> None:
    peer = _peer(world, version, configured=version)
    with peer.running():
        req = _borrow(world)
        _deliver(world)
        assert _answer(peer, req, status="RetryPossible", reason="RequestResponse", offered=("USD", "35")) == "OK"
        got = _state(world, req.id)
        assert (got.state, got.offered_cost_amount, got.offered_cost_currency) == ("conditional", Decimal("35.00"),
                                                                                  "USD")
        with world["services"].db() as session:  # the patron is told the cost in the lender's currency
            bodies = session.scalars(select(Notification.body).where(Notification.request_id == req.id,
                                                                     Notification.to_addr == "patron@pku.example"))
            assert any("USD 35.00" in b for b in bodies.all())
        transition(world["services"], req.id, "accept_condition", _patron(world))
        _deliver(world)
        retry = peer.last("request")
        assert retry.get("serviceInfo/requestType") == "Retry"
        assert retry.get("serviceInfo/requestingAgencyPreviousRequestId") == str(req.id)
        assert retry.get("header/requestingAgencyRequestId") == f"{req.id}-R1"
        assert (retry.get("billingInfo/maximumCosts/currencyCode"),
                retry.get("billingInfo/maximumCosts/monetaryValue")) == ("USD", "35.00")
        assert _state(world, req.id).state == "sent"
        assert _answer(peer, req, rid=f"{req.id}-R1", status="Loaned", reason="RequestResponse") == "OK"
    assert _state(world, req.id).state == "shipped"
    assert peer.states[str(req.id)].status == "Retried" and peer.states[f"{req.id}-R1"].status == "Loaned"
    assert peer.invalid() == []


@pytest.mark.parametrize("version", VERSIONS)
def test_retry_on_cost_declined_goes_to_the_next_lender(world: dict[str, Any], version: str) -> None:
    peer = _peer(world, version)
    with peer.running():
        req = _borrow(world)
        _deliver(world)
        assert _answer(peer, req, status="RetryPossible", offered=("USD", "35.00")) == "OK"
        transition(world["services"], req.id, "reject_condition", _patron(world))
        _deliver(world)
    got = _state(world, req.id)
    assert (got.state, got.lender_code) == ("sent", "BNU") and got.rota[0].outcome == "declined"
    assert [r.kind for r in peer.received] == ["request"]  # nothing more for the peer: it ended the request


@pytest.mark.parametrize("version", VERSIONS)
def test_cancel_before_and_after_shipping(world: dict[str, Any], version: str) -> None:
    peer = _peer(world, version)
    with peer.running():
        first = _borrow(world)
        second = _borrow(world)
        _deliver(world)
        transition(world["services"], first.id, "cancel", _patron(world))
        assert _state(world, first.id).state == "cancel_requested"
        _answer(peer, second, status="WillSupply", reason="RequestResponse")
        transition(world["services"], second.id, "cancel", _patron(world))
        _deliver(world)
        assert [r.get("action") for r in peer.received if r.kind == "requestingAgencyMessage"] == ["Cancel"] * 2
        assert _answer(peer, first, status="Cancelled", reason="CancelResponse", answer="Y") == "OK"
        # the second one had already left the shelf: the lender says no, and the loan goes on
        assert _answer(peer, second, status="Loaned", reason="CancelResponse", answer="N") == "OK"
    assert _state(world, first.id).state == "cancelled" and _state(world, second.id).state == "shipped"
    assert peer.invalid() == []


@pytest.mark.parametrize("version", VERSIONS)
def test_renew_granted_with_the_new_due_date(world: dict[str, Any], version: str) -> None:
    peer = _peer(world, version)
    with peer.running():
        req = _borrow(world)
        _deliver(world)
        _answer(peer, req, status="Loaned", reason="RequestResponse", due="2027-01-10T12:00:00Z")
        transition(world["services"], req.id, "received", _patron(world))
        transition(world["services"], req.id, "renew", actor_of(world["accounts"]["staff_pku"]))
        _deliver(world)
        assert peer.last("requestingAgencyMessage").get("action") == "Renew"
        assert _answer(peer, req, status="Loaned", reason="RenewResponse", answer="Y",
                       due="2027-02-10T12:00:00Z") == "OK"
    got = _state(world, req.id)
    assert (got.state, got.due_date) == ("received", date(2027, 2, 10))


@pytest.mark.parametrize("version", VERSIONS)
def test_error_confirmation_is_flagged_not_retried(world: dict[str, Any], version: str) -> None:
    peer = _peer(world, version)
    peer.faults = ["error"]
    with peer.running():
        req = _borrow(world)
        _deliver(world, rounds=3)
    [msg] = outbox(world["services"])
    assert (msg.status, msg.attempts, msg.error_type) == ("rejected", 1, "UnrecognisedDataValue")
    assert "request id unknown here" in (msg.error_value or "")
    assert "UnrecognisedDataValue" in (_state(world, req.id).peer_error or "")
    assert len(peer.received) == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_http_500_is_retried_with_backoff_and_order_is_kept(world: dict[str, Any], version: str) -> None:
    peer = _peer(world, version)
    peer.faults = ["500", "500"]
    with peer.running():
        req = _borrow(world)
        transition(world["services"], req.id, "cancel", _patron(world))  # queued behind the request
        _deliver(world)
        first = outbox(world["services"])
        assert [(m.kind, m.status) for m in first] == [("request", "pending"), ("requestingAgencyMessage", "pending")]
        assert first[0].http_status == 500 and first[0].next_attempt_at is not None
        _deliver(world, rounds=4)
    assert [r.kind for r in peer.received] == ["request"] * 3 + ["requestingAgencyMessage"]
    assert all(m.status == "sent" for m in outbox(world["services"]))


@pytest.mark.parametrize("version", VERSIONS)
def test_lost_confirmation_then_retry_is_answered_the_same(world: dict[str, Any], version: str) -> None:
    peer = _peer(world, version)
    peer.faults = ["drop"]
    with peer.running():
        req = _borrow(world)
        _deliver(world, rounds=3)
        assert [r.kind for r in peer.received] == ["request", "request"]
        assert peer.states[str(req.id)].messages == ["request New"]  # processed once
        assert outbox(world["services"])[0].status == "sent"
        # the other way round: the peer did not get our confirmation and sends Loaned again
        loaned = peer.supplying(requester="PKU", rid=str(req.id), srid="s1", status="Loaned",
                                reason="RequestResponse")
        one, two = peer.send(loaned), peer.send(loaned)
    assert status_of(one) == status_of(two) == "OK"
    assert _state(world, req.id).state == "shipped"
    with world["services"].db() as session:
        assert len(session.scalars(select(InboundMessage).where(InboundMessage.kind == "supplyingAgencyMessage"))
                   .all()) == 1


# ---------------------------------------------------------------- unicat as the lender
@pytest.mark.parametrize("version", VERSIONS)
def test_peer_borrows_loan_conversation(world: dict[str, Any], version: str) -> None:
    peer = _peer(world, version, configured="auto")  # it speaks first: its version is learned
    tsu = actor_of(world["accounts"]["staff_tsu"])
    with peer.running():
        assert status_of(peer.send(peer.request(supplier="TSU", rid="CL-1", title="Lord of the Rings"))) == "OK"
        with world["services"].db() as session:
            rid = session.scalar(select(IllRequest.id).where(IllRequest.peer_request_id == "CL-1"))
        assert rid is not None
        transition(world["services"], rid, "will_supply", tsu)
        transition(world["services"], rid, "loaned", tsu, details=Details(due_date=date(2027, 5, 1)))
        _deliver(world)
        answers = [r for r in peer.received if r.kind == "supplyingAgencyMessage"]
        assert [(a.get("messageInfo/reasonForMessage"), a.get("statusInfo/status")) for a in answers] == [
            ("RequestResponse", "WillSupply"), ("StatusChange", "Loaned")]
        assert answers[1].get("statusInfo/dueDate", ).startswith("2027-05-01")
        assert answers[0].get("header/supplyingAgencyRequestId") == str(rid)
        for action in ("Received", "ShippedReturn"):
            assert status_of(peer.send(peer.requesting(supplier="TSU", rid="CL-1", srid=str(rid),
                                                       action=action))) == "OK"
        transition(world["services"], rid, "loan_completed", tsu)
        _deliver(world)
    assert _state(world, rid).state == "completed" and peer.states["CL-1"].status == "LoanCompleted"
    assert {m.version for m in outbox(world["services"])} == {version} and peer.invalid() == []


@pytest.mark.parametrize("version", VERSIONS)
def test_peer_cancels_before_and_after_we_ship(world: dict[str, Any], version: str) -> None:
    peer = _peer(world, version, configured="auto")  # it speaks first: its version is learned
    tsu = actor_of(world["accounts"]["staff_tsu"])
    with peer.running():
        for rid in ("CL-A", "CL-B"):
            peer.send(peer.request(supplier="TSU", rid=rid, title="A book"))
        with world["services"].db() as session:
            ids = dict(session.execute(select(IllRequest.peer_request_id, IllRequest.id)).tuples().all())
        transition(world["services"], ids["CL-B"], "loaned", tsu)
        for rid in ("CL-A", "CL-B"):
            assert status_of(peer.send(peer.requesting(supplier="TSU", rid=rid, srid=str(ids[rid]),
                                                       action="Cancel"))) == "OK"
        _deliver(world)
    responses = {r.get("header/requestingAgencyRequestId"): r for r in peer.received
                 if r.kind == "supplyingAgencyMessage" and r.get("messageInfo/reasonForMessage") == "CancelResponse"}
    assert responses["CL-A"].get("messageInfo/answerYesNo") == "Y"
    assert responses["CL-B"].get("messageInfo/answerYesNo") == "N"
    assert (responses["CL-B"].get("statusInfo/status"), _state(world, ids["CL-B"]).state) == ("Loaned", "shipped")
    assert _state(world, ids["CL-A"]).state == "cancelled" and peer.states["CL-A"].status == "Cancelled"
    assert peer.invalid() == []


@pytest.mark.parametrize("version", VERSIONS)
def test_peer_retry_continues_the_original_request(world: dict[str, Any], version: str) -> None:
    peer = _peer(world, version, configured="auto")  # it speaks first: its version is learned
    tsu = actor_of(world["accounts"]["staff_tsu"])
    with peer.running():
        peer.send(peer.request(supplier="TSU", rid="CL-9", title="Costly book"))
        with world["services"].db() as session:
            rid = session.scalar(select(IllRequest.id).where(IllRequest.peer_request_id == "CL-9"))
        transition(world["services"], rid, "conditional", tsu, details=Details(cost_cents=3550))
        _deliver(world)
        offer = peer.last("supplyingAgencyMessage")
        where = "messageInfo/offeredCosts" if version == "1.2" else "retryInfo/offeredCosts"
        assert (offer.get("statusInfo/status"), offer.get(f"{where}/monetaryValue")) == ("RetryPossible", "35.50")
        assert status_of(peer.send(peer.request(supplier="TSU", rid="CL-9b", title="Costly book",
                                                previous="CL-9"))) == "OK"
        with world["services"].db() as session:
            assert session.scalar(select(IllRequest.state).where(IllRequest.id == rid)) == "sent"
            assert len(session.scalars(select(IllRequest.id)).all()) == 1  # no unrelated new request
        transition(world["services"], rid, "loaned", tsu)
        _deliver(world)
    assert peer.last("supplyingAgencyMessage").get("header/requestingAgencyRequestId") == "CL-9b"
    assert peer.states["CL-9b"].status == "Loaned" and _state(world, rid).state == "shipped"
    assert peer.invalid() == []


@pytest.mark.parametrize("version", VERSIONS)
def test_peer_renews_and_we_grant(world: dict[str, Any], version: str) -> None:
    peer = _peer(world, version, configured="auto")  # it speaks first: its version is learned
    tsu = actor_of(world["accounts"]["staff_tsu"])
    with peer.running():
        peer.send(peer.request(supplier="TSU", rid="CL-R", title="A long read"))
        with world["services"].db() as session:
            rid = session.scalar(select(IllRequest.id).where(IllRequest.peer_request_id == "CL-R"))
        transition(world["services"], rid, "loaned", tsu)
        for action in ("Received", "Renew"):
            peer.send(peer.requesting(supplier="TSU", rid="CL-R", srid=str(rid), action=action))
        transition(world["services"], rid, "renew_granted", tsu, details=Details(due_date=date(2027, 6, 30)))
        _deliver(world)
    answer = peer.last("supplyingAgencyMessage")
    assert (answer.get("messageInfo/reasonForMessage"), answer.get("messageInfo/answerYesNo")) == ("RenewResponse",
                                                                                                   "Y")
    assert answer.get("statusInfo/dueDate").startswith("2027-06-30")
    assert _state(world, rid).state == "received" and peer.invalid() == []


def test_a_message_invalid_for_its_declared_version_is_refused(world: dict[str, Any]) -> None:
    """A 1.2 message without multipleItemRequestId, or a 2021 one with offeredCosts in messageInfo,
    is answered ERROR BadlyFormedMessage, echoing the header ids; the refusal is listed for staff."""
    peer = _peer(world, "2021")
    req = _borrow(world)
    data = peer.supplying(requester="PKU", rid=str(req.id), srid="s", status="RetryPossible",
                          offered=("USD", "35"))
    as_12 = data.replace(b'ill:version="2021-2"', b'ill:version="1.2"')
    answer = iso18626.read(httpx.post(world["url"], content=as_12, headers=peer.unicat_headers).content)
    assert answer.get("confirmationHeader/messageStatus") == "ERROR"
    assert answer.get("errorData/errorType") == "BadlyFormedMessage"
    assert answer.header("confirmationHeader").request_id == str(req.id)
    assert answer.header("confirmationHeader").supplier == iso18626.Agency("ISIL", "CN-SJTU")
    assert _state(world, req.id).state == "sent"
    with world["services"].db() as session:
        refused = session.scalars(select(InboundMessage).where(InboundMessage.ok.is_(False))).all()
    assert refused and refused[0].error_type == "BadlyFormedMessage"


def test_outbox_and_peer_errors_are_visible_to_staff_and_can_be_retried(world: dict[str, Any]) -> None:
    """The desk sees the rejected message with the peer's errorType/errorValue (API and page), the
    request is flagged, and a retry after the cause is fixed gets it through."""
    import re

    from fastapi.testclient import TestClient

    from tests.ill.consortium import PASSWORD
    from unicat.app import create_app

    peer = _peer(world, "2021")
    peer.faults = ["error"]
    with peer.running():
        req = _borrow(world)
        _deliver(world)
        app = create_app(world["services"].settings)
        app.state.services = world["services"]
        with TestClient(app) as client:
            auth = client.post("/api/v1/ill/tokens", json={"member": "PKU", "username": "s_pku",
                                                          "password": PASSWORD}).json()
            staff = {"Authorization": f"Bearer {auth['token']}"}
            [row] = client.get("/api/v1/ill/outbox?status=rejected", headers=staff).json()["messages"]
            assert (row["request_id"], row["error_type"]) == (req.id, "UnrecognisedDataValue")
            assert "UnrecognisedDataValue" in client.get(f"/api/v1/ill/requests/{req.id}",
                                                         headers=staff).json()["peer_error"]
            patron = client.post("/api/v1/ill/tokens", json={"member": "PKU", "username": "p_pku",
                                                            "password": PASSWORD}).json()
            assert client.get("/api/v1/ill/outbox", headers={
                "Authorization": f"Bearer {patron['token']}"}).status_code == 403
            login = client.get("/ill/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
            client.post("/ill/login", data={"member": "PKU", "username": "s_pku", "password": PASSWORD,
                                            "csrf_token": csrf})
            page = client.get("/ill/outbox")
            assert page.status_code == 200 and "UnrecognisedDataValue" in page.text and "rejected" in page.text
            detail = client.get(f"/ill/requests/{req.id}")
            assert 'id="peer-error"' in detail.text
            r = client.post(f"/api/v1/ill/outbox/{row['id']}/actions", json={"action": "retry"}, headers=staff)
            assert r.status_code == 200 and r.json()["status"] == "pending"
        _deliver(world)
    assert outbox(world["services"])[0].status == "sent" and _state(world, req.id).peer_error is None


@pytest.mark.parametrize("version", VERSIONS)
def test_expect_to_supply_overdue_and_recall_from_the_lender(world: dict[str, Any], version: str) -> None:
    peer = _peer(world, version)
    with peer.running():
        req = _borrow(world)
        _deliver(world)
        assert _answer(peer, req, status="ExpectToSupply", reason="RequestResponse") == "OK"
        assert _state(world, req.id).state == "will_supply"
        _answer(peer, req, status="Loaned", due="2027-01-01T12:00:00Z")
        transition(world["services"], req.id, "received", _patron(world))
        assert _answer(peer, req, status="Overdue") == "OK"
        assert _state(world, req.id).state == "overdue"
        assert _answer(peer, req, status="Recalled", note="needed back") == "OK"
    assert _state(world, req.id).state == "recalled"
    with world["services"].db() as session:
        subjects = session.scalars(select(Notification.subject).where(Notification.request_id == req.id)).all()
    assert any("overdue" in s for s in subjects) and any("recalled" in s for s in subjects)


@pytest.mark.parametrize("version", VERSIONS)
def test_copy_from_a_peer(world: dict[str, Any], version: str) -> None:
    peer = _peer(world, version)
    with peer.running():
        req = _borrow(world, service="copy")
        _deliver(world)
        assert peer.last("request").get("serviceInfo/serviceType") == "Copy"
        assert peer.last("request").get("bibliographicInfo/pagesRequested") == "1-10"
        assert _answer(peer, req, status="CopyCompleted", reason="RequestResponse") == "OK"
        assert _state(world, req.id).state == "copy_delivered"
        transition(world["services"], req.id, "received", _patron(world))
        _deliver(world)
    assert _state(world, req.id).state == "completed" and peer.states[str(req.id)].status == "Received"
    assert peer.invalid() == []


def test_unfilled_at_a_12_peer_goes_to_a_2021_peer_in_its_own_version(world: dict[str, Any]) -> None:
    first = _peer(world, "1.2")
    second = _peer(world, "2021", code="FDU", agency="CN-FDU")
    with first.running(), second.running():
        req = _borrow(world, holders={"SJTU": "available", "FDU": "unknown"})
        _deliver(world)
        assert _state(world, req.id).lender_code == "SJTU"
        assert _answer(first, req, status="Unfilled", reason="RequestResponse") == "OK"
        _deliver(world)
    got = _state(world, req.id)
    assert (got.state, got.lender_code, got.supplier_status) == ("sent", "FDU", "RequestReceived")
    request = second.last("request")
    assert request.root.get(f"{{{iso18626.NS}}}version") == "2021-2" and request.get(
        "header/supplyingAgencyId/agencyIdValue") == "CN-FDU"
    assert first.invalid() == [] and second.invalid() == []


@pytest.mark.parametrize("version", VERSIONS)
def test_peer_borrows_a_copy_delivered_by_link(world: dict[str, Any], version: str) -> None:
    from ill import delivery

    peer = _peer(world, version, configured="auto")
    with peer.running():
        peer.send(peer.request(supplier="TSU", rid="CL-C", title="An article", service="Copy"))
        with world["services"].db() as session:
            rid = session.scalar(select(IllRequest.id).where(IllRequest.peer_request_id == "CL-C"))
        delivery.deliver(world["services"], rid, actor_of(world["accounts"]["staff_tsu"]),
                         url="https://files.tsu.example/scan/CL-C.pdf")
        _deliver(world)
    done = peer.last("supplyingAgencyMessage")
    assert done.get("statusInfo/status") == "CopyCompleted"
    where = "messageInfo/note" if version == "1.2" else "deliveryInfo/URL"  # 1.2 has no URL element
    assert "https://files.tsu.example/scan/CL-C.pdf" in (done.get(where) or "")
    assert peer.invalid() == []


def test_no_answer_in_time_cancels_at_the_peer_and_moves_on(world: dict[str, Any]) -> None:
    from datetime import UTC, datetime, timedelta

    from ill.access import SYSTEM

    peer = _peer(world, "1.2")
    with peer.running():
        req = _borrow(world)
        _deliver(world)
        transition(world["services"], req.id, "timeout", SYSTEM, now=datetime.now(UTC) + timedelta(days=3))
        _deliver(world)
    cancel = peer.last("requestingAgencyMessage")
    assert (cancel.get("action"), cancel.get("header/requestingAgencyRequestId")) == ("Cancel", str(req.id))
    got = _state(world, req.id)
    assert (got.state, got.lender_code, got.rota[0].outcome) == ("sent", "BNU", "timeout")


@pytest.mark.parametrize("version", VERSIONS)
def test_status_request_is_answered_with_our_status(world: dict[str, Any], version: str) -> None:
    peer = _peer(world, version, configured="auto")
    with peer.running():
        peer.send(peer.request(supplier="TSU", rid="CL-S", title="Where is it"))
        with world["services"].db() as session:
            rid = session.scalar(select(IllRequest.id).where(IllRequest.peer_request_id == "CL-S"))
        transition(world["services"], rid, "will_supply", actor_of(world["accounts"]["staff_tsu"]))
        assert status_of(peer.send(peer.requesting(supplier="TSU", rid="CL-S", srid=str(rid),
                                                   action="StatusRequest"))) == "OK"
        _deliver(world)
    answer = peer.last("supplyingAgencyMessage")
    assert (answer.get("messageInfo/reasonForMessage"), answer.get("statusInfo/status")) == (
        "StatusRequestResponse", "WillSupply")
    assert peer.invalid() == []
