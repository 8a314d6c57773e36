"""The harvest dashboard: per member the last good run, counts, errors, freshness and the next run;
history for charts; starting a harvest now and stopping a running one at a page boundary; the
rejects of a member as the raw records received plus a TSV of reasons; index failures with the
document that was refused."""

from __future__ import annotations

import io
import logging
import threading
import time
import zipfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from admin import audit, harvestqueue
from admin.models import HarvestStop
from admin.roles import Conflict, NotFound, Unavailable
from catalog.context import Services
from catalog.members import member_feeds, schedule_interval
from ill.access import Actor
from store.db import transaction
from store.models import (
    Checkpoint,
    HarvestRun,
    IndexFailure,
    Member,
    ProjectionQueue,
    Reject,
    SourceRecord,
    as_utc,
)

log = logging.getLogger(__name__)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _run_row(run: HarvestRun) -> dict[str, Any]:
    return {"id": run.id, "feed": run.feed, "status": run.status, "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at), "pages": run.pages, "added": run.added, "changed": run.updated,
            "deleted": run.deleted + run.withdrawn, "rejected": run.rejected, "error": run.error,
            "notes": list(run.notes or [])[-5:]}


def member_rows(services: Services, member: str | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """One dashboard line per member (``member``: only that one); ``queued`` is the member's job on
    the worker's queue, if any (``queued``, then ``running`` once a worker took it)."""
    now = now or datetime.now(UTC)
    on_queue = harvestqueue.queued(services.settings) if services.settings.console_harvests != "thread" else {}
    with services.db() as session:
        members = session.scalars(select(Member).order_by(Member.code)).all()
        if member:
            members = [m for m in members if m.code == member]
        counts = dict(session.execute(select(SourceRecord.member_code, func.count())
                                      .where(SourceRecord.deleted.is_(False)).group_by(SourceRecord.member_code)).all())
        rows = []
        for m in members:
            runs = session.scalars(select(HarvestRun).where(HarvestRun.member_code == m.code)
                                   .order_by(HarvestRun.id.desc()).limit(20)).all()
            rows.append({**_member_row(m, runs, counts.get(m.code, 0), now), "queued": on_queue.get(m.code)})
        return rows


def _member_row(m: Member, runs: Any, records: int, now: datetime) -> dict[str, Any]:
    last = runs[0] if runs else None
    last_ok = next((r for r in runs if r.status == "ok"), None)
    ok_at = as_utc(last_ok.finished_at) if last_ok else None
    interval = schedule_interval((m.config or {}).get("schedule", "1d"))
    started = as_utc(last.started_at) if last else None
    next_run = None if interval is None else (started + interval if started else now)
    return {
        "code": m.code, "name": {"zh": m.name_zh, "en": m.name_en}, "region": m.region,
        "feeds": member_feeds(m), "schedule": (m.config or {}).get("schedule", "1d"),
        "active": not (m.config or {}).get("disabled", False), "records": records,
        "running": next((r.id for r in runs if r.status == "running"), None),
        "last": _run_row(last) if last else None,
        "last_ok": _run_row(last_ok) if last_ok else None,
        "lag_hours": round((now - ok_at).total_seconds() / 3600, 1) if ok_at else None,
        "next_run": _iso(next_run),
        "errors": [_run_row(r) for r in runs if r.status == "failed"][:5],
        "runs": [_run_row(r) for r in runs],
    }


def history(services: Services, member: str | None = None, days: int = 30) -> dict[str, Any]:
    """Chart material: runs (records added/changed per run), rejects per day, the projection backlog."""
    since = datetime.now(UTC) - timedelta(days=days)
    with services.db() as session:
        stmt = select(HarvestRun).where(HarvestRun.started_at >= since).order_by(HarvestRun.id)
        rej = select(Reject.created_at).where(Reject.created_at >= since)
        if member:
            stmt, rej = stmt.where(HarvestRun.member_code == member), rej.where(Reject.member_code == member)
        runs = [{"id": r.id, "member": r.member_code, "day": r.started_at.date().isoformat(), "status": r.status,
                 "records": r.added + r.updated + r.deleted} for r in session.scalars(stmt)]
        per_day = Counter(at.date().isoformat() for at in session.scalars(rej))
        backlog = session.scalar(select(func.count()).select_from(ProjectionQueue)) or 0
    return {"runs": runs[-50:], "rejects_per_day": sorted(per_day.items()), "backlog": backlog}


# --- start and stop -------------------------------------------------------------------------------------

def stop_check(services: Services):  # noqa: ANN201 - a predicate for catalog.pipeline
    """``should_stop(run_id)`` for :func:`catalog.pipeline.harvest_feed`: has anyone asked this run to stop?"""

    def should_stop(run_id: int) -> bool:
        with services.db() as session:
            return session.get(HarvestStop, run_id) is not None

    return should_stop


@dataclass(frozen=True)
class Started:
    """Where a console harvest went: ``worker`` (with its arq job id) or ``thread``."""

    where: str
    job_id: str | None = None
    thread: threading.Thread | None = None


def start_harvest(services: Services, actor: Actor, member_code: str, *, full: bool = False) -> Started:
    """Harvest every feed of the member now: queued for the worker when there is one
    (:mod:`admin.harvestqueue`), else in a background thread of this process. Full harvests come
    from the tasks page and always run in a thread."""
    worker = not full and harvestqueue.uses_worker(services.settings)
    with transaction(services.db) as session:
        if session.get(Member, member_code) is None:
            raise NotFound(f"unknown member {member_code}")
        busy = session.scalar(select(HarvestRun.id).where(HarvestRun.member_code == member_code,
                                                          HarvestRun.status == "running").limit(1))
        if busy is not None:
            raise Conflict(f"harvest run {busy} of {member_code} is still running")
        if worker:
            if member_code in harvestqueue.queued(services.settings):
                raise Conflict(f"a harvest of {member_code} is queued for the worker already")
            try:  # queued before the audit entry commits: a queue that does not answer leaves no entry
                job_id = harvestqueue.enqueue(services.settings, member_code)
            except harvestqueue.QueueUnavailable as exc:
                raise Unavailable(str(exc)) from exc
            audit.record(session, actor, "harvest.start", member_code, member=member_code,
                         after={"full": full, "job": job_id})
            return Started("worker", job_id=job_id)
        audit.record(session, actor, "harvest.start", member_code, member=member_code, after={"full": full})
    return Started("thread", thread=_in_thread(services, member_code, full))


def _latest_run(services: Services, member_code: str) -> int:
    with services.db() as session:
        return session.scalar(select(func.max(HarvestRun.id)).where(HarvestRun.member_code == member_code)) or 0


def _in_thread(services: Services, member_code: str, full: bool, wait: float = 10.0) -> threading.Thread:
    """Start the harvest in a thread and return once its first run is stored (or it ended, or
    ``wait`` passed), so the page the console shows next already lists the run as running."""
    from catalog.pipeline import harvest_member

    def run() -> None:
        try:
            harvest_member(services, member_code, full=full, should_stop=stop_check(services))
        except Exception:  # the failed run is stored with its error; the log keeps the traceback
            log.exception("harvest of %s started from the console failed", member_code)

    before = _latest_run(services, member_code)
    thread = threading.Thread(target=run, name=f"harvest-{member_code}", daemon=True)
    thread.start()
    deadline = time.monotonic() + wait
    while thread.is_alive() and _latest_run(services, member_code) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    return thread


def request_stop(services: Services, actor: Actor, run_id: int) -> str:
    """Ask a running harvest to stop after its current page; the member code it belongs to."""
    with transaction(services.db) as session:
        run = session.get(HarvestRun, run_id)
        if run is None:
            raise NotFound(f"no harvest run {run_id}")
        if run.status == "running" and session.get(HarvestStop, run_id) is None:
            session.add(HarvestStop(run_id=run_id, requested_by=actor.label))
            audit.record(session, actor, "harvest.stop", f"run {run_id}", member=run.member_code,
                         before={"status": run.status, "pages": run.pages})
        return run.member_code


def run_member(services: Services, run_id: int) -> str | None:
    with services.db() as session:
        run = session.get(HarvestRun, run_id)
        return run.member_code if run else None


def checkpoints(services: Services, member: str) -> dict[str, dict[str, Any]]:
    with services.db() as session:
        return {c.feed: dict(c.state or {}) for c in session.scalars(select(Checkpoint)
                                                                      .where(Checkpoint.member_code == member))}


# --- rejects and index failures ----------------------------------------------------------------------

def _raw_name(reject: Reject) -> str:
    raw = reject.raw or b""
    ext = "xml" if raw.lstrip()[:1] == b"<" else "mrc"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in (reject.local_id or "unknown"))[:80]
    return f"records/{reject.id}-{safe}.{ext}"


