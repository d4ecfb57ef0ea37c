"""Alembic environment: runs on a connection the store hands over (never reads alembic.ini)."""

from __future__ import annotations

from alembic import context

from engine.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
