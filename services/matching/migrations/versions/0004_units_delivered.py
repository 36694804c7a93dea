"""Units delivered are counted from the fulfilments read (each fulfilled proposal keeps its
delivered units), not from a running count of units an offering's record counted delivered
before their fulfilments were read: that count depended on the order the two topics were read in.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("matching_proposal", sa.Column("delivered", sa.Integer, nullable=False, server_default="0"))
    # Before this revision a fulfilment's own units were not kept: the units proposed are the best known.
    op.execute("UPDATE matching_proposal SET delivered = quantity WHERE state = 'fulfilled'")
    with op.batch_alter_table("matching_offering") as table:
        table.drop_column("delivered_unread")


def downgrade() -> None:
    op.add_column("matching_offering", sa.Column("delivered_unread", sa.Integer, nullable=False, server_default="0"))
    with op.batch_alter_table("matching_proposal") as table:
        table.drop_column("delivered")
