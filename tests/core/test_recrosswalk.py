"""After an upgrade changes the crosswalks, the stored documents are derived again from the raw
records (``unicat reindex --recrosswalk``): search and clustering follow, nothing is lost."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from catalog.maintenance import rebuild_index, recrosswalk
from catalog.pipeline import ingest
from catalog.quality import STALE_DOCUMENTS, duplicates_report
from catalog.records import find_by_source
from catalog.search import SearchQuery, search
from indexer.clusterstore import KeyedRecord, recluster, write_keys
from mappings.fingerprint import crosswalk_fingerprint
from store.db import transaction
from store.models import SourceRecord, StoreState
from store.state import CROSSWALK_STATE
from tests.core.helpers import DEMO, admin_headers, as_harvested, read_marc, variant
from tests.core.test_members_cli import run_cli
from unicat.app import create_app

ISBN = "9789578424739"
TITLE = "社會學與醫護現象"


def _as_an_older_crosswalk_left_it(services, member: str, local_id: str) -> None:  # type: ignore[no-untyped-def]
    """Rewrite one stored document the way an older crosswalk might have made it (no ISBN, a title
    cut at the wrong place) and cluster and index it accordingly; mark the store as made by it."""
    with transaction(services.db) as session:
        row = session.scalars(
            select(SourceRecord).where(SourceRecord.member_code == member, SourceRecord.local_id == local_id)
        ).one()
        old = {**row.document, "isbns": [], "title": "社會學"}
        session.execute(update(SourceRecord).where(SourceRecord.id == row.id).values(document=old))
        write_keys(session, [KeyedRecord(row.id, False, old)])
        recluster(session, {row.id})
        session.get(StoreState, CROSSWALK_STATE).value = "older"
    rebuild_index(services)


def test_recrosswalk_brings_documents_clusters_and_search_up_to_date(services) -> None:  # type: ignore[no-untyped-def]
    base = read_marc(DEMO / "calis-lc-chinese.mrc", limit=3)[2]
    ingest(services, "pku", as_harvested([variant(base, "p1")]))
    ingest(services, "sjtu", as_harvested([variant(base, "s1")]))
    assert find_by_source(services, "pku", "p1")["id"] == find_by_source(services, "sjtu", "s1")["id"], "same ISBN"
    assert duplicates_report(services)["documents_stale"] is False, "a new store is made by this crosswalk"

    _as_an_older_crosswalk_left_it(services, "pku", "p1")
    assert find_by_source(services, "pku", "p1")["id"] != find_by_source(services, "sjtu", "s1")["id"]
    assert search(services, SearchQuery(isbn=ISBN))["total"] == 1, "the old document has no ISBN"
    state = duplicates_report(services)
    assert state["documents_stale"] is True and state["crosswalked_by"] == "older"
    with TestClient(create_app(services.settings, services=services)) as http:
        watched = http.get("/api/v1/store-state", headers=admin_headers(services)).json()
    assert watched["documents_stale"] is True and watched["crosswalk"] == crosswalk_fingerprint()
    assert watched["index_stale"] is False and watched["index_mapping"] == watched["latest_mapping"]

    report = recrosswalk(services)
    assert (report.records, report.changed, report.failed) == (2, 1, []), "only p1's document differs"
    result = rebuild_index(services, recluster=True)
    assert result["documents_stale"] is False and result["crosswalked_by"] == crosswalk_fingerprint()
    assert find_by_source(services, "pku", "p1")["id"] == find_by_source(services, "sjtu", "s1")["id"], "merged again"
    hits = search(services, SearchQuery(isbn=ISBN))
    assert hits["total"] == 1 and hits["hits"][0]["holdings_count"] == 2


def test_a_record_the_current_crosswalk_cannot_map_keeps_its_document(services) -> None:  # type: ignore[no-untyped-def]
    base = read_marc(DEMO / "calis-lc-chinese.mrc", limit=3)[2]
    ingest(services, "pku", as_harvested([variant(base, "p1")]))
    with transaction(services.db) as session:
        session.execute(update(SourceRecord).values(raw=b"00000nam  2200000   4500" + b"\x1e\x1d"))
        before = session.scalars(select(SourceRecord.document)).one()

    report = recrosswalk(services)
    assert report.changed == 0
    assert [(f["member"], f["local_id"]) for f in report.failed] == [("pku", "p1")] and report.failed[0]["reason"]
    with services.db() as session:
        assert session.scalars(select(SourceRecord.document)).one() == before
    rebuild_index(services, recluster=True)
    assert search(services, SearchQuery(title=TITLE))["total"] == 1, "still found"


def test_cli_warns_about_stale_documents_until_recrosswalked(services, tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = read_marc(DEMO / "calis-lc-chinese.mrc", limit=3)[2]
    ingest(services, "pku", as_harvested([variant(base, "p1")]))
    _as_an_older_crosswalk_left_it(services, "pku", "p1")
    members = tmp_path / "members.toml"
    members.write_text("", encoding="utf-8")
    warning = STALE_DOCUMENTS.split(";")[0]

    stale = run_cli(services.settings, members, "report", "duplicates")
    assert stale.returncode == 0 and warning in " ".join(stale.stdout.split())
    rebuilt = run_cli(services.settings, members, "reindex", "--recrosswalk")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "crosswalked 1 stored records again: 1 documents changed" in " ".join(rebuilt.stdout.split())
    fresh = run_cli(services.settings, members, "report", "duplicates")
    assert fresh.returncode == 0 and warning not in " ".join(fresh.stdout.split())
    assert search(services, SearchQuery(isbn=ISBN))["total"] == 1
