"""Long administrative actions started from the console, run in a background thread of the web
process, with their progress kept in ``admin_task`` so every page (and every process) sees it:
phase, done of total, and an ETA measured over the current phase.

Kinds: ``rebuild`` (re-index from the record store), ``recluster`` (re-cluster everything, then
re-index), ``recrosswalk`` (map every raw record again, then re-cluster and re-index), and
``full_harvest`` (a member's whole catalogue; its total is not known in advance, so it shows
records so far and no ETA)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from admin import audit
from admin.models import AdminTask
from admin.roles import Invalid, require_admin, require_member
from catalog.context import Services
from ill.access import Actor
from store.db import transaction
from store.models import as_utc, utcnow

KINDS = ("rebuild", "recluster", "recrosswalk", "full_harvest")
log = logging.getLogger(__name__)


def eta_seconds(phase_started: datetime, done: int, total: int | None, now: datetime) -> float | None:
    """Time left if the rest goes at the pace so far; None when it cannot be told."""
    if not total or done <= 0:
        return None
    if done >= total:
        return 0.0
    elapsed = (now - phase_started).total_seconds()
    return round(elapsed / done * (total - done), 1)


class Reporter:
    """Writes a task's progress, at most every ``interval`` seconds (and always at a phase change)."""

    def __init__(self, services: Services, task_id: int, interval: float = 0.5) -> None:
        self.services, self.task_id, self.interval = services, task_id, interval
        self.phase, self.last = "", 0.0

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        changed = phase != self.phase
        if not changed and now - self.last < self.interval and (total is None or done < total):
            return
        self.phase, self.last = phase, now
        with transaction(self.services.db) as session:
            task = session.get(AdminTask, self.task_id)
            if task is None:
                return
            if changed:
                task.phase, task.phase_started_at = phase, utcnow()
            task.done, task.total = done, total

    def finish(self, status: str, message: str) -> None:
        with transaction(self.services.db) as session:
            task = session.get(AdminTask, self.task_id)
            if task is not None:
                task.status, task.message, task.finished_at = status, message[:2000], utcnow()


def _work(services: Services, kind: str, target: str | None, report: Reporter) -> str:
    from catalog.maintenance import rebuild_index, recrosswalk

    if kind == "full_harvest":
        from admin.harvests import stop_check
        from catalog.pipeline import harvest_member

        assert target is not None
        runs = harvest_member(services, target, full=True, should_stop=stop_check(services),
                              progress=lambda r: report("harvest", r.added + r.updated + r.unchanged, None))
        return "; ".join(f"{r.feed}: {r.status}, {r.added} added, {r.withdrawn} withdrawn" for r in runs)
    if kind == "recrosswalk":
        mapped = recrosswalk(services, progress=lambda done, total: report("recrosswalk", done, total))
        result = rebuild_index(services, recluster=True, progress=report)
        return f"{mapped.changed} documents changed; {result['indexed']} indexed, {result['failed']} failed"
    result = rebuild_index(services, recluster=kind == "recluster", progress=report)
    return f"{result['indexed']} union records indexed into {result['index']}, {result['failed']} failed"


def start_task(services: Services, actor: Actor, kind: str, target: str | None = None) -> int:
    """Start a long action in the background; its task id."""
    if kind not in KINDS:
        raise Invalid(f"unknown action {kind!r}", field="kind")
    if kind == "full_harvest":
        if not target:
            raise Invalid("a full harvest names a member", field="target")
        require_member(actor, target)
    else:
        require_admin(actor)
    with transaction(services.db) as session:
        task = AdminTask(kind=kind, target=target, started_by=actor.label)
        session.add(task)
        session.flush()
        task_id = task.id
        audit.record(session, actor, f"task.{kind}", target or "index", member=target, after={"task": task_id})
    report = Reporter(services, task_id)

    def run() -> None:
        try:
            report.finish("ok", _work(services, kind, target, report))
        except Exception as exc:
            log.exception("console task %s (%s) failed", task_id, kind)
            report.finish("failed", f"{type(exc).__name__}: {exc}")

    threading.Thread(target=run, name=f"admin-task-{task_id}", daemon=True).start()
    return task_id


def _view(t: AdminTask, now: datetime) -> dict[str, Any]:
    started = as_utc(t.phase_started_at) or now
    running = t.status == "running"
    return {"id": t.id, "kind": t.kind, "target": t.target, "by": t.started_by, "status": t.status,
            "phase": t.phase, "done": t.done, "total": t.total,
            "percent": round(100 * t.done / t.total) if t.total else None,
            "eta_seconds": eta_seconds(started, t.done, t.total, now) if running else None,
            "started_at": t.started_at.isoformat() if t.started_at else None,
            "finished_at": t.finished_at.isoformat() if t.finished_at else None, "message": t.message}


def tasks(services: Services, actor: Actor, limit: int = 20) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    with services.db() as session:
        stmt = select(AdminTask).order_by(AdminTask.id.desc()).limit(limit)
        if actor.kind != "admin":
            stmt = stmt.where(AdminTask.target == actor.member_code)
        return [_view(t, now) for t in session.scalars(stmt)]


def task(services: Services, task_id: int) -> dict[str, Any] | None:
    with services.db() as session:
        t = session.get(AdminTask, task_id)
        return _view(t, datetime.now(UTC)) if t else None
