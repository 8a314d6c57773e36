"""Account tables. The table names keep their ``ill_`` prefix: they predate this package and other
tables (ILL requests, notifications) point at them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, utcnow


class Account(Base):
    """A patron, a desk staff member or a consortium administrator.

    ``kind`` is ``patron`` | ``staff`` | ``admin``; staff have ``desks`` (``borrowing``, ``lending``).
    ``password_hash`` is empty for accounts verified by their member's own system (``source`` names
    which: ``ldap``, ``saml``, ``oidc``, ``sip2``); ``external_id`` is what that system calls the reader
    (a DN, an eduPersonPrincipalName, an OIDC ``sub``, a patron barcode). ``blocked_reason`` is set
    while the home library blocks the reader: they may sign in and see their requests, not place new ones.
    """

    __tablename__ = "ill_account"
    __table_args__ = (UniqueConstraint("member_code", "username", name="uq_ill_account_member_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_code: Mapped[str] = mapped_column(ForeignKey("member.code"), index=True)
    username: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16), default="patron")
    desks: Mapped[list[Any]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    source: Mapped[str] = mapped_column(String(16), default="local", server_default="local")
    external_id: Mapped[str | None] = mapped_column(String(512))
    affiliation: Mapped[str | None] = mapped_column(String(255))
    blocked_reason: Mapped[str | None] = mapped_column(String(255))
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def blocked(self) -> bool:
        return self.blocked_reason is not None


class ApiToken(Base):
    """A bearer token for third-party systems; only its SHA-256 is stored."""

    __tablename__ = "ill_api_token"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ill_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UsedAssertion(Base):
    """SAML assertion IDs (and OIDC nonces) already accepted, kept until they expire: a replay is refused
    even by another worker process."""

    __tablename__ = "account_used_assertion"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
