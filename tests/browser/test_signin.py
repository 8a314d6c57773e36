"""Unified sign-in in a real browser: readers of four members sign in through four different systems of
their own libraries, each places an ILL request as themselves and sees only their own.

- PKU (A) checks its readers against its LDAP directory (OpenLDAP slapd);
- BNU (D) against its ILS over SIP2 (a loopback ACS replaying real Sierra/Polaris answers);
- FUDAN (C) through its OpenID Connect provider (Keycloak), its login form too (code + PKCE);
- NLC (B) through its SAML 2.0 IdP (SimpleSAMLphp), whose own login form the reader fills in (signed
  AuthnRequest, signed and encrypted assertion).

The requested edition is held by SJTU only, so every request goes out to SJTU.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts.config import parse_auth
from accounts.saml import sp_metadata
from catalog.context import Services, build_services
from catalog.members import sync_members
from catalog.pipeline import ingest
from store.db import transaction
from tests.accounts.fixtures import ldap_auth, oidc_auth, sip2_auth
from tests.accounts.identity_servers import make_keypair, private_simplesamlphp
from tests.browser.conftest import LiveServer, refresh
from tests.browser.test_ill_flow import EDITION_ISBN, _edition
from tests.core.conftest import MEMBERS
from tests.core.helpers import DEMO, as_harvested

pytestmark = pytest.mark.browser


@pytest.fixture
def signin_services(settings: Any) -> Iterator[Services]:
    services = build_services(settings(session_cookie_secure=False, signin_failure_floor=0.1))
    yield services
    services.close()


@pytest.fixture
def consortium(signin_services: Services, slapd, sip2_ils, keycloak,
               tmp_path: Path) -> Iterator[dict[str, Any]]:
    services = signin_services
    server = LiveServer(services)
    services.settings.public_url = server.url  # where the IdP sends readers back
    keys = make_keypair(tmp_path, "sp")
    saml_auth = {"type": "saml", "idp_entity_id": "", "idp_metadata_url": "", "sp_key_file": str(keys[0]),
                 "sp_cert_file": str(keys[1]), "want_assertions_encrypted": True, "timeout": 5}
    sp_xml = sp_metadata("nlc", parse_auth({**saml_auth, "idp_metadata_url": "http://unused"}),  # type: ignore[arg-type]
                         server.url)
    with private_simplesamlphp([sp_xml]) as idp:
        saml_auth.update(idp_entity_id=idp.entity_id, idp_metadata_url=idp.metadata_url)
        auth = {"pku": ldap_auth(slapd), "bnu": sip2_auth(sip2_ils), "nlc": saml_auth, "fudan": oidc_auth(keycloak)}
        fudan = {"code": "fudan", "name": {"zh": "复旦大学图书馆", "en": "Fudan University Library"},
                 "region": "east", "region_name": {"zh": "华东地区", "en": "East China"}, "role": "member"}
        with transaction(services.db) as session:
            sync_members(session, [{**m, "auth": auth[m["code"]]} if m["code"] in auth else dict(m)
                                   for m in [*MEMBERS, fudan]])
        ingest(services, "sjtu", as_harvested([_edition(DEMO / "sjtu" / "pride-and-prejudice.mrc")]))
        refresh(services)
        from catalog.search import SearchQuery, search

        hits = search(services, SearchQuery(isbn=EDITION_ISBN))["hits"]
        assert len(hits) == 1
        server.start()
        try:
            yield {"url": server.url, "union_id": hits[0]["id"], "services": services, "idp": idp}
        finally:
            server.stop()


def choose_library_and_sign_in(page: Any, library: str, username: str, password: str) -> None:
    page.locator("#library-search").fill(library.split()[0])
    page.get_by_role("link", name=library, exact=True).click()
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("form.ill-form button[type=submit]").click()
    page.wait_for_load_state()


def request_the_edition(page: Any, base: str, union_id: str) -> str:
    """From the record page: the request link, (sign-in happens in between), estimate, submit."""
    page.get_by_role("button", name="Show estimated fee").click()
    page.wait_for_load_state()
    page.locator("#submit-request").click()
    page.wait_for_url(re.compile(r"/ill/requests/\d+$"))
    return str(page.url.rsplit("/", 1)[-1])


def my_request_ids(page: Any, base: str) -> list[str]:
    page.goto(f"{base}/ill/my")
    hrefs = page.locator("article.ill-req h2 a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    return [h.rsplit("/", 1)[-1] for h in hrefs]


def start_request(page: Any, base: str, union_id: str) -> None:
    page.goto(f"{base}/records/{union_id}")
    page.get_by_role("link", name="Request this item (interlibrary loan or copy)").click()
    page.wait_for_url(re.compile(r"/ill/login\?next="))


def test_readers_sign_in_through_their_own_library_and_see_only_their_requests(
        consortium: dict[str, Any], new_page: Any, shot: Any) -> None:
    base, union_id = consortium["url"], consortium["union_id"]
    readers = {
        "ldap": ("Peking University Library", "bob", "bob-secret", "Bob Li · pku"),
        "sip2": ("Beijing Normal University Library", "12345", "4321", "SHELDON, ALICE · bnu"),
    }
    placed: dict[str, tuple[Any, str]] = {}
    for how, (library, username, password, who) in readers.items():
        page = new_page("en-US")
        start_request(page, base, union_id)
        choose_library_and_sign_in(page, library, username, password)
        assert page.url == f"{base}/ill/request?union_id={union_id}", page.locator("main").inner_text()
        assert page.locator(".who").inner_text() == who
        placed[how] = (page, request_the_edition(page, base, union_id))
        shot(page, f"signin-{how}-request-sent")
    saml_reader = new_page("en-US")
    start_request(saml_reader, base, union_id)
    saml_reader.get_by_role("link", name="Sign in at National Library").click()
    saml_reader.wait_for_url(re.compile(r"/module\.php/core/loginuserpass\.php"))  # the IdP's own form
    shot(saml_reader, "signin-saml-idp-login-form")
    saml_reader.locator("input[name=username]").fill("bob")
    saml_reader.locator("input[name=password]").fill("bob-secret")
    saml_reader.locator("input[name=password]").press("Enter")
    saml_reader.wait_for_url(f"{base}/ill/request?union_id={union_id}")
    assert saml_reader.locator(".who").inner_text() == "Bob Li · nlc"
    placed["saml"] = (saml_reader, request_the_edition(saml_reader, base, union_id))
    oidc_reader = new_page("en-US")
    start_request(oidc_reader, base, union_id)
    oidc_reader.get_by_role("link", name="Sign in at Fudan University Library").click()
    oidc_reader.wait_for_url(re.compile(r"/realms/fudan/protocol/openid-connect/auth"))  # Keycloak's own form
    shot(oidc_reader, "signin-oidc-provider-login-form")
    oidc_reader.locator("#username").fill("carol")
    oidc_reader.locator("#password").fill("carol-secret")
    oidc_reader.locator("#password").press("Enter")
    oidc_reader.wait_for_url(f"{base}/ill/request?union_id={union_id}")
    assert oidc_reader.locator(".who").inner_text() == "Carol Wu · fudan"
    placed["oidc"] = (oidc_reader, request_the_edition(oidc_reader, base, union_id))
    assert len({rid for _, rid in placed.values()}) == 4
    for _how, (page, request_id) in placed.items():
        assert my_request_ids(page, base) == [request_id]
        for other in {rid for _, rid in placed.values()} - {request_id}:
            assert page.goto(f"{base}/ill/requests/{other}").status == 404

    # sign-out ends the session here and, for SAML and OIDC, at the library's IdP too
    saml_reader.get_by_role("button", name="Sign out").click()
    saml_reader.wait_for_url(re.compile(r"/ill/login\?signed_out=1$"))  # came back through the IdP's SLO
    oidc_reader.get_by_role("button", name="Sign out").click()
    oidc_reader.wait_for_url(re.compile(r"/realms/fudan/protocol/openid-connect/logout"))
    oidc_reader.locator("#kc-logout").click()
    oidc_reader.wait_for_url(re.compile(rf"^{re.escape(base)}/ill/login"))
    for page in (saml_reader, oidc_reader):
        page.goto(f"{base}/ill/my")
        assert "/ill/login?next=" in page.url
    start_request(saml_reader, base, union_id)
    saml_reader.get_by_role("link", name="Sign in at National Library").click()
    saml_reader.wait_for_url(re.compile(r"/module\.php/core/loginuserpass\.php"))  # the IdP forgot bob too


def test_a_reader_blocked_at_the_ils_is_told_why_and_cannot_request(
        consortium: dict[str, Any], new_page: Any, shot: Any) -> None:
    base, union_id = consortium["url"], consortium["union_id"]
    page = new_page("en-US")
    start_request(page, base, union_id)
    choose_library_and_sign_in(page, "Beijing Normal University Library", "25891000224613", "2222")
    page.get_by_role("button", name="Show estimated fee").click()
    page.wait_for_load_state()
    error = page.locator(".ill-error").inner_text()
    assert "card expired on 2016-10-25" in error and "New requests are refused" in error
    assert page.locator("#submit-request").count() == 0
    shot(page, "signin-blocked-reader")
    assert my_request_ids(page, base) == []


def test_wrong_passwords_are_rate_limited_and_the_page_says_so(
        consortium: dict[str, Any], new_page: Any, shot: Any) -> None:
    base = consortium["url"]
    page = new_page("zh-CN")
    page.goto(f"{base}/ill/login")
    assert page.locator("h1").inner_text() == "通过所属图书馆登录"
    for attempt in range(5):
        choose_library_and_sign_in(page, "北京大学图书馆", "alice", f"guess-{attempt}")
        assert "登录失败" in page.locator("#signin-error").inner_text()
    choose_library_and_sign_in(page, "北京大学图书馆", "alice", "alice-secret")
    assert "登录失败次数过多" in page.locator("#signin-error").inner_text()
    assert "/ill/login" in page.url
    shot(page, "signin-rate-limited")


def test_the_library_list_is_searchable_without_script(consortium: dict[str, Any], new_page: Any) -> None:
    page = new_page("en-US")
    page.goto(f"{consortium['url']}/ill/login?q=normal")
    assert page.locator("#library-list li").all_inner_texts() == ["Beijing Normal University Library"]
