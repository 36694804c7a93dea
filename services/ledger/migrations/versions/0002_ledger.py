"""The ledger: households, members, needs, benefits, applied events, alerts and the audit trail.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ledger_household",
        sa.Column("household_id", sa.String(64), primary_key=True),
        sa.Column("district", sa.String(16), nullable=True, index=True),
        sa.Column("subdistrict", sa.String(64), nullable=True),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("colour", sa.String(16), nullable=True),
        sa.Column("income_fen", sa.BigInteger, nullable=True),
        sa.Column("person_count", sa.Integer, nullable=False),
        sa.Column("profile_at", TIME, nullable=True),
        sa.Column("profile_event_id", sa.String(128), nullable=True),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        "ledger_member",
        sa.Column("household_id", sa.String(64), primary_key=True),
        sa.Column("person_key", sa.String(64), primary_key=True, index=True),
        sa.Column("display_name", sa.String(16), nullable=False),
        sa.Column("masked_resident_id", sa.String(32), nullable=True),
        sa.Column("birth_year", sa.Integer, nullable=True),
        sa.Column("sex", sa.String(1), nullable=True),
        sa.Column("relation", sa.String(16), nullable=False),
    )
    op.create_table(
        "ledger_need",
        sa.Column("need_id", sa.String(64), primary_key=True),
        sa.Column("household_id", sa.String(64), nullable=False, index=True),
        sa.Column("department", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("urgency", sa.Integer, nullable=False),
        sa.Column("assessed_on", sa.Date, nullable=False),
        sa.Column("person_key", sa.String(64), nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
    )
    op.create_table(
        "ledger_benefit",
        sa.Column("household_id", sa.String(64), primary_key=True),
        sa.Column("benefit_id", sa.String(80), primary_key=True),
        sa.Column("programme", sa.String(32), nullable=False, index=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("person_key", sa.String(64), nullable=True),
        sa.Column("amount_fen", sa.BigInteger, nullable=True),
        sa.Column("in_kind", sa.String(200), nullable=True),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("need_id", sa.String(64), nullable=True),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("occurred_at", TIME, nullable=True),
    )
    op.create_table(
        "ledger_event",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("household_id", sa.String(64), nullable=False, index=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("occurred_at", TIME, nullable=False),
        sa.Column("benefit_id", sa.String(80), nullable=True),
        sa.Column("record", sa.JSON, nullable=False),
    )
    op.create_table(
        "ledger_alert",
        sa.Column("alert_id", sa.String(64), primary_key=True),
        sa.Column("household_id", sa.String(64), nullable=False, index=True),
        sa.Column("conflict_key", sa.Text, nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("district", sa.String(16), nullable=True),
        sa.Column("programmes", sa.String(400), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("benefits", sa.JSON, nullable=False),
        sa.Column("status", sa.String(24), nullable=False, index=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("raised_at", TIME, nullable=False),
        sa.Column("raised_by_event", sa.String(128), nullable=False),
        sa.Column("resolved_at", TIME, nullable=True),
        sa.Column("decision_note", sa.String(1000), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", TIME, nullable=True),
    )
    op.create_table(
        "ledger_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False, index=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target_type", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(128), nullable=False, index=True),
        sa.Column("detail", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "ledger_audit",
        "ledger_alert",
        "ledger_event",
        "ledger_benefit",
        "ledger_need",
        "ledger_member",
        "ledger_household",
    ):
        op.drop_table(table)
