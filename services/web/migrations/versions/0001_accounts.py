"""Staff accounts and their sessions.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from kit.outbox import create_inbox_and_outbox

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_inbox_and_outbox(op)  # the runtime's outbox relay reads it; the web front emits nothing yet
    op.create_table(
        "web_account",
        sa.Column("username", sa.String(32), primary_key=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("department", sa.String(16), nullable=True),
        sa.Column("failed_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
    )
    op.create_table(
        "web_session",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(32), sa.ForeignKey("web_account.username", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("web_session")
    op.drop_table("web_account")
    op.drop_table("outbox_message")
    op.drop_table("processed_event")
