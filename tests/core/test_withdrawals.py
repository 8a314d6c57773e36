"""Withdrawn records leave the catalogue for every feed type: a complete full harvest withdraws
what it did not see (file dumps, Z39.50 and SRU from a real Zebra, OAI-PMH from a provider that
keeps no deletions), within a safety limit; a failed or stopped harvest withdraws nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from catalog.members import MembersFileError, parse_members
from catalog.pipeline import harvest_feed
from catalog.records import find_by_source, get_record
from catalog.search import SearchQuery, search
from catalog.withdrawals import WithdrawalError, discard_withdrawal, list_withdrawals
from harvesters.base import HarvestedRecord, Page
from harvesters.z3950 import ALL_RECORDS_PQF
from store.db import transaction
from store.models import Checkpoint, Member, SourceRecord
from tests.core.helpers import DEMO, admin_headers, as_harvested, read_marc, run_cli
from tests.peers.zebra import ZebraServer, zebra_server
from unicat.app import create_app

UVA = DEMO / "pku" / "uva-sirsi.mrc.gz"
DROPPED = (4, 17, 33)  # positions of the records the member weeds out


def configure(services, code: str, feed: str, config: dict, **member) -> None:  # type: ignore[no-untyped-def]
    with transaction(services.db) as session:
        row = session.get(Member, code)
        row.config = {**row.config, feed: config, **member}


def live_ids(services, code: str) -> set[str]:  # type: ignore[no-untyped-def]
    with services.db() as session:
        return set(
            session.scalars(
                select(SourceRecord.local_id).where(SourceRecord.member_code == code, SourceRecord.deleted.is_(False))
            )
        )


def total_hits(services) -> int:  # type: ignore[no-untyped-def]
    services.es.indices.refresh(index=services.settings.records_alias)
    return int(search(services, SearchQuery(size=1))["total"])


def write_dump(path: Path, records: list[HarvestedRecord]) -> Path:
    path.write_bytes(b"".join(r.raw for r in records))
    return path


@pytest.fixture(scope="module")
def uva() -> list[HarvestedRecord]:
    return as_harvested(read_marc(UVA, limit=40))


def weeded(records: list, dropped: tuple[int, ...] = DROPPED) -> list:  # type: ignore[type-arg]
    return [r for i, r in enumerate(records) if i not in dropped]


# ------------------------------------------------------------------------------ file dumps


def test_a_record_missing_from_the_next_full_dump_is_withdrawn(services, tmp_path, uva):
    dump = tmp_path / "dump.mrc"
    configure(services, "pku", "files", {"url_or_path": str(write_dump(dump, uva)), "format": "iso2709"})
    first = harvest_feed(services, "pku", "files")
    assert (first.status, first.added, first.withdrawn) == ("ok", 40, 0)
    gone = [uva[i].local_id for i in DROPPED]
    unions = [find_by_source(services, "pku", local_id)["id"] for local_id in gone]
    assert total_hits(services) == 40

    write_dump(dump, weeded(uva))
    second = harvest_feed(services, "pku", "files")
    assert (second.status, second.withdrawn, second.held) == ("ok", 3, []), second.notes
    assert any("withdrawn: 3 of 40" in note for note in second.notes)
    assert live_ids(services, "pku") == {r.local_id for r in weeded(uva)}
    assert all(find_by_source(services, "pku", local_id) is None for local_id in gone)
    assert all(get_record(services, union_id) is None for union_id in unions)
    assert total_hits(services) == 37, "the withdrawn records' union records left the index"
    with services.db() as session:  # marked deleted, the raw record kept as received
        kept = dict(session.execute(select(SourceRecord.local_id, SourceRecord.raw).where(SourceRecord.deleted)).all())
    assert kept == {uva[i].local_id: uva[i].raw for i in DROPPED}

    write_dump(dump, uva)  # the member puts one back: it is live again
    third = harvest_feed(services, "pku", "files")
    assert third.status == "ok" and third.withdrawn == 0 and len(live_ids(services, "pku")) == 40
    assert total_hits(services) == 40


def test_a_directory_pass_that_skips_unchanged_files_withdraws_nothing(services, tmp_path, uva):
    folder = tmp_path / "dump"
    folder.mkdir()
    write_dump(folder / "a.mrc", uva[:20])
    write_dump(folder / "b.mrc", uva[20:])
    configure(services, "pku", "files", {"url_or_path": str(folder), "format": "iso2709"})
    assert harvest_feed(services, "pku", "files").added == 40
    write_dump(folder / "a.mrc", uva[:19])  # b.mrc unchanged: its records are not read again
    partial = harvest_feed(services, "pku", "files")
    assert partial.status == "ok" and partial.withdrawn == 0 and len(live_ids(services, "pku")) == 40
    assert any("withdrawals not looked for" in note for note in partial.notes)
    full = harvest_feed(services, "pku", "files", full=True)  # every file read: a complete pass
    assert full.withdrawn == 1 and live_ids(services, "pku") == {r.local_id for r in uva} - {uva[19].local_id}


def test_a_full_harvest_missing_too_much_is_held_until_an_administrator_decides(services, tmp_path, uva):
    dump = tmp_path / "dump.mrc"
    configure(services, "pku", "files", {"url_or_path": str(write_dump(dump, uva)), "format": "iso2709"})
    harvest_feed(services, "pku", "files")
    write_dump(dump, uva[:10])  # an export that broke after ten records looks like heavy weeding
    broken = harvest_feed(services, "pku", "files")
    assert broken.status == "ok" and broken.withdrawn == 0
    assert [(h["records"], h["live"], h["limit"], h["status"]) for h in broken.held] == [(30, 40, 0.2, "pending")]
    assert any("withdrawal held" in note for note in broken.notes)
    assert len(live_ids(services, "pku")) == 40 and total_hits(services) == 40
    held_id = broken.held[0]["id"]

    with TestClient(create_app(services.settings, services=services), headers=admin_headers(services)) as http:
        listed = http.get("/api/v1/withdrawals").json()["withdrawals"]
        assert [(w["id"], w["member"], w["records"]) for w in listed] == [(held_id, "pku", 30)]
        runs = http.get("/api/v1/harvests", params={"member": "pku"}).json()["runs"]
        assert runs[0]["withdrawals_held"] == [{"id": held_id, "status": "pending", "records": 30, "live": 40}]
    shown = run_cli(services, "withdrawals", "list", timeout=120)
    assert shown.returncode == 0 and f"{held_id}" in shown.stdout and "75%" in shown.stdout
    applied = run_cli(services, "withdrawals", "apply", str(held_id), "--by", "admin", timeout=120)
    assert applied.returncode == 0, applied.stderr
    assert "30 records withdrawn" in applied.stdout
    assert live_ids(services, "pku") == {r.local_id for r in uva[:10]} and total_hits(services) == 10
    again = run_cli(services, "withdrawals", "apply", str(held_id), timeout=120)
    assert again.returncode == 2 and "applied, not pending" in again.stderr
    assert list_withdrawals(services) == []


def test_a_discarded_withdrawal_keeps_every_record_and_the_limit_is_the_members(services, tmp_path, uva):
    dump = tmp_path / "dump.mrc"
    configure(services, "pku", "files", {"url_or_path": str(write_dump(dump, uva)), "format": "iso2709"})
    harvest_feed(services, "pku", "files")
    write_dump(dump, uva[:30])
    held = harvest_feed(services, "pku", "files").held
    assert len(held) == 1 and held[0]["records"] == 10
    discard_withdrawal(services, held[0]["id"], by="admin")
    with pytest.raises(WithdrawalError):
        discard_withdrawal(services, held[0]["id"])
    assert len(live_ids(services, "pku")) == 40
    # this member weeds a lot and says so in the members file: 25 % is within its own limit
    configure(services, "pku", "files", {"url_or_path": str(dump), "format": "iso2709"}, withdraw_limit=0.5)
    applied = harvest_feed(services, "pku", "files", full=True)
    assert applied.withdrawn == 10 and applied.held == [] and len(live_ids(services, "pku")) == 30


def test_the_members_file_refuses_a_share_that_is_not_one(tmp_path):
    members = tmp_path / "members.toml"
    members.write_text(
        '[[member]]\ncode = "pku"\nname = { zh = "北京大学图书馆", en = "Peking University Library" }\n'
        'region = "north"\nwithdraw_limit = 1.5\nfiles = { url_or_path = "/tmp/x.mrc" }\n',
        encoding="utf-8",
    )
    with pytest.raises(MembersFileError) as exc:
        parse_members(members)
    assert any(p.startswith("member 'pku': withdraw_limit:") for p in exc.value.problems)


# ------------------------------------------------------------------------------ Z39.50 and SRU


@pytest.fixture(scope="module")
def zebras(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ZebraServer, ZebraServer]]:
    """The member's catalogue before and after weeding three records, each in its own real Zebra."""
    records = read_marc(UVA, limit=40)
    with (
        zebra_server(tmp_path_factory.mktemp("before"), records) as before,
        zebra_server(tmp_path_factory.mktemp("after"), weeded(records)) as after,
    ):
        yield before, after


