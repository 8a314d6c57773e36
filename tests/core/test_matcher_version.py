"""Documents and union records made by older code are flagged (migrations mark stores filled before
the fingerprints were kept), and a full re-cluster brings union records up to date."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, delete, select, text

from catalog.maintenance import rebuild_index
from catalog.pipeline import ingest
from catalog.quality import duplicates_report
from catalog.records import find_by_source
from mappings.fingerprint import matcher_fingerprint
from store.db import transaction
from store.migrate import upgrade
from store.models import Base, MatchKeyRow, SourceRecord, StoreState
from store.state import CROSSWALK_STATE, MATCHER_STATE
from tests.core.helpers import DEMO, as_harvested, read_marc, variant


def test_the_migrations_build_exactly_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    with create_engine(url).connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_a_store_filled_before_the_upgrade_is_marked_unknown(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url, "0003")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO member (code, name_zh, name_en, region, role, config, updated_at) "
            "VALUES ('pku', '北大', 'PKU', 'north', 'member', '{}', CURRENT_TIMESTAMP)"
        ))
        connection.execute(text(
            "INSERT INTO source_record (member_code, local_id, feed, encoding, raw, checksum, deleted, first_seen,"
            " updated_at) VALUES ('pku', '1', 'oai', 'xml', x'00', 'c', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ))
    upgrade(url)
    with engine.connect() as connection:
        stored = dict(connection.execute(select(StoreState.name, StoreState.value)).all())
    assert stored == {MATCHER_STATE: "unknown", CROSSWALK_STATE: "unknown"}


def test_clusters_from_another_matcher_are_flagged_until_reclustered(services) -> None:  # type: ignore[no-untyped-def]
    base = read_marc(DEMO / "calis-lc-chinese.mrc", limit=3)[2]
    ingest(services, "pku", as_harvested([variant(base, "p1")]))
    assert duplicates_report(services)["clustering_stale"] is False, "a new store is clustered by this matcher"
    # As an older matcher would have left it: another fingerprint, and no key rows for p1.
    with transaction(services.db) as session:
        session.get(StoreState, MATCHER_STATE).value = "older"
        p1 = session.scalar(select(SourceRecord.id).where(SourceRecord.local_id == "p1"))
        session.execute(delete(MatchKeyRow).where(MatchKeyRow.record_id == p1))
    report = duplicates_report(services)
    assert report["clustering_stale"] is True and report["clustered_by"] == "older"

    result = rebuild_index(services, recluster=True)
    assert result["clustering_stale"] is False
    with services.db() as session:
        assert session.get(StoreState, MATCHER_STATE).value == matcher_fingerprint()
        assert session.scalars(select(MatchKeyRow.key).where(MatchKeyRow.record_id == p1)).all(), "keys rewritten"
    # The incremental path finds p1 again through its rewritten keys.
    ingest(services, "sjtu", as_harvested([variant(base, "s1")]))
    assert find_by_source(services, "sjtu", "s1")["id"] == find_by_source(services, "pku", "p1")["id"]

