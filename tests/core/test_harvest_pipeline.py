"""Harvest → store → index → search, against the real OAI-PMH provider and the real Elasticsearch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from catalog.context import build_services
from catalog.members import sync_members
from catalog.pipeline import harvest_feed
from catalog.records import find_by_source, get_record
from catalog.search import SearchQuery, search
from harvesters.base import HarvestedRecord, Page
from store.db import transaction
from store.models import (
    Checkpoint,
    Cluster,
    HarvestRun,
    IndexFailure,
    Member,
    ProjectionQueue,
    Reject,
    SourceRecord,
)
from tests.core.conftest import MEMBERS
from tests.core.helpers import DEMO, as_harvested, cli_env, read_marc, variant

UVA = DEMO / "pku" / "uva-sirsi.mrc.gz"


def use_oai(services, code: str, url: str, **extra) -> None:  # type: ignore[no-untyped-def]
    with transaction(services.db) as session:
        member = session.get(Member, code)
        member.config = {**member.config, "oai": {"url": url, "metadata_prefix": "marc21", **extra}}


def live_count(services, code: str) -> int:  # type: ignore[no-untyped-def]
    with services.db() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(SourceRecord)
                .where(SourceRecord.member_code == code, SourceRecord.deleted.is_(False))
            )
            or 0
        )


def test_full_then_incremental_harvest_with_changes_and_deletions(services, oai_provider, refresh):
    records = read_marc(UVA, limit=120)
    provider = oai_provider(records, batch_size=25)
    use_oai(services, "pku", provider.url)
    first = harvest_feed(services, "pku", "oai")
    assert (first.status, first.added, first.pages, first.rejected) == ("ok", 120, 5, 0)
    with services.db() as session:
        assert session.get(Checkpoint, ("pku", "oai")).state["complete"] is True

    ids = provider.repository.identifiers()
    changed_id, deleted_id = ids[3], ids[7]
    changed = variant(
        provider.repository.get(changed_id).record,
        provider.repository.get(changed_id).record["001"].data,
        title="Zhuangzi explained anew",
    )
    provider.repository.update(changed_id, changed)
    provider.repository.delete(deleted_id)
    second = harvest_feed(services, "pku", "oai")
    assert second.status == "ok"
    assert (second.added, second.updated, second.deleted) == (0, 1, 1), second
    assert live_count(services, "pku") == 119
    refresh()
    hit = search(services, SearchQuery(title="zhuangzi explained anew"))
    assert hit["total"] == 1
    deleted_local = deleted_id.rsplit(":", 1)[-1]
    assert find_by_source(services, "pku", deleted_local) is None


def test_killed_harvest_resumes_without_loss_or_duplicates(services, oai_provider, tmp_path):
    """A real `unicat harvest` process is killed mid-run; the next run finishes the job."""
    records = read_marc(UVA, limit=300)
    provider = oai_provider(records, batch_size=10, delay=0.1)  # 30 pages, ≥ 3 s: time to kill it part-way
    use_oai(services, "pku", provider.url)
    members_file = tmp_path / "members.toml"
    members_file.write_text(
        '[[member]]\ncode = "pku"\nname = { zh = "北京大学图书馆", en = "Peking University Library" }\n'
        f'region = "north"\nrole = "regional"\noai = {{ url = "{provider.url}", metadata_prefix = "marc21" }}\n',
        encoding="utf-8",
    )
    env = cli_env(services.settings, UNICAT_MEMBERS=str(members_file))
    cli = [sys.executable, "-m", "unicat.cli"]
    proc = subprocess.Popen(
        [*cli, "harvest", "pku"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and live_count(services, "pku") < 50:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    stored_at_kill = live_count(services, "pku")
    assert 0 < stored_at_kill < 300, "the harvest must have been killed part-way"
    with services.db() as session:
        token = session.get(Checkpoint, ("pku", "oai")).state
    assert token["complete"] is False and token["token"]

    resumed = harvest_feed(services, "pku", "oai")
    assert resumed.status == "ok"
    assert resumed.added == 300 - stored_at_kill, "the resumed run adds exactly what the killed run had not stored"
    assert resumed.unchanged == 0, "pages stored before the kill are not fetched again"
    with services.db() as session:
        total = session.scalar(select(func.count()).select_from(SourceRecord))
        distinct = session.scalar(select(func.count(func.distinct(SourceRecord.local_id))))
    assert total == distinct == 300


def test_malformed_records_are_rejects_and_never_stop_the_run(services, tmp_path, refresh):
    records = read_marc(DEMO / "calis-lc-chinese.mrc", limit=30)
    good = b"".join(r.as_marc() for r in records[:15])
    garbage = b"00047nam  2200037   4500" + b"\x1e\x1d"  # a leader that promises what is not there
    path = tmp_path / "feed.mrc"
    path.write_bytes(good + garbage + b"".join(r.as_marc() for r in records[15:]))
    with transaction(services.db) as session:
        member = session.get(Member, "nlc")
        member.config = {**member.config, "files": {"url_or_path": str(path), "format": "iso2709"}}
    report = harvest_feed(services, "nlc", "files")
    assert report.status == "ok"
    assert report.added == 30 and report.rejected >= 1
    with services.db() as session:
        rejects = session.scalars(select(Reject).where(Reject.member_code == "nlc")).all()
    assert rejects and all(r.reason for r in rejects)
    refresh()
    assert search(services, SearchQuery(filters={"member": ["nlc"]}))["total"] >= 25


def test_unreachable_member_fails_cleanly_and_keeps_what_is_stored(services, oai_provider):
    records = read_marc(UVA, limit=20)
    provider = oai_provider(records, batch_size=50)
    use_oai(services, "pku", provider.url)
    assert harvest_feed(services, "pku", "oai").added == 20
    use_oai(services, "pku", "http://127.0.0.1:9/oai", timeout=1, retries=1)
    report = harvest_feed(services, "pku", "oai")
    assert report.status == "failed" and "127.0.0.1:9" in report.error
    assert live_count(services, "pku") == 20
    with services.db() as session:
        run = session.get(HarvestRun, report.run_id)
    assert run.status == "failed" and run.error


def test_garbage_feed_is_a_named_failure(services, tmp_path):
    import http.server
    import threading

    class Garbage(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.end_headers()
            self.wfile.write(b"<html><body>Service temporarily <b>unavailable")

        def log_message(self, *args):  # type: ignore[no-untyped-def]
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        use_oai(services, "sjtu", f"http://127.0.0.1:{server.server_port}/oai", timeout=2, retries=1)
        report = harvest_feed(services, "sjtu", "oai")
    finally:
        server.shutdown()
    assert report.status == "failed" and report.error


@pytest.mark.parametrize("query", ["紅樓夢", "红楼梦"])
def test_traditional_and_simplified_find_each_other(services, refresh, query):
    from catalog.pipeline import ingest
    from tests.core.helpers import as_harvested

    base = read_marc(DEMO / "calis-lc-chinese.mrc", limit=1)[0]
    simplified = variant(base, "hlm-s", title="红楼梦研究集刊", isbns=[])
    traditional = variant(base, "hlm-t", title="紅樓夢人物論", year="1985", isbns=[])
    ingest(services, "pku", as_harvested([simplified, traditional]))
    refresh()
    result = search(services, SearchQuery(q=query))
    titles = {h["title"] for h in result["hits"]}
    assert titles == {"红楼梦研究集刊", "紅樓夢人物論"}
    marked = {h["title"]: h["highlight"].get("title") for h in result["hits"]}
    assert marked["紅樓夢人物論"] == "<mark>紅樓夢</mark>人物論"
    # a word inside a title without spaces is found too
    assert search(services, SearchQuery(q="人物论"))["total"] == 1


def test_reindex_rebuilds_from_the_store_behind_the_alias(services, oai_provider, refresh):
    from catalog.maintenance import rebuild_index
    from indexer.index import alias_targets

    provider = oai_provider(read_marc(UVA, limit=40), batch_size=50)
    use_oai(services, "pku", provider.url)
    harvest_feed(services, "pku", "oai")
    provider.stop()  # the member is gone: the rebuild must not need it
    refresh()
    before = search(services, SearchQuery(size=100))
    old = alias_targets(services.es, services.settings.records_alias)
    result = rebuild_index(services)
    new = alias_targets(services.es, services.settings.records_alias)
    assert result["failed"] == 0 and new != old and len(new) == 1
    after = search(services, SearchQuery(size=100))
    assert after["total"] == before["total"] == result["indexed"]
    assert {h["id"] for h in after["hits"]} == {h["id"] for h in before["hits"]}
    rec = get_record(services, after["hits"][0]["id"])
    assert rec is not None and rec["holdings"][0]["member"] == "pku"


class _Pages:
    """A harvester yielding the given pages as they are (no protocol, no checkpoint)."""

    def __init__(self, *pages: list[HarvestedRecord]) -> None:
        self.batches = pages

    def pages(self, checkpoint: dict | None):  # type: ignore[no-untyped-def]
        for number, records in enumerate(self.batches, 1):
            yield Page(records=records, checkpoint={"page": number})


def test_a_union_record_touched_while_its_page_is_being_indexed_is_indexed_again(services, refresh):
    """Page 1's documents are still in flight when page 2 adds a duplicate to one of them: the
    outbox keeps that union record and the index ends with the newer document."""
    records = as_harvested(read_marc(UVA, limit=100))
    twin = HarvestedRecord(local_id="twin-of-" + records[7].local_id, raw=records[7].raw, encoding="iso2709")
    report = harvest_feed(services, "pku", "files", harvester=_Pages(records[:80], [*records[80:], twin]))
    assert report.status == "ok" and report.added == 101 and report.index_failed == 0
    refresh()
    union_id = find_by_source(services, "pku", records[7].local_id)["id"]
    indexed = services.es.get(index=services.settings.records_alias, id=union_id)["_source"]
    assert indexed["source_count"] == 2
    with services.db() as session:
        assert session.scalar(select(func.count()).select_from(ProjectionQueue)) == 0


def test_an_unreachable_index_defers_projection_and_the_outbox_keeps_the_work(settings):
    services = build_services(settings(es=False))
    try:
        with transaction(services.db) as session:
            sync_members(session, [dict(m) for m in MEMBERS])
        records = as_harvested(read_marc(UVA, limit=30))
        report = harvest_feed(services, "pku", "files", harvester=_Pages(records[:15], records[15:]))
        assert report.status == "ok" and report.added == 30 and report.indexed == 0
        assert any("projection deferred" in note for note in report.notes)
        with services.db() as session:
            queued = session.scalar(select(func.count()).select_from(ProjectionQueue))
            assert queued and queued == session.scalar(select(func.count()).select_from(Cluster))
            assert session.scalar(select(func.count()).select_from(IndexFailure)) == 0
    finally:
        services.close()


def test_a_finished_harvest_is_searchable_at_once(services):
    """The index refreshes itself only every 30 s (fewer, larger segments while a harvest runs), so
    the harvest and the outbox drain must refresh when they end: no test-side refresh here."""
    from catalog.pipeline import project_pending
    from indexer.index import alias_targets
    from indexer.project import queue

    records = as_harvested(read_marc(UVA, limit=30))
    report = harvest_feed(services, "pku", "files", harvester=_Pages(records))
    assert report.status == "ok" and report.indexed == 30
    index = alias_targets(services.es, services.settings.records_alias)[0]
    interval = services.es.indices.get_settings(index=index)[index]["settings"]["index"]["refresh_interval"]
    assert interval == "30s"
    assert search(services, SearchQuery(size=50))["total"] == 30
    # a union record missing from the index and queued again is searchable as soon as the drain ends
    alias = services.settings.records_alias
    uid = search(services, SearchQuery(size=1))["hits"][0]["id"]
    services.es.delete(index=alias, id=uid, refresh=True)
    assert search(services, SearchQuery(size=50))["total"] == 29
    with transaction(services.db) as session:
        queue(session, {uid})
    assert project_pending(services) == (1, 0)
    assert search(services, SearchQuery(size=50))["total"] == 30


def test_a_harvest_leaves_the_collector_as_it_found_it(services):
    """Harvests raise the garbage collector's thresholds while they run (see catalog.collector);
    the API server or worker that ran one must get its own settings back, also after a failure."""
    import gc

    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []

    class Failing:
        def pages(self, checkpoint: dict | None):  # type: ignore[no-untyped-def]
            seen.append(gc.get_threshold())
            raise RuntimeError("member system crashed")

    records = as_harvested(read_marc(UVA, limit=3))
    assert harvest_feed(services, "pku", "files", harvester=_Pages(records)).status == "ok"
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError):
        harvest_feed(services, "pku", "files", harvester=Failing())
    assert seen[0][0] > before[0] and gc.get_threshold() == before


def test_overlapping_bulk_jobs_restore_the_collector_when_the_last_ends() -> None:
    """The worker runs several harvests at once in threads; their spans overlap without nesting."""
    import gc

    from catalog.collector import fewer_collections

    before = gc.get_threshold()
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    raised = gc.get_threshold()
    second.__enter__()
    first.__exit__(None, None, None)  # the first harvest ends while the second still runs
    assert gc.get_threshold() == raised != before
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before


def test_a_long_harvest_does_not_keep_its_pages_garbage(services):
    """Constant memory (issue 19): each page leaves reference cycles (SQLAlchemy's statements hold
    themselves and their bind parameters, a page's ids among them). Under the raised thresholds of
    catalog.collector a young collection came only every ~200 pages, so they piled up (16 MiB over
    20,000 records); now they are collected every fourth page (catalog.collector.YOUNG_EVERY). The
    young generation's count of net allocations, read after each page, therefore does not climb
    from page to page."""
    import gc

    records = as_harvested(read_marc(UVA, limit=320))
    pages = [records[start : start + 20] for start in range(0, len(records), 20)]
    young: list[int] = []
    report = harvest_feed(
        services, "pku", "files", harvester=_Pages(*pages), progress=lambda _: young.append(gc.get_count()[0])
    )
    assert report.status == "ok" and report.added == 320 and len(young) == 16
    # without the per-page collection this climbed by ~250 a page, over 3,000 in these 12 pages
    assert young[-1] - young[3] < 1000, young


def test_caches_of_the_harvest_path_are_bounded() -> None:
    """Constant memory (issue 19): a memoising cache without a size limit grows with every distinct
    argument a long harvest passes it (the fold cache was 65,536 strings, ~20 MiB). Every
    ``functools`` cache in the packages a harvest, a rebuild or a search runs through has a
    maxsize, except those of functions without arguments (one value each)."""
    import functools
    import importlib
    import inspect
    import pkgutil

    unbounded = []
    for package in ("mappings", "catalog", "indexer", "harvesters", "store", "holdings"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                if isinstance(value, functools._lru_cache_wrapper) and value.__module__ == info.name:
                    takes_arguments = bool(inspect.signature(value.__wrapped__).parameters)
                    if value.cache_info().maxsize is None and takes_arguments:
                        unbounded.append(f"{info.name}.{name}")
    assert unbounded == []


def test_a_record_sent_twice_in_one_page_is_stored_once(services):
    records = as_harvested(read_marc(UVA, limit=5))
    report = harvest_feed(services, "pku", "files", harvester=_Pages([*records, records[2]]))
    assert report.status == "ok" and report.added == 5 and report.updated == 1
    with services.db() as session:
        assert session.scalar(select(func.count()).select_from(SourceRecord)) == 5


def _stored_page(services, records: list[HarvestedRecord]):  # type: ignore[no-untyped-def]
    """Store one page as a harvest does; its documents as the projection receives them, and the
    union ids it queued."""
    from catalog.pipeline import _commit_page

    with transaction(services.db) as session:
        run = HarvestRun(member_code="pku", feed="files")
        session.add(run)
        session.flush()
        run_id = run.id
    documents, touched, _held = _commit_page(services, "pku", "files", run_id, Page(records=records))
    return documents, sorted(touched)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_page_s_union_records_of_one_record_are_built_without_reading_the_store_again(
    request, settings, database  # type: ignore[no-untyped-def]
):
    """The projection builds a union record that holds one record of the page just stored from
    the page's own documents; once the union record has been re-clustered since (here by a twin
    from the next page, as another harvest process could do), it reads the store."""
    from tests.core.test_postgres import fresh_database

    overrides = {}
    if database == "postgresql":
        overrides["database_url"] = fresh_database(request.getfixturevalue("postgres_url"))
    services = build_services(settings(es=False, **overrides))
    try:
        with transaction(services.db) as session:
            sync_members(session, [dict(m) for m in MEMBERS])
        _built_from_the_page(services)
    finally:
        services.close()


def _built_from_the_page(services) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import event

    from indexer.project import load_sources, members_by_code

    records = as_harvested(read_marc(UVA, limit=40))
    documents, touched = _stored_page(services, records)
    assert len(documents.alone) == len(touched) == 40
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(services.engine, "before_cursor_execute", seen)
    try:
        with services.db() as session:
            members = members_by_code(session)
            statements.clear()
            from_page = load_sources(session, touched, members, documents)
            assert not [s for s in statements if "FROM source_record" in s]
            assert from_page == load_sources(session, touched, members)
        twin = HarvestedRecord(local_id="twin", raw=records[7].raw, encoding="iso2709")
        _stored_page(services, [twin])
        union_id = find_by_source(services, "pku", records[7].local_id)["id"]
        with services.db() as session:
            statements.clear()
            sources = load_sources(session, [union_id], members, documents)[union_id]
            assert [s for s in statements if "FROM source_record" in s]
            assert sorted(view.local_id for view in sources) == sorted([records[7].local_id, "twin"])
    finally:
        event.remove(services.engine, "before_cursor_execute", seen)
