"""Session-wide identity servers (import these fixtures into a test module or conftest)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

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


OIDC_REALM = {
    "realm": "fudan", "enabled": True, "accessTokenLifespan": 300,
    "users": [{"username": "carol", "enabled": True, "email": "carol@fudan.example", "emailVerified": True,
               "firstName": "Carol", "lastName": "Wu",
               "credentials": [{"type": "password", "value": "carol-secret", "temporary": False}]}],
    "clients": [{"clientId": "unicat", "protocol": "openid-connect", "publicClient": False,
                 "secret": "unicat-client-secret", "redirectUris": ["*"], "standardFlowEnabled": True,
                 "attributes": {"pkce.code.challenge.method": "S256", "post.logout.redirect.uris": "*"}},
                {"clientId": "another-app", "protocol": "openid-connect", "publicClient": False,
                 "secret": "another-secret", "redirectUris": ["*"], "standardFlowEnabled": True}],
}


@pytest.fixture(scope="session")
def keycloak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Keycloak for the whole run (its boot is the slowest of all the test servers). Set
    ``UNICAT_TEST_KEYCLOAK_URL`` to use one already running with :data:`OIDC_REALM` imported."""
    from unicat.localsvc import keycloak as kc
    from unicat.localsvc.process import free_port

    external = os.environ.get("UNICAT_TEST_KEYCLOAK_URL")
    if external:
        yield SimpleNamespace(url=external.rstrip("/"))
        return

    home = kc.ensure_distribution(Path(__file__).resolve().parents[2] / "var")
    node = kc.start(home, free_port(), [OIDC_REALM], tmp_path_factory.mktemp("keycloak"))
    print(f"\nKeycloak answered {node.boot_seconds:.1f} s after launch")
    try:
        yield node
    finally:
        node.stop()


def oidc_auth(node: Any, **overrides: object) -> dict[str, object]:
    return {"type": "oidc", "issuer": f"{node.url}/realms/fudan", "client_id": "unicat",
            "client_secret": "unicat-client-secret", "scopes": ["openid", "profile", "email"], "timeout": 30,
            **overrides}


@pytest.fixture
def hanging_server() -> Iterator[str]:
    """``host:port`` of a server that accepts connections and never answers (an IdP or ILS that hangs)."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    listener.close()
    for conn in held:
        conn.close()
