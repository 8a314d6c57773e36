"""The sign-in pages over HTTP: session rotation, cookie flags, SP metadata, the library list."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from catalog.context import Services, build_services
from catalog.members import sync_members
from store.db import transaction
from tests.accounts.conftest import member
from tests.accounts.fixtures import ldap_auth
from unicat.app import create_app

SAML = {"type": "saml", "idp_metadata_url": "https://idp.nlc.example/metadata", "idp_entity_id": "https://idp.nlc"}


@pytest.fixture
def client(settings: Any, slapd: Any) -> Iterator[TestClient]:
    services: Services = build_services(settings(es=False, session_cookie_secure=True, signin_failure_floor=0.05,
                                                 public_url="https://unicat.example"))
    with transaction(services.db) as session:
        sync_members(session, [member("pku", ldap_auth(slapd)), member("nlc", SAML), member("bnu", None)])
    with TestClient(create_app(services.settings, services=services), base_url="https://testserver") as http:
        yield http
    services.close()


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_sign_in_rotates_the_session_and_sets_safe_cookie_flags(client: TestClient) -> None:
    form = client.get("/ill/login")
    before, token = client.cookies.get("unicat_ill"), csrf(form.text)
    cookie_header = form.headers["set-cookie"]
    assert "HttpOnly" in cookie_header and "Secure" in cookie_header and "SameSite=lax" in cookie_header
    answer = client.post("/ill/login", data={"member": "pku", "username": "bob", "password": "bob-secret",
                                             "csrf_token": token, "next": "/ill/my"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/ill/my"
    after = client.cookies.get("unicat_ill")
    assert after and after != before
    assert csrf(client.get("/ill/my").text) != token  # a token known before sign-in is worth nothing after


def test_a_wrong_password_page_is_a_readable_401_and_keeps_the_library_chosen(client: TestClient) -> None:
    token = csrf(client.get("/ill/login").text)
    answer = client.post("/ill/login?lang=en", data={"member": "pku", "username": "bob", "password": "nope",
                                                     "csrf_token": token})
    assert answer.status_code == 401
    assert "Sign-in failed" in answer.text and '<option value="pku" selected>' in answer.text


def test_the_library_list_links_password_libraries_to_the_form_and_sso_ones_to_their_idp(
        client: TestClient) -> None:
    page = client.get("/ill/login?lang=en&next=/ill/my").text
    assert 'href="/ill/login/nlc/start?next=/ill/my"' in page
    assert 'data-member="pku"' in page and '<option value="nlc"' not in page
    found = client.get("/ill/login?lang=en&q=peking").text
    listed = found[found.index('id="library-list"'):found.index("</ul>")]
    assert "Peking University Library" in listed and "Beijing Normal" not in listed


def test_sp_metadata_is_published_for_the_federation(client: TestClient) -> None:
    answer = client.get("/ill/login/nlc/saml/metadata.xml")
    assert answer.headers["content-type"].startswith("application/samlmetadata+xml")
    root = etree.fromstring(answer.content, etree.XMLParser(resolve_entities=False))
    ns = {"md": "urn:oasis:names:tc:SAML:2.0:metadata"}
    assert root.get("entityID") == "https://unicat.example/ill/login/nlc/saml/metadata.xml"
    acs = root.find(".//md:AssertionConsumerService", ns)
    assert acs is not None and acs.get("Location") == "https://unicat.example/ill/login/nlc/saml/acs"
    assert client.get("/ill/login/pku/saml/metadata.xml").status_code == 404


def test_an_acs_post_without_a_round_trip_is_refused_readably(client: TestClient) -> None:
    answer = client.post("/ill/login/nlc/saml/acs?lang=en", data={"SAMLResponse": "PHNhbWw+"})
    assert answer.status_code == 401 and "Sign-in failed" in answer.text
