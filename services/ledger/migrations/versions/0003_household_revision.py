"""A revision number on each household, raised by every write that changes the household's
rows, so that the ledger can tell whether the copy it keeps in memory is still the stored one.

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
    op.add_column("ledger_household", sa.Column("revision", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("ledger_household") as table:
        table.drop_column("revision")
