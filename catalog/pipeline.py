"""The harvest pipeline: one page at a time, store → crosswalk → cluster → commit checkpoint → project.

A page and its checkpoint are committed in one transaction, so a harvest killed at any point
resumes after the last stored page and repeats nothing; the union records the page touched are
queued for projection in the same transaction (an outbox), so Elasticsearch catches up even if the
process dies between the commit and the bulk request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from itertools import islice
from typing import Any, NamedTuple

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from catalog.collector import between_batches, fewer_collections
from catalog.context import Services
from catalog.crosswalk_pool import CrosswalkJob, Item, Mapped, map_all, shared_pool
from catalog.lookahead import checksum, crosswalk_item, likely_to_map, mapper_with, with_next
from catalog.members import member_feeds
from catalog.projector import Projector
from catalog.withdrawals import close_sweep, held_by_run, mark_seen, member_limit
from harvesters.base import HarvestedRecord, Harvester, HarvestError, Page
from indexer.clusterlock import connection_lost, held_since, is_retryable
from indexer.clusterstore import Fresh, KeyedRecord, recluster, write_keys
from indexer.index import ensure_alias, refresh
from indexer.project import CachedDoc, DocCache, drain_queue, queue
from mappings.fingerprint import crosswalk_fingerprint, matcher_fingerprint
from mappings.matchkeys import MatchKeys
from store.db import EncodedJson, chunks, decode_json, execute_many, in_values, transaction
from store.models import Checkpoint, HarvestRun, Member, Reject, SourceRecord, utcnow
from store.state import CROSSWALK_STATE, MATCHER_STATE, claim_empty_state


class UnknownMemberError(LookupError):
    """No member with that code is loaded (run ``unicat members load``)."""


@dataclass
class HarvestReport:
    member: str
    feed: str
    run_id: int | None = None
    status: str = "running"
    pages: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0
    #: Records a complete full harvest did not see, withdrawn at its end (see catalog.withdrawals).
    withdrawn: int = 0
    #: Withdrawals over the member's limit, held for an administrator (``unicat withdrawals``).
    held: list[dict[str, Any]] = field(default_factory=list)
    indexed: int = 0
    index_failed: int = 0
    #: Seconds this run held the clustering lock (the part of a harvest other processes wait for).
    serial_seconds: float = 0.0
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_harvester(kind: str, config: dict[str, Any], services: Services) -> Harvester:
    settings = services.settings
    opts = {"timeout": settings.harvest_timeout, "retries": settings.harvest_retries}
    if kind == "oai":
        from harvesters.oai import OaiFeed, OaiHarvester

        return OaiHarvester(OaiFeed.model_validate(config), **opts)
    if kind == "files":
        from harvesters.files import FileHarvester, FilesFeed

        return FileHarvester(FilesFeed.model_validate(config), **opts)
    if kind == "z3950":
        from harvesters.z3950 import Z3950Feed, Z3950Harvester

        return Z3950Harvester(Z3950Feed.model_validate(config), timeout=settings.harvest_timeout)
    if kind == "sru":
        from harvesters.sru import SruFeed, SruHarvester

        return SruHarvester(SruFeed.model_validate(config), timeout=settings.harvest_timeout)
    raise ValueError(f"unknown feed type {kind!r}")


class StoredPage(NamedTuple):
    """What :func:`store_records` leaves for clustering and projection."""

    seeds: set[int]  # records whose clustering must be recomputed
    known: dict[int, MatchKeys]  # their match keys, computed on the way
    documents: DocCache
    fresh: Fresh  # the records inserted by this page


@dataclass
class _Stored:
    """What deciding about a harvested record needs of its stored row."""

    id: int
    checksum: str
    deleted: bool


def _existing(session: Session, member: str, local_ids: list[str]) -> dict[str, _Stored]:
    found: dict[str, _Stored] = {}
    for batch in chunks(local_ids):
        rows = session.execute(
            select(SourceRecord.local_id, SourceRecord.id, SourceRecord.checksum, SourceRecord.deleted).where(
                SourceRecord.member_code == member,
                in_values(session, SourceRecord.local_id, batch),
            )
        )
        found.update({local_id: _Stored(rid, digest, bool(deleted)) for local_id, rid, digest, deleted in rows})
    return found


def store_records(
    session: Session,
    member: Member,
    feed: str,
    records: Iterable[HarvestedRecord],
    run: HarvestRun,
    mapper: Callable[[list[Item]], list[Mapped]] | None = None,
    sweep: str | None = None,
) -> StoredPage:
    """Store one page of records; return the ids of records whose clustering must be recomputed,
    the match keys computed for them on the way, their documents, and which of them are new.

    ``mapper`` crosswalks a batch (e.g. on several cores, :class:`catalog.crosswalk_pool.CrosswalkPool`).
    ``sweep`` is the full pass the page belongs to: every record in it is marked as seen by it.
    Rows are written with Core statements, a page at a time: the ORM's unit of work cost more
    than the rest of storing.
    """
    records = list(records)
    existing = _existing(session, member.code, [r.local_id for r in records if r.local_id])
    default_syntax = (member.config.get(feed) or {}).get("syntax")
    now = utcnow()
    updates: dict[int, dict[str, Any]] = {}  # record id → new column values
    inserts: dict[str, dict[str, Any]] = {}  # local id → new row
    to_map: list[tuple[HarvestedRecord, str]] = []
    latest, superseded = _latest(session, member, run, records)
    for rec in latest:
        row = existing.get(rec.local_id)
        if rec.deleted:
            if row is not None and not row.deleted:
                row.deleted = True
                updates.setdefault(row.id, {}).update(deleted=True, datestamp=rec.datestamp, updated_at=now)
                run.deleted += 1
            elif row is None and rec.local_id in superseded:  # sent and deleted in one page
                inserts[rec.local_id] = _deleted_row(member, feed, superseded[rec.local_id], rec, run, now)
                run.deleted += 1
            continue
        digest = checksum(rec)
        if row is not None and row.checksum == digest and not row.deleted:
            run.unchanged += 1
            continue
        to_map.append((rec, digest))
    mapped = (mapper or map_all)([crosswalk_item(rec, default_syntax) for rec, _ in to_map])
    keys: dict[str, MatchKeys] = {}
    docs: dict[str, dict[str, Any]] = {}  # local id → its document, decoded from the text stored
    for (rec, digest), (text, problem, doc_keys) in zip(to_map, mapped, strict=True):
        if text is None or doc_keys is None:
            _reject(session, member, run, rec, "crosswalk", problem or "unmappable")
            continue
        doc = docs[rec.local_id] = decode_json(text)
        values = {
            "feed": feed, "syntax": doc["source_format"], "encoding": rec.encoding, "raw": rec.raw,
            "checksum": digest, "datestamp": rec.datestamp, "deleted": False, "document": EncodedJson(text),
            "harvest_run_id": run.id, "updated_at": now,
        }  # fmt: skip
        row = existing.get(rec.local_id)
        if row is not None:
            updates.setdefault(row.id, {}).update(values)
            run.updated += 1
        else:
            inserts[rec.local_id] = {"member_code": member.code, "local_id": rec.local_id, **values, **_new(now)}
            run.added += 1
        keys[rec.local_id] = doc_keys
    if keys:
        claim_empty_state(session, CROSSWALK_STATE, crosswalk_fingerprint())
    ids = {local_id: row.id for local_id, row in existing.items()}
    ids |= _insert(session, member.code, list(inserts.values()))
    _update(session, updates)
    if sweep:
        # A record written here carries this run, and the run its pass (see catalog.withdrawals).
        run.sweep = sweep
        mark_seen(session, member.code, feed, sweep, [rec.local_id for rec in latest if rec.local_id not in keys])
    final = [*updates.items(), *((ids[local_id], values) for local_id, values in inserts.items())]
    by_id = {ids[local_id]: doc for local_id, doc in docs.items()}
    changed = [KeyedRecord(rid, bool(values.get("deleted")), by_id.get(rid)) for rid, values in final]
    local_of = {rid: local_id for local_id, rid in ids.items()}
    documents = DocCache({
        rid: CachedDoc(v["checksum"], by_id[rid], member.code, local_of[rid], v["datestamp"], v["syntax"])
        for rid, v in final if not v.get("deleted") and rid in by_id
    })  # fmt: skip
    known = {ids[local_id]: k for local_id, k in keys.items()}
    live_inserts = [local_id for local_id, values in inserts.items() if not values["deleted"]]
    fresh = Fresh(
        names={ids[local_id]: (member.code, local_id) for local_id in live_inserts},
        keys={ids[local_id]: keys[local_id] for local_id in live_inserts},
    )
    return StoredPage({rid for rid, _ in final}, write_keys(session, changed, known, fresh), documents, fresh)


def _latest(
    session: Session, member: Member, run: HarvestRun, records: list[HarvestedRecord]
) -> tuple[list[HarvestedRecord], dict[str, HarvestedRecord]]:
    """The last version of each record of a page (a page may send a record, then its deletion or
    a newer version), and the live versions that a later one in the page replaced. Records
    without an identifier or marked in error are rejects."""
    latest: dict[str, HarvestedRecord] = {}
    superseded: dict[str, HarvestedRecord] = {}
    for rec in records:
        if rec.error or not rec.local_id:
            _reject(session, member, run, rec, "harvest", rec.error or "record has no identifier")
            continue
        earlier = latest.pop(rec.local_id, None)
        if earlier is not None:
            run.updated += 1  # replaced within the page
            if not earlier.deleted:
                superseded[rec.local_id] = earlier
        latest[rec.local_id] = rec
    return list(latest.values()), superseded


def _deleted_row(
    member: Member, feed: str, sent: HarvestedRecord, deletion: HarvestedRecord, run: HarvestRun, now: Any
) -> dict[str, Any]:
    """A record sent and deleted within one page: kept as received, deleted, never clustered."""
    return {
        "member_code": member.code, "local_id": sent.local_id, "feed": feed, "syntax": sent.syntax,
        "encoding": sent.encoding, "raw": sent.raw, "checksum": checksum(sent),
        "datestamp": deletion.datestamp or sent.datestamp, "deleted": True, "document": None,
        "harvest_run_id": run.id, "updated_at": now, **_new(now),
    }  # fmt: skip


def _new(now: Any) -> dict[str, Any]:
    """The columns a new source record starts with (every row of a page then has the same keys)."""
    return {"first_seen": now, "cluster_id": None}


_INSERT_RECORD = insert(SourceRecord.__table__)


def _insert(session: Session, member_code: str, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert new source records of one member; return their ids by local id.

    One ``executemany`` (see :func:`store.db.execute_many`), then the ids read back through the
    (member, local id) index: cheaper than ``INSERT … RETURNING``, which SQLAlchemy sends as
    statements of many rows whose parameters it renders and processes one by one."""
    if not rows:
        return {}
    execute_many(session, _INSERT_RECORD, rows)
    ids = {local_id: row.id for local_id, row in _existing(session, member_code, [r["local_id"] for r in rows]).items()}
    assert len(ids) == len(rows), "local ids are unique within a page's inserts"
    return ids


