"""The administration console in a real browser: an administrator adds a member with an invalid
field and sees the message beside it, fixes it, checks the connection of a real local OAI-PMH
provider and a real Zebra server, starts a harvest and sees it on the dashboard, and downloads the
member's rejects and reads them back; a cataloguer of one member cannot reach another's rejects or
feeds."""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import inspect, text

from catalog.context import Services, build_services
from catalog.members import sync_members
from catalog.pipeline import ingest
from ill.auth import create_account
from store.db import transaction
from tests.core.conftest import MEMBERS
from tests.core.helpers import DEMO, as_harvested, read_marc
from tests.peers.zebra import SAMPLE_MARC, zebra_server

pytestmark = pytest.mark.browser

PASSWORD = "console password"
UVA = DEMO / "pku" / "uva-sirsi.mrc.gz"
GARBAGE = b"00047nam  2200037   4500\x1e\x1d"


@pytest.fixture
def services(settings: Any) -> Iterator[Services]:
    built = build_services(settings(session_cookie_secure=False, feed_allowlist=["127.0.0.1/32"]))
    with transaction(built.db) as session:
        sync_members(session, [dict(m) for m in MEMBERS])
    for member, username, kind in (("nlc", "boss", "admin"), ("pku", "pku-cat", "cataloguer")):
        create_account(built, member_code=member, username=username, password=PASSWORD, kind=kind)
    yield built
    built.close()


def sign_in(page: Any, base: str, member: str, username: str, target: str = "/admin/") -> None:
    page.goto(f"{base}{target}")
    page.wait_for_url(lambda url: "/ill/login" in url)
    page.locator("#member").select_option(member)
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("form.ill-form button[type=submit]").click()
    page.wait_for_url(f"{base}{target}")


def check(page: Any, feed: str) -> dict[str, str]:
    page.locator(f"#check-{feed}").click()
    page.wait_for_load_state()
    result = page.locator("#check-result")
    return {"ok": result.get_attribute("data-ok") or "", "text": result.inner_text()}


def test_administrator_adds_checks_harvests_and_downloads(services, live_server, oai_provider, new_page, shot,
                                                          tmp_path):
    provider = oai_provider(read_marc(UVA, limit=40), batch_size=10, repository_id="cqu-demo")
    base = live_server(services)
    page = new_page("en-US")
    sign_in(page, base, "nlc", "boss")
    page.goto(f"{base}/admin/members")
    page.locator("#add-member").click()
    page.locator("#code").fill("cqu")
    page.locator("#name_zh").fill("重庆大学图书馆")
    page.locator("#name_en").fill("Chongqing University Library")
    page.locator("#region").fill("southwest")
    page.locator("#schedule").fill("every day")
    page.locator("#feed-oai").fill(f'url = "{provider.url}"\nmetadata_prefix = "marc21"')
    page.locator("#save-member").click()
    page.wait_for_load_state()
    message = page.locator("#error-schedule")
    assert "member 'cqu': schedule:" in message.inner_text() and "'1d'" in message.inner_text()
    assert page.locator("#schedule + #error-schedule").count() == 1, "the message stands next to the field"
    shot(page, "admin-member-invalid-en")

    page.locator("#schedule").fill("1d")
    page.locator("#save-member").click()
    page.wait_for_url(f"{base}/admin/members/cqu?saved=1")
    result = check(page, "oai")
    assert result["ok"] == "yes" and "Identify" in result["text"] and "marc21" in result["text"]
    assert " ms" in result["text"]

    with zebra_server(tmp_path / "zebra", read_marc(SAMPLE_MARC)) as zebra:
        z3950 = f'host = "{zebra.host}"\nport = {zebra.port}\nqueries = ["@attr 1=4 computer"]'
        page.locator("#feed-z3950").fill(z3950)
        page.locator("#save-member").click()
        page.wait_for_url(f"{base}/admin/members/cqu?saved=1")
        z = check(page, "z3950")
    assert z["ok"] == "yes" and "Init" in z["text"] and "hits" in z["text"], z
    shot(page, "admin-check-connection-en")

    # only the OAI feed is harvested: the Zebra server is gone, so drop its feed again
    page.locator("#feed-z3950").fill("")
    page.locator("#save-member").click()
    page.wait_for_url(f"{base}/admin/members/cqu?saved=1")
    page.goto(f"{base}/admin/members/cqu/harvests")
    page.locator("#start-harvest").click()
    page.wait_for_url(f"{base}/admin/members/cqu/harvests")
    deadline = time.monotonic() + 60
    while "ok" not in page.locator("#runs tbody tr:first-child td.status").inner_text():
        assert time.monotonic() < deadline, "the harvest finished within a minute"
        time.sleep(0.5)
        page.reload()
    page.goto(f"{base}/admin/")
    row = page.locator("#members tr[data-member=cqu]")
    assert row.locator("td").nth(1).inner_text() == "40", "records on the dashboard"
    shot(page, "admin-dashboard-en")

    records = as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=2))
    ingest(services, "cqu", [records[0], replace(records[1], raw=GARBAGE)])
    page.goto(f"{base}/admin/members/cqu/harvests")
    with page.expect_download() as download:
        page.locator("#download-rejects").click()
    bundle = zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read()))  # noqa: SIM115
    rows = list(csv.DictReader(io.StringIO(bundle.read("rejects.tsv").decode()), delimiter="\t"))
    assert [r["local_id"] for r in rows] == [records[1].local_id]
    assert bundle.read(rows[0]["file"]) == GARBAGE


