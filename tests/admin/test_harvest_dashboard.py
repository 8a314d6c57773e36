"""The harvest dashboard: a harvest started from the console, stopped cleanly at a page boundary with
its checkpoint kept (the next run resumes after it), the rejects downloaded as the raw records
received plus a TSV of reasons, and index failures with the document and Elasticsearch's reason."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from dataclasses import replace

from fastapi.testclient import TestClient
from sqlalchemy import select

from admin import audit, harvests
from catalog.pipeline import harvest_feed, ingest
from ill.auth import actor_of
from store.db import transaction
from store.models import Checkpoint, HarvestRun, Member
from tests.admin.helpers import account, csrf_of, sign_in
from tests.core.helpers import DEMO, as_harvested, read_marc
from unicat.app import create_app

UVA = DEMO / "pku" / "uva-sirsi.mrc.gz"
GARBAGE = b"00047nam  2200037   4500\x1e\x1d"  # a leader that promises what is not there


def use_oai(services, code: str, url: str) -> None:
    with transaction(services.db) as session:
        member = session.get(Member, code)
        member.config = {**member.config, "oai": {"url": url, "metadata_prefix": "marc21"}}


def test_a_stopped_harvest_ends_at_a_page_boundary_and_the_next_run_resumes(services, oai_provider):
    provider = oai_provider(read_marc(UVA, limit=100), batch_size=25)
    use_oai(services, "pku", provider.url)
    admin = actor_of(account(services, "nlc", "boss", "admin"))

    def stop_after_first_page(report) -> None:  # noqa: ANN001 - the pipeline's HarvestReport
        harvests.request_stop(services, admin, report.run_id)

    stopped = harvest_feed(services, "pku", "oai", progress=stop_after_first_page,
                           should_stop=harvests.stop_check(services))
    assert (stopped.status, stopped.pages, stopped.added) == ("interrupted", 1, 25)
    assert any("stopped on request after page 1" in n for n in stopped.notes)
    with services.db() as session:
        kept = session.get(Checkpoint, ("pku", "oai")).state
    assert kept["token"] and kept["complete"] is False, "the resumption token of page 2 is kept"

    resumed = harvest_feed(services, "pku", "oai", should_stop=harvests.stop_check(services))
    assert (resumed.status, resumed.added, resumed.unchanged) == ("ok", 75, 0), "nothing is read twice"
    log = audit.entries(services, "pku")
    assert [(e["action"], e["actor"]) for e in log] == [("harvest.stop", "admin:nlc:boss")]
    assert log[0]["before"] == {"status": "running", "pages": 1}


def test_dashboard_start_harvest_and_see_the_run(services, oai_provider):
    provider = oai_provider(read_marc(UVA, limit=60), batch_size=20)
    use_oai(services, "bnu", provider.url)
    account(services, "nlc", "boss", "admin")
    with TestClient(create_app(services.settings, services=services)) as http:
        sign_in(http, "nlc", "boss")
        page = http.get("/admin/members/bnu/harvests")
        started = http.post("/admin/members/bnu/harvest", data={"csrf_token": csrf_of(page.text)},
                            follow_redirects=False)
        assert started.status_code == 303
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with services.db() as session:
                run = session.scalars(select(HarvestRun).where(HarvestRun.member_code == "bnu")).first()
            if run is not None and run.status != "running":
                break
            time.sleep(0.2)
        assert run is not None and run.status == "ok" and run.added == 60
        board = http.get("/admin/")
        assert board.status_code == 200
        row = board.text.split('data-member="bnu"')[1].split("</tr>")[0]
        assert "<td>60</td>" in row, "records and the last run's added count"
        assert "<svg" in board.text, "the records-per-member chart is drawn"
        detail = http.get("/admin/members/bnu/harvests", params={"lang": "en"})
        assert f'data-run="{run.id}"' in detail.text and "Harvest now" in detail.text
        assert "harvest.start" in http.get("/admin/audit").text


def test_rejects_download_as_raw_records_and_reasons(services):
    records = as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=3))
    records[1] = replace(records[1], raw=GARBAGE)
    report = ingest(services, "sjtu", records)
    assert report.rejected == 1
    account(services, "sjtu", "cat", "cataloguer")
    with TestClient(create_app(services.settings, services=services)) as http:
        sign_in(http, "sjtu", "cat")
        answer = http.get("/admin/members/sjtu/rejects.zip")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    bundle = zipfile.ZipFile(io.BytesIO(answer.content))
    rows = list(csv.DictReader(io.StringIO(bundle.read("rejects.tsv").decode()), delimiter="\t"))
    assert [(r["local_id"], r["stage"]) for r in rows] == [(records[1].local_id, "crosswalk")]
    assert rows[0]["reason"], "the reason is given"
    assert bundle.read(rows[0]["file"]) == GARBAGE, "the record exactly as the member sent it"


def test_index_failures_page_shows_the_document_and_the_reason(services):
    alias = services.settings.records_alias
    services.es.indices.create(index=f"{alias}-wrong",
                               mappings={"dynamic": "strict", "properties": {"id": {"type": "keyword"}}})
    services.es.indices.put_alias(index=f"{alias}-wrong", name=alias)
    ingest(services, "nlc", as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=2)))
    account(services, "nlc", "boss", "admin")
    with TestClient(create_app(services.settings, services=services)) as http:
        sign_in(http, "nlc", "boss")
        page = http.get("/admin/index-failures").text
    assert '<strong id="failure-total">2</strong>' in page
    assert "strict_dynamic_mapping_exception" in page or "strict" in page
    assert "&#34;title&#34;" in page or "title" in page.split("<pre>")[1], "the refused document is shown"


def test_the_stop_button_ends_a_running_harvest_after_its_page(services, oai_provider):
    provider = oai_provider(read_marc(UVA, limit=80), batch_size=10, delay=0.4)
    use_oai(services, "sjtu", provider.url)
    account(services, "nlc", "boss", "admin")

    def current() -> HarvestRun | None:
        with services.db() as session:
            return session.scalars(select(HarvestRun).where(HarvestRun.member_code == "sjtu")).first()

    with TestClient(create_app(services.settings, services=services)) as http:
        sign_in(http, "nlc", "boss")
        token = csrf_of(http.get("/admin/members/sjtu/harvests").text)
        http.post("/admin/members/sjtu/harvest", data={"csrf_token": token}, follow_redirects=False)
        deadline = time.monotonic() + 30
        while (run := current()) is None or run.pages < 1:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        running = http.get("/admin/members/sjtu/harvests").text
        assert f'action="/admin/runs/{run.id}/stop"' in running
        again = http.post("/admin/members/sjtu/harvest", data={"csrf_token": token}, follow_redirects=False)
        assert again.status_code == 409, "one harvest of a member at a time"
        stopped = http.post(f"/admin/runs/{run.id}/stop", data={"csrf_token": token}, follow_redirects=False)
        assert stopped.status_code == 303
        while (run := current()).status == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert run.status == "interrupted" and 1 <= run.pages < 8 and run.added == 10 * run.pages
    with services.db() as session:
        assert session.get(Checkpoint, ("sjtu", "oai")).state["complete"] is False
