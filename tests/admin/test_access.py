"""Roles: the monitoring API and the console answer 401 to nobody, 403 to patrons and desk staff;
administrators (session or token) see everything, a member's cataloguer only that member."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from catalog.pipeline import ingest
from ill.auth import create_account
from ill.errors import Invalid
from tests.admin.helpers import account, bearer, sign_in
from tests.core.helpers import DEMO, as_harvested, read_marc
from unicat.app import create_app

GARBAGE = b"00047nam  2200037   4500\x1e\x1d"  # a leader that promises what is not there
MONITORING = ["/api/v1/harvests", "/api/v1/rejects", "/api/v1/index-failures", "/api/v1/store-state",
              "/api/v1/withdrawals"]


def _garbage_reject(services, member: str) -> None:
    records = as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=2))
    records[1] = replace(records[1], raw=GARBAGE)
    ingest(services, member, records)


def test_monitoring_api_needs_a_console_role(services):
    patron = account(services, "pku", "reader", "patron")
    staff = account(services, "pku", "desk", "staff")
    admin = account(services, "nlc", "boss", "admin")
    with TestClient(create_app(services.settings, services=services)) as http:
        for path in MONITORING:
            anonymous = http.get(path)
            assert anonymous.status_code == 401, path
            assert anonymous.json()["error"]["code"] == "unauthorized"
            assert http.get(path, headers=bearer(services, patron)).status_code == 403, path
            assert http.get(path, headers=bearer(services, staff)).status_code == 403, path
            assert http.get(path, headers={"Authorization": "Bearer not-a-token"}).status_code == 401
            assert http.get(path, headers=bearer(services, admin)).status_code == 200, path
        assert http.get("/api/v1/members").status_code == 200, "the members list stays public"

    with TestClient(create_app(services.settings, services=services)) as http:
        sign_in(http, "pku", "reader")
        assert http.get("/api/v1/harvests").status_code == 403, "a patron's session"
        assert http.get("/admin/").status_code == 403
    with TestClient(create_app(services.settings, services=services)) as http:
        sign_in(http, "nlc", "boss")
        for path in MONITORING:
            assert http.get(path).status_code == 200, f"an administrator's session: {path}"
        assert http.get("/admin/").status_code == 200


def test_a_cataloguer_sees_only_their_own_member(services):
    _garbage_reject(services, "pku")
    _garbage_reject(services, "bnu")
    cataloguer = account(services, "pku", "cat", "cataloguer")
    with TestClient(create_app(services.settings, services=services), headers=bearer(services, cataloguer)) as http:
        mine = http.get("/api/v1/rejects").json()["rejects"]
        assert mine and {r["member"] for r in mine} == {"pku"}
        assert http.get("/api/v1/rejects", params={"member": "bnu"}).status_code == 403
        assert {r["member"] for r in http.get("/api/v1/harvests").json()["runs"]} == {"pku"}
        assert http.get("/api/v1/index-failures").status_code == 403, "the index is the administrators'"
        assert http.get("/api/v1/store-state").status_code == 403
    with TestClient(create_app(services.settings, services=services)) as http:
        sign_in(http, "pku", "cat")
        page = http.get("/admin/")
        assert page.status_code == 200 and 'data-member="pku"' in page.text and 'data-member="bnu"' not in page.text
        assert http.get("/admin/members/pku/rejects.zip").status_code == 200
        assert http.get("/admin/members/bnu/rejects.zip").status_code == 403
        assert http.get("/admin/members/bnu/harvests").status_code == 403
        assert http.get("/admin/index-failures").status_code == 403


def test_anonymous_console_pages_go_to_sign_in(services):
    with TestClient(create_app(services.settings, services=services)) as http:
        answer = http.get("/admin/", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/ill/login?next=/admin/")


def test_console_forms_need_the_session_csrf_token(services):
    account(services, "nlc", "boss", "admin")
    with TestClient(create_app(services.settings, services=services)) as http:
        sign_in(http, "nlc", "boss")
        refused = http.post("/admin/members/pku/harvest", data={"csrf_token": "forged"}, follow_redirects=False)
        assert refused.status_code == 403
        assert http.get("/admin/audit").text.count("harvest.start") == 0, "nothing was started"


def test_cataloguer_kind_is_an_account_kind(services):
    acct = create_account(services, member_code="bnu", username="c1", password="long enough", kind="cataloguer")
    assert acct.kind == "cataloguer"
    with pytest.raises(Invalid):
        create_account(services, member_code="bnu", username="c2", password="long enough", kind="librarian")