def _update(session: Session, updates: dict[int, dict[str, Any]]) -> None:
    """Write changed columns, one executemany per set of columns (deletions, replacements)."""
    table = SourceRecord.__table__
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for rid, values in updates.items():
        by_columns.setdefault(tuple(sorted(values)), []).append(
            {"rid": rid, **{f"v_{k}": v for k, v in values.items()}}
        )
    for columns, params in by_columns.items():
        stmt = update(table).where(table.c.id == bindparam("rid")).values({c: bindparam(f"v_{c}") for c in columns})
        session.execute(stmt, params)


def _reject(session: Session, member: Member, run: HarvestRun, rec: HarvestedRecord, stage: str, reason: str) -> None:
    session.add(
        Reject(
            member_code=member.code,
            harvest_run_id=run.id,
            local_id=rec.local_id or None,
            stage=stage,
            reason=reason,
            raw=rec.raw,
        )
    )
    run.rejected += 1


def _submit_crosswalk(services: Services, member_code: str, feed: str, page: Page | None) -> CrosswalkJob | None:
    """Send the records of ``page`` the store will most likely want mapped to the worker processes."""
    if page is None:
        return None
    try:
        with services.db() as session:
            member = _member(session, member_code)
            items = likely_to_map(session, member_code, (member.config.get(feed) or {}).get("syntax"), page.records)
    except DBAPIError as exc:
        if connection_lost(exc):
            return None  # the database is away: the page is crosswalked when it is stored
        raise
    return shared_pool(services).submit(items, (member_code, feed))


