"""Identity: households and their department references, people, blocking keys, held records and
identity reviews. `intake_person.indexed` says whether a person's blocking keys are written yet.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_household",
        sa.Column("household_id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "intake_household_ref",
        sa.Column("department", sa.String(16), primary_key=True),
        sa.Column("department_ref", sa.String(64), primary_key=True),
        sa.Column("household_id", sa.String(64), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "intake_person",
        sa.Column("person_key", sa.String(64), primary_key=True),
        sa.Column("household_id", sa.String(64), nullable=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=True),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("district", sa.String(16), nullable=True),
        sa.Column("indexed", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_intake_person_indexed", "intake_person", ["indexed"])
    op.create_table(
        "intake_person_block",
        sa.Column("block_key", sa.String(300), primary_key=True),
        sa.Column("person_key", sa.String(64), primary_key=True),
    )
    op.create_table(
        "intake_pending_record",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_key", sa.String(160), nullable=False, unique=True),
        sa.Column("department", sa.String(16), nullable=False),
        sa.Column("department_ref", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_intake_pending_record_ref", "intake_pending_record", ["department", "department_ref"])
    op.create_table(
        "intake_identity_review",
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("event_key", sa.String(160), nullable=False, index=True),
        sa.Column("department", sa.String(16), nullable=False),
        sa.Column("department_ref", sa.String(64), nullable=False),
        sa.Column("member_index", sa.Integer, nullable=False),
        sa.Column("candidates", sa.JSON, nullable=False),
        sa.Column("resolved_person_key", sa.String(64), nullable=True),
        sa.Column("resolved_by", sa.String(64), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_intake_identity_review_ref", "intake_identity_review", ["department", "department_ref"])


def downgrade() -> None:
    op.drop_table("intake_identity_review")
    op.drop_table("intake_pending_record")
    op.drop_table("intake_person_block")
    op.drop_table("intake_person")
    op.drop_table("intake_household_ref")
    op.drop_table("intake_household")
