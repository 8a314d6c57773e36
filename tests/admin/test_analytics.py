"""Search analytics: the searches run through the web page and the API, and the results opened,
appear as daily counts (top, zero-result, no-click queries, position, facets, scripts) with a CSV;
nothing personal is stored (the tables are inspected), and old counters go after the retention."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text

from admin.analytics import FLUSH_SECONDS, flush_counts, record_search, script_of
from admin.models import SearchDaily
from catalog.pipeline import ingest
from store.db import transaction
from tests.admin.helpers import account, sign_in
from tests.core.helpers import DEMO, as_harvested, read_marc
from unicat.app import create_app

IP = "203.0.113.77"
AGENT = "Mozilla/5.0 (reader-fingerprint-4711)"


def test_scripts_of_queries():
    assert script_of("红楼梦") == "chinese"
    assert script_of("hong lou meng") == "pinyin"
    assert script_of("Zhongguo lishi") == "pinyin"
    assert script_of("pride and prejudice") == "latin"
    assert script_of("Python 编程") == "mixed"


def test_analytics_show_the_queries_run_and_store_nothing_personal(services):
    ingest(services, "pku", as_harvested(read_marc(DEMO / "pku" / "pride-and-prejudice.mrc")))
    services.es.indices.refresh(index=services.settings.records_alias)
    account(services, "bnu", "reader-zhang", "patron")
    account(services, "nlc", "boss", "admin")
    headers = {"X-Forwarded-For": IP, "User-Agent": AGENT}
    with TestClient(create_app(services.settings, services=services), headers=headers) as http:
        sign_in(http, "bnu", "reader-zhang")
        session_cookie = http.cookies.get("unicat_ill")
        page = http.get("/search", params={"q": "Pride and Prejudice", "format": "book"})
        assert page.status_code == 200
        link = page.text.split('<li class="hit">')[1].split('href="')[1].split('"')[0]
        assert link.startswith("/go/u") and "pos=1" in link
        opened = http.get(link.replace("&amp;", "&"), follow_redirects=False)
        assert opened.status_code == 303 and opened.headers["location"].startswith("/records/u")
        assert http.get("/api/v1/search", params={"q": "qwertyzzz nothing"}).json()["total"] == 0
        assert http.get("/api/v1/search", params={"q": "hong lou meng"}).status_code == 200
        http.get("/search", params={"q": "Pride and Prejudice", "page": 2})  # paging is not a new query

    with TestClient(create_app(services.settings, services=services)) as http:
        sign_in(http, "nlc", "boss")
        shown = http.get("/admin/analytics", params={"lang": "en"}).text
        csv_text = http.get("/admin/analytics.csv").text
    top = shown.split('id="top"')[1].split("</table>")[0]
    assert "<td>pride and prejudice</td><td>1</td>" in top, "folded query, counted once"
    assert "qwertyzzz nothing" in shown.split('id="zero"')[1].split("</table>")[0]
    no_click = shown.split('id="no-click"')[1].split("</table>")[0]
    assert "hong lou meng" in no_click and "pride and prejudice" not in no_click
    assert '<strong id="searches">3</strong>' in shown
    assert "<td>format</td><td>1</td>" in shown.split('id="facets"')[1].split("</table>")[0]
    assert "pinyin: 33.3%" in shown and "latin: 66.7%" in shown
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert {"metric": "position", "key": "1", "count": "1"}.items() <= rows[[r["key"] for r in rows].index("1")].items()

    assert [c["name"] for c in inspect(services.engine).get_columns("search_daily")] == ["day", "metric", "key",
                                                                                        "count"]
    with services.engine.connect() as connection:
        stored = " ".join(str(v) for row in connection.execute(text("SELECT * FROM search_daily")) for v in row)
    for personal in (IP, AGENT, "reader-zhang", "bnu", session_cookie):
        assert personal and personal not in stored, f"{personal!r} must not be stored"


def test_counters_older_than_the_retention_are_removed(services):
    old = datetime.now(UTC).date() - timedelta(days=services.settings.analytics_retention_days + 1)
    with transaction(services.db) as session:
        session.add(SearchDaily(day=old, metric="query", key="old query", count=5))
    record_search(services, "new query", 3, [])
    flush_counts(services)
    with services.db() as session:
        assert [r.key for r in session.scalars(select(SearchDaily).where(SearchDaily.metric == "query"))] == [
            "new query"]


def test_counters_add_up_on_postgresql(settings, postgres_url):
    from catalog.context import build_services
    from tests.core.test_postgres import fresh_database

    services = build_services(settings(es=False, database_url=fresh_database(postgres_url)))
    try:
        assert services.engine.dialect.name == "postgresql"
        for _ in range(3):
            record_search(services, "Hong Lou Meng", 0, ["language"])
        flush_counts(services)
        with services.db() as session:
            counts = {(r.metric, r.key): r.count for r in session.scalars(select(SearchDaily))}
    finally:
        services.close()
    assert counts[("query", "hong lou meng")] == 3 and counts[("zero", "hong lou meng")] == 3
    assert counts[("script", "pinyin")] == 3 and counts[("facet", "language")] == 3


def test_counts_held_in_memory_reach_the_store_within_seconds(services):
    """A search writes nothing itself; its counts are written together, within FLUSH_SECONDS, by
    one transaction (and no count is lost or doubled on the way)."""
    import time

    def stored() -> dict[tuple[str, str], int]:
        with services.db() as session:
            return {(r.metric, r.key): r.count for r in session.scalars(select(SearchDaily))}

    for n in range(40):
        record_search(services, f"query {n % 4}", n % 2, ["format"] if n % 5 == 0 else [])
    assert stored() == {}, "nothing is written on the search's own path"
    deadline = time.monotonic() + FLUSH_SECONDS + 5
    while not stored() and time.monotonic() < deadline:
        time.sleep(0.2)
    counts = stored()
    assert counts[("searches", "all")] == 40
    assert [counts[("query", f"query {n}")] for n in range(4)] == [10, 10, 10, 10]
    assert counts[("zero", "query 0")] == 10 and ("zero", "query 1") not in counts
    assert counts[("facet", "format")] == 8
    flush_counts(services)
    assert stored() == counts, "a second write adds nothing"
