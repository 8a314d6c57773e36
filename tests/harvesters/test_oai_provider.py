"""OaiHarvester against the real demo OAI-PMH provider (``oaipmh``'s server over real MARC records)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lxml import etree

from harvesters.oai import OaiFeed, OaiHarvester
from tests.harvesters.fault_server import records, run

MARC = "{http://www.loc.gov/MARC21/slim}"


def harvester(url: str, **feed: object) -> OaiHarvester:
    return OaiHarvester(OaiFeed.model_validate({"url": url, **feed}), timeout=5, retries=1, sleep=lambda s: None)


def test_full_harvest_resume_and_incremental_against_the_provider(oai_provider, files_data) -> None:
    provider = oai_provider(files_data / "uva-sirsi-30.mrc", batch_size=7)
    identifiers = provider.repository.identifiers()
    assert len(identifiers) == 30

    killed = run(harvester(provider.url), None, stop_after=2)
    assert [len(p.records) for p in killed] == [7, 7] and killed[-1].checkpoint["complete"] is False
    resumed = run(harvester(provider.url), killed[-1].checkpoint)
    got = records(killed + resumed)
    assert len(got) == len({r.local_id for r in got}) == 30
    assert resumed[-1].checkpoint["complete"] is True
    assert resumed[-1].checkpoint["granularity"] == "YYYY-MM-DDThh:mm:ssZ"

    # local_id is the part after oai:<repository>: which this provider makes from 001
    for record in got:
        payload = etree.fromstring(record.raw)
        assert record.local_id == (payload.findtext(f"{MARC}controlfield[@tag='001']") or "").strip()
        assert record.error is None and record.syntax == "marc21"

    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=5)
    provider.repository.touch(identifiers[3], datestamp=later)
    provider.repository.delete(identifiers[4], datestamp=later)
    incremental = run(harvester(provider.url), resumed[-1].checkpoint)
    changed = {r.local_id: r.deleted for r in records(incremental)}
    assert changed == {got[3].local_id: False, got[4].local_id: True}
    assert incremental[-1].checkpoint["from"] == resumed[-1].checkpoint["run_started"]


def test_oai_dc_and_wrong_payload_against_the_provider(oai_provider, files_data) -> None:
    provider = oai_provider(files_data / "uva-sirsi-30.mrc", batch_size=50)
    dc = records(run(harvester(provider.url, metadata_prefix="oai_dc"), None))
    assert len(dc) == 30 and all(r.syntax == "dc" and r.error is None for r in dc)
    assert etree.fromstring(dc[0].raw).tag == "{http://www.openarchives.org/OAI/2.0/oai_dc/}dc"
    wrong = records(run(harvester(provider.url, metadata_prefix="oai_dc", syntax="marc21"), None))
    assert len(wrong) == 30 and all("not a MARCXML record" in (r.error or "") for r in wrong)


def test_unknown_set_is_an_empty_complete_run_on_the_provider(oai_provider, files_data) -> None:
    provider = oai_provider(files_data / "uva-sirsi-30.mrc")
    pages = run(harvester(provider.url, set="no-such-set"), None)
    assert len(pages) == 1 and pages[0].records == [] and pages[0].checkpoint["complete"] is True
