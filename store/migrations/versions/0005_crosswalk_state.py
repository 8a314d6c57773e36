"""store_state "crosswalk": which crosswalk made the stored documents

A store that already holds records got its documents from a crosswalk of unknown version, so it is
marked "unknown": ``unicat reindex --recrosswalk`` derives them again from the raw records.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 04:30:00
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_STATE = sa.table(
    "store_state", sa.column("name", sa.String), sa.column("value", sa.Text), sa.column("updated_at", sa.DateTime)
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM source_record LIMIT 1")).first():
        op.bulk_insert(_STATE, [{"name": "crosswalk", "value": "unknown", "updated_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.execute(_STATE.delete().where(_STATE.c.name == "crosswalk"))
