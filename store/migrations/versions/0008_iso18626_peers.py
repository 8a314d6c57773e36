"""ISO 18626 with real peers: offered costs with currency, retries, peer errors, a reliable outbox,
what we learned about each peer, and every inbound message with our confirmation

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 19:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ill_request") as batch:
        batch.add_column(sa.Column("offered_cost_amount", sa.Numeric(12, 2), nullable=True))
        batch.add_column(sa.Column("offered_cost_currency", sa.String(length=3), nullable=True))
        batch.add_column(sa.Column("lender_request_id", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("retry_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("peer_error", sa.Text(), nullable=True))
    with op.batch_alter_table("ill_peer_message") as batch:
        batch.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="pending"))
        batch.add_column(sa.Column("version", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("http_status", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("error_type", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("error_value", sa.Text(), nullable=True))
        batch.create_index("ix_ill_peer_message_status", ["status"], unique=False)
    op.execute("UPDATE ill_peer_message SET status = 'sent' WHERE sent_at IS NOT NULL")
    op.create_table(
        "ill_peer_state",
        sa.Column("peer_code", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=8), nullable=True),
        sa.Column("agency_type", sa.String(length=64), nullable=True),
        sa.Column("learned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("peer_code"),
    )
    op.create_table(
        "ill_inbound_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_code", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("request_ref", sa.String(length=128), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=8), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error_type", sa.String(length=40), nullable=True),
        sa.Column("error_value", sa.Text(), nullable=True),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("confirmation", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("peer_code", "digest", name="uq_ill_inbound_digest"),
    )
    with op.batch_alter_table("ill_inbound_message") as batch:
        batch.create_index("ix_ill_inbound_message_peer_code", ["peer_code"], unique=False)
        batch.create_index("ix_ill_inbound_message_received_at", ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_table("ill_inbound_message")
    op.drop_table("ill_peer_state")
    with op.batch_alter_table("ill_peer_message") as batch:
        batch.drop_index("ix_ill_peer_message_status")
        for name in ("error_value", "error_type", "http_status", "next_attempt_at", "version", "status"):
            batch.drop_column(name)
    with op.batch_alter_table("ill_request") as batch:
        for name in ("peer_error", "retry_count", "lender_request_id", "offered_cost_currency",
                     "offered_cost_amount"):
            batch.drop_column(name)
