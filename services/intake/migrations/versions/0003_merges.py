"""Merges: which person keys were found to be one person (and which hub households one), and,
per person, how their latest report related them to its head (`relation`): a department
household follows a merged person only when that person heads it (or is all of it). Persons are
looked up by household (a need's damaged number is repaired among its household's members).

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
    with op.batch_alter_table("intake_person") as table:
        table.add_column(sa.Column("relation", sa.String(16), nullable=True))
    op.create_index("ix_intake_person_household_id", "intake_person", ["household_id"])
    op.create_table(
        "intake_person_merge",
        sa.Column("merged_key", sa.String(64), primary_key=True),
        sa.Column("surviving_key", sa.String(64), nullable=False, index=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "intake_household_merge",
        sa.Column("merged_id", sa.String(64), primary_key=True),
        sa.Column("surviving_id", sa.String(64), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("intake_household_merge")
    op.drop_table("intake_person_merge")
    op.drop_index("ix_intake_person_household_id", "intake_person")
    with op.batch_alter_table("intake_person") as table:
        table.drop_column("relation")
