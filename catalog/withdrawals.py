"""Withdrawals: a member's records that a complete full harvest did not see leave the catalogue.

Only OAI-PMH has a deletion signal, and only from a provider that keeps deletions. A file dump, a
Z39.50 or SRU harvest of the whole catalogue, or a full OAI-PMH run says what the member holds
*now*; whatever the member's feed held before and the pass did not see has been withdrawn. A record
a full pass writes (new or changed) carries the run that wrote it, and that run the pass's id
(``harvest_run.sweep``); the pipeline notes the local ids of the other records a page of the pass
saw, unchanged or rejected, under the pass's id (``sweep_seen``, kept while a killed pass resumes).
When the pass's last page is stored, :func:`close_sweep` runs in the same transaction:

- the records of that member and feed still live and not seen by the pass are the withdrawals;
- if they are more than the member's share limit (``withdraw_limit`` in the members file, else the
  ``UNICAT_WITHDRAW_LIMIT`` setting) the pass is held as a :class:`PendingWithdrawal` for an
  administrator (``unicat withdrawals list|apply|discard``), since a member whose export broke
  half-way looks exactly like a member that weeded its stacks;
- otherwise they are marked deleted (the raw record is kept: a record that comes back is live
  again), re-clustered, and their union records re-projected, so their holdings leave the index.

A run that failed or stopped early never reaches its last page, so it withdraws nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from catalog.context import Services
from indexer.clusterstore import KeyedRecord, recluster, write_keys
from indexer.project import queue
from store.db import chunks, execute_many, transaction
from store.models import HarvestRun, Member, PendingWithdrawal, SourceRecord, SweepSeen, utcnow


class WithdrawalError(LookupError):
    """No such pending withdrawal, or it was already decided."""


@dataclass
class SweepOutcome:
    """What closing a full pass did: records withdrawn, or the pending withdrawal that holds them."""

    withdrawn: int = 0
    held: int | None = None  # id of the pending withdrawal
    touched: set[str] = field(default_factory=set)
    note: str | None = None


def member_limit(member: Member, default: float) -> float:
    value = (member.config or {}).get("withdraw_limit")
    return float(value) if value is not None else default


def _live(member_code: str, feed: str) -> tuple[Any, ...]:
    return (SourceRecord.member_code == member_code, SourceRecord.feed == feed, SourceRecord.deleted.is_(False))


def close_sweep(
    session: Session, member: Member, feed: str, run: HarvestRun, sweep: str, *, limit: float, max_size: int
) -> SweepOutcome:
    """Withdraw (or hold) the member's records of ``feed`` that the full pass ``sweep`` did not see."""
    live = session.scalar(select(func.count()).select_from(SourceRecord).where(*_live(member.code, feed))) or 0
    seen = select(SweepSeen.local_id).where(SweepSeen.sweep == sweep, SweepSeen.local_id == SourceRecord.local_id)
    written = select(HarvestRun.id).where(HarvestRun.sweep == sweep)
    not_written = or_(SourceRecord.harvest_run_id.is_(None), SourceRecord.harvest_run_id.not_in(written))
    unseen = list(
        session.scalars(
            select(SourceRecord.id)
            .where(*_live(member.code, feed), not_written, ~seen.exists())
            .order_by(SourceRecord.id)
        )
    )
    # this pass is over, and so is any abandoned one of the same feed (e.g. restarted with --full)
    session.execute(delete(SweepSeen).where(SweepSeen.member_code == member.code, SweepSeen.feed == feed))
    _supersede(session, member.code, feed)
    if not unseen:
        return SweepOutcome()
    share = len(unseen) / live
    if share > limit:
        pending = PendingWithdrawal(
            member_code=member.code, feed=feed, harvest_run_id=run.id, sweep=sweep, record_ids=unseen,
            live=live, max_share=limit,
        )  # fmt: skip
        session.add(pending)
        session.flush()
        note = (
            f"withdrawal held: this full harvest did not see {len(unseen)} of {live} records "
            f"({share:.0%}, above the limit of {limit:.0%}); nothing was withdrawn. "
            f"Check the feed, then `unicat withdrawals apply {pending.id}` or `discard {pending.id}`"
        )
        return SweepOutcome(held=pending.id, note=note)
    touched = withdraw(session, unseen, max_size=max_size)
    run.withdrawn = (run.withdrawn or 0) + len(unseen)
    note = f"withdrawn: {len(unseen)} of {live} records were not in this full harvest"
    return SweepOutcome(withdrawn=len(unseen), touched=touched, note=note)


_INSERT_SEEN = {
    "postgresql": pg_insert(SweepSeen.__table__).on_conflict_do_nothing(),
    "sqlite": sqlite_insert(SweepSeen.__table__).on_conflict_do_nothing(),
}


