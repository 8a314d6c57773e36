"""Projection of union records from the store into Elasticsearch (bulk, failures kept)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any, NamedTuple

from elasticsearch import Elasticsearch
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from indexer import bulk
from indexer.union import MemberInfo, SourceView, build_union, to_es_document
from store.db import chunks, execute_many, in_values
from store.models import Cluster, IndexFailure, Member, ProjectionQueue, SourceRecord, as_utc, utcnow


@dataclass
class ProjectionReport:
    indexed: int = 0
    deleted: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


def members_by_code(session: Session) -> dict[str, MemberInfo]:
    return {
        m.code: MemberInfo(code=m.code, name_zh=m.name_zh, name_en=m.name_en, region=m.region, role=m.role)
        for m in session.scalars(select(Member))
    }


class CachedDoc(NamedTuple):
    """A source record the caller has just stored, as the projection reads it."""

    checksum: str  # of the raw record: the stored row must still have it
    document: dict[str, Any]
    member_code: str
    local_id: str
    datestamp: str | None
    syntax: str | None


class DocCache(dict[int, CachedDoc]):
    """Documents the caller already holds, by record id; and the union records known to consist
    of one of them alone (``alone``: union id → record id), as the clustering that wrote
    ``stamp`` as their ``updated_at`` left them.

    A union record in ``alone`` whose stored ``updated_at`` is still ``stamp`` has not been
    re-clustered since (every clustering writes every group it touches): its document is built
    from the cache without reading its source records. That is most union records of a harvest,
    whose records match nothing, and saved ~10 µs a record of the pipeline's thread."""

    def __init__(self, docs: dict[int, CachedDoc] | None = None) -> None:
        super().__init__(docs or {})
        self.alone: dict[str, int] = {}
        self.stamp: datetime | None = None


def load_sources(
    session: Session, union_ids: list[str], members: dict[str, MemberInfo], cache: DocCache | None = None
) -> dict[str, list[SourceView]]:
    """Live source records of each union id, ready for :func:`indexer.union.build_union`.

    Documents found in ``cache`` with the stored checksum are not read and decoded again (the
    pipeline hands over the page it has just stored).

    Liveness is filtered here, not in SQL: with ``deleted`` in the WHERE clause SQLite's planner
    picks the (useless) index on ``deleted`` and scans every live record for each batch."""
    cache = cache if cache is not None else DocCache()
    out: dict[str, list[SourceView]] = {uid: [] for uid in union_ids}
    for whole in chunks(union_ids):
        built = _built_alone(session, whole, members, cache)
        for uid, view in built.items():
            out[uid].append(view)
        batch = [uid for uid in whole if uid not in built]
        if not batch:
            continue
        rows = [
            row
            for row in session.execute(
                select(
                    SourceRecord.id,
                    SourceRecord.cluster_id,
                    SourceRecord.member_code,
                    SourceRecord.local_id,
                    SourceRecord.checksum,
                    SourceRecord.datestamp,
                    SourceRecord.syntax,
                    SourceRecord.deleted,
                    SourceRecord.document.is_not(None).label("mapped"),
                ).where(in_values(session, SourceRecord.cluster_id, batch))
            )
            if row.mapped and not row.deleted
        ]
        documents = {row.id: cached.document for row in rows
                     if (cached := cache.get(row.id)) is not None and cached.checksum == row.checksum}
        missing = [row.id for row in rows if row.id not in documents]
        for ids in chunks(missing):
            stmt = select(SourceRecord.id, SourceRecord.document).where(in_values(session, SourceRecord.id, ids))
            documents.update(session.execute(stmt).all())
        for row in rows:
            out[row.cluster_id].append(
                SourceView(members[row.member_code], row.local_id, documents[row.id], row.datestamp, row.syntax)
            )
    return out


def _built_alone(
    session: Session, union_ids: list[str], members: dict[str, MemberInfo], cache: DocCache
) -> dict[str, SourceView]:
    """The one source of each union record of ``cache.alone`` not re-clustered since (see
    :class:`DocCache`)."""
    candidates = [uid for uid in union_ids if uid in cache.alone]
    if not candidates or cache.stamp is None:
        return {}
    rows = session.execute(select(Cluster.id, Cluster.updated_at).where(in_values(session, Cluster.id, candidates)))
    views: dict[str, SourceView] = {}
    for uid, updated_at in rows:
        if as_utc(updated_at) == cache.stamp:
            doc = cache[cache.alone[uid]]
            views[uid] = SourceView(members[doc.member_code], doc.local_id, doc.document, doc.datestamp, doc.syntax)
    return views


def union_documents(
    session: Session, union_ids: Iterable[str], cache: DocCache | None = None
) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """(union id, ES document or None when the union record no longer exists).

    ``union_ids`` is consumed 500 at a time (each batch sorted, an id repeated within it built
    once), so a stream of every union id (:func:`union_id_stream`) is projected in constant memory."""
    members = members_by_code(session)
    now = datetime.now(UTC).isoformat()
    stream = iter(union_ids)
    while batch := sorted(set(islice(stream, 500))):
        sources = load_sources(session, batch, members, cache)
        for uid, views in sources.items():
            yield uid, (to_es_document(build_union(uid, views), now) if views else None)


def actions_for(
    session: Session, index: str, union_ids: Iterable[str], report: ProjectionReport, cache: DocCache | None = None
) -> Iterator[dict]:
    """Bulk actions writing the union records to ``index`` (deletions are counted in ``report``)."""
    for uid, doc in union_documents(session, union_ids, cache):
        if doc is None:
            report.deleted += 1
            yield {"_op_type": "delete", "_index": index, "_id": uid}
        else:
            yield {"_op_type": "index", "_index": index, "_id": uid, "_source": doc}


