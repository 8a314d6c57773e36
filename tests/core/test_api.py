"""The discovery API and pages as a client sees them: shapes, paging bounds, and clear errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from catalog.context import build_services
from catalog.pipeline import ingest
from tests.core.helpers import DEMO, as_harvested, read_marc
from unicat.app import create_app


@pytest.fixture
def client(services, refresh):  # type: ignore[no-untyped-def]
    pride = read_marc(DEMO / "pku" / "pride-and-prejudice.mrc", limit=40)
    ingest(services, "pku", as_harvested(pride[:30]))
    ingest(services, "sjtu", as_harvested(pride[20:40]))
    ingest(services, "nlc", as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=20)))
    refresh()
    with TestClient(create_app(services.settings, services=services)) as http:
        yield http


def test_search_answers_total_hits_and_facets(client):
    body = client.get("/api/v1/search", params={"q": "pride prejudice", "size": 5}).json()
    assert body["total"] >= 10 and len(body["hits"]) == 5
    assert {"id", "title", "holdings_count"} <= set(body["hits"][0])
    members = {b["value"]: b["count"] for b in body["facets"]["member"]}
    assert set(members) == {"pku", "sjtu"}
    narrowed = client.get("/api/v1/search", params={"q": "pride prejudice", "member": "sjtu", "size": 100}).json()
    assert narrowed["total"] == members["sjtu"]
    assert all("sjtu" in [m["code"] for m in h["members"]] for h in narrowed["hits"])
    by_year = client.get("/api/v1/search", params={"q": "pride", "sort": "year_desc", "size": 20}).json()
    years = [h["year"] for h in by_year["hits"] if h["year"]]
    assert years == sorted(years, reverse=True)


def test_record_lists_its_sources_with_marcxml_and_holdings(client):
    hit = client.get("/api/v1/search", params={"q": "pride prejudice", "member": ["pku", "sjtu"], "size": 100}).json()
    shared = next(h for h in hit["hits"] if h["holdings_count"] == 2)
    record = client.get(f"/api/v1/records/{shared['id']}").json()
    assert {s["member"] for s in record["sources"]} == {"pku", "sjtu"}
    assert all(s["local_id"] and s["record"].lstrip().startswith("<") for s in record["sources"])
    assert "http://www.loc.gov/MARC21/slim" in record["sources"][0]["record"]
    assert {h["member"] for h in record["holdings"]} == {"pku", "sjtu"}
    source = record["sources"][0]
    found = client.get(f"/api/v1/sources/{source['member']}/{source['local_id']}").json()
    assert found["id"] == shared["id"]


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/api/v1/search", {"isbn": "978-0-00-000000-1"}, 400, "bad_query"),
        ("/api/v1/search", {"issn": "1234-5678"}, 400, "bad_query"),
        ("/api/v1/search", {"page": 60, "size": 20}, 400, "bad_query"),
        ("/api/v1/search", {"year_from": 2000, "year_to": 1990}, 400, "bad_query"),
        ("/api/v1/search", {"size": 0}, 422, "invalid_parameter"),
        ("/api/v1/search", {"sort": "random"}, 400, "bad_query"),
        ("/api/v1/search", {"q": "x" * 600}, 422, "invalid_parameter"),
        ("/api/v1/records/u0000000000000000", {}, 404, "not_found"),
        ("/api/v1/records/not-an-id", {}, 404, "not_found"),
        ("/api/v1/sources/pku/no-such-record", {}, 404, "not_found"),
    ],
)
def test_bad_input_gets_a_clear_json_error(client, path, params, status, code):
    response = client.get(path, params=params)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


def test_web_pages_explain_errors_in_the_users_language(client):
    missing = client.get("/records/u0000000000000000", headers={"accept-language": "zh-CN"})
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    assert "未找到" in missing.text and "返回检索页" in missing.text
    bad = client.get("/search", params={"isbn": "12", "lang": "en"})
    assert bad.status_code == 400 and "not a valid ISBN" in bad.text and "Traceback" not in bad.text


def test_pages_render_in_both_languages(client):
    zh = client.get("/search", params={"q": "pride", "lang": "zh_Hans"})
    en = client.get("/search", params={"q": "pride", "lang": "en"})
    assert zh.status_code == en.status_code == 200
    assert "检索" in zh.text and "家图书馆收藏" in zh.text
    assert ">Search<" in en.text and "Held by" in en.text
    assert "<mark>" in en.text


def test_openapi_documents_the_api(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/search", "/api/v1/records/{union_id}", "/api/v1/sources/{member}/{local_id}"} <= set(paths)


def test_search_says_503_when_the_index_is_down(settings):
    services = build_services(settings(es=False))
    with TestClient(create_app(services.settings, services=services)) as http:
        response = http.get("/api/v1/search", params={"q": "anything"})
        page = http.get("/search", params={"q": "anything"})
    services.close()
    assert response.status_code == 503 and response.json()["error"]["code"] == "search_unavailable"
    assert page.status_code == 503 and "text/html" in page.headers["content-type"]
