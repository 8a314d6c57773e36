"""The demo OAI-PMH provider, harvested with sickle: paging, deletions, windows, errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pymarc
import pytest
from sickle import Sickle
from sickle.oaiexceptions import CannotDisseminateFormat, IdDoesNotExist, NoRecordsMatch

from demo.oai_provider import ProviderServer

REPO = Path(__file__).resolve().parent.parent
UVA = REPO / "demo" / "data" / "pku" / "uva-sirsi.mrc.gz"


def _records(n: int) -> list[pymarc.Record]:
    out = []
    for i in range(n):
        rec = pymarc.Record(force_utf8=True)
        rec.add_field(pymarc.Field(tag="001", data=f"rec{i:04d}"))
        rec.add_field(pymarc.Field(tag="005", data=f"2021{(i % 12) + 1:02d}01120000.0"))
        rec.add_field(pymarc.Field(tag="008", data="210101s2021    cc            000 0 chi d"))
        rec.add_field(
            pymarc.Field(
                tag="245",
                indicators=pymarc.Indicators("1", "0"),
                subfields=[pymarc.Subfield("a", f"书名 {i} /"), pymarc.Subfield("c", "作者.")],
            )
        )
        out.append(rec)
    return out


@pytest.fixture
def provider(oai_provider: Callable[..., ProviderServer]) -> ProviderServer:
    return oai_provider(_records(250), batch_size=100)


def test_identify_and_formats(provider: ProviderServer) -> None:
    client = Sickle(provider.url)
    assert client.Identify().baseURL == provider.url
    assert {f.metadataPrefix for f in client.ListMetadataFormats()} == {"marc21", "oai_dc"}
    assert {"records", "lang-chi"} <= {s.setSpec for s in client.ListSets()}


def test_list_records_follows_resumption_tokens(provider: ProviderServer) -> None:
    client = Sickle(provider.url)
    pages = client.ListRecords(metadataPrefix="marc21", ignore_deleted=False)
    records = list(pages)
    assert len(records) == 250
    assert len({r.header.identifier for r in records}) == 250
    marc = pymarc.parse_xml_to_array(__import__("io").BytesIO(records[7].raw.encode()))
    assert marc[0]["245"]["a"].startswith("书名 7")
    assert records[0].header.datestamp == "2021-01-01T12:00:00Z"


def test_oai_dc(provider: ProviderServer) -> None:
    record = next(iter(Sickle(provider.url).ListRecords(metadataPrefix="oai_dc")))
    assert record.metadata["title"] == ["书名 0"]
    assert record.metadata["language"] == ["chi"]


def test_from_until_day_and_seconds(provider: ProviderServer) -> None:
    client = Sickle(provider.url)
    march = list(client.ListIdentifiers(metadataPrefix="marc21", **{"from": "2021-03-01", "until": "2021-03-31"}))
    assert len(march) == len([i for i in range(250) if i % 12 == 2])
    exact = {"from": "2021-03-01T12:00:00Z", "until": "2021-03-01T12:00:00Z"}
    assert len(list(client.ListIdentifiers(metadataPrefix="marc21", **exact))) == len(march)
    with pytest.raises(NoRecordsMatch):
        list(
            client.ListIdentifiers(
                metadataPrefix="marc21", **{"from": "2021-03-01T12:00:01Z", "until": "2021-03-31T00:00:00Z"}
            )
        )


def test_deletions_and_changes_between_harvests(provider: ProviderServer) -> None:
    client = Sickle(provider.url)
    first = list(client.ListIdentifiers(metadataPrefix="marc21"))
    ids = [h.identifier for h in first]
    since = datetime(2030, 1, 1)
    provider.repository.delete(ids[3], datestamp=since)
    provider.repository.touch(ids[5], datestamp=since + timedelta(seconds=1))
    changed = list(client.ListRecords(metadataPrefix="marc21", ignore_deleted=False, **{"from": "2030-01-01"}))
    assert [(r.header.identifier, r.header.deleted) for r in changed] == [(ids[3], True), (ids[5], False)]
    assert changed[1].raw and "<metadata>" not in str(changed[0].raw)
    with pytest.raises(NoRecordsMatch):
        list(client.ListRecords(metadataPrefix="marc21", **{"from": "2030-01-02"}))


def test_sets_and_errors(provider: ProviderServer) -> None:
    client = Sickle(provider.url)
    assert len(list(client.ListIdentifiers(metadataPrefix="marc21", set="records"))) == 250
    with pytest.raises(NoRecordsMatch):
        list(client.ListIdentifiers(metadataPrefix="marc21", set="nope"))
    with pytest.raises(CannotDisseminateFormat):
        list(client.ListRecords(metadataPrefix="mods"))
    with pytest.raises(IdDoesNotExist):
        client.GetRecord(identifier="oai:test:missing", metadataPrefix="marc21")
    got = client.GetRecord(identifier="oai:test:rec0001", metadataPrefix="marc21")
    assert got.header.identifier == "oai:test:rec0001"


def test_serves_real_marc8_records_as_unicode(oai_provider: Callable[..., ProviderServer]) -> None:
    if not UVA.exists():
        pytest.skip("demo data not built")
    server = oai_provider(UVA, batch_size=500, repository_id="pku")
    records = list(Sickle(server.url).ListRecords(metadataPrefix="marc21"))
    assert len(records) == 2000
    assert all("<leader>" in r.raw for r in records[:5])
    assert any('tag="999"' in r.raw for r in records)
