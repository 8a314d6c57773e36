"""FileHarvester on real ISO 2709 and MARCXML records: directories, gzip, real local HTTP with ETags, resume."""

from __future__ import annotations

import gzip
import shutil
import time
from pathlib import Path
from typing import Any

import pymarc
import pytest
from lxml import etree
from pydantic import ValidationError

from harvesters.base import HarvestError
from harvesters.files import FileHarvester, FilesFeed, split_iso2709
from tests.harvesters.fault_server import Hang, Reply, Request, Sleeps, records, run, serving

MARC = "{http://www.loc.gov/MARC21/slim}"


def iso_records(path: Path) -> list[bytes]:
    return [raw for raw, _error in split_iso2709(path.open("rb"))]


def ids_001(path: Path) -> list[str]:
    with path.open("rb") as handle:
        return [r["001"].data.strip() for r in pymarc.MARCReader(handle, to_unicode=True) if r is not None]


def harvester(location: str | Path, page_size: int = 500, **feed: object) -> FileHarvester:
    model = FilesFeed.model_validate({"url_or_path": str(location), **feed})
    return FileHarvester(model, timeout=2, retries=1, page_size=page_size, sleep=lambda s: None)


@pytest.fixture
def dump(tmp_path: Path, files_data: Path) -> Path:
    """A member's dump folder: ISO 2709, the same gzipped under a misleading name, MARCXML, a stray file."""
    folder = tmp_path / "dump"
    folder.mkdir()
    shutil.copy(files_data / "uva-sirsi-30.mrc", folder / "a-uva.mrc")
    (folder / "b-uva-gzipped.mrc").write_bytes(gzip.compress((files_data / "uva-sirsi-30.mrc").read_bytes()))
    shutil.copy(files_data / "rero-20.marcxml", folder / "c-rero.marcxml")
    (folder / "notes.txt").write_text("not a record file")
    return folder


def test_directory_with_iso2709_gzip_and_marcxml(dump: Path, files_data: Path) -> None:
    pages = run(harvester(dump, page_size=8), None)
    got = records(pages)
    assert len(got) == 80 and all(r.error is None for r in got)
    uva = iso_records(files_data / "uva-sirsi-30.mrc")
    assert [r.raw for r in got[:30]] == uva == [r.raw for r in got[30:60]]
    assert [r.local_id for r in got[:30]] == ids_001(files_data / "uva-sirsi-30.mrc")
    assert {r.encoding for r in got[:60]} == {"iso2709"} and {r.encoding for r in got[60:]} == {"xml"}
    rero = etree.fromstring(got[60].raw)
    assert rero.tag == f"{MARC}record" and got[60].local_id == "REROILS:75"
    assert rero.findtext(f"{MARC}controlfield[@tag='001']") == "REROILS:75"
    assert [len(p.records) for p in pages] == [8, 8, 8, 6, 8, 8, 8, 6, 8, 8, 4]
    last = pages[-1].checkpoint
    assert last["current"] is None
    assert set(last["files"]) == {"a-uva.mrc", "b-uva-gzipped.mrc", "c-rero.marcxml"}
    assert all(state["done"] and len(state["sha256"]) == 64 for state in last["files"].values())
    assert pages[1].checkpoint["current"] == {"name": "a-uva.mrc", "offset": 16}


def test_unchanged_files_are_skipped_and_changed_ones_harvested_again(dump: Path, files_data: Path) -> None:
    first = run(harvester(dump), None)
    again = run(harvester(dump), first[-1].checkpoint)
    assert records(again) == []
    assert sorted(again[-1].notes) == [
        f"{n}: unchanged, skipped" for n in ("a-uva.mrc", "b-uva-gzipped.mrc", "c-rero.marcxml")
    ]
    assert again[-1].checkpoint == first[-1].checkpoint

    uva = iso_records(files_data / "uva-sirsi-30.mrc")
    (dump / "a-uva.mrc").write_bytes(b"".join(uva[:25]))
    third = run(harvester(dump), again[-1].checkpoint)
    assert len(records(third)) == 25
    assert sum("unchanged" in note for page in third for note in page.notes) == 2


