"""Schema migrations with Alembic, run in-process on start-up (no alembic.ini needed)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from hostsync.store.tables import POSTGRESQL_ONLY_INDEXES

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """An Alembic configuration pointing at hostsync's migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def include_object_for(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's ``include_object`` for a database of this dialect.

    Its comparison skips the indexes the tables create on PostgreSQL only when the database
    is another (Alembic does not read ``ddl_if``).
    """

    def include_object(
        item: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        if type_ == "index" and name in POSTGRESQL_ONLY_INDEXES:
            return dialect == "postgresql"
        return True

    return include_object


def upgrade(engine: Engine, progress: Callable[[str], None] | None = None) -> None:
    """Create or upgrade the schema to the newest revision, in one transaction.

    ``progress`` hears of an existing database's upgrade: a line before it starts (some steps
    rebuild a table: 2,050,000 memberships took 7 to 14 s here) and one per step done, with its
    time. Creating an empty database's schema is quick and says nothing.
    """
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        if progress is not None:
            _announce(config, connection, progress)
        command.upgrade(config, "head")


def _announce(config: Config, connection: Connection, progress: Callable[[str], None]) -> None:
    """Say what an upgrade of an existing database will do, and each step as it ends."""
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        return
    steps = list(
        reversed(list(ScriptDirectory.from_config(config).iterate_revisions("head", current)))
    )
    if not steps:
        return
    progress(
        f"upgrading the database schema from {current} to {steps[-1].revision} "
        f"({len(steps)} step{'s' if len(steps) > 1 else ''}; a large directory may take minutes)"
    )
    last = [time.monotonic()]

    def step_done(*, step: Any, **_: Any) -> None:
        moment = time.monotonic()
        doc = step.up_revision.doc if step.up_revision else ""
        summary = " ".join((doc or "").split("\n\n")[0].split())  # the first paragraph
        progress(f"  {step.up_revision_id} done in {moment - last[0]:.1f} s: {summary}")
        last[0] = moment

    config.attributes["on_version_apply"] = [step_done]


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