def test_z3950_full_harvest_withdraws_what_the_target_no_longer_holds(services, zebras, uva):
    before, after = zebras
    feed = {"host": before.host, "port": before.port, "database": before.database, "batch": 15}
    configure(services, "pku", "z3950", feed)
    assert harvest_feed(services, "pku", "z3950").added == 40
    configure(services, "pku", "z3950", {**feed, "port": after.port})
    report = harvest_feed(services, "pku", "z3950")
    assert (report.status, report.withdrawn, report.unchanged) == ("ok", 3, 37)
    assert live_ids(services, "pku") == {r.local_id for r in weeded(uva)}
    assert total_hits(services) == 37


def test_sru_full_harvest_withdraws_what_the_server_no_longer_holds(services, zebras, uva):
    before, after = zebras
    configure(services, "bnu", "sru", {"url": before.sru_url, "batch": 15})
    assert harvest_feed(services, "bnu", "sru").added == 40
    configure(services, "bnu", "sru", {"url": after.sru_url, "batch": 15})
    report = harvest_feed(services, "bnu", "sru")
    assert (report.status, report.withdrawn) == ("ok", 3)
    assert live_ids(services, "bnu") == {r.local_id for r in weeded(uva)}
    assert total_hits(services) == 37


def test_a_z3950_harvest_that_fails_half_way_or_is_stopped_withdraws_nothing(services, zebras):
    before, after = zebras
    feed = {"host": before.host, "port": before.port, "database": before.database, "batch": 10}
    configure(services, "sjtu", "z3950", feed)
    harvest_feed(services, "sjtu", "z3950")
    # the weeded target, but the second query fails: the run saw only part of the catalogue
    failing = {**feed, "port": after.port, "queries": [ALL_RECORDS_PQF, "@attr 1=9999 x"]}
    configure(services, "sjtu", "z3950", failing)
    failed = harvest_feed(services, "sjtu", "z3950")
    assert failed.status == "failed" and "query" in (failed.error or "") and failed.withdrawn == 0
    assert len(live_ids(services, "sjtu")) == 40
    configure(services, "sjtu", "z3950", {**feed, "port": after.port})
    stopped = harvest_feed(services, "sjtu", "z3950", max_pages=2, full=True)
    assert stopped.status == "interrupted" and stopped.withdrawn == 0
    assert len(live_ids(services, "sjtu")) == 40
    finished = harvest_feed(services, "sjtu", "z3950")  # the stopped pass resumes and completes
    assert finished.status == "ok" and finished.withdrawn == 3 and len(live_ids(services, "sjtu")) == 37


