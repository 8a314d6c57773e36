"""The fan-out service against real peers: Zebra (SRU, UVA 999 items), yaz-ztest (OPAC XML), a
Koha ILS-DI / NCIP responder, and servers that hang, reset or answer garbage."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from catalog.context import Services
from holdings.service import availability_for_record, available_somewhere, summarise
from tests.holdings.helpers import holding
from tests.peers.fake_ils import IlsData, fault_server
from tests.peers.zebra import ZebraServer, free_port

UVA_ITEMS = [{"call_number": "GV1619 .R6 1984", "location": "ALDERMAN", "collection": "LOST", "item_id": "1-3003",
              "status": "LOST", "items": 1},
             {"call_number": "GV1619 .R6 1984", "location": "IVY", "collection": "BY-REQUEST", "item_id": "X001019384",
              "status": None, "items": 1}]


def by_member(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["member"]: e for e in entries}


def statuses(entry: dict[str, Any]) -> list[str]:
    return sorted(i["status"] for i in entry["items"])


def test_live_statuses_and_unknown_for_a_hanging_member_within_timeout(
    services: Services, holdings_zebra: ZebraServer, ztest_port: int, ils: tuple[str, IlsData]
) -> None:
    url, _ = ils
    with fault_server("hang") as hang_port:
        record = {"id": "u0", "holdings": [
            holding("zebra", {"type": "sru", "url": holdings_zebra.sru_url}, ["u1"]),
            holding("ztest", {"type": "z3950-opac", "host": "127.0.0.1", "port": ztest_port, "syntax": "xml",
                              "element_set": "opac"}, ["u1"]),
            holding("koha", {"type": "ils-di", "url": f"{url}/cgi-bin/koha/ilsdi.pl"}, ["u1"],
                    harvested_items=UVA_ITEMS),
            holding("ncip", {"type": "ncip", "url": f"{url}/ncip", "agency_id": "NCIP"}, ["u1"],
                    harvested_items=UVA_ITEMS),
            holding("sirsi", None, ["u1"], harvested_items=UVA_ITEMS, as_of="2024-05-01"),
            holding("hang-http", {"type": "ils-di", "url": f"http://127.0.0.1:{hang_port}/ilsdi.pl"}, ["u1"]),
            holding("hang-z3950", {"type": "z3950-opac", "host": "127.0.0.1", "port": hang_port}, ["u1"]),
        ]}
        started = time.monotonic()
        entries = asyncio.run(availability_for_record(services, record))
        elapsed = time.monotonic() - started
    assert elapsed < services.settings.availability_timeout + 0.5
    got = by_member(entries)
    assert [e["member"] for e in entries] == [h["member"] for h in record["holdings"]]
    assert {m: e["state"] for m, e in got.items()} == {
        "zebra": "ok", "ztest": "ok", "koha": "ok", "ncip": "ok", "sirsi": "ok",
        "hang-http": "unknown", "hang-z3950": "unknown"}
    assert "timed out" in got["hang-http"]["detail"] and "timed out" in got["hang-z3950"]["detail"]
    assert statuses(got["zebra"]) == ["available", "lost"]  # 999 $l LOST and BY-REQUEST (storage) over SRU
    ztest = sorted(got["ztest"]["items"], key=lambda i: i["status"])
    assert [(i["status"], i["due_date"], i["requestable"]) for i in ztest] == [
        ("available", None, True), ("on_loan", "2026-12-24", True)]
    assert statuses(got["koha"]) == ["available", "on_loan"]
    assert {i["call_number"] for i in got["koha"]["items"]} == {"GV1619 .R6 1984"}  # filled from harvest
    ncip = {i["status"]: i for i in got["ncip"]["items"]}
    assert ncip["on_loan"]["due_date"] == "2026-12-24T23:59:00Z" and ncip["available"]["location"] == "Ivy"
    assert got["sirsi"]["source"] == "harvested" and got["sirsi"]["detail"] == "harvested holdings as of 2024-05-01"
    summary = summarise(entries)
    assert summary["available_somewhere"] is True and summary["members_unknown"] == ["hang-http", "hang-z3950"]


def test_each_fault_is_a_per_member_state_with_its_reason(services: Services, holdings_zebra: ZebraServer) -> None:
    with fault_server("reset") as reset, fault_server("garbage") as garbage:
        record = {"holdings": [
            holding("reset-http", {"type": "ils-di", "url": f"http://127.0.0.1:{reset}/x"}, ["1"]),
            holding("reset-z3950", {"type": "z3950-opac", "host": "127.0.0.1", "port": reset}, ["1"]),
            holding("garbage-http", {"type": "sru", "url": f"http://127.0.0.1:{garbage}/db"}, ["1"]),
            holding("garbage-z3950", {"type": "z3950-opac", "host": "127.0.0.1", "port": garbage}, ["1"]),
            holding("refused", {"type": "ncip", "url": f"http://127.0.0.1:{free_port()}/ncip", "agency_id": "A"},
                    ["1"], harvested_items=[{"item_id": "b1"}]),
            holding("wrong-port", {"type": "z3950-opac", "host": "127.0.0.1", "port": free_port()}, ["1"]),
            holding("no-host", {"type": "z3950-opac", "host": "no-such-host.invalid", "port": 210}, ["1"]),
            holding("zebra-no-opac", {"type": "z3950-opac", "host": "127.0.0.1", "port": holdings_zebra.port},
                    ["u1"]),
            holding("bad-config", {"type": "ncip", "url": "ftp://x"}, ["1"]),
            holding("ncip-no-items", {"type": "ncip", "url": "http://127.0.0.1:1/ncip", "agency_id": "A"}, ["1"]),
        ]}
        started = time.monotonic()
        got = by_member(asyncio.run(availability_for_record(services, record)))
    assert time.monotonic() - started < services.settings.availability_timeout + 0.5
    states = {m: (e["state"], e["detail"]) for m, e in got.items()}
    assert states["reset-http"][0] == "unknown" and states["reset-z3950"][0] == "unknown"
    assert states["garbage-http"][0] == "error" and "not an HTTP answer" in states["garbage-http"][1]
    assert states["garbage-z3950"][0] in ("error", "unknown") and "ZOOM" in states["garbage-z3950"][1]
    assert states["refused"][0] == "unknown" and "unreachable" in states["refused"][1]
    assert states["wrong-port"][0] == "unknown" and "Connect failed" in states["wrong-port"][1]
    assert states["no-host"][0] == "unknown"
    assert states["zebra-no-opac"][0] == "error" and "Bib-1" in states["zebra-no-opac"][1]
    assert states["bad-config"][0] == "error" and "bad holdings configuration" in states["bad-config"][1]
    assert states["ncip-no-items"][0] == "unknown" and "not asked" in states["ncip-no-items"][1]


def test_answers_are_cached_in_redis(services: Services, ils: tuple[str, IlsData]) -> None:
    url, data = ils
    record = {"holdings": [holding("koha", {"type": "ils-di", "url": f"{url}/cgi-bin/koha/ilsdi.pl"}, ["u7"])]}
    before = len(data.requests)
    first = asyncio.run(availability_for_record(services, record))
    second = asyncio.run(availability_for_record(services, record))
    assert len(data.requests) == before + 1
    assert (first[0]["cached"], second[0]["cached"]) == (False, True)
    assert first[0]["items"] == second[0]["items"] and statuses(second[0]) == ["lost"]


def test_without_redis_it_still_answers(settings, ils: tuple[str, IlsData]) -> None:
    from catalog.context import build_services

    url, _ = ils
    svc = build_services(settings(es=False).model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"}))
    record = {"holdings": [holding("koha", {"type": "ils-di", "url": f"{url}/cgi-bin/koha/ilsdi.pl"}, ["u1"])]}
    try:
        (entry,) = asyncio.run(availability_for_record(svc, record))
    finally:
        svc.close()
    assert entry["state"] == "ok" and not entry["cached"]


def test_circuit_breaker_stops_asking_a_failing_member(services: Services) -> None:
    with fault_server("garbage") as port:
        record = {"holdings": [holding("flaky", {"type": "ils-di", "url": f"http://127.0.0.1:{port}/x"}, ["1"])]}
        details = [asyncio.run(availability_for_record(services, record))[0] for _ in range(4)]
    assert [d["state"] for d in details] == ["error", "error", "error", "unknown"]
    assert details[3]["detail"].startswith("not asked: failed 3 times")


def test_available_somewhere_for_a_page_of_hits(services: Services, ils: tuple[str, IlsData]) -> None:
    url, _ = ils
    cfg = {"type": "ils-di", "url": f"{url}/cgi-bin/koha/ilsdi.pl"}
    records = [{"id": "a", "holdings": [holding("koha", cfg, ["u1"])]},
               {"id": "b", "holdings": [holding("koha", cfg, ["u7"])]},
               {"id": "c", "holdings": [holding("koha", {"type": "ils-di", "url": "http://127.0.0.1:1/x"}, ["u1"])]},
               {"id": "d", "holdings": []}]
    assert asyncio.run(available_somewhere(services, records)) == {"a": True, "b": False, "c": None, "d": None}


def test_every_api_process_stops_asking_a_failing_member_together(settings) -> None:
    """Two sets of services (what two API processes each hold) on one Redis: the failures the
    first counts open the breaker for the second, which never calls the member."""
    from catalog.context import build_services

    first_config = settings(es=False, availability_timeout=1.0)
    first = build_services(first_config)
    second = build_services(first_config.model_copy())
    try:
        with fault_server("garbage") as port:
            record = {"holdings": [holding("flaky", {"type": "ils-di", "url": f"http://127.0.0.1:{port}/x"}, ["1"])]}
            seen = [asyncio.run(availability_for_record(first, record))[0]["state"] for _ in range(3)]
            (other,) = asyncio.run(availability_for_record(second, record))
    finally:
        for svc in (first, second):
            svc.close()
    assert seen == ["error", "error", "error"]
    assert other["state"] == "unknown" and other["detail"].startswith("not asked: failed 3 times in a row")
