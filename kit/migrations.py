"""The body of every service's Alembic env.py: run the migrations on the connection `migrate` passes."""

from __future__ import annotations

from typing import Any


def run_migrations(context: Any) -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through kit.database.migrate (the service does this at start)")
    version_table = context.config.attributes.get("version_table", "alembic_version")
    context.configure(connection=connection, target_metadata=None, render_as_batch=True, version_table=version_table)
    with context.begin_transaction():
        context.run_migrations()
