"""Z39.50 harvesting against a real Zebra (and yaz-ztest / misbehaving servers for faults)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pymarc
import pytest

from harvesters.base import HarvestError
from harvesters.z3950 import Z3950Feed, Z3950Harvester
from harvesters.zoom import Connection, ZoomError
from tests.peers.fake_ils import fault_server
from tests.peers.zebra import SAMPLE_MARC, TEMPLATES, ZebraServer, free_port, read_marc, zebra_server
from tests.peers.ztest import ztest_server

TOTAL = 324  # 24 Zebra sample records + 300 UVA records


@pytest.fixture(scope="module")
def zebra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZebraServer]:
    records = read_marc(SAMPLE_MARC) + read_marc(TEMPLATES / "uva-sirsi-300.mrc")
    with zebra_server(tmp_path_factory.mktemp("zebra"), records) as server:
        yield server


def harvest(feed: Z3950Feed, checkpoint: dict | None = None, max_pages: int | None = None):
    pages = []
    for page in Z3950Harvester(feed, timeout=5).pages(checkpoint):
        pages.append(page)
        if max_pages and len(pages) >= max_pages:
            break
    return pages


def test_search_and_present_with_diagnostics(zebra: ZebraServer) -> None:
    with Connection(zebra.host, zebra.port, timeout=5) as conn:
        rs = conn.search("@attr 1=4 computer")
        assert rs.size == 10
        recs = rs.fetch(0, 3, form="raw; charset=marc8,utf8")
        assert [r.syntax for r in recs] == ["USmarc"] * 3
        with pytest.raises(ZoomError) as exc:
            conn.search("@attr 1=9999 x")
        assert exc.value.code == 114 and "Unsupported Use attribute" in exc.value.message


def test_cql_search(zebra: ZebraServer) -> None:
    with Connection(zebra.host, zebra.port, timeout=5) as conn:
        assert conn.search("dc.title=computer", "cql").size == 10


def test_full_harvest_in_batches(zebra: ZebraServer) -> None:
    pages = harvest(Z3950Feed(host=zebra.host, port=zebra.port, batch=50))
    records = [r for p in pages for r in p.records]
    assert len(records) == TOTAL and all(r.error is None for r in records)
    assert len({r.local_id for r in records}) == TOTAL
    assert all(r.encoding == "iso2709" and r.syntax == "marc21" and r.raw[9:10] == b"a" for r in records)
    assert pages[-1].checkpoint["complete"] is True and pages[-1].checkpoint["harvested_until"]
    rec = pymarc.Record(data=next(r.raw for r in records if r.local_id == "u1"), to_unicode=True)
    assert rec["999"]["l"] == "LOST"


def test_resume_from_checkpoint_repeats_nothing(zebra: ZebraServer) -> None:
    feed = Z3950Feed(host=zebra.host, port=zebra.port, batch=40,
                     queries=["@attr 1=4 computer", '@attr 1=_ALLRECORDS @attr 2=103 ""'])
    first = harvest(feed, max_pages=3)
    rest = harvest(feed, first[-1].checkpoint)
    ids = [r.local_id for p in first + rest for r in p.records]
    assert len(ids) == 10 + TOTAL  # the computer query, then everything; no page twice
    assert rest[-1].checkpoint["complete"]


def test_incremental_by_record_date(zebra: ZebraServer) -> None:
    feed = Z3950Feed(host=zebra.host, port=zebra.port,
                     incremental_query="@attr 1=1012 @attr 2=4 @attr 4=109 {from}")
    pages = harvest(feed, {"complete": True, "harvested_until": "19940101"})
    assert sorted(r.local_id for p in pages for r in p.records) == ["ACD-3799", "ACD-3837"]
    assert pages[-1].checkpoint["mode"] == "incremental"


def test_marcxml_syntax(zebra: ZebraServer) -> None:
    pages = harvest(Z3950Feed(host=zebra.host, port=zebra.port, syntax="xml", queries=["@attr 1=4 computer"]))
    records = [r for p in pages for r in p.records]
    assert len(records) == 10 and all(r.encoding == "xml" and r.raw.startswith(b"<record") for r in records)


def test_marc8_records_from_ztest_come_out_utf8(tmp_path: Path) -> None:
    with ztest_server(tmp_path) as port:
        pages = harvest(Z3950Feed(host="127.0.0.1", port=port, queries=["5"], batch=2))
    records = [r for p in pages for r in p.records]
    assert len(records) == 5 and all(r.raw[9:10] == b"a" for r in records)
    for r in records:
        pymarc.Record(data=r.raw, to_unicode=True, force_utf8=True)


def test_unexpected_syntax_is_a_record_error(tmp_path: Path) -> None:
    fetch = tmp_path / "fetch"
    fetch.mkdir()
    (fetch / "dc.1.xml").write_text("<dc xmlns=\"http://purl.org/dc/elements/1.1/\"><title>x</title></dc>")
    with ztest_server(tmp_path, fetch) as port:
        pages = harvest(Z3950Feed(host="127.0.0.1", port=port, syntax="xml", element_set="dc", queries=["1"]))
    (rec,) = [r for p in pages for r in p.records]
    assert rec.error and "not a MARCXML record" in rec.error


@pytest.mark.parametrize("mode", ["hang", "reset", "garbage"])
def test_misbehaving_server_fails_the_harvest_with_a_reason(mode: str) -> None:
    with fault_server(mode) as port:  # type: ignore[arg-type]
        started = time.monotonic()
        with pytest.raises(HarvestError) as exc:
            list(Z3950Harvester(Z3950Feed(host="127.0.0.1", port=port), timeout=1).pages(None))
    assert time.monotonic() - started < 3
    assert "z3950 127.0.0.1" in str(exc.value) and "ZOOM 1000" in str(exc.value)


def test_refused_connection_and_wrong_port() -> None:
    with pytest.raises(HarvestError, match="Connect failed"):
        list(Z3950Harvester(Z3950Feed(host="127.0.0.1", port=free_port()), timeout=1).pages(None))


def test_unresolvable_host() -> None:
    with pytest.raises(HarvestError, match="Connect failed"):
        list(Z3950Harvester(Z3950Feed(host="no-such-host.invalid", port=210), timeout=1).pages(None))


def test_bad_query_names_the_diagnostic(zebra: ZebraServer) -> None:
    with pytest.raises(HarvestError, match="Bib-1 114"):
        harvest(Z3950Feed(host=zebra.host, port=zebra.port, queries=["@attr 1=9999 x"]))