def test_a_cataloguer_stays_within_their_member(services, live_server, new_page):
    ingest(services, "bnu", [replace(as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=1))[0],
                                     raw=GARBAGE)])
    base = live_server(services)
    page = new_page("zh-CN")
    sign_in(page, base, "pku", "pku-cat")
    assert page.locator("#members tr[data-member=pku]").count() == 1
    assert page.locator("#members tr[data-member=bnu]").count() == 0
    assert "收割仪表盘" in page.content(), "the console speaks Chinese by default"
    assert page.goto(f"{base}/admin/members/bnu/rejects.zip").status == 403
    assert page.goto(f"{base}/admin/members/bnu").status == 403
    assert page.goto(f"{base}/api/v1/rejects?member=bnu").status == 403
    assert page.goto(f"{base}/admin/members/pku").status == 200


def test_analytics_show_a_search_run_in_the_browser(services, live_server, new_page):
    ingest(services, "pku", as_harvested(read_marc(DEMO / "pku" / "pride-and-prejudice.mrc")))
    services.es.indices.refresh(index=services.settings.records_alias)
    base = live_server(services)
    reader = new_page("en-US")
    reader.goto(f"{base}/")
    reader.locator("#q").fill("Pride and Prejudice")
    reader.locator("form.searchbox button[type=submit]").click()
    reader.wait_for_url("**/search?q=*")
    reader.locator("li.hit h3 a").first.click()
    reader.wait_for_url(re.compile(r"/records/u[0-9a-f]+$"))

    page = new_page("en-US")
    sign_in(page, base, "nlc", "boss", "/admin/analytics")
    assert "pride and prejudice" in page.locator("#top").inner_text()
    assert "pride and prejudice" not in page.locator("#no-click").inner_text(), "a result was opened"
    assert page.locator("#ctr tbody tr").first.inner_text().split()[:2] == ["1", "1"]
    with services.engine.connect() as connection:
        columns = [c["name"] for c in inspect(services.engine).get_columns("search_daily")]
        stored = [tuple(row) for row in connection.execute(text("SELECT metric, key FROM search_daily"))]
    assert columns == ["day", "metric", "key", "count"], "no column for who or where"
    assert all("127.0.0.1" not in key for _, key in stored)
