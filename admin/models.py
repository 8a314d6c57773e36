"""Tables of the administration console: the audit log of admin actions, stop requests for running
harvests, and the daily search aggregates (counts only: no address, account or session is kept)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, utcnow


class AdminAudit(Base):
    """One administrative action: who, when, what, the state before and after."""

    __tablename__ = "admin_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(255))
    #: The member the action concerns (cataloguers see the entries of their own member).
    member_code: Mapped[str | None] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    note: Mapped[str | None] = mapped_column(Text)


class HarvestStop(Base):
    """An administrator asked a running harvest to stop; the pipeline stops after the page it is storing."""

    __tablename__ = "admin_harvest_stop"

    run_id: Mapped[int] = mapped_column(ForeignKey("harvest_run.id", ondelete="CASCADE"), primary_key=True)
    requested_by: Mapped[str] = mapped_column(String(255))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SearchDaily(Base):
    """A daily count: ``metric`` (query, zero, click, position, facet, script, searches) and ``key``
    (the normalised query, a result position, a facet name, a script class)."""

    __tablename__ = "search_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class AdminTask(Base):
    """A long action started from the console (rebuild, re-crosswalk, re-cluster, full harvest) and
    how far it got: ``done`` of ``total`` in ``phase`` (total None: not countable in advance)."""

    __tablename__ = "admin_task"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str | None] = mapped_column(String(64))
    started_by: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: When the current phase began (the ETA is measured over the phase).
    phase_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | ok | failed
    phase: Mapped[str] = mapped_column(String(32), default="")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)
