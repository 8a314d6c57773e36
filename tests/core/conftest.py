"""Fixtures for the union-catalogue core: a store + real Elasticsearch with members loaded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from catalog.context import Services, build_services
from catalog.members import sync_members
from store.db import transaction

MEMBERS: list[dict[str, Any]] = [
    {"code": "nlc", "name": {"zh": "国家图书馆", "en": "National Library"}, "region": "national", "role": "national"},
    {
        "code": "pku",
        "name": {"zh": "北京大学图书馆", "en": "Peking University Library"},
        "region": "north",
        "region_name": {"zh": "华北地区", "en": "North China"},
        "role": "regional",
    },
    {
        "code": "bnu",
        "name": {"zh": "北京师范大学图书馆", "en": "Beijing Normal University Library"},
        "region": "north",
        "region_name": {"zh": "华北地区", "en": "North China"},
        "role": "member",
    },
    {
        "code": "sjtu",
        "name": {"zh": "上海交通大学图书馆", "en": "Shanghai Jiao Tong University Library"},
        "region": "east",
        "region_name": {"zh": "华东地区", "en": "East China"},
        "role": "member",
    },
]


@pytest.fixture
def services(settings: Callable[..., Any]) -> Iterator[Services]:
    built = build_services(settings())
    with transaction(built.db) as session:
        sync_members(session, [dict(m) for m in MEMBERS])
    yield built
    built.close()


@pytest.fixture
def refresh(services: Services) -> Callable[[], None]:
    def _refresh() -> None:
        services.es.indices.refresh(index=services.settings.records_alias)

    return _refresh
