"""Fixtures for the administration console: a store and a real Elasticsearch with the core tests'
four member libraries, session cookies allowed over the test client's plain HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from catalog.context import Services, build_services
from catalog.members import sync_members
from store.db import transaction
from tests.core.conftest import MEMBERS


@pytest.fixture
def services(settings: Callable[..., Any]) -> Iterator[Services]:
    built = build_services(settings(session_cookie_secure=False))
    with transaction(built.db) as session:
        sync_members(session, [dict(m) for m in MEMBERS])
    yield built
    built.close()
