"""Drop `processed_event`: the ledger never used it. `ledger_event` is its record of the events
it applied (keyed by household, written with their effect), so the kit's inbox table that
migration 0001 created stayed empty.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("processed_event")


def downgrade() -> None:
    op.create_table(
        "processed_event",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )
