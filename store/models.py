"""SQL tables of the record store: the source of truth that Elasticsearch is projected from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, overload

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: The largest value an integer column holds everywhere the store runs (PostgreSQL ``integer``
#: is 32 bits): ids, versions and amounts beyond it are refused before they reach a query.
MAX_STORED_INT = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(when: datetime) -> datetime: ...
@overload
def as_utc(when: None) -> None: ...
def as_utc(when: datetime | None) -> datetime | None:
    """A time read back from the store, time zone aware: SQLite gives back the naive UTC time it
    was written as, PostgreSQL an aware one."""
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Member(Base):
    """A member library, loaded from the members file (the file stays the operator's source)."""

    __tablename__ = "member"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(255))
    region: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(32), default="member")
    #: Feeds and other per-member configuration exactly as validated from the members file.
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    def name(self, lang: str = "zh") -> str:
        return self.name_zh if lang.startswith("zh") else self.name_en


class SourceRecord(Base):
    """A member's record exactly as received, plus what the pipeline derived from it."""

    __tablename__ = "source_record"
    __table_args__ = (
        UniqueConstraint("member_code", "local_id", name="uq_source_member_local"),
        #: live records per member are counted from the index alone (migration 0012)
        Index("ix_source_record_member_live", "member_code", "deleted"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_code: Mapped[str] = mapped_column(ForeignKey("member.code"))
    local_id: Mapped[str] = mapped_column(String(255))
    feed: Mapped[str] = mapped_column(String(32))
    syntax: Mapped[str | None] = mapped_column(String(16))
    encoding: Mapped[str] = mapped_column(String(16))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    checksum: Mapped[str] = mapped_column(String(64))
    datestamp: Mapped[str | None] = mapped_column(String(32))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The crosswalked document (a cache: always re-derivable from ``raw``).
    document: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    cluster_id: Mapped[str | None] = mapped_column(ForeignKey("cluster.id"), index=True, default=None)
    harvest_run_id: Mapped[int | None] = mapped_column(ForeignKey("harvest_run.id"), default=None)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    keys: Mapped[list[MatchKeyRow]] = relationship(
        back_populates="record", cascade="all, delete-orphan", passive_deletes=True
    )


class MatchKeyRow(Base):
    """One match key of one live source record; the clusterer looks records up by key."""

    __tablename__ = "match_key"

    record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    strong: Mapped[bool] = mapped_column(Boolean, default=True)

    record: Mapped[SourceRecord] = relationship(back_populates="keys")

    __table_args__ = (Index("ix_match_key_key", "key"),)


class Cluster(Base):
    """A union record: the set of source records taken to describe one work/edition."""

    __tablename__ = "cluster"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    size: Mapped[int] = mapped_column(Integer, default=0)
    #: Set when the clusterer refused to grow it past the configured size (reported, not grown).
    oversized: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ClusterOverride(Base):
    """A cataloguer's decision, kept across reclustering: force two source records apart or together."""

    __tablename__ = "cluster_override"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # "split" | "merge"
    a_member: Mapped[str] = mapped_column(String(64))
    a_local_id: Mapped[str] = mapped_column(String(255))
    b_member: Mapped[str] = mapped_column(String(64))
    b_local_id: Mapped[str] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HarvestRun(Base):
    __tablename__ = "harvest_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_code: Mapped[str] = mapped_column(ForeignKey("member.code"), index=True)
    feed: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|ok|failed|interrupted
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pages: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    #: Records a complete full pass did not see, marked deleted at its end.
    withdrawn: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The full pass this run stored pages of (see :mod:`catalog.withdrawals`), or None.
    sweep: Mapped[str | None] = mapped_column(String(32), default=None)
    error: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[list[Any]] = mapped_column(JSON, default=list)


class SweepSeen(Base):
    """A local id a full pass in progress has seen (see :mod:`catalog.withdrawals`): narrow rows,
    written a page at a time and dropped when the pass ends, so that marking costs no rewrite of
    the wide source records."""

    __tablename__ = "sweep_seen"

    sweep: Mapped[str] = mapped_column(String(32), primary_key=True)
    local_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    member_code: Mapped[str] = mapped_column(String(64), index=True)
    feed: Mapped[str] = mapped_column(String(32))


class PendingWithdrawal(Base):
    """The withdrawals of a full pass that would have withdrawn more than the member's limit: held
    for an administrator to apply or discard (``unicat withdrawals``), never applied unasked."""

    __tablename__ = "pending_withdrawal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_code: Mapped[str] = mapped_column(ForeignKey("member.code"), index=True)
    feed: Mapped[str] = mapped_column(String(32))
    harvest_run_id: Mapped[int | None] = mapped_column(ForeignKey("harvest_run.id"))
    sweep: Mapped[str] = mapped_column(String(32))
    #: Source record ids the pass did not see.
    record_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: The member's live records of that feed when the pass ended, and the limit that held it.
    live: Mapped[int] = mapped_column(Integer, default=0)
    max_share: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|applied|discarded|superseded
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(64))


class UnionRedirect(Base):
    """A union id that disappeared in a merge, and the union record its records joined: old links
    (portals, ILL requests) are answered with a redirect. Targets are always live ids: no chains."""

    __tablename__ = "union_redirect"

    old_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    target_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Checkpoint(Base):
    """The last committed harvest position of one member feed (opaque to everything but its harvester)."""

    __tablename__ = "checkpoint"

    member_code: Mapped[str] = mapped_column(ForeignKey("member.code"), primary_key=True)
    feed: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Reject(Base):
    """A record that could not be used, kept with the reason so nothing is silently dropped."""

    __tablename__ = "reject"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_code: Mapped[str] = mapped_column(ForeignKey("member.code"), index=True)
    harvest_run_id: Mapped[int | None] = mapped_column(ForeignKey("harvest_run.id"))
    local_id: Mapped[str | None] = mapped_column(String(255))
    stage: Mapped[str] = mapped_column(String(16))  # "harvest" | "crosswalk"
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProjectionQueue(Base):
    """Union records whose Elasticsearch document must be rewritten (an outbox: queued in the same
    transaction as the store change, removed once the bulk request succeeded)."""

    __tablename__ = "projection_queue"

    union_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IndexFailure(Base):
    """A union record Elasticsearch refused during bulk indexing: stored, counted, visible."""

    __tablename__ = "index_failure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    union_id: Mapped[str] = mapped_column(String(32), index=True)
    index_name: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StoreState(Base):
    """Facts about the store as a whole, by name (e.g. which matcher clustered it)."""

    __tablename__ = "store_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ApiKey(Base):
    """A key issued to a third-party portal: who it is, where its pages live, how often it may ask.

    Only a SHA-256 hash of the key is stored (keys are 192-bit random tokens, so a fast hash is
    enough and keeps the per-request look-up cheap); the key itself is shown once, when created.
    """

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The first characters of the key, to tell keys apart in listings.
    key_prefix: Mapped[str] = mapped_column(String(16))
    origins: Mapped[list[Any]] = mapped_column(JSON, default=list)
    rate: Mapped[str] = mapped_column(String(32))
    #: What the key may be used for: ``search`` (the search API, SRU, widget), ``admin`` (the
    #: monitoring API, every member), ``admin:<member>`` (the monitoring API for that member only).
    scopes: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["search"])
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