def _commit_page(
    services: Services, member_code: str, feed: str, run_id: int, page: Page, ahead: CrosswalkJob | None = None
) -> tuple[DocCache, set[str], float]:
    """Store a page and its checkpoint in one transaction; return the stored documents by record id,
    the union ids queued for projection and the seconds the clustering lock was held (the serial
    part, see :mod:`indexer.clusterlock`). ``ahead`` holds the page's crosswalk, started earlier
    (see :mod:`catalog.lookahead`).

    A transaction that lost a deadlock is run again as a whole; so is one whose connection was cut
    (the database restarted or failed over): the page is still in hand, and if its commit did
    reach the store before the cut, storing it again finds every record unchanged."""
    for attempt in range(_PAGE_ATTEMPTS):
        try:
            return _commit_page_once(services, member_code, feed, run_id, page, ahead)
        except DBAPIError as exc:
            if attempt == _PAGE_ATTEMPTS - 1:
                raise
            if connection_lost(exc):
                time.sleep(min(8.0, 0.5 * 2**attempt))  # a restart takes seconds
            elif is_retryable(exc):
                time.sleep(0.05 * 2**attempt)
            else:
                raise
    raise AssertionError("unreachable")


_PAGE_ATTEMPTS = 6


def _commit_page_once(
    services: Services, member_code: str, feed: str, run_id: int, page: Page, ahead: CrosswalkJob | None
) -> tuple[DocCache, set[str], float]:
    held = None
    with transaction(services.db) as session:
        member = session.get(Member, member_code)
        run = session.get(HarvestRun, run_id)
        assert member is not None and run is not None
        mapper = mapper_with(shared_pool(services), ahead, (member_code, feed))
        seeds, known, documents, fresh = store_records(session, member, feed, page.records, run, mapper, page.sweep)
        change = recluster(session, seeds, max_size=services.settings.max_cluster_size, known=known, fresh=fresh)
        shared_pool(services).observe(known.values(), (member_code, feed))
        documents.alone = {uid: rid for uid, rid in change.alone.items() if rid in documents}
        documents.stamp = change.stamp
        touched = change.touched | change.removed
        queue(session, touched)
        notes = list(page.notes)
        if page.sweep and page.sweep_complete:
            limit = member_limit(member, services.settings.withdraw_limit)
            outcome = close_sweep(
                session, member, feed, run, page.sweep, limit=limit, max_size=services.settings.max_cluster_size
            )
            touched |= outcome.touched
            notes += [outcome.note] if outcome.note else []
        run.pages += 1
        run.notes = [*(run.notes or []), *notes][-200:]
        state = session.get(Checkpoint, (member_code, feed))
        if state is None:
            session.add(Checkpoint(member_code=member_code, feed=feed, state=page.checkpoint))
        else:
            state.state = page.checkpoint
        held = held_since(session)
    return documents, touched, (time.perf_counter() - held) if held is not None else 0.0


