"""SRU client and harvester against a real Zebra (SRU on its Z39.50 port) and faulty servers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harvesters.base import HarvestError
from harvesters.sru import SruClient, SruError, SruFeed, SruHarvester, parse_response
from tests.peers.fake_ils import fault_server
from tests.peers.zebra import SAMPLE_MARC, TEMPLATES, ZebraServer, free_port, read_marc, zebra_server

TOTAL = 324
SRU_DATA = Path(__file__).resolve().parents[1] / "data" / "sru"  # real responses, see PROVENANCE.md there


@pytest.fixture(scope="module")
def zebra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZebraServer]:
    records = read_marc(SAMPLE_MARC) + read_marc(TEMPLATES / "uva-sirsi-300.mrc")
    with zebra_server(tmp_path_factory.mktemp("zebra"), records) as server:
        yield server


def harvest(feed: SruFeed, checkpoint: dict | None = None, max_pages: int | None = None):
    pages = []
    for page in SruHarvester(feed, timeout=5).pages(checkpoint):
        pages.append(page)
        if max_pages and len(pages) >= max_pages:
            break
    return pages


@pytest.mark.parametrize("version", ["1.1", "1.2", "2.0"])
def test_search_retrieve_versions(zebra: ZebraServer, version: str) -> None:
    with SruClient(zebra.sru_url, version=version, timeout=5) as client:  # type: ignore[arg-type]
        resp = client.search_retrieve("dc.title=computer", start=1, maximum=4)
    assert resp.number_of_records == 10 and len(resp.records) == 4
    assert resp.next_position in (None, 5)  # Zebra leaves nextRecordPosition out
    assert all(r.data is not None and r.data.tag.endswith("record") for r in resp.records)


def test_string_packing_and_diagnostics(zebra: ZebraServer) -> None:
    with SruClient(zebra.sru_url, timeout=5) as client:
        with pytest.raises(SruError) as exc:
            client.search_retrieve("dc.nosuchindex=x")
        assert exc.value.diagnostics and exc.value.diagnostics[0].code == 16
    surrogate = parse_response(
        b'<searchRetrieveResponse xmlns="http://www.loc.gov/zing/srw/"><numberOfRecords>1</numberOfRecords>'
        b"<records><record><recordSchema>info:srw/schema/1/diagnostics-v1.1</recordSchema><recordData>"
        b'<diagnostic xmlns="http://www.loc.gov/zing/srw/diagnostic/"><uri>info:srw/diagnostic/1/66</uri>'
        b"<message>Unknown schema for retrieval</message></diagnostic></recordData></record></records>"
        b"</searchRetrieveResponse>"
    )
    assert surrogate.records[0].diagnostic is not None and surrogate.records[0].diagnostic.code == 66


@pytest.mark.parametrize("count", ["9" * 5000, "\u00b2", "-1", ""])
def test_a_count_no_integer_can_hold_is_a_named_error(count: str) -> None:
    body = ('<searchRetrieveResponse xmlns="http://www.loc.gov/zing/srw/"><version>1.2</version>'
            f"<numberOfRecords>{count}</numberOfRecords></searchRetrieveResponse>").encode()
    with pytest.raises(SruError, match="numberOfRecords"):
        parse_response(body)


def test_parses_real_alma_and_bnf_responses() -> None:
    resp = parse_response((SRU_DATA / "sru-marc21-chinese-10.xml").read_bytes())
    assert resp.number_of_records == 239392 and len(resp.records) >= 1
    bnf = parse_response((SRU_DATA / "bnf-sru-unimarc-49.xml").read_bytes())
    assert bnf.records and bnf.records[0].schema == "marcxchange"


def test_full_harvest_pages_and_resume(zebra: ZebraServer) -> None:
    feed = SruFeed(url=zebra.sru_url, batch=100)
    all_pages = harvest(feed)
    ids = [r.local_id for p in all_pages for r in p.records]
    assert len(ids) == TOTAL == len(set(ids))
    errors = [r.error for p in all_pages for r in p.records if r.error]
    assert errors == ["record has no control number (001)"]  # one Zebra sample record has no 001
    bare = b'<record xmlns="http://www.loc.gov/MARC21/slim">'
    assert all(r.raw.startswith(bare) for p in all_pages for r in p.records)
    assert all_pages[-1].checkpoint["complete"]
    first = harvest(feed, max_pages=2)
    rest = harvest(feed, first[-1].checkpoint)
    assert sorted(r.local_id for p in first + rest for r in p.records) == sorted(ids)


def test_incremental_and_query_list(zebra: ZebraServer) -> None:
    feed = SruFeed(url=zebra.sru_url, version="2.0", queries=["dc.title=computer", "rec.id=u1"],
                   incremental_query="rec.lastModificationDate>={from}")
    pages = harvest(feed)
    assert len([r for p in pages for r in p.records]) == 11
    inc = harvest(feed, {"complete": True, "harvested_until": "19940101"})
    assert sorted(r.local_id for p in inc for r in p.records) == ["ACD-3799", "ACD-3837"]


@pytest.mark.parametrize("mode", ["hang", "reset", "garbage"])
def test_misbehaving_server(mode: str) -> None:
    with fault_server(mode) as port:  # type: ignore[arg-type]
        started = time.monotonic()
        with pytest.raises(HarvestError) as exc:
            list(SruHarvester(SruFeed(url=f"http://127.0.0.1:{port}/db"), timeout=0.5).pages(None))
    assert time.monotonic() - started < 3
    assert f"127.0.0.1:{port}" in str(exc.value)


def test_refused_connection_and_bad_config() -> None:
    with pytest.raises(HarvestError, match="ConnectError"):
        list(SruHarvester(SruFeed(url=f"http://127.0.0.1:{free_port()}/db"), timeout=1).pages(None))
    with pytest.raises(ValueError):
        SruFeed(url="ftp://example.org", incremental_query="x")
