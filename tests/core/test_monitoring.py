"""Nothing is dropped silently: refused documents are stored, counted and visible; harvests are watchable."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from catalog.maintenance import rebuild_index
from catalog.pipeline import ingest, project_pending
from catalog.search import SearchQuery, search
from store.models import IndexFailure, ProjectionQueue, SourceRecord
from tests.core.helpers import DEMO, admin_headers, as_harvested, read_marc
from unicat.app import create_app


def test_documents_the_index_refuses_are_kept_counted_and_shown(services):
    alias = services.settings.records_alias
    # An operator mistake: the alias points at an index whose strict mapping fits none of our documents.
    services.es.indices.create(
        index=f"{alias}-wrong", mappings={"dynamic": "strict", "properties": {"id": {"type": "keyword"}}}
    )
    services.es.indices.put_alias(index=f"{alias}-wrong", name=alias)
    records = read_marc(DEMO / "calis-lc-chinese.mrc", limit=12)
    report = ingest(services, "nlc", as_harvested(records))
    assert report.status == "ok" and report.added == 12
    assert report.index_failed == 12 and report.indexed == 0
    with services.db() as session:
        assert session.scalar(select(func.count()).select_from(SourceRecord)) == 12, "the store keeps everything"
        assert session.scalar(select(func.count()).select_from(IndexFailure)) == 12
        assert session.scalar(select(func.count()).select_from(ProjectionQueue)) == 12
    with TestClient(create_app(services.settings, services=services), headers=admin_headers(services)) as http:
        shown = http.get("/api/v1/index-failures").json()
        assert shown["total"] == 12 and shown["pending_projection"] == 12
        assert "strict" in shown["failures"][0]["reason"]
        runs = http.get("/api/v1/harvests", params={"member": "nlc"}).json()["runs"]
        assert runs[0]["added"] == 12 and runs[0]["status"] == "ok"
        members = {m["code"]: m for m in http.get("/api/v1/members").json()["members"]}
        assert members["nlc"]["records"] == 12 and members["nlc"]["last_harvest"]["id"] == runs[0]["id"]

    # The operator repairs the index: a rebuild from the store needs no member and drains the backlog.
    services.es.indices.delete(index=f"{alias}-wrong")
    result = rebuild_index(services)
    assert result["failed"] == 0 and result["indexed"] == 12
    assert project_pending(services) == (0, 0)
    services.es.indices.refresh(index=alias)
    assert search(services, SearchQuery(size=1))["total"] == 12
    with services.db() as session:
        assert session.scalar(select(func.count()).select_from(ProjectionQueue)) == 0


def test_overlapped_bulk_requests_index_and_refuse_exactly_like_one_at_a_time(services):
    """The rebuild's overlapped bulk requests (several chunks in flight) count and keep every outcome."""
    from indexer.index import create_index
    from indexer.project import project, union_id_stream

    ingest(services, "nlc", as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=23)))
    strict = f"{services.settings.records_alias}-strict"
    services.es.indices.create(index=strict, mappings={"dynamic": "strict", "properties": {"id": {"type": "keyword"}}})
    fresh = create_index(services.es, services.settings.records_alias, layout=services.index_layout)
    with services.db() as session:
        ids = list(union_id_stream(session))
        good = project(services.es, session, fresh, ids, chunk_size=4, bulk_threads=2)
        bad = project(services.es, session, strict, ids, chunk_size=4, bulk_threads=2)
        session.commit()
        kept = select(func.count()).select_from(IndexFailure).where(IndexFailure.index_name == strict)
        assert session.scalar(kept) == len(ids)
    assert len(ids) > 3 * 4, "several chunks in flight"
    assert (good.indexed, good.failed) == (len(ids), 0)
    assert (bad.indexed, bad.failed) == (0, len(ids))
    assert sorted(uid for uid, _ in bad.failures) == sorted(ids), "every refused document named once"
    services.es.indices.refresh(index=fresh)
    assert services.es.count(index=fresh)["count"] == len(ids)
