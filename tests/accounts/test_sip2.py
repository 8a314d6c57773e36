"""SIP2 patron check against a loopback ACS replaying real Sierra and Polaris answers."""

from __future__ import annotations

import time

import pytest

from accounts.config import parse_auth
from accounts.identity import SignInError
from accounts.sip2 import Sip2Authenticator
from tests.accounts.fixtures import sip2_auth
from tests.accounts.sip2_responder import Sip2Responder


def check(responder: Sip2Responder, username: str, password: str, **overrides: object):  # type: ignore[no-untyped-def]
    config = parse_auth(sip2_auth(responder, **overrides))
    return Sip2Authenticator(config).authenticate(None, "bnu", username, password)  # type: ignore[arg-type]


def test_a_valid_patron_with_the_right_pin_signs_in(sip2_ils: Sip2Responder) -> None:
    reader = check(sip2_ils, "12345", "4321")
    assert reader is not None
    assert (reader.display_name, reader.email, reader.blocked_reason) == ("SHELDON, ALICE", "foo@example.com", None)
    sent = sip2_ils.requests[-2:]
    assert sent[0].startswith(b"9300CNsc-unicat|COsc-login-secret|") and sent[1].startswith(b"63")
    assert b"|AA12345|" in sent[1] and b"|AD4321|" in sent[1]


def test_patron_status_message_23_is_used_when_configured(sip2_ils: Sip2Responder) -> None:
    check(sip2_ils, "25891000331441", "1111", message="23")
    assert sip2_ils.requests[-1].startswith(b"23")


@pytest.mark.parametrize(("barcode", "pin"), [("12345", "0000"), ("25891000331441", "bad"), ("999999", "1234"),
                                              ("12345", ""), ("12345|AD4321", "4321")])
def test_wrong_pin_unknown_patron_and_field_injection_are_refused(sip2_ils: Sip2Responder, barcode: str,
                                                                   pin: str) -> None:
    assert check(sip2_ils, barcode, pin) is None


def test_the_ils_block_and_expiry_flags_block_the_reader(sip2_ils: Sip2Responder) -> None:
    tess = check(sip2_ils, "25891000224613", "2222")
    assert tess is not None
    assert tess.blocked_reason is not None
    assert "card expired on 2016-10-25" in tess.blocked_reason and "charge privileges denied" in tess.blocked_reason
    assert "Patron has blocks." in tess.blocked_reason


@pytest.mark.parametrize("mode", ["garbage", "hang"])
def test_an_ils_answering_garbage_or_hanging_is_unavailable_within_the_timeout(mode: str) -> None:
    with Sip2Responder(mode) as responder:
        started = time.monotonic()
        with pytest.raises(SignInError) as caught:
            check(responder, "12345", "4321", timeout=1)
    assert caught.value.code == "unavailable"
    assert time.monotonic() - started < 3
    assert "4321" not in caught.value.detail and "sc-login-secret" not in caught.value.detail
