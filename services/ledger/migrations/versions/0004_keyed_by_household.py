"""`ledger_event` and `ledger_need` keyed by household first: (household_id, event_id) and
(household_id, need_id).

Every read of these tables is about households (a batch loading them, the timeline, the
pre-grant check), so one index on (household_id, id) serves them all, where there were two (id;
household_id). Ids are scattered, so each of those indexes took every insert at a page of its own:
one index fewer is a third of what a row cost the database. An id is then unique within its
household, which is also all the ledger relies on.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def _columns(table: str) -> list[sa.Column]:  # type: ignore[type-arg]
    if table == "ledger_event":
        return [
            sa.Column("event_id", sa.String(128), nullable=False),
            sa.Column("household_id", sa.String(64), nullable=False),
            sa.Column("type", sa.String(64), nullable=False),
            sa.Column("source", sa.String(64), nullable=False),
            sa.Column("occurred_at", TIME, nullable=False),
            sa.Column("benefit_id", sa.String(80), nullable=True),
            sa.Column("record", sa.JSON, nullable=False),
        ]
    return [
        sa.Column("need_id", sa.String(64), nullable=False),
        sa.Column("household_id", sa.String(64), nullable=False),
        sa.Column("department", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("urgency", sa.Integer, nullable=False),
        sa.Column("assessed_on", sa.Date, nullable=False),
        sa.Column("person_key", sa.String(64), nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
    ]


TABLES = {"ledger_event": "event_id", "ledger_need": "need_id"}


def _rekey(table: str, household_first: bool) -> None:
    own_id = TABLES[table]
    key = ["household_id", own_id] if household_first else [own_id]
    index = f"ix_{table}_household_id"
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot change a primary key in place: the table is copied into its new shape.
        shape = sa.Table(table, sa.MetaData(), *_columns(table), sa.PrimaryKeyConstraint(*key, name=f"{table}_pkey"))
        with op.batch_alter_table(table, copy_from=shape, recreate="always") as batch:
            if not household_first:
                batch.create_index(index, ["household_id"])
        return
    if household_first:
        op.drop_index(index, table_name=table)
    op.drop_constraint(f"{table}_pkey", table, type_="primary")
    op.create_primary_key(f"{table}_pkey", table, key)
    if not household_first:
        op.create_index(index, table, ["household_id"])


def upgrade() -> None:
    for table in TABLES:
        _rekey(table, household_first=True)


def downgrade() -> None:
    for table in TABLES:
        _rekey(table, household_first=False)