def mark_seen(session: Session, member_code: str, feed: str, sweep: str, local_ids: list[str]) -> None:
    """Note that the full pass ``sweep`` saw these records (the pipeline passes those it did not write).
    A record seen twice (in two Z39.50 queries, or re-sent after a resume) is noted once."""
    stmt = _INSERT_SEEN["postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"]
    for batch in chunks(list(dict.fromkeys(local_ids))):
        rows = [{"sweep": sweep, "local_id": lid, "member_code": member_code, "feed": feed} for lid in batch]
        execute_many(session, stmt, rows)


def _supersede(session: Session, member_code: str, feed: str) -> None:
    """A newer complete pass decides afresh: older held passes of the same feed lapse."""
    session.execute(
        update(PendingWithdrawal)
        .where(
            PendingWithdrawal.member_code == member_code,
            PendingWithdrawal.feed == feed,
            PendingWithdrawal.status == "pending",
        )
        .values(status="superseded", decided_at=utcnow())
    )


def withdraw(session: Session, record_ids: list[int], *, max_size: int) -> set[str]:
    """Mark records deleted (raw kept), drop their match keys, re-cluster and queue projection;
    return the union ids touched."""
    if not record_ids:
        return set()
    now = utcnow()
    for batch in chunks(record_ids):
        session.execute(
            update(SourceRecord).where(SourceRecord.id.in_(batch)).values(deleted=True, updated_at=now)
        )
    write_keys(session, [KeyedRecord(rid, True, None) for rid in record_ids])
    change = recluster(session, set(record_ids), max_size=max_size)
    touched = change.touched | change.removed
    queue(session, touched)
    return touched


def _view(pending: PendingWithdrawal, session: Session, sample: int = 20) -> dict[str, Any]:
    ids = list(pending.record_ids or [])
    local_ids = list(
        session.scalars(select(SourceRecord.local_id).where(SourceRecord.id.in_(ids[:sample])).order_by(SourceRecord.id))
    )
    return {
        "id": pending.id,
        "member": pending.member_code,
        "feed": pending.feed,
        "run": pending.harvest_run_id,
        "status": pending.status,
        "records": len(ids),
        "live": pending.live,
        "share": round(len(ids) / pending.live, 4) if pending.live else None,
        "limit": pending.max_share,
        "sample_local_ids": local_ids,
        "created_at": pending.created_at.isoformat() if pending.created_at else None,
        "decided_at": pending.decided_at.isoformat() if pending.decided_at else None,
        "decided_by": pending.decided_by,
    }


def list_withdrawals(
    services: Services, *, status: str | None = "pending", member: str | None = None
) -> list[dict[str, Any]]:
    """Held (or, with ``status=None``, all) withdrawals, newest first."""
    with services.db() as session:
        stmt = select(PendingWithdrawal).order_by(PendingWithdrawal.id.desc()).limit(200)
        if status:
            stmt = stmt.where(PendingWithdrawal.status == status)
        if member:
            stmt = stmt.where(PendingWithdrawal.member_code == member)
        return [_view(p, session) for p in session.scalars(stmt)]


def held_by_run(session: Session, run_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(PendingWithdrawal).where(PendingWithdrawal.harvest_run_id == run_id))
    return [_view(p, session, sample=0) for p in rows]


def _pending(session: Session, pending_id: int) -> PendingWithdrawal:
    pending = session.get(PendingWithdrawal, pending_id)
    if pending is None:
        raise WithdrawalError(f"no withdrawal {pending_id}")
    if pending.status != "pending":
        raise WithdrawalError(f"withdrawal {pending_id} is {pending.status}, not pending")
    return pending


def apply_withdrawal(services: Services, pending_id: int, *, by: str | None = None) -> dict[str, Any]:
    """Withdraw a held pass's records, except those harvested again since (they are live)."""
    with transaction(services.db) as session:
        pending = _pending(session, pending_id)
        still = []
        for batch in chunks(list(pending.record_ids or [])):
            still.extend(
                session.scalars(
                    select(SourceRecord.id).where(
                        SourceRecord.id.in_(batch),
                        SourceRecord.deleted.is_(False),
                        or_(
                            SourceRecord.harvest_run_id.is_(None),
                            SourceRecord.harvest_run_id <= (pending.harvest_run_id or 0),
                        ),
                    )
                )
            )
        withdraw(session, sorted(still), max_size=services.settings.max_cluster_size)
        run = session.get(HarvestRun, pending.harvest_run_id) if pending.harvest_run_id else None
        if run is not None:
            run.withdrawn = (run.withdrawn or 0) + len(still)
        pending.status, pending.decided_at, pending.decided_by = "applied", utcnow(), by
        result = {**_view(pending, session, sample=0), "withdrawn": len(still)}
    from catalog.pipeline import project_pending

    project_pending(services)
    return result


def discard_withdrawal(services: Services, pending_id: int, *, by: str | None = None) -> dict[str, Any]:
    """Keep every record of a held pass (the feed was wrong, not the catalogue)."""
    with transaction(services.db) as session:
        pending = _pending(session, pending_id)
        pending.status, pending.decided_at, pending.decided_by = "discarded", utcnow(), by
        return _view(pending, session, sample=0)
