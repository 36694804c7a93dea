"""An alert is one conflict whose evidence may grow (`new_evidence`, `updated_at`); persons
recorded in two hub households (`ledger_shared_person`, the joint meeting's review items, and
`ledger_household.linked_households`: the households that share a member with it, read with the
household's row so that a batch finds them without a query of its own); hub
households merged into another (`ledger_household_alias`: events keyed by a merged id go to the
survivor).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_alert") as batch:
        batch.add_column(sa.Column("new_evidence", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("ledger_household") as batch:
        batch.add_column(sa.Column("linked_households", sa.Text, nullable=True))
    op.create_table(
        "ledger_shared_person",
        sa.Column("item_id", sa.String(64), primary_key=True),
        sa.Column("person_key", sa.String(64), nullable=False, index=True),
        sa.Column("first_household", sa.String(64), nullable=False),
        sa.Column("second_household", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_by_event", sa.String(128), nullable=False),
        sa.Column("belongs_to", sa.String(64), nullable=True),
        sa.Column("decision_note", sa.String(1000), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "ledger_household_alias",
        sa.Column("merged_id", sa.String(64), primary_key=True),
        sa.Column("surviving_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger_household_alias")
    op.drop_table("ledger_shared_person")
    with op.batch_alter_table("ledger_household") as batch:
        batch.drop_column("linked_households")
    with op.batch_alter_table("ledger_alert") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("new_evidence")
