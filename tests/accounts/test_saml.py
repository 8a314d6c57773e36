"""SAML 2.0 sign-in against a real SimpleSAMLphp IdP: its login form, signed AuthnRequests, signed and
encrypted assertions, eduPerson attributes; tampered, replayed, misdirected and expired assertions."""

from __future__ import annotations

import base64
import html
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from accounts import saml
from accounts.config import SamlAuth, parse_auth
from accounts.identity import SignInError
from catalog.context import Services
from store.db import transaction
from tests.accounts.identity_servers import SimpleSamlIdp, make_keypair, private_simplesamlphp

PUBLIC = "http://127.0.0.1:8381"  # the SP side is only a URL here: the tests carry the POST themselves


def saml_auth(idp: SimpleSamlIdp | None, keys: tuple[Path, Path], **overrides: Any) -> SamlAuth:
    raw = {"type": "saml", "idp_metadata_url": idp.metadata_url if idp else "http://127.0.0.1:1/md",
           "idp_entity_id": idp.entity_id if idp else "http://127.0.0.1:1/md", "sp_key_file": str(keys[0]),
           "sp_cert_file": str(keys[1]), "want_assertions_encrypted": True,
           "staff_groups": ["staff@nlc.example"], "timeout": 3, **overrides}
    return parse_auth(raw)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def sp_keys() -> Iterator[tuple[Path, Path]]:
    with tempfile.TemporaryDirectory(prefix="unicat-test-sp-") as folder:
        yield make_keypair(Path(folder), "sp")


@pytest.fixture(scope="module")
def idp(sp_keys: tuple[Path, Path]) -> Iterator[SimpleSamlIdp]:
    metadata = [saml.sp_metadata(code, saml_auth(None, sp_keys), PUBLIC) for code in ("nlc", "sjtu")]
    with private_simplesamlphp(metadata) as server:
        yield server


def fields(page: str) -> dict[str, str]:
    return {m[0]: html.unescape(m[1]) for m in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page)}


def idp_login(url: str, username: str, password: str) -> str | None:
    """The IdP's own login form, filled as a reader would; the SAMLResponse it posts back, or None."""
    with httpx.Client(follow_redirects=True, timeout=10) as browser:
        page = browser.get(url)
        assert 'name="password"' in page.text, page.text[:300]
        answer = browser.post(str(page.url).split("?")[0], data={
            "username": username, "password": password, "AuthState": fields(page.text)["AuthState"]})
        return fields(answer.text).get("SAMLResponse")


def sign_in(services: Services, config: SamlAuth, username: str, password: str, code: str = "nlc"):  # type: ignore[no-untyped-def]
    request_id, url = saml.start(code, config, PUBLIC)
    response = idp_login(url, username, password)
    assert response is not None
    return request_id, response


def finish(services: Services, config: SamlAuth, response: str, request_id: str | None, code: str = "nlc"):  # type: ignore[no-untyped-def]
    with transaction(services.db) as session:
        return saml.finish(session, code, config, PUBLIC, response, request_id)


def test_the_authn_request_is_signed(idp: SimpleSamlIdp, sp_keys: tuple[Path, Path]) -> None:
    _, url = saml.start("nlc", saml_auth(idp, sp_keys), PUBLIC)
    assert "Signature=" in url and "SigAlg=" in url


def test_a_reader_signs_in_through_the_idp_login_form(signin_services: Services, idp: SimpleSamlIdp,
                                                      sp_keys: tuple[Path, Path]) -> None:
    config = saml_auth(idp, sp_keys)
    request_id, response = sign_in(signin_services, config, "alice", "alice-secret")
    assert b"EncryptedAssertion" in base64.b64decode(response)
    alice = finish(signin_services, config, response, request_id)
    assert (alice.username, alice.display_name, alice.email) == ("alice@nlc.example", "张爱丽", "alice@nlc.example")
    assert alice.affiliation == "staff@nlc.example, member@nlc.example"
    assert (alice.kind, alice.source, alice.blocked_reason) == ("staff", "saml", None)


