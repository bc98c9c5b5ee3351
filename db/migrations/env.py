"""Alembic environment. ``db.migrate`` passes in a connection already inside a transaction
(holding the PostgreSQL advisory lock), so all pending revisions apply atomically."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from db.tables import metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run migrations with `firebreak db upgrade` (db.migrate.upgrade)")
    # ``db.migrate`` may pass a callback told of each revision as it is applied (progress).
    applied = context.config.attributes.get("on_version_apply")
    extra = {"on_version_apply": applied} if applied is not None else {}
    context.configure(connection=connection, target_metadata=metadata, **extra)
    with context.begin_transaction():
        context.run_migrations()


run()
