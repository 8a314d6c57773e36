"""The record store on PostgreSQL (``UNICAT_DATABASE_URL``): migrations, harvest, clustering, search."""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from catalog.context import build_services
from catalog.maintenance import rebuild_index, recrosswalk
from catalog.members import sync_members
from catalog.pipeline import ingest
from catalog.records import find_by_source, get_record
from catalog.search import SearchQuery, search
from store.db import transaction
from tests.core.conftest import MEMBERS
from tests.core.helpers import DEMO, as_harvested, read_marc


def test_pipeline_runs_on_postgresql(settings, postgres_url):
    schema_db = f"t{secrets.token_hex(4)}"
    admin = sa.create_engine(
        postgres_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {schema_db}"))
    admin.dispose()
    url = postgres_url.rsplit("/", 1)[0] + f"/{schema_db}"
    services = build_services(settings(database_url=url))
    try:
        assert services.engine.dialect.name == "postgresql"
        with transaction(services.db) as session:
            sync_members(session, [dict(m) for m in MEMBERS])
        pride = read_marc(DEMO / "pku" / "pride-and-prejudice.mrc", limit=30)
        ingest(services, "pku", as_harvested(pride[:20]))
        report = ingest(services, "sjtu", as_harvested(pride[10:30]))
        assert report.status == "ok" and report.added == 20
        shared = find_by_source(services, "sjtu", pride[12]["001"].data.strip())
        assert shared["id"] == find_by_source(services, "pku", pride[12]["001"].data.strip())["id"]
        record = get_record(services, shared["id"], with_marcxml=True)
        assert {h["member"] for h in record["holdings"]} == {"pku", "sjtu"}
        services.es.indices.refresh(index=services.settings.records_alias)
        assert search(services, SearchQuery(q="pride prejudice", size=50))["total"] >= 10
        # Re-deriving every document and cluster from the raw records changes nothing here.
        assert (recrosswalk(services).records, rebuild_index(services, recluster=True)["failed"]) == (40, 0)
        assert find_by_source(services, "sjtu", pride[12]["001"].data.strip())["id"] == shared["id"]
    finally:
        services.close()
