"""What administrators watch: members with their last harvest, harvest runs, rejects, index failures."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from catalog.context import Services
from catalog.members import member_feeds
from store.models import HarvestRun, IndexFailure, Member, PendingWithdrawal, ProjectionQueue, Reject, SourceRecord


def _run(run: HarvestRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "member": run.member_code,
        "feed": run.feed,
        "status": run.status,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "pages": run.pages,
        "added": run.added,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "deleted": run.deleted,
        "rejected": run.rejected,
        "withdrawn": run.withdrawn,
        "error": run.error,
        "notes": (run.notes or [])[-20:],
    }


def members_overview(services: Services) -> list[dict[str, Any]]:
    with services.db() as session:
        counts = dict(
            session.execute(
                select(SourceRecord.member_code, func.count())
                .where(SourceRecord.deleted.is_(False))
                .group_by(SourceRecord.member_code)
            ).all()
        )
        rejects = dict(session.execute(select(Reject.member_code, func.count()).group_by(Reject.member_code)).all())
        last: dict[str, HarvestRun] = {}
        for run in session.scalars(select(HarvestRun).order_by(HarvestRun.id)):
            last[run.member_code] = run
        return [
            {
                "code": m.code,
                "name": {"zh": m.name_zh, "en": m.name_en},
                "region": m.region,
                "region_name": (m.config or {}).get("region_name"),
                "role": m.role,
                "feeds": member_feeds(m),
                "schedule": m.config.get("schedule"),
                "sign_in": ((m.config or {}).get("auth") or {}).get("type", "local"),
                "records": counts.get(m.code, 0),
                "rejects": rejects.get(m.code, 0),
                "last_harvest": _run(last[m.code]) if m.code in last else None,
            }
            for m in session.scalars(select(Member).order_by(Member.code))
        ]


def harvest_runs(services: Services, member: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    with services.db() as session:
        stmt = select(HarvestRun).order_by(HarvestRun.id.desc()).limit(limit)
        if member:
            stmt = stmt.where(HarvestRun.member_code == member)
        runs = [_run(r) for r in session.scalars(stmt)]
        held: dict[int, list[dict[str, Any]]] = {}
        rows = session.scalars(
            select(PendingWithdrawal).where(PendingWithdrawal.harvest_run_id.in_([r["id"] for r in runs]))
        )
        for p in rows:
            held.setdefault(p.harvest_run_id or 0, []).append(
                {"id": p.id, "status": p.status, "records": len(p.record_ids or []), "live": p.live}
            )
        for run in runs:
            run["withdrawals_held"] = held.get(run["id"], [])
        return runs


def rejects(services: Services, member: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    with services.db() as session:
        stmt = select(Reject).order_by(Reject.id.desc()).limit(limit)
        if member:
            stmt = stmt.where(Reject.member_code == member)
        return [
            {
                "id": r.id,
                "member": r.member_code,
                "run": r.harvest_run_id,
                "local_id": r.local_id,
                "stage": r.stage,
                "reason": r.reason,
                "created_at": r.created_at.isoformat() if r.created_at else None,
            }
            for r in session.scalars(stmt)
        ]


def index_failures(services: Services, limit: int = 100) -> dict[str, Any]:
    with services.db() as session:
        rows = session.scalars(select(IndexFailure).order_by(IndexFailure.id.desc()).limit(limit)).all()
        return {
            "total": session.scalar(select(func.count()).select_from(IndexFailure)) or 0,
            "pending_projection": session.scalar(select(func.count()).select_from(ProjectionQueue)) or 0,
            "failures": [
                {
                    "union_id": f.union_id,
                    "index": f.index_name,
                    "reason": f.reason,
                    "created_at": f.created_at.isoformat() if f.created_at else None,
                }
                for f in rows
            ],
        }