# ------------------------------------------------------------------------------ OAI-PMH


def test_oai_provider_without_deletions_leaves_ghosts_until_a_full_harvest(services, oai_provider):
    records = read_marc(UVA, limit=60)
    provider = oai_provider(records, batch_size=25)
    provider.repository.deleted_record = "no"  # it forgets deleted records instead of listing them
    configure(services, "pku", "oai", {"url": provider.url, "metadata_prefix": "marc21"})
    assert harvest_feed(services, "pku", "oai").added == 60
    ids = provider.repository.identifiers()
    for identifier in (ids[5], ids[40]):
        provider.repository.delete(identifier)
    gone = {ids[5].rsplit(":", 1)[-1], ids[40].rsplit(":", 1)[-1]}
    incremental = harvest_feed(services, "pku", "oai")
    assert incremental.status == "ok" and incremental.deleted == 0 and len(live_ids(services, "pku")) == 60
    assert any("deletedRecord=no" in note for note in incremental.notes)
    full = harvest_feed(services, "pku", "oai", full=True)
    assert (full.status, full.withdrawn, full.deleted) == ("ok", 2, 0)
    assert gone.isdisjoint(live_ids(services, "pku")) and len(live_ids(services, "pku")) == 58
    assert total_hits(services) == 58


# ------------------------------------------------------------------------------ within one page


