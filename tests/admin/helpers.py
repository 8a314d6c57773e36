"""Accounts and sign-in for the console tests: the real sign-in form, its CSRF token and cookie."""

from __future__ import annotations

import re
from typing import Any

from ill.auth import create_account, issue_token

PASSWORD = "console password"


def account(services: Any, member: str, username: str, kind: str) -> Any:
    desks = ["borrowing", "lending"] if kind == "staff" else []
    return create_account(services, member_code=member, username=username, password=PASSWORD, kind=kind,
                          desks=desks)


def bearer(services: Any, acct: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(services, acct)}"}


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has a form with the session's CSRF token"
    return match.group(1)


def sign_in(http: Any, member: str, username: str) -> None:
    """Sign in through the shared sign-in form (the session cookie stays in the client)."""
    token = csrf_of(http.get("/ill/login").text)
    answer = http.post("/ill/login", data={"member": member, "username": username, "password": PASSWORD,
                                           "csrf_token": token, "next": "/admin/"}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
