"""Deliveries matching has read that the ledger's state does not show yet (per household), and
units an offering's record counts delivered whose fulfilments matching has not read yet.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("matching_household", sa.Column("deliveries", sa.JSON, nullable=False, server_default="[]"))
    op.add_column("matching_offering", sa.Column("delivered_unread", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("matching_offering") as table:
        table.drop_column("delivered_unread")
    with op.batch_alter_table("matching_household") as table:
        table.drop_column("deliveries")
