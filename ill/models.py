"""ILL tables: accounts, lending policies, requests with their rota, audit trail, deliveries, outboxes.

Everything about a request lives here (never only in Redis); the worker reads the outboxes.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Account, ApiToken
from store.models import Base, utcnow

# Accounts moved to the accounts package; the old names stay for the ILL code that uses them.
IllAccount = Account
IllApiToken = ApiToken


class IllPolicy(Base):
    """One member's lending policy: what it lends, limits, calendar, fees, pickup points, ISO 18626 peer."""

    __tablename__ = "ill_policy"

    member_code: Mapped[str] = mapped_column(ForeignKey("member.code"), primary_key=True)
    lending_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    lends_formats: Mapped[list[Any]] = mapped_column(JSON, default=list)
    services: Mapped[list[Any]] = mapped_column(JSON, default=list)
    max_open_lending: Mapped[int] = mapped_column(Integer, default=50)
    response_days: Mapped[int] = mapped_column(Integer, default=1)
    holidays: Mapped[list[Any]] = mapped_column(JSON, default=list)
    pickup_locations: Mapped[list[Any]] = mapped_column(JSON, default=list)
    fees: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    loan_days: Mapped[int] = mapped_column(Integer, default=28)
    email: Mapped[str | None] = mapped_column(String(255))
    iso18626_url: Mapped[str | None] = mapped_column(String(512))
    iso18626_token: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class IllRequest(Base):
    """A patron's (or a peer's) request, seen from the borrowing side; ``version`` guards every update."""

    __tablename__ = "ill_request"
    __table_args__ = (
        Index("ix_ill_request_lender_state", "lender_code", "state"),
        Index("ix_ill_request_borrower_state", "borrower_code", "state"),
        Index("ix_ill_request_peer", "borrower_code", "peer_request_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    patron_id: Mapped[int | None] = mapped_column(ForeignKey("ill_account.id"), index=True)
    borrower_code: Mapped[str] = mapped_column(ForeignKey("member.code"))
    lender_code: Mapped[str | None] = mapped_column(ForeignKey("member.code"))
    union_id: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    record_format: Mapped[str] = mapped_column(String(32))
    service: Mapped[str] = mapped_column(String(8))  # loan | copy
    pages: Mapped[str | None] = mapped_column(String(64))
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    citation: Mapped[str | None] = mapped_column(Text)
    pickup_location: Mapped[str | None] = mapped_column(String(255))
    needed_by: Mapped[date | None] = mapped_column(Date)
    max_cost_cents: Mapped[int | None] = mapped_column(Integer)
    estimated_fee_cents: Mapped[int | None] = mapped_column(Integer)
    offered_cost_cents: Mapped[int | None] = mapped_column(Integer)
    #: What a peer lender offered (ISO 18626 offeredCosts), in the peer's own currency, as a Decimal.
    offered_cost_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    offered_cost_currency: Mapped[str | None] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(24), index=True)
    supplier_status: Mapped[str | None] = mapped_column(String(32))
    rota_position: Mapped[int] = mapped_column(Integer, default=-1)
    response_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    due_date: Mapped[date | None] = mapped_column(Date)
    #: ``web`` | ``api`` | ``iso18626``; for peers, their own request id.
    origin: Mapped[str] = mapped_column(String(16), default="web")
    peer_request_id: Mapped[str | None] = mapped_column(String(128))
    #: A peer lender's own id for our request (echoed as supplyingAgencyRequestId).
    lender_request_id: Mapped[str | None] = mapped_column(String(128))
    #: How many ISO 18626 Retry requests we sent (our request id gets a ``-R<n>`` suffix per retry).
    retry_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The last ERROR a peer answered about this request (errorType: errorValue); shown on the desk.
    peer_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    rota: Mapped[list[RotaEntry]] = relationship(
        back_populates="request", order_by="RotaEntry.position", cascade="all, delete-orphan"
    )
    audit: Mapped[list[AuditEntry]] = relationship(
        back_populates="request", order_by="AuditEntry.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}


class RotaEntry(Base):
    """One candidate lender, in order, with the reason for its place (shown to staff)."""

    __tablename__ = "ill_rota_entry"
    __table_args__ = (UniqueConstraint("request_id", "position", name="uq_ill_rota_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("ill_request.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    member_code: Mapped[str] = mapped_column(ForeignKey("member.code"))
    availability: Mapped[str] = mapped_column(String(16))  # available | maybe
    reason: Mapped[str] = mapped_column(Text)
    #: pending | sent | unfilled | timeout | declined | supplying | cancelled
    outcome: Mapped[str] = mapped_column(String(16), default="pending")
    reason_code: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    request: Mapped[IllRequest] = relationship(back_populates="rota")


class AuditEntry(Base):
    """Who moved a request from which state to which, when, and what they said."""

    __tablename__ = "ill_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("ill_request.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(32))
    iso_code: Mapped[str | None] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    lender_code: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text)

    request: Mapped[IllRequest] = relationship(back_populates="audit")


class Delivery(Base):
    """A delivered copy: an uploaded PDF (stored under the upload dir) or a link; both expire."""

    __tablename__ = "ill_delivery"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("ill_request.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # pdf | link
    path: Mapped[str | None] = mapped_column(String(512))
    url: Mapped[str | None] = mapped_column(String(2048))
    size: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Notification(Base):
    """An e-mail waiting for the worker (written in the same transaction as the transition)."""

    __tablename__ = "ill_notification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("ill_request.id", ondelete="CASCADE"), index=True)
    to_addr: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class PeerMessage(Base):
    """An ISO 18626 message for a peer system, sent (and retried) by the worker.

    ``status``: ``pending`` (waiting or backing off until ``next_attempt_at``), ``sent`` (the peer
    confirmed OK), ``rejected`` (the peer confirmed ERROR: not retried until a person says so),
    ``failed`` (gave up after the most attempts; a person may retry). A request's messages leave
    strictly in ``id`` order: a later one waits while an earlier one is not sent.
    """

    __tablename__ = "ill_peer_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("ill_request.id", ondelete="CASCADE"), index=True)
    peer_code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(40))
    xml: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending", index=True)
    version: Mapped[str | None] = mapped_column(String(8))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    http_status: Mapped[int | None] = mapped_column(Integer)
    error_type: Mapped[str | None] = mapped_column(String(40))
    error_value: Mapped[str | None] = mapped_column(Text)


class PeerState(Base):
    """What we learned about a peer: the schema version and agency id type of its first message."""

    __tablename__ = "ill_peer_state"

    peer_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str | None] = mapped_column(String(8))
    agency_type: Mapped[str | None] = mapped_column(String(64))
    learned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InboundMessage(Base):
    """Every ISO 18626 message a peer sent us, with the confirmation we answered.

    A repeat of the same message (same peer, kind and content apart from the timestamp) gets the
    stored confirmation again and changes nothing; rejected messages stay visible to staff.
    """

    __tablename__ = "ill_inbound_message"
    __table_args__ = (UniqueConstraint("peer_code", "digest", name="uq_ill_inbound_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_code: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    request_ref: Mapped[str | None] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(8))
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    error_type: Mapped[str | None] = mapped_column(String(40))
    error_value: Mapped[str | None] = mapped_column(Text)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    confirmation: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
