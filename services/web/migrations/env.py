from alembic import context

from kit.migrations import run_migrations

run_migrations(context)
