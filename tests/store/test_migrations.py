"""The Alembic migrations build exactly the schema that tables.py describes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from hostsync.store.database import Database
from hostsync.store.migrate import current_revision
from hostsync.store.tables import metadata


def test_migrations_match_the_table_definitions(database: Database) -> None:
    """Autogenerate finds no difference between the migrated database and tables.py."""
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_migrate_is_idempotent_and_reaches_head(database: Database) -> None:
    """Running the migrations again changes nothing and the revision is the newest."""
    before = current_revision(database.engine)
    database.migrate()
    assert current_revision(database.engine) == before
    assert before is not None
