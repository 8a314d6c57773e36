"""Real peers for availability tests: Zebra with UVA item data, yaz-ztest with per-record OPAC
XML, a Koha-ILS-DI/NCIP responder, and Services on a temporary SQLite store with a private Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from catalog.context import Services, build_services
from tests.peers.fake_ils import FakeItem, IlsData, ils_server
from tests.peers.zebra import TEMPLATES, ZebraServer, read_marc, zebra_server
from tests.peers.ztest import opac_record_xml, ztest_server
from unicat.settings import Settings


@pytest.fixture(scope="session")
def holdings_zebra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZebraServer]:
    with zebra_server(tmp_path_factory.mktemp("zebra-holdings"), read_marc(TEMPLATES / "uva-sirsi-300.mrc")) as z:
        yield z


@pytest.fixture(scope="session")
def ztest_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """yaz-ztest answering OPAC XML (element set ``opac``): record 1 has one copy on loan, one free."""
    work = tmp_path_factory.mktemp("ztest")
    fetch = work / "fetch"
    fetch.mkdir()
    (fetch / "opac.1.xml").write_text(opac_record_xml("u1", [
        {"call_number": "GV1619 .R6 1984", "location": "Alderman", "item_id": "X1", "available": False,
         "due": "2026-12-24"},
        {"call_number": "GV1619 .R6 1984 c.2", "location": "Ivy", "item_id": "X2", "available": True},
    ]))
    with ztest_server(work, fetch) as port:
        yield port


@pytest.fixture(scope="session")
def ils() -> Iterator[tuple[str, IlsData]]:
    data = IlsData(bibs={
        "u1": [FakeItem("1-3003", "checked_out", "Alderman", "GV1619 .R6 1984", "2026-12-24T23:59:00Z"),
               FakeItem("X001019384", "available", "Ivy", "GV1619 .R6 1984")],
        "u7": [FakeItem("X7", "lost", "Clemons")],
    })
    with ils_server(data) as url:
        yield url, data


@pytest.fixture
def services(settings: Callable[..., Settings], tmp_path: Path) -> Iterator[Services]:
    built = build_services(settings(es=False, availability_timeout=1.0))
    yield built
    pool = built.extras.get("holdings_executor")
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)  # type: ignore[attr-defined]
    built.close()

