"""Applied event ids and the outbox.

Revision ID: 0001
Revises:
"""

from alembic import op

from kit.outbox import create_inbox_and_outbox

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_inbox_and_outbox(op)


def downgrade() -> None:
    op.drop_table("outbox_message")
    op.drop_table("processed_event")
