"""Accounts from sign-in: created at the first sign-in, refreshed later, untouched by failures; throttling,
equal failure answers and times, logs without secrets."""

from __future__ import annotations

import logging
import subprocess
import time

import pytest
from sqlalchemy import func, select

from accounts.identity import SignInError
from accounts.models import Account
from accounts.service import sign_in_with_password
from catalog.context import Services
from tests.accounts.identity_servers import Slapd


def accounts(services: Services) -> int:
    with services.db() as session:
        return session.scalar(select(func.count()).select_from(Account)) or 0


def failure(services: Services, member: str, username: str, password: str, client: str = "10.0.0.1") -> SignInError:
    with pytest.raises(SignInError) as caught:
        sign_in_with_password(services, member, username, password, client)
    return caught.value


def test_first_sign_in_creates_the_reader_without_a_password_and_later_ones_refresh_it(
        signin_services: Services, slapd: Slapd) -> None:
    first = sign_in_with_password(signin_services, "pku", "bob", "bob-secret")
    assert (first.member_code, first.source, first.password_hash, first.email) == ("pku", "ldap", None,
                                                                                   "bob@pku.example")
    subprocess.run(["ldapmodify", "-x", "-H", slapd.ldap_url, "-D", "cn=admin,dc=pku,dc=example", "-w", "adminpw"],
                   input="dn: uid=bob,ou=people,dc=pku,dc=example\nchangetype: modify\nreplace: mail\n"
                         "mail: bob.li@pku.example\n", text=True, check=True, capture_output=True)
    try:
        again = sign_in_with_password(signin_services, "pku", "bob", "bob-secret")
    finally:
        subprocess.run(["ldapmodify", "-x", "-H", slapd.ldap_url, "-D", "cn=admin,dc=pku,dc=example", "-w",
                        "adminpw"], input="dn: uid=bob,ou=people,dc=pku,dc=example\nchangetype: modify\n"
                       "replace: mail\nmail: bob@pku.example\n", text=True, check=True, capture_output=True)
    assert again.id == first.id and again.email == "bob.li@pku.example"
    assert accounts(signin_services) == 1


def test_staff_role_comes_from_the_directory_group(signin_services: Services) -> None:
    alice = sign_in_with_password(signin_services, "pku", "alice", "alice-secret")
    assert (alice.kind, alice.desks) == ("staff", ["borrowing", "lending"])


def test_sip2_reader_blocked_at_the_ils_is_signed_in_as_blocked(signin_services: Services) -> None:
    tess = sign_in_with_password(signin_services, "bnu", "25891000224613", "2222")
    assert tess.blocked and "card expired" in (tess.blocked_reason or "")
    alice = sign_in_with_password(signin_services, "bnu", "12345", "4321")
    assert not alice.blocked and alice.display_name == "SHELDON, ALICE"


def test_failures_create_nothing_say_the_same_and_log_no_secret(signin_services: Services,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "unicat.signin")
    wrong = failure(signin_services, "pku", "bob", "not-bobs-password")
    unknown = failure(signin_services, "pku", "nobody", "not-bobs-password")
    wrong_pin = failure(signin_services, "bnu", "12345", "9999")
    assert {wrong.code, unknown.code, wrong_pin.code} == {"rejected"}
    assert wrong.message == unknown.message == wrong_pin.message
    assert accounts(signin_services) == 0
    assert "not-bobs-password" not in caplog.text and "9999" not in caplog.text
    assert "sc-login-secret" not in caplog.text and "sign-in failed: member=pku" in caplog.text


def test_failure_takes_as_long_for_unknown_accounts_as_for_wrong_passwords(signin_services: Services) -> None:
    floor = signin_services.settings.signin_failure_floor
    for username in ("nobody", "bob"):
        started = time.monotonic()
        failure(signin_services, "pku", username, "wrong", client=f"10.1.0.{len(username)}")
        assert time.monotonic() - started >= floor


def test_wrong_passwords_are_rate_limited_per_account_then_even_the_right_one_waits(
        signin_services: Services) -> None:
    for n in range(5):
        assert failure(signin_services, "pku", "bob", f"guess-{n}", client=f"10.2.0.{n}").code == "rejected"
    assert failure(signin_services, "pku", "bob", "bob-secret", client="10.2.1.1").code == "throttled"
    # another reader of the same library is not locked out
    assert sign_in_with_password(signin_services, "pku", "alice", "alice-secret", "10.2.1.1").username == "alice"


def test_one_client_trying_many_accounts_is_rate_limited(signin_services: Services) -> None:
    signin_services.extras.pop("accounts.throttle", None)
    signin_services.settings.signin_failures_per_client = "3/15 minutes"
    for n in range(3):
        failure(signin_services, "nlc", f"reader{n}", "x", client="10.3.0.1")
    assert failure(signin_services, "nlc", "reader9", "x", client="10.3.0.1").code == "throttled"
    assert failure(signin_services, "nlc", "reader9", "x", client="10.3.0.2").code == "rejected"


def test_a_directory_that_is_down_is_reported_as_unavailable(signin_services: Services) -> None:
    from store.db import transaction
    from store.models import Member

    with transaction(signin_services.db) as session:
        pku = session.get(Member, "pku")
        assert pku is not None
        pku.config = {**pku.config, "auth": {**pku.config["auth"], "url": "ldap://127.0.0.1:1", "timeout": 1}}
    assert failure(signin_services, "pku", "bob", "bob-secret").code == "unavailable"
    assert accounts(signin_services) == 0
