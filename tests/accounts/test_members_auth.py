"""The members file's ``auth`` tables: validated with named messages, secrets never echoed or exported."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from accounts.config import parse_auth, redacted
from catalog.context import Services
from catalog.members import MembersFileError, parse_members, sync_members
from store.db import transaction
from unicat.app import create_app

HEAD = """
[[member]]
code = "pku"
name = { zh = "北京大学图书馆", en = "Peking University Library" }
region = "north"
files = { url_or_path = "records.mrc" }
"""


def members_file(tmp_path: Path, auth: str) -> Path:
    path = tmp_path / "members.toml"
    path.write_text(HEAD + auth, encoding="utf-8")
    return path


def test_a_valid_ldap_table_is_kept_with_file_names_resolved(tmp_path: Path) -> None:
    path = members_file(tmp_path, 'auth = { type = "ldap", url = "ldaps://ldap.pku.example", '
                                  'base_dn = "ou=people,dc=pku,dc=example", ca_file = "ca.pem", '
                                  'search_dn = "cn=unicat,dc=pku,dc=example", search_password = "s3cret-bind" }\n')
    [pku] = parse_members(path)
    assert pku["auth"]["type"] == "ldap" and pku["auth"]["ca_file"] == str(tmp_path / "ca.pem")


@pytest.mark.parametrize(("auth", "expected"), [
    ('auth = { type = "ldap", url = "http://x", base_dn = "dc=x", search_password = "s3cret-bind" }',
     "member 'pku': auth.url: Value error, must start with ldap:// or ldaps://"),
    ('auth = { type = "ldap", url = "ldap://x" }', "member 'pku': auth.base_dn: Field required"),
    ('auth = { type = "kerberos" }', "member 'pku': auth.type: Input tag 'kerberos'"),
    ('auth = { type = "sip2", host = "ils", port = 99999, login_password = "s3cret-bind" }',
     "member 'pku': auth.port: Input should be less than or equal to 65535"),
    ('auth = { type = "oidc", issuer = "https://idp", client_id = "x" }',
     "member 'pku': auth.client_secret: Field required"),
    ('auth = { type = "saml", idp_entity_id = "https://idp" }',
     "member 'pku': auth.type: Value error, give exactly one of idp_metadata_url or idp_metadata_file"),
])
def test_bad_tables_are_named_and_never_echo_the_secret(tmp_path: Path, auth: str, expected: str) -> None:
    with pytest.raises(MembersFileError) as caught:
        parse_members(members_file(tmp_path, auth + "\n"))
    assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems
    assert "s3cret-bind" not in str(caught.value)


def test_secrets_stay_out_of_reprs_redacted_views_and_the_members_api(
        settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    from catalog.context import build_services

    raw = {"type": "sip2", "host": "ils.example", "login_user": "sc", "login_password": "s3cret-login"}
    assert "s3cret-login" not in repr(parse_auth(raw))
    assert redacted(raw)["login_password"] == "(set)"
    services: Services = build_services(settings(es=False))
    try:
        with transaction(services.db) as session:
            sync_members(session, [{"code": "bnu", "name": {"zh": "北师大", "en": "BNU"}, "region": "north",
                                    "role": "member", "auth": raw}])
        caplog.set_level(logging.DEBUG)
        with TestClient(create_app(services.settings, services=services)) as client:
            body = client.get("/api/v1/members").text
            login_page = client.get("/ill/login").text
        assert "s3cret-login" not in body + login_page + caplog.text
        assert '"sign_in":"sip2"' in body
    finally:
        services.close()