def test_wrong_password_at_the_idp_gives_no_assertion(idp: SimpleSamlIdp, sp_keys: tuple[Path, Path]) -> None:
    _, url = saml.start("nlc", saml_auth(idp, sp_keys), PUBLIC)
    assert idp_login(url, "alice", "wrong") is None


def test_a_replayed_assertion_is_refused(signin_services: Services, idp: SimpleSamlIdp,
                                         sp_keys: tuple[Path, Path]) -> None:
    config = saml_auth(idp, sp_keys)
    request_id, response = sign_in(signin_services, config, "bob", "bob-secret")
    assert finish(signin_services, config, response, request_id).username == "bob@nlc.example"
    with pytest.raises(SignInError) as caught:
        finish(signin_services, config, response, request_id)  # same browser session, same response
    assert caught.value.code == "rejected" and "replay" in caught.value.detail


def test_an_unsolicited_or_misdirected_assertion_is_refused(signin_services: Services, idp: SimpleSamlIdp,
                                                           sp_keys: tuple[Path, Path]) -> None:
    config = saml_auth(idp, sp_keys)
    request_id, response = sign_in(signin_services, config, "bob", "bob-secret")
    for rid, code in ((None, "nlc"), ("id-made-up", "nlc"), (request_id, "sjtu")):  # sjtu: wrong audience
        with pytest.raises(SignInError) as caught:
            finish(signin_services, config, response, rid, code)
        assert caught.value.code == "rejected"


def test_a_tampered_assertion_is_refused(signin_services: Services, idp: SimpleSamlIdp,
                                         sp_keys: tuple[Path, Path]) -> None:
    config = saml_auth(idp, sp_keys, want_assertions_encrypted=False)
    request_id, response = sign_in(signin_services, config, "bob", "bob-secret")
    xml = base64.b64decode(response)
    tampered = re.sub(rb"(<saml:EncryptedAssertion>.*?<xenc:CipherValue>)(.)", lambda m: m.group(1) + (
        b"A" if m.group(2) != b"A" else b"B"), xml, count=1, flags=re.S)
    assert tampered != xml
    with pytest.raises(SignInError) as caught:
        finish(signin_services, config, base64.b64encode(tampered).decode(), request_id)
    assert caught.value.code == "rejected"


def test_a_missing_entitlement_blocks_the_reader(signin_services: Services, idp: SimpleSamlIdp,
                                                 sp_keys: tuple[Path, Path]) -> None:
    config = saml_auth(idp, sp_keys, required_entitlement="urn:mace:dir:entitlement:common-lib-terms")
    request_id, response = sign_in(signin_services, config, "erin", "erin-secret")
    erin = finish(signin_services, config, response, request_id)
    assert erin.blocked_reason and "no longer confirms" in erin.blocked_reason


def test_an_idp_that_is_down_is_unavailable(sp_keys: tuple[Path, Path]) -> None:
    config = saml_auth(None, sp_keys, idp_metadata_url="http://127.0.0.1:1/metadata.php")
    with pytest.raises(SignInError) as caught:
        saml.start("down", config, PUBLIC)
    assert caught.value.code == "unavailable"


def test_an_expired_assertion_is_refused(signin_services: Services, sp_keys: tuple[Path, Path]) -> None:
    metadata = [saml.sp_metadata("short", saml_auth(None, sp_keys), PUBLIC)]
    with private_simplesamlphp(metadata, assertion_lifetime=1) as short:
        config = saml_auth(short, sp_keys, clock_skew=0)
        request_id, response = sign_in(signin_services, config, "bob", "bob-secret", code="short")
        time.sleep(2.5)
        with pytest.raises(SignInError) as caught:
            finish(signin_services, config, response, request_id, code="short")
    assert caught.value.code == "rejected"


def test_an_idp_that_hangs_is_unavailable_within_the_timeout(sp_keys: tuple[Path, Path], hanging_server: str) -> None:
    config = saml_auth(None, sp_keys, idp_metadata_url=f"http://{hanging_server}/metadata.php", timeout=1)
    started = time.monotonic()
    with pytest.raises(SignInError) as caught:
        saml.start("hangs", config, PUBLIC)
    assert caught.value.code == "unavailable" and time.monotonic() - started < 4
