"""api_key.scopes: what a key may be used for (``search``; ``admin``; ``admin:<member>``)

Keys issued before scopes existed were portal keys: they keep searching (``["search"]``) and gain no
access to the monitoring API.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 22:35:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scopes", sa.JSON(), nullable=False, server_default='["search"]'))


def downgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_column("scopes")
