"""OaiHarvester against a real local HTTP server replaying real providers' responses (tests/data/oai)."""

from __future__ import annotations

import pytest
from lxml import etree
from pydantic import ValidationError

from harvesters.base import HarvestError
from harvesters.oai import OaiFeed, OaiHarvester, at_granularity, local_id_for
from tests.harvesters.fault_server import Reply, oai_app, oai_error, records, run, serving

MZK_TOKEN = "201408211302186999999999999999MZK01-VDK:MZK01-VDK"
DAY, SECONDS = "YYYY-MM-DD", "YYYY-MM-DDThh:mm:ssZ"


def harvester(url: str, **feed: object) -> OaiHarvester:
    return OaiHarvester(
        OaiFeed.model_validate({"url": url + "/oai", **feed}), timeout=2, retries=1, sleep=lambda s: None
    )


def list_params(server) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    return [r.params for r in server.requests if r.params.get("verb") == "ListRecords"]


def test_full_harvest_follows_tokens_and_checkpoints_every_page(oai_data) -> None:
    app = oai_app({None: oai_data / "ListRecords1.xml", MZK_TOKEN: oai_data / "ListRecords2.xml"})
    with serving(app) as server:
        pages = run(harvester(server.url), None)
    assert [len(p.records) for p in pages] == [10, 1]
    first, last = pages[0].checkpoint, pages[1].checkpoint
    sweep, last_full = first.pop("sweep"), first.pop("last_full")
    assert len(last_full) == 10 and last["last_full"] == last_full  # the day this full run began
    assert first == {
        "token": MZK_TOKEN,
        "from": None,
        "high": "2014-08-21T13:02:17Z",
        "granularity": SECONDS,
        "run_started": "2014-12-08T18:45:01Z",
        "complete": False,
        "deleted_record": "persistent",
    }
    # a run without a lower bound lists everything: one full pass, complete on its last page
    assert sweep and [p.sweep for p in pages] == [sweep, sweep] and last["sweep"] == sweep
    assert [p.sweep_complete for p in pages] == [False, True]
    assert last["token"] is None and last["complete"] is True and last["high"] == "2015-01-01T14:42:39Z"
    assert last["run_started"] == "2014-12-08T18:45:01Z"
    assert [r.params.get("verb") for r in server.requests] == ["Identify", "ListRecords", "ListRecords"]
    record = pages[0].records[0]
    assert (record.local_id, record.datestamp, record.syntax, record.encoding) == (
        "MZK01-000000117",
        "2014-08-21T13:02:17Z",
        "marc21",
        "xml",
    )
    payload = etree.fromstring(record.raw)
    assert payload.tag == "{http://www.loc.gov/MARC21/slim}record"
    assert payload.findtext("{http://www.loc.gov/MARC21/slim}controlfield[@tag='001']") == "000000117"
    assert all(r.error is None and not r.deleted for r in records(pages))


def test_killed_harvest_resumes_after_last_committed_page(oai_data) -> None:
    app = oai_app({None: oai_data / "ListRecords1.xml", MZK_TOKEN: oai_data / "ListRecords2.xml"})
    with serving(app) as server:
        killed = run(harvester(server.url), None, stop_after=1)
        resumed = run(harvester(server.url), killed[-1].checkpoint)
        everything = run(harvester(server.url), None)
    ids = [r.local_id for r in records(killed + resumed)]
    assert len(ids) == len(set(ids)) == 11
    assert set(ids) == {r.local_id for r in records(everything)}
    # the resumed instance asked for the committed token only: no Identify, no new run
    assert server.requests[2].params == {"verb": "ListRecords", "resumptionToken": MZK_TOKEN}
    assert resumed[-1].checkpoint["complete"] is True
    assert resumed[-1].checkpoint["run_started"] == "2014-12-08T18:45:01Z"


def test_incremental_run_starts_at_previous_run_start_seconds_granularity(oai_data) -> None:
    app = oai_app(
        {MZK_TOKEN: oai_data / "ListRecords2.xml"},
        first=lambda r: oai_data / ("ListRecordsFrom.xml" if "from" in r.params else "ListRecords1.xml"),
    )
    with serving(app) as server:
        full = run(harvester(server.url), None)
        incremental = run(harvester(server.url), full[-1].checkpoint)
    assert list_params(server)[-1] == {
        "verb": "ListRecords",
        "metadataPrefix": "marc21",
        "from": "2014-12-08T18:45:01Z",
    }
    assert len(records(incremental)) == 5
    assert incremental[-1].checkpoint["from"] == "2014-12-08T18:45:01Z"
    assert incremental[-1].checkpoint["run_started"] == "2015-01-23T11:47:21Z"
    assert incremental[-1].checkpoint["complete"] is True


def test_day_granularity_from_and_deletions_keep_the_local_id(oai_data) -> None:
    app = oai_app(
        {"xaiutmvy00003": oai_data / "ListRecordsNLKdeleted2.xml"},
        granularity=DAY,
        first=lambda r: (
            oai_data / ("ListRecordsNLK.xml" if r.params["from"] > "2015-01-01" else "ListRecordsNLKdeleted1.xml")
        ),
    )
    with serving(app) as server:
        first = run(harvester(server.url, **{"from": "2014-12-31T05:06:07Z", "set": "1"}), None)
        second = run(harvester(server.url, set="1"), first[-1].checkpoint)
    live, gone = records(first)[0], records(first)[-1]
    assert list_params(server)[0]["from"] == "2014-12-31"
    assert list_params(server)[2] == {
        "verb": "ListRecords",
        "metadataPrefix": "marc21",
        "set": "1",
        "from": "2015-01-26",
    }
    assert (live.local_id, live.deleted, live.raw[:7]) == ("111111", False, b"<record")
    assert (gone.local_id, gone.deleted, gone.raw, gone.datestamp) == ("111111", True, b"", "2015-01-09T15:16:21Z")
    assert [r.local_id for r in records(second)] == ["196741", "196743", "196738"]
    assert second[-1].checkpoint["granularity"] == DAY and second[-1].checkpoint["complete"] is True


