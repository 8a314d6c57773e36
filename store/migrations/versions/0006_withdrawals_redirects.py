"""withdrawals of records a full harvest did not see, and redirects of merged-away union ids

``sweep_seen`` holds the local ids a full pass in progress has seen; ``harvest_run.withdrawn``
counts what a pass withdrew; ``pending_withdrawal`` holds a pass that would have withdrawn more
than the member's limit; ``union_redirect`` maps a union id lost in a merge to the record it joined.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 19:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweep_seen",
        sa.Column("sweep", sa.String(length=32), nullable=False),
        sa.Column("local_id", sa.String(length=255), nullable=False),
        sa.Column("member_code", sa.String(length=64), nullable=False),
        sa.Column("feed", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("sweep", "local_id"),
    )
    op.create_index("ix_sweep_seen_member_code", "sweep_seen", ["member_code"], unique=False)
    with op.batch_alter_table("harvest_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "pending_withdrawal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_code", sa.String(length=64), nullable=False),
        sa.Column("feed", sa.String(length=32), nullable=False),
        sa.Column("harvest_run_id", sa.Integer(), nullable=True),
        sa.Column("sweep", sa.String(length=32), nullable=False),
        sa.Column("record_ids", sa.JSON(), nullable=False),
        sa.Column("live", sa.Integer(), nullable=False),
        sa.Column("max_share", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["harvest_run_id"], ["harvest_run.id"]),
        sa.ForeignKeyConstraint(["member_code"], ["member.code"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pending_withdrawal_member_code", "pending_withdrawal", ["member_code"], unique=False)
    op.create_table(
        "union_redirect",
        sa.Column("old_id", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("old_id"),
    )
    op.create_index("ix_union_redirect_target_id", "union_redirect", ["target_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_union_redirect_target_id", table_name="union_redirect")
    op.drop_table("union_redirect")
    op.drop_index("ix_pending_withdrawal_member_code", table_name="pending_withdrawal")
    op.drop_table("pending_withdrawal")
    with op.batch_alter_table("harvest_run", schema=None) as batch_op:
        batch_op.drop_column("withdrawn")
    op.drop_index("ix_sweep_seen_member_code", table_name="sweep_seen")
    op.drop_table("sweep_seen")