def test_killed_harvest_resumes_mid_file(dump: Path) -> None:
    killed = run(harvester(dump, page_size=7), None, stop_after=2)
    assert killed[-1].checkpoint["current"] == {"name": "a-uva.mrc", "offset": 14}
    resumed = run(harvester(dump, page_size=7), killed[-1].checkpoint)
    everything = records(run(harvester(dump, page_size=7), None))
    got = records(killed) + records(resumed)
    assert [(r.local_id, r.raw) for r in got] == [(r.local_id, r.raw) for r in everything]
    assert "a-uva.mrc: resumed after record 14" in [note for page in resumed for note in page.notes]


def test_broken_leaders_are_rejects_and_the_harvest_resyncs(tmp_path: Path, files_data: Path) -> None:
    uva = iso_records(files_data / "uva-sirsi-30.mrc")
    broken = list(uva)
    broken[4] = b"x0z01" + uva[4][5:]  # leader length not a number
    broken[9] = b"%05d" % (len(uva[9]) + 40) + uva[9][5:]  # leader length wrong
    path = tmp_path / "broken.mrc"
    path.write_bytes(b"\n".join(broken) + uva[10][:100])  # newlines between records, truncated tail
    got = records(run(harvester(path), None))
    rejects = [r for r in got if r.error]
    assert len(got) == 31 and len(rejects) == 3
    assert "broken leader" in str(rejects[0].error) and rejects[0].raw == broken[4]
    assert "leader gives length" in str(rejects[1].error)
    assert "truncated" in str(rejects[2].error)
    good = [r.raw for r in got if not r.error]
    assert good == [raw for i, raw in enumerate(uva) if i not in (4, 9)]


