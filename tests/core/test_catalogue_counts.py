"""The catalogue's size on the front page, and the member counts behind the members page and the
harvest dashboard: right figures, and read from an index rather than from every stored record."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text

import catalog.counts
from catalog.harvests import members_overview
from catalog.pipeline import ingest
from tests.core.helpers import DEMO, as_harvested, read_marc
from unicat.app import create_app


def test_front_page_shows_the_catalogue_size(services, monkeypatch):
    pride = read_marc(DEMO / "pku" / "pride-and-prejudice.mrc", limit=12)
    ingest(services, "pku", as_harvested(pride))
    ingest(services, "nlc", as_harvested(pride[:5]))
    with services.engine.connect() as db:
        works = db.execute(text("SELECT count(*) FROM cluster")).scalar_one()
        members = db.execute(text("SELECT count(*) FROM member")).scalar_one()
    with TestClient(create_app(services.settings, services=services)) as http:
        page = http.get("/", params={"lang": "en"}).text
        assert f"{works} works, 17 records from {members} member libraries" in page
        ingest(services, "bnu", as_harvested(pride[:3]))
        assert "17 records" in http.get("/", params={"lang": "en"}).text, "counted once a minute at most"
        monkeypatch.setattr(catalog.counts, "COUNTS_TTL", 0.0)
        assert "20 records" in http.get("/", params={"lang": "en"}).text
    records = {m["code"]: m["records"] for m in members_overview(services)}
    assert {code: records[code] for code in ("pku", "nlc", "bnu")} == {"pku": 12, "nlc": 5, "bnu": 3}


def test_live_records_per_member_are_counted_from_an_index(services):
    """Counting live records must not read the stored records themselves (raw MARC and documents):
    at a million records that was a second for every members page and dashboard view."""
    if services.engine.dialect.name != "sqlite":
        return
    with services.engine.connect() as db:
        for sql in ("SELECT member_code, count(*) FROM source_record WHERE deleted = 0 GROUP BY member_code",
                    "SELECT count(*) FROM source_record WHERE deleted = 0",
                    "SELECT count(*) FROM source_record WHERE member_code = 'pku' AND deleted = 0"):
            plan = " ".join(str(row[-1]) for row in db.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
            assert "COVERING INDEX ix_source_record_member_live" in plan, (sql, plan)
