"""Organisation users get a role (administrator or volunteer) and can be disabled.

Until this revision the only users were those who registered their organisation, so every
existing user becomes its organisation's administrator.

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
    op.add_column("charity_user", sa.Column("role", sa.String(16), nullable=False, server_default="volunteer"))
    op.add_column("charity_user", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE charity_user SET role = 'administrator'")


def downgrade() -> None:
    with op.batch_alter_table("charity_user") as table:
        table.drop_column("disabled_at")
        table.drop_column("role")