class _Pages:
    def __init__(self, *pages: list[HarvestedRecord]) -> None:
        self.batches = pages

    def pages(self, checkpoint: dict | None):  # type: ignore[no-untyped-def,type-arg]
        for number, records in enumerate(self.batches, 1):
            yield Page(records=records, checkpoint={"page": number})


def test_a_record_sent_and_deleted_within_one_page_ends_deleted(services, uva):
    new, known = uva[0], uva[1]
    harvest_feed(services, "pku", "oai", harvester=_Pages([known]))
    deletion = [HarvestedRecord(r.local_id, b"", deleted=True) for r in (new, known)]
    report = harvest_feed(services, "pku", "oai", harvester=_Pages([new, known, *deletion]))
    assert report.status == "ok" and report.deleted == 2
    assert find_by_source(services, "pku", new.local_id) is None
    assert find_by_source(services, "pku", known.local_id) is None
    assert total_hits(services) == 0
    with services.db() as session:  # the record sent, then deleted, is kept as received
        row = session.scalar(select(SourceRecord).where(SourceRecord.local_id == new.local_id))
        assert row.deleted and row.raw == new.raw
        assert session.scalar(select(func.count()).select_from(SourceRecord)) == 2
    back = harvest_feed(services, "pku", "oai", harvester=_Pages([new]))
    assert back.status == "ok" and find_by_source(services, "pku", new.local_id) is not None


def test_oai_full_every_days_brings_withdrawals_without_an_operator(services, oai_provider):
    provider = oai_provider(read_marc(UVA, limit=30), batch_size=25)
    provider.repository.deleted_record = "transient"
    feed = {"url": provider.url, "metadata_prefix": "marc21", "full_every_days": 7}
    configure(services, "pku", "oai", feed)
    assert harvest_feed(services, "pku", "oai").added == 30
    gone = provider.repository.identifiers()[3]
    provider.repository.deleted_record = "no"  # transient: this deletion is already forgotten
    provider.repository.delete(gone)
    soon = harvest_feed(services, "pku", "oai")  # the last full run is from today: incremental
    assert soon.withdrawn == 0 and len(live_ids(services, "pku")) == 30
    with transaction(services.db) as session:  # a week passes
        state = session.get(Checkpoint, ("pku", "oai"))
        state.state = {**state.state, "last_full": "2026-01-01"}
    later = harvest_feed(services, "pku", "oai")
    assert later.status == "ok" and later.withdrawn == 1 and len(live_ids(services, "pku")) == 29
    assert any("full harvest (the last one was 2026-01-01)" in note for note in later.notes)


def test_a_query_list_feed_with_an_incremental_query_is_full_again_when_due():
    from datetime import UTC, datetime

    from harvesters.base import plan_query_run

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    done = {"complete": True, "harvested_until": "20260101", "queries": ["x"], "last_full": today}
    args = (["@attr 1=_ALLRECORDS @attr 2=103 \"\""], '@attr 1=1012 @attr 2=4 "{from}"', "%Y%m%d", 0)
    _, recent = plan_query_run(done, *args, full_every_days=7)
    assert recent["mode"] == "incremental" and "sweep" not in recent and recent["last_full"] == today
    _, due = plan_query_run({**done, "last_full": "2026-01-01"}, *args, full_every_days=7)
    assert due["mode"] == "full" and due["sweep"] and due["last_full"] == today
    _, never = plan_query_run({**done, "last_full": "2026-01-01"}, *args)
    assert never["mode"] == "incremental", "without full_every_days the member's choice stands"