def rejects_bundle(services: Services, member: str) -> bytes:
    """A zip of the member's rejects: every raw record as received (``records/<id>-<local id>.mrc|xml``)
    and ``rejects.tsv`` (id, local id, stage, run, when, file, reason)."""
    buffer = io.BytesIO()
    lines = ["id\tlocal_id\tstage\trun\tcreated_at\tfile\treason"]
    with services.db() as session, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for r in session.scalars(select(Reject).where(Reject.member_code == member).order_by(Reject.id)):
            name = _raw_name(r) if r.raw else ""
            if r.raw:
                bundle.writestr(name, r.raw)
            reason = " ".join((r.reason or "").split())  # one line per reject: tabs and newlines folded
            lines.append("\t".join([str(r.id), r.local_id or "", r.stage, str(r.harvest_run_id or ""),
                                    _iso(r.created_at) or "", name, reason]))
        bundle.writestr("rejects.tsv", "\n".join(lines) + "\n")
    return buffer.getvalue()


def index_failures(services: Services, limit: int = 100) -> dict[str, Any]:
    """Refused union records with Elasticsearch's reason and the source documents they were built from."""
    with services.db() as session:
        rows = session.scalars(select(IndexFailure).order_by(IndexFailure.id.desc()).limit(limit)).all()
        out = []
        for f in rows:
            sources = session.scalars(select(SourceRecord).where(SourceRecord.cluster_id == f.union_id)
                                      .limit(5)).all()
            out.append({"union_id": f.union_id, "index": f.index_name, "reason": f.reason,
                        "created_at": _iso(f.created_at),
                        "documents": [{"member": s.member_code, "local_id": s.local_id, "document": s.document}
                                      for s in sources]})
        return {"total": session.scalar(select(func.count()).select_from(IndexFailure)) or 0,
                "backlog": session.scalar(select(func.count()).select_from(ProjectionQueue)) or 0,
                "failures": out}
