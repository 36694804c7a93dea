"""Organisations, their API keys, their offerings and their match inbox.

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
        "charity_organisation",
        sa.Column("organisation_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=False, unique=True),
        sa.Column("districts", sa.JSON, nullable=False),
        sa.Column("contact_name", sa.String(64), nullable=False),
        sa.Column("contact_phone", sa.String(20), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("status_reason", sa.String(500), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", TIME, nullable=True),
        sa.Column("registered_at", TIME, nullable=False),
    )
    op.create_table(
        "charity_api_key",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("organisation_id", sa.String(32), sa.ForeignKey("charity_organisation.organisation_id"), nullable=False, index=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("revoked_at", TIME, nullable=True),
    )
    op.create_table(
        "charity_offering",
        sa.Column("offering_id", sa.String(32), primary_key=True),
        sa.Column("organisation_id", sa.String(32), sa.ForeignKey("charity_organisation.organisation_id"), nullable=False, index=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.String(2000), nullable=False),
        sa.Column("category", sa.String(32), nullable=False, index=True),
        sa.Column("programme", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("quantity_total", sa.Integer, nullable=False),
        sa.Column("quantity_remaining", sa.Integer, nullable=False),
        sa.Column("value_fen_per_unit", sa.BigInteger, nullable=True),
        sa.Column("eligibility", sa.JSON, nullable=False),
        sa.Column("districts", sa.JSON, nullable=False),
        sa.Column("subdistricts", sa.JSON, nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_until", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("closed_reason", sa.String(16), nullable=True),
        sa.Column("capacity_confirmed_at", TIME, nullable=False),
        sa.Column("confirm_every_days", sa.Integer, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        "charity_match",
        sa.Column("match_id", sa.String(64), primary_key=True),
        sa.Column("organisation_id", sa.String(32), nullable=False),
        sa.Column("offering_id", sa.String(32), nullable=False, index=True),
        sa.Column("need_id", sa.String(64), nullable=False),
        sa.Column("household_id", sa.String(64), nullable=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("district", sa.String(16), nullable=False),
        sa.Column("subdistrict", sa.String(64), nullable=True),
        sa.Column("household_size", sa.Integer, nullable=False),
        sa.Column("urgency", sa.Integer, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("priority", sa.Float, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(32), nullable=True),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("delivered_quantity", sa.Integer, nullable=True),
        sa.Column("delivered_on", sa.Date, nullable=True),
        sa.Column("amount_fen", sa.BigInteger, nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("correlation_id", sa.String(128), nullable=False),
        sa.Column("proposed_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_index("ix_charity_match_inbox", "charity_match", ["organisation_id", "state", "proposed_at"])


def downgrade() -> None:
    op.drop_table("charity_match")
    op.drop_table("charity_offering")
    op.drop_table("charity_api_key")
    op.drop_table("charity_organisation")
