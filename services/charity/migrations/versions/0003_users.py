"""Organisation users (who sign in to the charity's pages) and their sessions.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "charity_user",
        sa.Column("username", sa.String(32), primary_key=True),
        sa.Column("organisation_id", sa.String(32), sa.ForeignKey("charity_organisation.organisation_id"), nullable=False, index=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("failed_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", TIME, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "charity_user_session",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(32), sa.ForeignKey("charity_user.username", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("charity_user_session")
    op.drop_table("charity_user")
