"""Rebuilding the search projection from the record store, with no downtime."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from catalog.collector import between_batches, fewer_collections
from catalog.context import Services
from catalog.crosswalk_pool import CrosswalkPool, shared_pool
from catalog.quality import derivation_state
from indexer.clusterstore import KeyedRecord, recluster_all, write_keys
from indexer.index import create_index, ensure_alias, refresh, switch_alias
from indexer.project import project, union_id_stream
from mappings.fingerprint import crosswalk_fingerprint
from mappings.matchkeys import MatchKeys
from store.db import EncodedJson, decode_json, transaction
from store.models import Cluster, ProjectionQueue, SourceRecord, utcnow
from store.state import CROSSWALK_STATE, write_state

#: Source records re-crosswalked per transaction.
RECROSSWALK_BATCH = 500


#: ``progress(phase, done, total)``: ``recluster`` (total None: not countable) then ``index``.
RebuildProgress = Callable[[str, int, int | None], None]


def _counted(
    ids: Iterable[str], total: int, progress: RebuildProgress | None, every: int = 500
) -> Iterator[str]:
    """The ids as the projection consumes them, telling ``progress`` every ``every`` documents and
    letting the garbage cycles of each ``every`` go (see :func:`catalog.collector.between_batches`)."""
    if progress:
        progress("index", 0, total)
    n = 0
    for n, union_id in enumerate(ids, 1):
        yield union_id
        if n % every == 0:
            between_batches(n // every)
        if progress and (n % every == 0 or n == total):
            progress("index", n, total)
    if progress and n != total:  # the store changed since it was counted
        progress("index", n, n)


#: Bulk requests in flight during a rebuild while the next documents are built (as the ceiling's
#: ``parallel_bulk`` with 2 threads): Python and Elasticsearch then use the cores together.
REBUILD_BULK_THREADS = 2


@fewer_collections()
def rebuild_index(services: Services, *, recluster: bool = False,
                  progress: RebuildProgress | None = None, keep_old: bool = False) -> dict[str, Any]:
    """Write every union record into a fresh index, then swap the alias to it atomically.

    Searches keep hitting the old index until the swap. With ``recluster`` the clustering is first
    recomputed from scratch (same recipe as the incremental path, so the same partition). With
    ``keep_old`` the index the alias left is kept (``result["previous"]``) for a rollback.
    """
    result: dict[str, Any] = {"alias": services.settings.records_alias}
    if recluster:
        if progress:
            progress("recluster", 0, None)
        with transaction(services.db) as session:
            change = recluster_all(session, max_size=services.settings.max_cluster_size)
        result["clusters"] = {"kept_or_new": len(change.touched), "removed": len(change.removed)}
    ensure_alias(services.es, services.settings.records_alias, services.index_layout)
    index = create_index(services.es, services.settings.records_alias, layout=services.index_layout)
    with transaction(services.db) as session:
        # streamed from the store: neither the union ids nor their documents are all held at once
        total = session.scalar(select(func.count()).select_from(Cluster)) or 0
        ids = _counted(union_id_stream(session), total, progress)
        report = project(services.es, session, index, ids, bulk_threads=REBUILD_BULK_THREADS)
        if not report.failed:
            session.execute(delete(ProjectionQueue))
    refresh(services.es, index)
    previous = switch_alias(services.es, services.settings.records_alias, index, delete_old=not keep_old)
    result.update(previous=previous, index=index, indexed=report.indexed, failed=report.failed)
    result.update(derivation_state(services))
    return result


@dataclass
class RecrosswalkReport:
    records: int = 0
    changed: int = 0
    #: Records the current crosswalk cannot map: member, local id, reason. They keep their document.
    failed: list[dict[str, str]] = field(default_factory=list)


_REWRITE = (
    update(SourceRecord.__table__)
    .where(SourceRecord.__table__.c.id == bindparam("rid"))
    .values(document=bindparam("doc"), syntax=bindparam("syntax"), updated_at=bindparam("now"))
)


def _recrosswalk_batch(session: Session, pool: CrosswalkPool, rows: list[Any], report: RecrosswalkReport) -> None:
    """Map a batch of stored records again; write the documents (and match keys) that changed."""
    mapped = pool.map([(row.raw, row.encoding, row.syntax) for row in rows])
    changed: list[KeyedRecord] = []
    keys: dict[int, MatchKeys] = {}
    now = utcnow()
    texts: dict[int, str] = {}
    for row, (text, problem, doc_keys) in zip(rows, mapped, strict=True):
        if text is None or doc_keys is None:
            report.failed.append({"member": row.member_code, "local_id": row.local_id, "reason": problem or ""})
            continue
        doc = decode_json(text)  # as the JSON column gives it back, to compare with the stored one
        if doc != row.document:
            changed.append(KeyedRecord(row.id, False, doc))
            keys[row.id] = doc_keys
            texts[row.id] = text
    if changed:
        params = [{"rid": r.id, "doc": EncodedJson(texts[r.id]), "syntax": r.document["source_format"], "now": now}
                  for r in changed]
        session.execute(_REWRITE, params)
        write_keys(session, changed, keys)
    report.records += len(rows)
    report.changed += len(changed)


@fewer_collections()
def recrosswalk(services: Services, *, progress: Callable[[int, int], None] | None = None) -> RecrosswalkReport:
    """Derive every live record's document and match keys again from its raw record, with the
    crosswalks of this version (after an upgrade changed them; no member is asked again).

    Each record is mapped under the syntax it was stored with (declared for its feed, or detected
    when it was harvested). A record the current crosswalk cannot map keeps the document it has
    and is reported: nothing stored is lost. Batches are committed one by one, so a harvest can
    interleave; clusters and the index are brought up to date afterwards by
    :func:`rebuild_index` with ``recluster`` (the CLI runs both). ``progress(done, total)`` is
    called after each batch.
    """
    report = RecrosswalkReport()
    pool = shared_pool(services)
    with services.db() as session:
        total = session.scalar(select(func.count()).select_from(SourceRecord).where(SourceRecord.deleted.is_(False)))
    last = 0
    # keyset batches: the ids of every live record are never all in memory at once
    for number in count(1):
        with transaction(services.db) as session:
            rows = session.execute(
                select(
                    SourceRecord.id, SourceRecord.member_code, SourceRecord.local_id, SourceRecord.raw,
                    SourceRecord.encoding, SourceRecord.syntax, SourceRecord.document, SourceRecord.deleted,
                ).where(SourceRecord.id > last).order_by(SourceRecord.id).limit(RECROSSWALK_BATCH)
            ).all()
            if not rows:
                break
            last = rows[-1].id
            # liveness filtered here, not in SQL (see indexer.project.load_sources: SQLite's planner
            # would pick the index on ``deleted`` over the primary key)
            _recrosswalk_batch(session, pool, [row for row in rows if not row.deleted], report)
        between_batches(number)
        if progress:
            progress(report.records, total or 0)
    with transaction(services.db) as session:
        write_state(session, CROSSWALK_STATE, crosswalk_fingerprint())
    return report
