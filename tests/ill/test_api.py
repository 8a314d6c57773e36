"""The ILL API and the ISO 18626 endpoint through the real app (FastAPI TestClient, real SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from api.errors import ApiError, error_body
from catalog.context import Services
from ill import iso18626 as iso
from ill.policies import update_policy
from store.db import transaction
from tests.ill.consortium import PASSWORD, Catalogue

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def api_app(services: Services) -> FastAPI:
    """The ILL routers with the app's error shape (the full app factory is exercised by the browser test)."""
    from api.routes import ill, iso18626

    app = FastAPI()
    app.state.services = services
    for module in (ill, iso18626):
        app.include_router(module.router, prefix="/api/v1")

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return JSONResponse(error_body(exc.status_code, exc.code, str(exc.detail)), status_code=exc.status_code)

    return app


@pytest.fixture
def client(services: Services, accounts: dict[str, Any]) -> Iterator[TestClient]:
    with TestClient(api_app(services)) as c:
        yield c


def token(client: TestClient, member: str, username: str) -> dict[str, str]:
    r = client.post("/api/v1/ill/tokens", json={"member": member, "username": username, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_copy_flow_over_the_api(client: TestClient, catalogue: Catalogue) -> None:
    catalogue.add("s1", "Journal", {"TSU": "available", "FDU": "available"}, fmt="serial")
    patron, tsu, other = token(client, "PKU", "p_pku"), token(client, "TSU", "s_tsu"), token(client, "PKU", "q_pku")
    est = client.post("/api/v1/ill/estimate", json={"union_id": "s1", "service": "copy", "pages": "1-10"},
                      headers=patron).json()
    assert est["fee_cents"] == 500 and [p["member"] for p in est["rota"]] == ["TSU", "FDU"]
    r = client.post("/api/v1/ill/requests", json={"union_id": "s1", "service": "copy", "pages": "1-10"},
                    headers=patron)
    assert r.status_code == 201, r.text
    rid, version = r.json()["id"], r.json()["version"]
    assert client.get(f"/api/v1/ill/requests/{rid}", headers=other).status_code == 404
    forged = client.post(f"/api/v1/ill/requests/{rid}/actions", json={"action": "copy_completed"}, headers=patron)
    assert forged.status_code == 409 and forged.json()["error"]["code"] == "invalid_transition"
    bad = client.post(f"/api/v1/ill/requests/{rid}/delivery", files={"file": ("x.pdf", b"GIF89a", "application/pdf")},
                      headers=tsu)
    assert bad.status_code == 422
    ok = client.post(f"/api/v1/ill/requests/{rid}/delivery", files={"file": ("x.pdf", PDF, "application/pdf")},
                     data={"expected_version": str(version)}, headers=tsu)
    assert ok.status_code == 201, ok.text
    detail = client.get(f"/api/v1/ill/requests/{rid}", headers=patron).json()
    assert detail["state"] == "copy_delivered" and detail["history"][-1]["iso"] == "CopyCompleted"
    stale = client.post(f"/api/v1/ill/requests/{rid}/actions", json={"action": "received", "expected_version": 1},
                        headers=patron)
    assert stale.status_code == 409


def test_api_rejects_bad_input_and_missing_token(client: TestClient, catalogue: Catalogue) -> None:
    catalogue.add("u1", "Book", {"TSU": "available"})
    patron = token(client, "PKU", "p_pku")
    assert client.get("/api/v1/ill/requests").status_code == 401
    assert client.post("/api/v1/ill/tokens", json={"member": "PKU", "username": "p_pku", "password": "x"}
                       ).status_code == 401
    unknown = client.post("/api/v1/ill/requests", json={"union_id": "nope"}, headers=patron)
    assert unknown.status_code == 404
    past = client.post("/api/v1/ill/requests", json={"union_id": "u1", "needed_by": "2001-01-01"}, headers=patron)
    assert past.status_code == 422 and "past" in past.json()["error"]["message"]
    tsu = token(client, "TSU", "s_tsu")
    assert client.get("/api/v1/ill/members/PKU/queue", headers=tsu).status_code == 403
    assert client.get("/api/v1/ill/requests", headers=patron).json()["requests"] == []


def test_numbers_the_store_cannot_hold_are_refused_and_change_nothing(client: TestClient, catalogue: Catalogue) -> None:
    """An id, version or cost beyond the database's integers is a 422, not a server error."""
    catalogue.add("u1", "Book", {"TSU": "available"})
    patron = token(client, "PKU", "p_pku")
    created = client.post("/api/v1/ill/requests", json={"union_id": "u1"}, headers=patron).json()
    rid, huge = created["id"], 2**70
    assert client.get(f"/api/v1/ill/requests/{huge}", headers=patron).status_code == 422
    assert client.post(f"/api/v1/ill/requests/{huge}/actions", json={"action": "cancel"}, headers=patron
                       ).status_code == 422
    for body in ({"action": "cancel", "expected_version": huge}, {"action": "cancel", "cost_cents": huge},
                 {"action": "cancel", "cost_cents": -1}):
        assert client.post(f"/api/v1/ill/requests/{rid}/actions", json=body, headers=patron).status_code == 422, body
    assert client.post(f"/api/v1/ill/requests/{rid}/delivery", data={"url": "https://example.org/a.pdf",
                       "expected_version": str(huge)}, headers=patron).status_code == 422
    after = client.get(f"/api/v1/ill/requests/{rid}", headers=patron).json()
    assert (after["state"], after["version"]) == (created["state"], created["version"])


def test_iso18626_peer_borrows_and_answers(client: TestClient, services: Services, catalogue: Catalogue) -> None:
    with transaction(services.db) as s:  # SJTU runs its own ILL system and talks ISO 18626
        update_policy(s, "SJTU", {"iso18626_url": "http://127.0.0.1:9/iso18626", "iso18626_token": "peer-secret"})
    headers = {"Authorization": "Bearer peer-secret", "Content-Type": "application/xml"}
    h = iso.Header(iso.Agency("ISIL", "TSU"), iso.Agency("ISIL", "SJTU"), "SJ-1")
    msg = iso.build_request(h, version=iso.V12, record_id="u9", title="A book", author=None, service="loan")
    answer = iso.read(client.post("/api/v1/iso18626", content=msg, headers=headers).content)
    assert answer.kind == "requestConfirmation" and answer.get("confirmationHeader/messageStatus") == "OK"
    assert answer.version == iso.V12 and answer.header("confirmationHeader") == iso.Header(
        iso.Agency("ISIL", "TSU"), iso.Agency("ISIL", "SJTU"), "SJ-1")
    again = client.post("/api/v1/iso18626", content=msg, headers=headers).content
    assert iso.read(again).get("confirmationHeader/messageStatus") == "OK"  # a resend: answered as before
    other = iso.build_request(h, version=iso.V12, record_id="u9", title="Another book", author=None, service="loan")
    assert iso.read(client.post("/api/v1/iso18626", content=other, headers=headers).content).get(
        "confirmationHeader/messageStatus") == "ERROR"  # a different request under the same id
    wrong = iso.read(client.post("/api/v1/iso18626", content=msg, headers={"Authorization": "Bearer no"}).content)
    assert wrong.get("errorData/errorType") == "UnrecognisedDataValue"
    junk = iso.read(client.post("/api/v1/iso18626", content=b"<ISO18626Message/>", headers=headers).content)
    assert junk.get("errorData/errorType") == "BadlyFormedMessage"
    tsu = token(client, "TSU", "s_tsu")
    queue = client.get("/api/v1/ill/members/TSU/queue", headers=tsu).json()["requests"]
    rid = queue[0]["id"]
    r = client.post(f"/api/v1/ill/requests/{rid}/actions", json={"action": "loaned"}, headers=tsu)
    assert r.json()["state"] == "shipped"
    from sqlalchemy import select

    from ill.models import PeerMessage

    with services.db() as s:
        out = s.scalars(select(PeerMessage)).all()
    assert len(client.get("/api/v1/ill/members/TSU/queue", headers=tsu).json()["requests"]) == 1
    assert out and out[-1].kind == "supplyingAgencyMessage" and out[-1].version == iso.V12
    sent = iso.read(out[-1].xml.encode(), iso.V12)  # valid for the peer's version, learned from its message
    assert sent.get("messageInfo/reasonForMessage") == "RequestResponse" and sent.get("statusInfo/dueDate")
    assert sent.get("header/requestingAgencyId/agencyIdType") == "ISIL"
    received = iso.build_requesting(iso.Header(h.supplier, h.requester, "SJ-1", str(rid)), version=iso.V12,
                                    action="Received")
    conf = iso.read(client.post("/api/v1/iso18626", content=received, headers=headers).content)
    assert conf.kind == "requestingAgencyMessageConfirmation" and conf.get("action") == "Received"
    assert client.get(f"/api/v1/ill/requests/{rid}", headers=tsu).json()["state"] == "received"


def test_iso18626_values_the_store_cannot_hold_get_an_error_confirmation(
    client: TestClient, services: Services, catalogue: Catalogue
) -> None:
    """A peer's out-of-range request id or offered cost is answered with an ERROR confirmation (not a
    server error), and the request it names is left as it was."""
    with transaction(services.db) as s:
        update_policy(s, "SJTU", {"iso18626_url": "http://127.0.0.1:9/iso18626", "iso18626_token": "peer-secret"})
    catalogue.add("u1", "Book", {"SJTU": "available"})
    patron = token(client, "PKU", "p_pku")
    created = client.post("/api/v1/ill/requests", json={"union_id": "u1"}, headers=patron).json()
    assert created["lender_code"] == "SJTU", created
    headers = {"Authorization": "Bearer peer-secret", "Content-Type": "application/xml"}

    def answer(request_id: str, cents: int | None) -> iso.Message:
        from decimal import Decimal

        h = iso.Header(iso.Agency("ISIL", "SJTU"), iso.Agency("ISIL", "PKU"), request_id, "S-1")
        offered = iso.Money(Decimal(cents) / 100, "USD") if cents is not None else None
        msg = iso.build_supplying(h, iso.Supplying(status="RetryPossible", offered=offered), version=iso.V2021)
        response = client.post("/api/v1/iso18626", content=msg, headers=headers)
        assert response.status_code == 200, response.text
        return iso.read(response.content)

    for request_id, cents in (("9" * 30, None), ("9" * 5000, None), ("\u00b2", None), (str(created["id"]), 10**40)):
        conf = answer(request_id, cents)
        assert conf.get("confirmationHeader/messageStatus") == "ERROR", (request_id, cents)
        assert conf.get("errorData/errorType") == "UnrecognisedDataValue"
    after = client.get(f"/api/v1/ill/requests/{created['id']}", headers=patron).json()
    assert (after["state"], after["version"]) == (created["state"], created["version"])
