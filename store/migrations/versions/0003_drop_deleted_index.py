"""drop the index on source_record.deleted

Almost every record is live, so the index selects nothing, yet SQLite's planner preferred it to
the cluster_id index for "records of this union record that are live" and scanned the whole table
for each record page.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 01:30:00
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_source_record_deleted"))


def downgrade() -> None:
    with op.batch_alter_table("source_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_source_record_deleted"), ["deleted"], unique=False)
