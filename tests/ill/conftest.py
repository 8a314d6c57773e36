from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from catalog.context import Services, build_services
from tests.ill.consortium import Catalogue, seed
from unicat.settings import Settings


@pytest.fixture
def ill_settings(settings: Callable[..., Settings]) -> Settings:
    return settings(es=False, session_cookie_secure=False)


@pytest.fixture
def services(ill_settings: Settings) -> Iterator[Services]:
    svc = build_services(ill_settings)
    yield svc
    svc.close()


@pytest.fixture
def catalogue(services: Services) -> Catalogue:
    cat = Catalogue()
    cat.install(services)
    return cat


@pytest.fixture
def accounts(services: Services, catalogue: Catalogue) -> dict[str, Any]:
    return seed(services)