def test_stanford_deleted_headers_come_through_as_deletions(oai_data) -> None:
    with serving(oai_app({None: oai_data / "stanford-pod-response-1.xml"})) as server:
        page = next(iter(harvester(server.url, set="339").pages(None)))
    deleted = [r for r in page.records if r.deleted]
    assert [r.local_id for r in deleted][:1] == ["998212783503681"]
    assert all(r.raw == b"" and r.error is None for r in deleted)
    assert page.checkpoint["token"] == "MzM5OzE7Ozt2MS4w" and page.checkpoint["complete"] is False
    assert any(not r.deleted and r.local_id == "9977919382003681" for r in page.records)


@pytest.mark.parametrize("sample", ["ListRecordsEmptySet.xml", "stanford-pod-response-2.xml"])
def test_no_records_match_is_an_empty_complete_run(oai_data, sample: str) -> None:
    with serving(oai_app({None: oai_data / sample})) as server:
        pages = run(
            harvester(server.url, set="empty"), {"complete": True, "run_started": "2015-01-01", "granularity": DAY}
        )
    assert len(pages) == 1 and pages[0].records == []
    cp = pages[0].checkpoint
    assert cp["complete"] is True and cp["token"] is None and cp["from"] == "2015-01-01"
    assert cp["run_started"] > "2015-01-01"  # advanced to this response's date


def test_bad_resumption_token_restarts_the_run_from_its_from(oai_data) -> None:
    checkpoint = {
        "token": "expired-token",
        "from": "2015-01-01T00:00:00Z",
        "high": "2015-01-01T14:42:39Z",
        "granularity": SECONDS,
        "run_started": "2015-01-20T00:00:00Z",
        "complete": False,
    }
    with serving(oai_app({}, first=lambda r: oai_data / "ListRecordsFrom.xml")) as server:
        pages = run(harvester(server.url), checkpoint)
    assert list_params(server) == [
        {"verb": "ListRecords", "resumptionToken": "expired-token"},
        {"verb": "ListRecords", "metadataPrefix": "marc21", "from": "2015-01-01T00:00:00Z"},
    ]
    assert len(records(pages)) == 5 and pages[-1].checkpoint["complete"] is True
    assert pages[-1].checkpoint["run_started"] == "2015-01-20T00:00:00Z"
    assert any("badResumptionToken" in note for note in pages[0].notes)


@pytest.mark.parametrize("code", ["cannotDisseminateFormat", "badArgument", "idDoesNotExist"])
def test_other_oai_errors_raise_with_code_and_message(code: str) -> None:
    def app(request):  # type: ignore[no-untyped-def]
        if request.params["verb"] == "Identify":
            return Reply(body=oai_error("badVerb", "no Identify here"))
        return Reply(body=oai_error(code, "the provider says no"))

    with serving(app) as server, pytest.raises(HarvestError, match=f"{code}: the provider says no"):
        run(harvester(server.url), None)


def test_penn_state_page_with_one_malformed_record_gives_299_good_and_one_reject(pennstate_page: bytes) -> None:
    with serving(oai_app({None: pennstate_page})) as server:
        page = next(iter(harvester(server.url, set="RESHARE").pages(None)))
    rejects = [r for r in page.records if r.error]
    good = [r for r in page.records if not r.error]
    assert len(good) == 299 and len(rejects) == 1
    assert rejects[0].local_id == "18158488" and "malformed" in str(rejects[0].error)
    assert len({r.local_id for r in page.records}) == 300
    assert all(etree.fromstring(r.raw).tag == "{http://www.loc.gov/MARC21/slim}record" for r in good)
    assert page.checkpoint["token"] == "75948_aaeta"


def test_feed_validation_names_the_field() -> None:
    with pytest.raises(ValidationError, match="url"):
        OaiFeed(url="ftp://example.org/oai")
    with pytest.raises(ValidationError, match="from"):
        OaiFeed.model_validate({"url": "http://example.org/oai", "from": "yesterday"})
    with pytest.raises(ValidationError, match="retries"):
        OaiFeed(url="http://example.org/oai", retries=-1)
    assert OaiFeed(url="http://x.org/oai", metadata_prefix="oai_dc").syntax == "dc"
    assert OaiFeed(url="http://x.org/oai", metadata_prefix="marcxml").syntax == "marc21"
    assert OaiFeed(url="http://x.org/oai", syntax="unimarc").syntax == "unimarc"


def test_local_id_rule_and_granularity_formatting() -> None:
    assert local_id_for("oai:aleph.mzk.cz:MZK01-000000117") == "MZK01-000000117"
    assert local_id_for("oai:example.org:a:b") == "a:b"
    assert local_id_for("998212783503681") == "998212783503681"
    assert at_granularity("2014-12-08T18:45:01Z", DAY) == "2014-12-08"
    assert at_granularity("2022-12-16", SECONDS) == "2022-12-16T00:00:00Z"
    assert at_granularity("2015-01-26T07:48:38+01:00", SECONDS) == "2015-01-26T06:48:38Z"
