"""store_state: facts about the store as a whole (which matcher clustered it)

A store that already holds records was clustered by a matcher of unknown version, so it is marked
"unknown": ``unicat reindex --recluster`` brings it up to date.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 03:30:00
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "store_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    if op.get_bind().execute(sa.text("SELECT 1 FROM source_record LIMIT 1")).first():
        op.bulk_insert(table, [{"name": "matcher", "value": "unknown", "updated_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("store_state")
