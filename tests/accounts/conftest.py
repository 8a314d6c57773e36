"""Sign-in tests: a store with one member per connector, and the real identity servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from catalog.context import Services, build_services
from catalog.members import sync_members
from store.db import transaction
from tests.accounts.fixtures import hanging_server, ldap_auth, sip2_auth  # noqa: F401 - fixture

NAMES = {"pku": ("北京大学图书馆", "Peking University Library"),
         "bnu": ("北京师范大学图书馆", "Beijing Normal University"), "nlc": ("国家图书馆", "National Library")}


def member(code: str, auth: dict[str, Any] | None) -> dict[str, Any]:
    zh, en = NAMES.get(code, (code, code))
    entry: dict[str, Any] = {"code": code, "name": {"zh": zh, "en": en}, "region": "north", "role": "member"}
    if auth:
        entry["auth"] = auth
    return entry


@pytest.fixture
def signin_services(settings: Callable[..., Any], slapd, sip2_ils) -> Iterator[Services]:
    built = build_services(settings(es=False, signin_failure_floor=0.3))
    with transaction(built.db) as session:
        sync_members(session, [member("pku", ldap_auth(slapd)), member("bnu", sip2_auth(sip2_ils)),
                               member("nlc", None)])
    yield built
    built.close()
