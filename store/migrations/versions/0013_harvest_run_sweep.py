"""harvest_run: the full pass a run belongs to

A full pass noted every record it saw in ``sweep_seen``, also the records it had just written.
Those carry the run in ``source_record.harvest_run_id``; with the pass's id on the run, the pass
need only note the records it saw and did not write (unchanged, rejected), which on a member's
first harvest is none of them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 12:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("harvest_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sweep", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("harvest_run", schema=None) as batch_op:
        batch_op.drop_column("sweep")
