"""accounts from sign-in: where an account comes from, the library's block, used SAML assertions

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 20:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ill_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=16), nullable=False, server_default="local"))
        batch_op.add_column(sa.Column("external_id", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("affiliation", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("blocked_reason", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "account_used_assertion",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_account_used_assertion_expires_at", "account_used_assertion", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_account_used_assertion_expires_at", table_name="account_used_assertion")
    op.drop_table("account_used_assertion")
    with op.batch_alter_table("ill_account", schema=None) as batch_op:
        for name in ("last_sign_in_at", "blocked_reason", "affiliation", "external_id", "source"):
            batch_op.drop_column(name)
