"""What the fan-out owes a member: a breaker that only counts the member's own failures, and never
more connections at once than the member allows — against a real (slow) local ILS responder."""

from __future__ import annotations

import asyncio
from typing import Any

from catalog.context import Services
from holdings.service import BREAKER_THRESHOLD, availability_for_record, available_somewhere
from tests.holdings.helpers import holding
from tests.peers.fake_ils import FakeItem, IlsData, ils_server
from tests.peers.zebra import free_port


def koha(url: str, **extra: Any) -> dict[str, Any]:
    return {"type": "ils-di", "url": f"{url}/cgi-bin/koha/ilsdi.pl", **extra}


def one(services: Services, config: dict[str, Any], local_ids: list[str], **extra: Any) -> dict[str, Any]:
    record = {"id": "u", "holdings": [holding("lib", config, local_ids, **extra)]}
    (entry,) = asyncio.run(availability_for_record(services, record))
    return entry


def test_records_without_an_id_there_do_not_open_the_breaker(services: Services) -> None:
    data = IlsData(bibs={"b1": [FakeItem("i1", "available", "Main", "QA76")]})
    with ils_server(data) as url:
        for _ in range(BREAKER_THRESHOLD + 2):
            entry = one(services, koha(url), [])
            assert entry["state"] == "unknown" and entry["detail"].startswith("not asked: no local record id")
        entry = one(services, koha(url), ["b1"])
    assert entry["state"] == "ok" and [i["status"] for i in entry["items"]] == ["available"]
    assert len(data.requests) == 1  # the records without an id were never sent


def test_member_failures_still_open_the_breaker(services: Services) -> None:
    config = {"type": "ncip", "url": f"http://127.0.0.1:{free_port()}/ncip", "agency_id": "A"}
    items = [{"item_id": "b1"}]
    for _ in range(BREAKER_THRESHOLD):
        assert "unreachable" in one(services, config, ["1"], harvested_items=items)["detail"]
    assert one(services, config, ["1"], harvested_items=items)["detail"].startswith("not asked: failed 3 times")


def test_a_page_of_hits_never_holds_more_connections_than_the_member_allows(services: Services) -> None:
    hits = 10
    data = IlsData(bibs={f"b{n}": [FakeItem(f"i{n}", "available")] for n in range(hits)}, delay=0.2)
    with ils_server(data) as url:
        config = koha(url, max_connections=2, timeout=10)
        records = [{"id": f"u{n}", "holdings": [holding("lib", config, [f"b{n}"])]} for n in range(hits)]
        answers = asyncio.run(available_somewhere(services, records))
    assert answers == {f"u{n}": True for n in range(hits)}
    assert len(data.requests) == hits and data.in_flight_max == 2


def test_ncip_items_of_one_record_share_the_member_limit(services: Services) -> None:
    data = IlsData(bibs={"b": [FakeItem(f"i{n}", "checked_out") for n in range(6)]}, delay=0.2)
    with ils_server(data) as url:
        config = {"type": "ncip", "url": f"{url}/ncip", "agency_id": "A", "max_connections": 3, "timeout": 10}
        entry = one(services, config, ["b"], harvested_items=[{"item_id": f"i{n}"} for n in range(6)])
    assert [i["status"] for i in entry["items"]] == ["on_loan"] * 6
    assert data.in_flight_max == 3
