"""The Alembic migrations build exactly the schema that tables.py describes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from hostsync.store.database import Database
from hostsync.store.migrate import alembic_config, current_revision, include_object_for
from hostsync.store.tables import metadata


def test_migrations_match_the_table_definitions(database: Database) -> None:
    """Autogenerate finds no difference between the migrated database and tables.py."""
    with database.engine.connect() as connection:
        include_object = include_object_for(connection.dialect.name)
        context = MigrationContext.configure(connection, opts={"include_object": include_object})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_migrate_is_idempotent_and_reaches_head(database: Database) -> None:
    """Running the migrations again changes nothing and the revision is the newest."""
    before = current_revision(database.engine)
    database.migrate()
    assert current_revision(database.engine) == before
    assert before is not None


def test_member_counts_are_backfilled_from_the_memberships(tmp_path: Path) -> None:
    """0400 adds groups.member_count and fills it from the rows of a database at 0300."""
    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0300")
        connection.exec_driver_sql(
            "INSERT INTO tenants (id, name, created_at) VALUES ('t', 'T', '2026-01-01')"
        )
        for group_id, name in (("g1", "One"), ("g2", "Two")):
            connection.exec_driver_sql(
                "INSERT INTO groups (id, tenant_id, display_name, display_name_folded, document,"
                " created_at, modified_at, version)"
                " VALUES (?, 't', ?, ?, '{}', '2026-01-01', '2026-01-01', 1)",
                (group_id, name, name.lower()),
            )
        for member in ("u1", "u2", "u3"):
            connection.exec_driver_sql(
                "INSERT INTO memberships (group_id, member_id, tenant_id, member_type)"
                " VALUES ('g1', ?, 't', 'User')",
                (member,),
            )
        command.upgrade(config, "0400")  # not head: 0600 drops members that name no user
    with database.engine.connect() as connection:
        counts = dict(connection.exec_driver_sql("SELECT id, member_count FROM groups").all())
    database.dispose()
    assert counts == {"g1": 3, "g2": 0}


def _sqlite_schema(connection: Any) -> dict[str, str]:
    return dict(
        connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_schema WHERE tbl_name = 'memberships' AND sql IS NOT NULL"
        ).all()
    )


def test_memberships_are_rebuilt_clustered_with_their_rows(tmp_path: Path) -> None:
    """0500 rebuilds a SQLite memberships table WITHOUT ROWID, rows kept; downgrade undoes it."""
    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config()
    rows = [(f"g{g}", f"u{u}", "t", "User", f"User {u}") for g in (2, 1) for u in (3, 1, 2)]
    rows.append(("g1", "g2", "t", "Group", None))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0400")
        for row in rows:
            connection.exec_driver_sql(
                "INSERT INTO memberships (group_id, member_id, tenant_id, member_type, display)"
                " VALUES (?, ?, ?, ?, ?)",
                row,
            )
        before = _sqlite_schema(connection)
    assert "WITHOUT ROWID" not in before["memberships"]
    assert "ix_memberships_group_tenant_member" in before

    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0500")  # not head: 0600 drops members that name no user
    with database.engine.connect() as connection:
        after = _sqlite_schema(connection)
        kept = connection.exec_driver_sql(
            "SELECT group_id, member_id, tenant_id, member_type, display FROM memberships"
        ).all()
        plan, member_plan = (
            " ".join(
                str(step[-1])
                for step in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}").all()
            )
            for query in (
                "SELECT member_id FROM memberships WHERE group_id = 'g1' AND tenant_id = 't'",
                "SELECT group_id FROM memberships WHERE member_id = 'u1' AND tenant_id = 't'",
            )
        )
    assert after["memberships"].rstrip().endswith("WITHOUT ROWID")
    assert set(after) == {"memberships", "ix_memberships_member_tenant_group"}
    assert [tuple(row) for row in kept] == sorted(rows)  # clustered: key order
    assert "PRIMARY KEY" in plan  # the per-group query walks the clustered key
    assert "COVERING INDEX ix_memberships_member_tenant_group" in member_plan  # no row lookups

    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0400")
        restored = _sqlite_schema(connection)
        back = connection.exec_driver_sql(
            "SELECT group_id, member_id, tenant_id, member_type, display FROM memberships"
        ).all()
    database.dispose()
    assert "WITHOUT ROWID" not in restored["memberships"]
    assert set(restored) == set(before)
    assert sorted(tuple(row) for row in back) == sorted(rows)


def test_an_upgrade_says_what_it_does_and_a_new_schema_says_nothing(tmp_path: Path) -> None:
    """An existing database's upgrade (a step may rebuild a table for a while) is announced,
    then each step with its time; creating a new database's schema prints nothing."""
    lines: list[str] = []
    fresh = Database(f"sqlite:///{tmp_path / 'new.db'}")
    fresh.migrate(progress=lines.append)
    fresh.dispose()
    assert lines == []

    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0300")
    database.migrate(progress=lines.append)
    head = current_revision(database.engine)
    database.migrate(progress=lines.append)  # already at head: nothing more
    database.dispose()
    assert lines[0].startswith(f"upgrading the database schema from 0300 to {head} (")
    steps = [line.split()[0] for line in lines[1:]]
    assert steps[0] == "0400" and steps[-1] == head
    assert all(" done in " in line and " s: " in line for line in lines[1:])
    step_0500 = next(line for line in lines[1:] if line.split()[0] == "0500")
    assert "member index covering the tenant and group" in step_0500  # the whole first paragraph
