"""Session-wide identity servers (import these fixtures into a test module or conftest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.accounts.identity_servers import Slapd, private_slapd
from tests.accounts.sip2_responder import Sip2Responder


@pytest.fixture(scope="session")
def slapd() -> Iterator[Slapd]:
    with private_slapd() as server:
        yield server


@pytest.fixture(scope="session")
def sip2_ils() -> Iterator[Sip2Responder]:
    with Sip2Responder() as responder:
        yield responder


def ldap_auth(server: Slapd, **overrides: object) -> dict[str, object]:
    return {"type": "ldap", "url": server.ldap_url, "base_dn": "ou=people,dc=pku,dc=example",
            "user_filter": "(uid={username})", "active_filter": "(!(employeeType=disabled))",
            "staff_groups": ["cn=librarians,ou=groups,dc=pku,dc=example"], "staff_desks": ["borrowing", "lending"],
            "affiliation_attribute": "employeeType", "timeout": 3, **overrides}


def sip2_auth(responder: Sip2Responder, **overrides: object) -> dict[str, object]:
    return {"type": "sip2", "host": "127.0.0.1", "port": responder.port, "login_user": "sc-unicat",
            "login_password": "sc-login-secret", "institution_id": "3", "timeout": 3, **overrides}
