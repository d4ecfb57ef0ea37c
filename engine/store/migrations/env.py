"""Alembic environment: runs on a connection the store hands over (never reads alembic.ini)."""

from __future__ import annotations

from alembic import context

from engine.store.tables import metadata

NOT_OURS = frozenset({"scheduler_jobs"})
"""Tables others own in our database: APScheduler's job store (campaign daemon) creates and
manages its own, so autogenerate must not propose dropping it."""


def include_object(obj: object, name: str | None, type_: str, reflected: bool,
                   compare_to: object) -> bool:
    return not (type_ == "table" and name in NOT_OURS)


connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  compare_type=True, include_object=include_object)
with context.begin_transaction():
    context.run_migrations()
