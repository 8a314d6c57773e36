"""The record store on PostgreSQL (``UNICAT_DATABASE_URL``): migrations, harvest, clustering, search."""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from catalog.context import build_services
from catalog.maintenance import rebuild_index, recrosswalk
from catalog.members import sync_members
from catalog.pipeline import harvest_feed, ingest
from catalog.records import find_by_source, get_record, moved_to
from catalog.search import SearchQuery, search
from catalog.withdrawals import apply_withdrawal
from store.db import transaction
from store.models import Member
from tests.core.conftest import MEMBERS
from tests.core.helpers import DEMO, as_harvested, read_marc, variant


def fresh_database(postgres_url: str) -> str:
    schema_db = f"t{secrets.token_hex(4)}"
    admin = sa.create_engine(
        postgres_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {schema_db}"))
    admin.dispose()
    return postgres_url.rsplit("/", 1)[0] + f"/{schema_db}"


def test_pipeline_runs_on_postgresql(settings, postgres_url):
    services = build_services(settings(database_url=fresh_database(postgres_url)))
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


def test_withdrawals_and_redirects_on_postgresql(settings, postgres_url, tmp_path):
    services = build_services(settings(database_url=fresh_database(postgres_url)))
    try:
        with transaction(services.db) as session:
            sync_members(session, [dict(m) for m in MEMBERS])
            session.get(Member, "nlc").config = {"files": {"url_or_path": str(tmp_path / "dump.mrc")}}
        uva = as_harvested(read_marc(DEMO / "pku" / "uva-sirsi.mrc.gz", limit=20))
        (tmp_path / "dump.mrc").write_bytes(b"".join(r.raw for r in uva))
        assert harvest_feed(services, "nlc", "files").added == 20
        (tmp_path / "dump.mrc").write_bytes(b"".join(r.raw for r in uva[1:]))
        assert harvest_feed(services, "nlc", "files").withdrawn == 1
        (tmp_path / "dump.mrc").write_bytes(b"".join(r.raw for r in uva[:5]))
        held = harvest_feed(services, "nlc", "files", full=True).held
        assert [(h["records"], h["live"]) for h in held] == [(15, 20)]  # the first record is back, 15 missing
        assert apply_withdrawal(services, held[0]["id"])["withdrawn"] == 15
        # a union id merged away is remembered, and found again through the redirect table
        base = read_marc(DEMO / "pku" / "uva-sirsi.mrc.gz", limit=1)[0]
        ingest(services, "bnu", as_harvested([variant(base, "bnu-1", isbns=["9787111000014"], title="Same")]))
        ingest(services, "sjtu", as_harvested([variant(base, "sjtu-1", isbns=["9787111000021"], title="Other")]))
        before = {find_by_source(services, m, f"{m}-1")["id"] for m in ("bnu", "sjtu")}
        ingest(services, "sjtu", as_harvested([variant(base, "sjtu-1", isbns=["9787111000014"], title="Same")]))
        kept = find_by_source(services, "bnu", "bnu-1")["id"]
        assert find_by_source(services, "sjtu", "sjtu-1")["id"] == kept and len(before) == 2
        (lost,) = before - {kept}
        assert moved_to(services, lost) == kept and moved_to(services, kept) is None
    finally:
        services.close()
