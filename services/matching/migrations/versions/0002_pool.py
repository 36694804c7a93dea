"""The pool: households, needs, offerings, proposals, and the pool's generation.

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
        "matching_household",
        sa.Column("household_id", sa.String(64), primary_key=True),
        sa.Column("district", sa.String(16), nullable=True),
        sa.Column("subdistrict", sa.String(64), nullable=True),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("colour", sa.String(16), nullable=True),
        sa.Column("birth_years", sa.JSON, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("programmes", sa.JSON, nullable=False),
        sa.Column("received", sa.JSON, nullable=False),
    )
    op.create_table(
        "matching_need",
        sa.Column("need_id", sa.String(64), primary_key=True),
        sa.Column("household_id", sa.String(64), nullable=False, index=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("urgency", sa.Integer, nullable=False),
        sa.Column("assessed_on", sa.Date, nullable=False),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("seen_open_in_state", sa.Boolean, nullable=False),
        sa.Column("overdue_sent", sa.Boolean, nullable=False),
    )
    op.create_table(
        "matching_offering",
        sa.Column("offering_id", sa.String(64), primary_key=True),
        sa.Column("record", sa.JSON, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        "matching_proposal",
        sa.Column("match_id", sa.String(64), primary_key=True),
        sa.Column("need_id", sa.String(64), nullable=False, index=True),
        sa.Column("offering_id", sa.String(64), nullable=False, index=True),
        sa.Column("household_id", sa.String(64), nullable=False),
        sa.Column("charity_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("priority", sa.BigInteger, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("proposed_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("closed_at", TIME, nullable=True),
        sa.Column("reason_code", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(200), nullable=False),
    )
    op.create_table(
        "matching_meta",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    for table in ("matching_meta", "matching_proposal", "matching_offering", "matching_need", "matching_household"):
        op.drop_table(table)