def project_pending(services: Services, cache: DocCache | None = None) -> tuple[int, int]:
    """Drain the projection outbox into the live alias; returns (indexed + deleted, failed).
    ``cache`` holds documents just stored (see :func:`indexer.project.load_sources`)."""
    alias = services.settings.records_alias
    ensure_alias(services.es, alias, services.index_layout)
    done = failed = 0
    while True:
        with transaction(services.db) as session:
            report = drain_queue(services.es, session, alias, cache=cache)
        done += report.indexed + report.deleted
        failed += report.failed
        if report.indexed + report.deleted == 0 or report.failed:
            if done:
                refresh(services.es, alias)  # searchable now, not at the next 30-second refresh
            return done, failed


def _member(session: Session, member_code: str) -> Member:
    member = session.get(Member, member_code)
    if member is None:
        raise UnknownMemberError(f"unknown member {member_code!r} (is it in the members file and loaded?)")
    return member


def _start_run(services: Services, member_code: str, feed: str) -> int:
    with transaction(services.db) as session:
        _member(session, member_code)
        run = HarvestRun(member_code=member_code, feed=feed)
        session.add(run)
        # Claimed here, in a short transaction of its own: a page transaction claiming it would
        # wait on another process's uncommitted claim while holding what that process waits for.
        claim_empty_state(session, CROSSWALK_STATE, crosswalk_fingerprint())
        claim_empty_state(session, MATCHER_STATE, matcher_fingerprint())
        session.flush()
        return run.id


def _finish_run(services: Services, report: HarvestReport) -> None:
    with transaction(services.db) as session:
        run = session.get(HarvestRun, report.run_id)
        assert run is not None
        run.status, run.error, run.finished_at = report.status, report.error, utcnow()
        _copy_counts(run, report)
        report.held = held_by_run(session, run.id)
        report.pages = run.pages
        report.notes = [*list(run.notes or []), *report.notes]