def test_marcxml_record_without_001_and_a_file_cut_short(tmp_path: Path, files_data: Path) -> None:
    text = (files_data / "rero-20.marcxml").read_bytes()
    without_001 = text.replace(b'<controlfield tag="001">REROILS:75</controlfield>', b"", 1)
    path = tmp_path / "cut.xml"
    path.write_bytes(without_001[: len(without_001) // 2])
    pages = run(harvester(path, syntax="marc21"), None)
    got = records(pages)
    assert got[0].local_id.startswith("sha256:") and got[0].error is None and got[0].syntax == "marc21"
    assert all(r.error is None for r in got[:-1]) and len(got) > 5
    assert "not well-formed" in str(got[-1].error)
    assert any("records without 001" in note for note in pages[-1].notes)


def test_url_with_etag_is_fetched_once_then_not_modified(files_data: Path) -> None:
    body: dict[str, Any] = {"etag": '"v1"', "data": gzip.compress((files_data / "uva-sirsi-30.mrc").read_bytes())}

    def app(request: Request) -> Reply:
        if request.headers.get("If-None-Match") == body["etag"]:
            return Reply(304)
        return Reply(200, body["data"], {"ETag": body["etag"]}, "application/octet-stream")

    with serving(app) as server:
        url = server.url + "/exports/uva.mrc.gz"
        first = run(harvester(url, page_size=10), None)
        second = run(harvester(url), first[-1].checkpoint)
        body["etag"], body["data"] = '"v2"', gzip.compress(b"".join(iso_records(files_data / "uva-sirsi-30.mrc")[:3]))
        third = run(harvester(url), second[-1].checkpoint)
    assert len(records(first)) == 30 and first[-1].checkpoint["files"][url]["etag"] == '"v1"'
    assert records(second) == [] and second[-1].notes == [f"{url}: not modified (ETag), skipped"]
    assert len(records(third)) == 3 and third[-1].checkpoint["files"][url]["etag"] == '"v2"'
    assert [r.headers.get("If-None-Match") for r in server.requests] == [None, '"v1"', '"v1"']


def test_url_503_is_retried_and_a_hang_fails_in_bounded_time(files_data: Path) -> None:
    calls = [0]

    def app(request: Request) -> Reply | Hang:
        calls[0] += 1
        if request.path == "/hang":
            return Hang()
        if calls[0] == 1:
            return Reply(503, b"", {"Retry-After": "3"}, "text/plain")
        return Reply(200, (files_data / "rero-20.marcxml").read_bytes())

    sleeps = Sleeps()
    with serving(app) as server:
        feed = FilesFeed(url_or_path=server.url + "/rero")
        got = records(run(FileHarvester(feed, retries=2, sleep=sleeps), None))
        assert len(got) == 20 and sleeps == [3]
        started = time.monotonic()
        with pytest.raises(HarvestError, match=r"/hang failed after 2 attempts.*timed out"):
            run(FileHarvester(FilesFeed(url_or_path=server.url + "/hang"), timeout=0.3, retries=1, sleep=sleeps), None)
        assert time.monotonic() - started < 3


def test_deleted_list_gives_deleted_records(tmp_path: Path, files_data: Path) -> None:
    shutil.copy(files_data / "uva-sirsi-30.mrc", tmp_path / "uva.mrc")
    (tmp_path / "deleted.txt").write_text("u100\n\nu200\n")
    got = records(run(harvester(tmp_path / "uva.mrc", deleted=str(tmp_path / "deleted.txt")), None))
    assert [(r.local_id, r.deleted, r.raw) for r in got[30:]] == [("u100", True, b""), ("u200", True, b"")]


def test_feed_validation_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="url_or_path"):
        FilesFeed(url_or_path="relative/dump.mrc")
    with pytest.raises(ValidationError, match="id_field"):
        FilesFeed(url_or_path=str(tmp_path), id_field="1")
    with pytest.raises(ValidationError, match="format"):
        FilesFeed.model_validate({"url_or_path": str(tmp_path), "format": "json"})
    with pytest.raises(HarvestError, match="no such file"):
        run(harvester(tmp_path / "missing.mrc"), None)


def test_xml_entities_and_external_dtds_are_never_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    path = tmp_path / "xxe.xml"
    path.write_text(
        f'<?xml version="1.0"?><!DOCTYPE collection [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<collection xmlns="http://www.loc.gov/MARC21/slim"><record><leader>00000nam a2200000 a 4500</leader>'
        '<controlfield tag="001">&x;</controlfield></record></collection>'
    )
    got = records(run(harvester(path), None))
    assert all(b"TOP-SECRET" not in r.raw and "TOP-SECRET" not in r.local_id for r in got)


RECORDS = Path(__file__).resolve().parents[1] / "data" / "records"
PEER = RECORDS / "peer"


def test_one_malformed_marcxml_record_costs_only_itself(tmp_path: Path) -> None:
    """Three RERO records, the second with the fault of ruby-marc's three-records-second-bad.xml (a
    control character in a subfield code): the first and third are harvested, the second is a
    named reject."""
    pages = run(harvester(RECORDS / "dirty" / "rero-three-records-second-malformed.xml", syntax="marc21"), None)
    got = records(pages)
    assert [r.error is None for r in got] == [True, False, True]
    assert "record 2 is not well-formed" in str(got[1].error)
    assert got[0].local_id == "REROILS:75" and got[2].local_id not in (got[0].local_id, "")
    assert any("read one by one" in note for page in pages for note in page.notes)


def test_xml_that_holds_no_marc_record_is_a_named_failure_not_an_empty_success(tmp_path: Path) -> None:
    """A RERO record in BNCF's own "unimarc slim" element names (<rec>, <lab>, <cf>, <df>, <sf>):
    well-formed XML that no MARC reader knows."""
    got = records(run(harvester(RECORDS / "dirty" / "rero-in-unimarc-slim-dialect.xml"), None))
    assert len(got) == 1 and got[0].raw == b""
    assert "no MARC record in this XML (root element <collection>)" in str(got[0].error)


def test_feed_charset_reads_cp1251_dumps_and_is_validated(tmp_path: Path) -> None:
    """pymarc's cp1251 record under a MARC-8 leader, in a feed that declares charset = cp1251."""
    from mappings import crosswalk

    path = tmp_path / "dump.mrc"
    path.write_bytes((PEER / "pymarc-cp1251-under-marc8-leader.mrc").read_bytes())
    got = records(run(harvester(path, charset="cp1251"), None))
    assert [r.encoding for r in got] == ["iso2709;cp1251"]
    assert crosswalk(got[0].raw, got[0].encoding).title.startswith("Основы")
    with pytest.raises(ValidationError, match="charset"):
        FilesFeed.model_validate({"url_or_path": str(path), "charset": "cp1252x"})
