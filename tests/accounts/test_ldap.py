"""LDAP sign-in against a real OpenLDAP slapd: search-then-bind, direct bind, LDAPS, StartTLS, failures."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from accounts.config import parse_auth
from accounts.identity import SignInError
from accounts.ldap import LdapAuthenticator
from tests.accounts.fixtures import ldap_auth
from tests.accounts.identity_servers import Slapd


def check(config: dict, username: str, password: str):  # type: ignore[no-untyped-def]
    return LdapAuthenticator(parse_auth(config)).authenticate(None, "pku", username, password)  # type: ignore[arg-type]


def test_search_then_bind_reads_name_mail_and_staff_group(slapd: Slapd) -> None:
    alice = check(ldap_auth(slapd), "alice", "alice-secret")
    assert alice is not None
    assert (alice.display_name, alice.email, alice.source) == ("张爱丽", "alice@pku.example", "ldap")
    assert alice.external_id == "uid=alice,ou=people,dc=pku,dc=example"
    assert (alice.kind, alice.desks, alice.blocked_reason) == ("staff", ("borrowing", "lending"), None)
    bob = check(ldap_auth(slapd), "bob", "bob-secret")
    assert bob is not None and (bob.kind, bob.affiliation) == ("patron", "student")


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong"), ("nobody", "x"), ("alice", ""),
                                                    ("*", "alice-secret"), ("alice)(uid=*", "alice-secret")])
def test_wrong_password_unknown_user_empty_password_and_filter_injection_are_refused(
        slapd: Slapd, username: str, password: str) -> None:
    assert check(ldap_auth(slapd), username, password) is None


def test_revoked_directory_account_signs_in_blocked(slapd: Slapd) -> None:
    carol = check(ldap_auth(slapd), "carol", "carol-secret")
    assert carol is not None and carol.blocked_reason and "disabled" in carol.blocked_reason


def test_direct_bind(slapd: Slapd) -> None:
    config = ldap_auth(slapd, bind="direct", user_dn_template="uid={username},ou=people,dc=pku,dc=example")
    assert check(config, "bob", "bob-secret") is not None
    assert check(config, "bob", "nope") is None


def test_ldaps_and_starttls_verified_with_the_ca_file(slapd: Slapd) -> None:
    assert check(ldap_auth(slapd, url=slapd.ldaps_url, ca_file=str(slapd.ca_file)), "bob", "bob-secret")
    assert check(ldap_auth(slapd, start_tls=True, ca_file=str(slapd.ca_file)), "bob", "bob-secret")


def test_a_certificate_from_another_ca_is_refused(slapd: Slapd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.accounts.identity_servers import make_ca

    other_ca, _, _ = make_ca(tmp_path)
    with pytest.raises(SignInError) as caught:
        check(ldap_auth(slapd, url=slapd.ldaps_url, ca_file=str(other_ca)), "bob", "bob-secret")
    assert caught.value.code == "unavailable"


def test_a_directory_that_is_down_fails_as_unavailable(slapd: Slapd) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(SignInError) as caught:
        check(ldap_auth(slapd, url=f"ldap://127.0.0.1:{port}"), "bob", "bob-secret")
    assert caught.value.code == "unavailable"
    assert "bob-secret" not in str(caught.value)


def test_a_directory_that_hangs_fails_within_the_timeout(slapd: Slapd) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(SignInError) as caught:
            check(ldap_auth(slapd, url=f"ldap://127.0.0.1:{listener.getsockname()[1]}", timeout=1), "bob", "x")
        assert caught.value.code == "unavailable"
        assert time.monotonic() - started < 4
    finally:
        listener.close()
        for conn in held:
            conn.close()
