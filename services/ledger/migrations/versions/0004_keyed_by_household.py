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

TABLES = {"ledger_event": "event_id", "ledger_need": "need_id"}


def _rekey(table: str, household_first: bool) -> None:
    own_id = TABLES[table]
    key = ["household_id", own_id] if household_first else [own_id]
    index = f"ix_{table}_household_id"
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot change a primary key in place: the table is copied into its new shape,
        # the columns as they are with the other key.
        columns = sa.Table(table, sa.MetaData(), autoload_with=op.get_bind()).columns
        shape = sa.Table(
            table, sa.MetaData(),
            *(sa.Column(c.name, c.type, nullable=c.nullable) for c in columns),
            sa.PrimaryKeyConstraint(*key, name=f"{table}_pkey"),
        )
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