@fewer_collections()
def harvest_feed(
    services: Services,
    member_code: str,
    feed: str,
    *,
    harvester: Harvester | None = None,
    progress: Callable[[HarvestReport], None] | None = None,
    max_pages: int | None = None,
    full: bool = False,
    should_stop: Callable[[int], bool] | None = None,
) -> HarvestReport:
    """Harvest one feed of one member to completion (or ``max_pages`` pages) and project the result;
    everything stored is projected (or noted as deferred) when this returns. ``full`` ignores the
    checkpoint: the member's whole catalogue is read again, and what it no longer holds is withdrawn.
    ``should_stop(run_id)`` is asked after every stored page; when it says yes the run ends there as
    ``interrupted`` with its checkpoint kept, so the next run resumes after that page."""
    run_id = _start_run(services, member_code, feed)
    report = HarvestReport(member=member_code, feed=feed, run_id=run_id)
    projector = Projector(services)
    try:
        try:
            with services.db() as session:
                member = session.get(Member, member_code)
                assert member is not None
                config = dict(member.config.get(feed) or {})
                state = session.get(Checkpoint, (member_code, feed))
                checkpoint = dict(state.state) if state and not full else None
            harvester = harvester or build_harvester(feed, config, services)
            _harvest_pages(services, report, harvester.pages(checkpoint), projector, progress, max_pages, should_stop)
        except HarvestError as exc:
            report.status, report.error = "failed", str(exc)
        projector.finish()
        _projected(report, projector)
    except Exception as exc:  # a bug or an outage: the run is marked failed, stored pages stay
        projector.close()
        report.status, report.error = "failed", f"{type(exc).__name__}: {exc}"
        _finish_run(services, report)
        raise
    _finish_run(services, report)
    return report


def _harvest_pages(
    services: Services,
    report: HarvestReport,
    pages: Iterable[Page],
    projector: Projector,
    progress: Callable[[HarvestReport], None] | None,
    max_pages: int | None,
    should_stop: Callable[[int], bool] | None = None,
) -> None:
    """Store, cluster and queue page after page; the projector indexes each while the next is stored."""
    member_code, feed, run_id = report.member, report.feed, report.run_id
    assert run_id is not None
    ahead = None
    for number, (page, upcoming) in enumerate(with_next(islice(pages, max_pages) if max_pages else pages), 1):
        # This page's crosswalk was started with the previous one; start the next one's now.
        current = ahead or _submit_crosswalk(services, member_code, feed, page)
        ahead = _submit_crosswalk(services, member_code, feed, upcoming)
        stored, touched, serial = _commit_page(services, member_code, feed, run_id, page, current)
        report.serial_seconds += serial
        projector.page_stored(touched, stored)
        _projected(report, projector)
        report.pages = number
        if progress:
            _refresh_counts(services, report)
            progress(report)
        between_batches(number)  # the page's garbage cycles go now, not hundreds of pages later
        if max_pages and number >= max_pages:
            report.status = "interrupted"
            return
        if should_stop is not None and should_stop(run_id):
            report.status = "interrupted"
            report.notes.append(f"stopped on request after page {number}; the checkpoint is kept")
            return
    report.status = "ok"


def _projected(report: HarvestReport, projector: Projector) -> None:
    report.indexed, report.index_failed = projector.indexed, projector.failed
    if projector.deferred and projector.deferred not in report.notes:
        report.notes.append(projector.deferred)


def _refresh_counts(services: Services, report: HarvestReport) -> None:
    try:
        with services.db() as session:
            run = session.get(HarvestRun, report.run_id)
            if run is not None:
                _copy_counts(run, report)
    except DBAPIError as exc:
        if not connection_lost(exc):
            raise  # else: progress shows the last counts until the database is back


def _copy_counts(run: HarvestRun, report: HarvestReport) -> None:
    """The record counts the store holds for a run (each page adds to them in its transaction)."""
    for name in ("added", "updated", "unchanged", "deleted", "rejected", "withdrawn"):
        setattr(report, name, getattr(run, name))


def harvest_member(
    services: Services,
    member_code: str,
    *,
    progress: Callable[[HarvestReport], None] | None = None,
    full: bool = False,
    should_stop: Callable[[int], bool] | None = None,
) -> list[HarvestReport]:
    with services.db() as session:
        feeds = member_feeds(_member(session, member_code))
    reports: list[HarvestReport] = []
    for feed in feeds:
        reports.append(harvest_feed(services, member_code, feed, progress=progress, full=full, should_stop=should_stop))
        if reports[-1].status == "interrupted" and should_stop is not None:
            break  # a stopped member harvest does not go on with its next feed
    return reports


class _ListHarvester:
    def __init__(self, records: list[HarvestedRecord]) -> None:
        self.records = records

    def pages(self, checkpoint: dict[str, Any] | None) -> Iterable[Page]:
        for batch in chunks(self.records, 500):
            yield Page(records=batch, checkpoint=checkpoint or {})


def ingest(
    services: Services, member_code: str, records: Iterable[HarvestedRecord], feed: str = "files"
) -> HarvestReport:
    """Store, cluster and project records handed over directly (tests, imports, ILL fixtures)."""
    return harvest_feed(services, member_code, feed, harvester=_ListHarvester(list(records)))
