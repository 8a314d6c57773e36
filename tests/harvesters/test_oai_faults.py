"""OaiHarvester against misbehaving real local servers: 503s, hangs, resets, garbage, HTTP errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harvesters.base import HarvestError
from harvesters.oai import OaiFeed, OaiHarvester
from tests.harvesters.fault_server import (
    Action,
    App,
    Hang,
    Reply,
    Request,
    Reset,
    Sleeps,
    Trickle,
    identify,
    run,
    serving,
)

SECONDS = "YYYY-MM-DDThh:mm:ssZ"


def flaky(fault: Action, times: int, page: Path) -> tuple[list[int], App]:
    """An app answering the first ``times`` ListRecords with ``fault``, then the real page."""
    seen = [0]

    def app(request: Request) -> Action:
        if request.params.get("verb") == "Identify":
            return Reply(body=identify(SECONDS))
        seen[0] += 1
        return fault if seen[0] <= times else Reply(body=page.read_bytes())

    return seen, app


def harvester(url: str, sleeps: Sleeps, **kwargs: float) -> OaiHarvester:
    return OaiHarvester(OaiFeed(url=url + "/oai"), sleep=sleeps, **kwargs)  # type: ignore[arg-type]


def test_503_retry_after_is_honoured(oai_data, sleeps: Sleeps) -> None:
    seen, app = flaky(Reply(503, b"busy", {"Retry-After": "2"}, "text/plain"), 2, oai_data / "ListRecords2.xml")
    with serving(app) as server:
        pages = run(harvester(server.url, sleeps, retries=3), None)
    assert seen[0] == 3 and len(pages[0].records) == 1
    assert sleeps == [2, 2]
    assert sum("HTTP 503" in note for note in pages[0].notes) == 2


def test_retry_after_is_capped(oai_data, sleeps: Sleeps) -> None:
    _seen, app = flaky(Reply(503, b"", {"Retry-After": "3600"}, "text/plain"), 1, oai_data / "ListRecords2.xml")
    with serving(app) as server:
        run(harvester(server.url, sleeps, max_retry_after=5), None)
    assert sleeps == [5]


def test_connection_reset_is_retried_with_backoff(oai_data, sleeps: Sleeps) -> None:
    seen, app = flaky(Reset(), 2, oai_data / "ListRecords2.xml")
    with serving(app) as server:
        pages = run(harvester(server.url, sleeps, backoff=0.5), None)
    assert seen[0] == 3 and len(pages[0].records) == 1
    assert sleeps == [0.5, 1.0]


def test_hanging_server_times_out_retries_then_fails_in_bounded_time(sleeps: Sleeps) -> None:
    with serving(lambda request: Hang()) as server:
        started = time.monotonic()
        with pytest.raises(HarvestError, match=r"127\.0\.0\.1.*after 3 attempts.*timed out"):
            run(harvester(server.url, sleeps, timeout=0.3, retries=2), None)
        elapsed = time.monotonic() - started
        assert len(server.requests) == 3
    assert 0.8 < elapsed < 3
    assert sleeps == [1.0, 2.0]


def test_a_response_sent_one_byte_a_second_times_out_as_a_whole(oai_data, sleeps: Sleeps) -> None:
    """Each byte comes well within the socket timeout; the feed's timeout still bounds the response."""
    _seen, app = flaky(Trickle((oai_data / "ListRecords2.xml").read_bytes(), 0.2), 99, oai_data / "ListRecords2.xml")
    with serving(app) as server:
        started = time.monotonic()
        with pytest.raises(HarvestError, match=r"after 1 attempts.*not complete within 1 s"):
            run(OaiHarvester(OaiFeed(url=server.url + "/oai", timeout=1, retries=0), sleep=sleeps), None)
    assert time.monotonic() - started < 3


def test_garbage_after_retries_is_a_harvest_error(sleeps: Sleeps) -> None:
    html = b"<html><body><h1>Proxy Error</h1><p>The upstream server is gone<br></body></html>"
    with serving(lambda request: Reply(200, html, content_type="text/html")) as server:
        with pytest.raises(HarvestError, match="returned non-XML"):
            run(harvester(server.url, sleeps, retries=2), None)
        assert len(server.requests) == 3


def test_not_found_fails_at_once(sleeps: Sleeps) -> None:
    with serving(lambda request: Reply(404, b"nope", content_type="text/plain")) as server:
        with pytest.raises(HarvestError, match="HTTP 404"):
            run(harvester(server.url, sleeps), None)
        assert len(server.requests) == 1
    assert sleeps == []