def send(es: Elasticsearch, actions: Iterable[dict], chunk_size: int = 500) -> Iterator[tuple[bool, dict]]:
    """Bulk requests; each action's outcome, failures included (nothing raised per document; see
    :mod:`indexer.bulk`)."""
    return bulk.send(es, actions, chunk_size)


def send_overlapped(
    es: Elasticsearch, actions: Iterable[dict], chunk_size: int = 500, threads: int = 2
) -> Iterator[tuple[bool, dict]]:
    """Like :func:`send`, but up to ``threads`` bulk requests are in flight while the caller's
    thread builds the next chunk of documents: on a rebuild, building union documents (Python)
    and indexing them (Elasticsearch) then use the cores at the same time instead of in turn.
    Outcomes come back in the order of the actions."""
    pending: deque[Future[list[tuple[bool, dict]]]] = deque()

    def bulk_chunk(chunk: list[dict]) -> list[tuple[bool, dict]]:
        return list(send(es, chunk, chunk_size))

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bulk") as pool:
        chunk: list[dict] = []
        for action in actions:
            chunk.append(action)
            if len(chunk) >= chunk_size:
                pending.append(pool.submit(bulk_chunk, chunk))
                chunk = []
                while len(pending) > threads:
                    yield from pending.popleft().result()
        if chunk:
            pending.append(pool.submit(bulk_chunk, chunk))
        while pending:
            yield from pending.popleft().result()


def record(session: Session, index: str, results: Iterable[tuple[bool, dict]], report: ProjectionReport) -> None:
    """Count the outcomes in ``report``; store every failure as an :class:`IndexFailure`."""
    for ok, item in results:
        op, result = next(iter(item.items()))
        if ok or (op == "delete" and result.get("status") == 404):
            if op == "index":
                report.indexed += 1
            continue
        reason = str(result.get("error") or result)[:2000]
        report.failed += 1
        report.failures.append((result.get("_id", "?"), reason))
        session.add(IndexFailure(union_id=result.get("_id", "?"), index_name=index, reason=reason))


def project(
    es: Elasticsearch,
    session: Session,
    index: str,
    union_ids: Iterable[str],
    *,
    chunk_size: int = 500,
    cache: DocCache | None = None,
    bulk_threads: int = 1,
) -> ProjectionReport:
    """Write the union records to ``index`` (an alias or a concrete index); keep every failure.
    With ``bulk_threads`` > 1 the bulk requests overlap the building of the next documents."""
    report = ProjectionReport()
    actions = actions_for(session, index, union_ids, report, cache)
    if bulk_threads > 1:
        results = send_overlapped(es, actions, chunk_size, bulk_threads)
    else:
        results = send(es, actions, chunk_size)
    record(session, index, results, report)
    return report


_INSERT_QUEUED = insert(ProjectionQueue.__table__)


def queue(session: Session, union_ids: Iterable[str]) -> None:
    """Note, inside the caller's transaction, that these union records must be re-projected.

    An id already queued gets a new ``queued_at``: a drain that read the older stamp (and built
    the document from the older state) then leaves the row for the next drain."""
    ids = sorted(set(union_ids))
    if not ids:
        return
    now = utcnow()
    existing: set[str] = set()
    for batch in chunks(ids):
        stmt = select(ProjectionQueue.union_id).where(in_values(session, ProjectionQueue.union_id, batch))
        found = list(session.scalars(stmt))
        if found:
            session.execute(update(ProjectionQueue).where(ProjectionQueue.union_id.in_(found)).values(queued_at=now))
            existing.update(found)
    execute_many(session, _INSERT_QUEUED, [{"union_id": uid, "queued_at": now} for uid in ids if uid not in existing])


#: What a drain read from the outbox: union id → the ``queued_at`` it saw.
Queued = dict[str, datetime]


def queued(session: Session, limit: int = 5000) -> Queued:
    return dict(session.execute(select(ProjectionQueue.union_id, ProjectionQueue.queued_at).limit(limit)).all())


def dequeue(session: Session, projected: Queued) -> None:
    """Remove projected union records from the outbox, unless they were queued again since the
    drain read them (another page or process changed them while their documents were built)."""
    if not projected:
        return
    # One statement per stamp and 500 ids (a drain reads a page's ids, queued with one or two
    # stamps) instead of one parameter set per id: ~7 µs a record less on a harvest.
    by_stamp: dict[datetime, list[str]] = {}
    for uid, stamp in projected.items():
        by_stamp.setdefault(stamp, []).append(uid)
    table = ProjectionQueue.__table__
    connection = session.connection()
    for stamp, uids in by_stamp.items():
        for batch in chunks(uids):
            connection.execute(
                table.delete().where(table.c.queued_at == stamp, in_values(session, table.c.union_id, batch))
            )


def drain_queue(
    es: Elasticsearch, session: Session, index: str, *, limit: int = 5000, cache: DocCache | None = None
) -> ProjectionReport:
    """Project what the outbox holds; failed ids stay queued (and are recorded in ``index_failure``)."""
    ids = queued(session, limit)
    if not ids:
        return ProjectionReport()
    report = project(es, session, index, list(ids), cache=cache)
    failed = {uid for uid, _ in report.failures}
    dequeue(session, {uid: stamp for uid, stamp in ids.items() if uid not in failed})
    return report


def union_id_stream(session: Session, batch: int = 5000) -> Iterator[str]:
    """Every union id in order, read ``batch`` at a time (keyset pages: the store's union ids are
    never all in memory at once)."""
    last = ""
    while ids := list(session.scalars(select(Cluster.id).where(Cluster.id > last).order_by(Cluster.id).limit(batch))):
        yield from ids
        last = ids[-1]
