"""Benchmark: live availability for a record held by 20 members, 3 of which hang.

Real peers on this machine: yaz-ztest (Z39.50 OPAC XML), Zebra (SRU, UVA item data), a Koha
ILS-DI / NCIP responder, and three servers that accept connections and never answer. Reports
p50/p95 latency of ``availability_for_record`` and its ratio to the per-member timeout (target:
p95 ≤ timeout + 10 %), with the circuit breaker reset before every run (worst case) and left on,
and the CPU the service spent per run.

A second measurement asks for a page of 20 hits all held by one slow Koha member allowed
``max_connections`` at once: the wall time against its ceiling (one answer's latency, measured in
the same run, times the number of rounds the limit forces) and the most connections it ever saw.

    .venv/bin/python -m bench.availability_fanout [--runs 30] [--timeout 2.0] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from bench import common
from catalog.context import build_services
from holdings.service import availability_for_record
from tests.peers.fake_ils import FakeItem, IlsData, fault_server, ils_server
from tests.peers.zebra import TEMPLATES, free_port, read_marc, zebra_server
from tests.peers.ztest import opac_record_xml, ztest_server
from unicat.settings import Settings

HEADING = "## Availability and Z39.50/SRU (issue 4)"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def holding(code: str, config: dict[str, Any] | None, local_ids: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "member": code,
        "member_name": {"zh": code, "en": code},
        "region": "bench",
        "local_ids": local_ids,
        "as_of": None,
        "harvested_items": extra.get("harvested_items", []),
        "holdings_config": config,
    }


def build_record(zebra_url: str, ztest: int, ils: str, hangs: list[int]) -> dict[str, Any]:
    items = [{"item_id": "1-3003", "call_number": "GV1619 .R6 1984"}, {"item_id": "X001019384"}]
    hs = []
    for i in range(5):
        hs.append(
            holding(
                f"opac{i}",
                {"type": "z3950-opac", "host": "127.0.0.1", "port": ztest, "syntax": "xml", "element_set": "opac"},
                ["u1"],
            )
        )
    for i in range(5):
        hs.append(holding(f"sru{i}", {"type": "sru", "url": zebra_url}, ["u1"]))
    for i in range(3):
        hs.append(holding(f"ilsdi{i}", {"type": "ils-di", "url": f"{ils}/cgi-bin/koha/ilsdi.pl"}, ["u1"]))
    for i in range(3):
        hs.append(
            holding(f"ncip{i}", {"type": "ncip", "url": f"{ils}/ncip", "agency_id": "A"}, ["u1"], harvested_items=items)
        )
    hs.append(holding("harvested", None, ["u1"], harvested_items=items))
    hs.append(holding("hang-z3950", {"type": "z3950-opac", "host": "127.0.0.1", "port": hangs[0]}, ["u1"]))
    hs.append(holding("hang-sru", {"type": "sru", "url": f"http://127.0.0.1:{hangs[1]}/db"}, ["u1"]))
    hs.append(holding("hang-ilsdi", {"type": "ils-di", "url": f"http://127.0.0.1:{hangs[2]}/ilsdi.pl"}, ["u1"]))
    assert len(hs) == 20
    return {"id": "bench", "holdings": hs}


def run(runs: int, timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        zebra = stack.enter_context(zebra_server(work / "zebra", read_marc(TEMPLATES / "uva-sirsi-300.mrc")))
        fetch = work / "fetch"
        fetch.mkdir()
        (fetch / "opac.1.xml").write_text(
            opac_record_xml(
                "u1", [{"call_number": "GV1619", "location": "Alderman", "item_id": "X1", "available": True}]
            )
        )
        ztest = stack.enter_context(ztest_server(work, fetch))
        ils = stack.enter_context(
            ils_server(IlsData(bibs={"u1": [FakeItem("1-3003", "checked_out"), FakeItem("X001019384")]}))
        )
        hangs = [stack.enter_context(fault_server("hang")) for _ in range(3)]
        settings = Settings(
            var_dir=work,
            database_url=f"sqlite:///{work / 'bench.sqlite3'}",
            index_prefix="bench",
            redis_url=f"redis://127.0.0.1:{free_port()}/0",
            availability_timeout=timeout,
        )
        services = build_services(settings)
        record = build_record(zebra.sru_url, ztest, ils, hangs)
        results: dict[str, Any] = {}
        for label, reset in (("breaker reset each run", True), ("breaker on", False)):
            times: list[float] = []
            cpu: list[float] = []
            states: dict[str, int] = {}
            for _ in range(runs):
                if reset:
                    services.extras.pop("holdings_breakers", None)
                started, cpu_started = time.monotonic(), time.process_time()
                entries = asyncio.run(availability_for_record(services, record))
                times.append(time.monotonic() - started)
                cpu.append(time.process_time() - cpu_started)
                for e in entries:
                    states[e["state"]] = states.get(e["state"], 0) + 1
            results[label] = {
                "p50": statistics.median(times),
                "p95": pct(times, 95),
                "max": max(times),
                "cpu_ms": 1000 * statistics.median(cpu),
                "states": states,
            }
        results["page"] = [page_of_hits(services, runs, limit=limit) for limit in (4, 20)]
        services.close()
    return results


def page_of_hits(services: Any, runs: int, hits: int = 20, limit: int = 4, delay: float = 0.05) -> dict[str, Any]:
    """20 hits at one Koha member answering in ``delay`` s, ``max_connections = limit``."""
    from holdings.service import available_somewhere

    data = IlsData(bibs={f"b{n}": [FakeItem(f"i{n}")] for n in range(hits)}, delay=delay)
    with ils_server(data) as url:
        config = {"type": "ils-di", "url": f"{url}/cgi-bin/koha/ilsdi.pl", "max_connections": limit, "timeout": 10}
        one = [{"id": "one", "holdings": [holding("solo", config, ["b0"])]}]
        records = [{"id": f"u{n}", "holdings": [holding("koha", config, [f"b{n}"])]} for n in range(hits)]
        singles, pages, trips = [], [], []
        with httpx.Client() as client:
            for _ in range(runs):
                started = time.monotonic()
                client.get(config["url"], params={"service": "GetAvailability", "id": "b0", "id_type": "bib"})
                trips.append(time.monotonic() - started)
        for _ in range(runs):
            services.extras.pop("holdings_breakers", None)
            started = time.monotonic()
            asyncio.run(available_somewhere(services, one))
            singles.append(time.monotonic() - started)
            started = time.monotonic()
            answers = asyncio.run(available_somewhere(services, records))
            pages.append(time.monotonic() - started)
            assert all(answers.values()), answers
    single, trip = statistics.median(singles), statistics.median(trips)
    rounds = -(-hits // limit)
    return {"hits": hits, "limit": limit, "delay": delay, "single": single, "trip": trip,
            "ceiling": single + (rounds - 1) * trip,
            "p50": statistics.median(pages), "p95": pct(pages, 95), "most_at_once": data.in_flight_max}


def write_section(path: Path, section_name: str, text: str) -> None:
    """This issue's sections of bench/RESULTS.md (see :func:`bench.common.write_section`)."""
    common.write_section(section_name, text, path, heading=HEADING)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = ap.parse_args()
    results = run(args.runs, args.timeout)
    lines = [
        f"20 holding members (5 yaz-ztest OPAC, 5 Zebra SRU, 3 Koha ILS-DI, 3 NCIP, 1 harvested, "
        f"3 hanging servers), per-member timeout {args.timeout:g} s, {args.runs} runs each, no cache.",
        "",
        "| breaker | p50 (s) | p95 (s) | max (s) | p95 / timeout | CPU per run (ms) | states over all runs |",
        "|---|---|---|---|---|---|---|",
    ]
    pages = results.pop("page")
    page = pages[0]
    for label, r in results.items():
        states = ", ".join(f"{k} {v}" for k, v in sorted(r["states"].items()))
        lines.append(
            f"| {label} | {r['p50']:.3f} | {r['p95']:.3f} | {r['max']:.3f} | {r['p95'] / args.timeout:.3f} "
            f"| {r['cpu_ms']:.0f} | {states} |"
        )
    lines += [
        "",
        f"A page of {page['hits']} hits held by one Koha member answering in {page['delay'] * 1000:.0f} ms "
        "(one shared HTTP client per page). Ceiling, measured in the same run: one hit alone through the "
        "service plus one bare HTTP round trip for each further round the limit forces. With a limit of 20 "
        "nothing waits for a slot, and the responder (Python's socketserver, listen backlog 5) cannot take "
        "20 connections at once: the ones beyond its backlog wait for TCP to retry.",
        "",
        "| max_connections | one hit (ms) | round trip (ms) | page p50 (s) | page p95 (s) | ceiling (s) "
        "| p50 / ceiling | most connections at once |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {p['limit']} | {p['single'] * 1000:.0f} | {p['trip'] * 1000:.0f} | {p['p50']:.3f} | {p['p95']:.3f} "
        f"| {p['ceiling']:.3f} | {p['p50'] / p['ceiling']:.2f} | {p['most_at_once']} |"
        for p in pages
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(Path(__file__).resolve().parent / "RESULTS.md", "Availability fan-out", text)


if __name__ == "__main__":
    main()
