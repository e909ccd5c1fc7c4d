"""Migration 0600: memberships whose member is not a live user or group of the membership's
tenant (another tenant's, deleted, or nonexistent) are removed and each removal is recorded
in the group's tenant's activity log; member counts and types are set right.

Run on SQLite, and on PostgreSQL (marker ``postgres``) in a database of its own, created and
dropped by the test, since it starts from revision 0500.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hostsync.store.database import Database
from hostsync.store.migrate import alembic_config, current_revision

POSTGRES_URL = os.environ.get("HOSTSYNC_TEST_POSTGRES_URL") or None  # "" means none (scripts/test)

USERS = [  # id, tenant, deleted
    ("u1", "t1", False),
    ("u1d", "t1", True),
    ("u2", "t2", False),
]
GROUPS = [  # id, tenant, deleted, member_count (wrong on purpose)
    ("g1", "t1", False, 99),
    ("g1b", "t1", False, 0),
    ("g1d", "t1", True, 1),
    ("g2", "t2", False, 7),
]
MEMBERSHIPS = [  # group, member, tenant, type
    ("g1", "u1", "t1", "User"),  # kept
    ("g1", "g1b", "t1", "User"),  # kept, typed Group
    ("g1", "u2", "t1", "User"),  # another tenant's user
    ("g1", "g2", "t1", "Group"),  # another tenant's group
    ("g1", "u1d", "t1", "User"),  # a deleted user of the tenant
    ("g1", "nowhere", "t1", "User"),  # exists nowhere
    ("g1d", "u1", "t1", "User"),  # the group was deleted
    ("g2", "u2", "t2", "User"),  # kept
    ("g2", "u1", "t2", "User"),  # another tenant's user
    ("g2", "zz", "t1", "User"),  # filed under another tenant than its group's
]
NOT_OURS = "is not a user or group of this tenant"


def _seed_at_0500(database: Database) -> None:
    config = alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0500")
        for tenant in ("t1", "t2"):
            connection.execute(
                text("INSERT INTO tenants (id, name, created_at) VALUES (:t, :t, '2026-01-01')"),
                {"t": tenant},
            )
        for user_id, tenant, deleted in USERS:
            connection.execute(
                text(
                    "INSERT INTO users (id, tenant_id, user_name, user_name_folded, active,"
                    " document, created_at, modified_at, version, deleted_at) VALUES (:id, :t,"
                    " :name, :folded, TRUE, '{}', '2026-01-01', '2026-01-01', 1, :deleted)"
                ),
                {
                    "id": user_id,
                    "t": tenant,
                    "name": user_id,
                    "folded": user_id,
                    "deleted": "2026-01-02" if deleted else None,
                },
            )
        for group_id, tenant, deleted, count in GROUPS:
            connection.execute(
                text(
                    "INSERT INTO groups (id, tenant_id, display_name, display_name_folded,"
                    " document, created_at, modified_at, version, deleted_at, member_count)"
                    " VALUES (:id, :t, :name, :folded, '{}', '2026-01-01', '2026-01-01', 1,"
                    " :deleted, :count)"
                ),
                {
                    "id": group_id,
                    "t": tenant,
                    "name": f"Group {group_id}",
                    "folded": group_id,
                    "deleted": "2026-01-02" if deleted else None,
                    "count": count,
                },
            )
        for group_id, member_id, tenant, kind in MEMBERSHIPS:
            connection.execute(
                text(
                    "INSERT INTO memberships (group_id, member_id, tenant_id, member_type)"
                    " VALUES (:g, :m, :t, :kind)"
                ),
                {"g": group_id, "m": member_id, "t": tenant, "kind": kind},
            )


def _check_upgrade(database: Database) -> None:
    _seed_at_0500(database)
    database.migrate()
    assert current_revision(database.engine) is not None
    with database.engine.connect() as connection:
        kept = connection.execute(
            text("SELECT group_id, member_id, tenant_id, member_type FROM memberships")
        ).all()
        counts = dict(
            connection.execute(
                text("SELECT id, member_count FROM groups WHERE deleted_at IS NULL")
            ).all()
        )
        logged = connection.execute(
            text(
                "SELECT tenant_id, resource_type, resource_id, resource_name, operation, actor,"
                " method, status, detail FROM activity WHERE actor = 'migration 0600'"
            )
        ).all()
    assert sorted(tuple(row) for row in kept) == [
        ("g1", "g1b", "t1", "Group"),
        ("g1", "u1", "t1", "User"),
        ("g2", "u2", "t2", "User"),
    ]
    assert counts == {"g1": 2, "g1b": 0, "g2": 1}  # g1b and g2 untouched by the removals
    assert all(
        (row.resource_type, row.operation, row.method, row.status)
        == ("Group", "remove-member", "MIGRATE", 200)
        for row in logged
    )
    details = {(row.tenant_id, row.resource_id): [] for row in logged}
    for row in logged:
        details[(row.tenant_id, row.resource_id)].append(row.detail)
    by_member = {
        (row.tenant_id, row.resource_id, member): row.detail
        for row in logged
        for member in ("u2", "g2", "u1d", "nowhere", "u1", "zz")
        if f" {member} " in row.detail
    }
    assert len(logged) == 7
    # Another tenant's id and an id that exists nowhere read alike (no probing by the log).
    assert by_member[("t1", "g1", "u2")] == f"Removed by migration 0600: member u2 {NOT_OURS}"
    assert by_member[("t1", "g1", "g2")] == f"Removed by migration 0600: member g2 {NOT_OURS}"
    assert by_member[("t1", "g1", "nowhere")] == (
        f"Removed by migration 0600: member nowhere {NOT_OURS}"
    )
    assert by_member[("t1", "g1", "u1d")] == "Removed by migration 0600: member u1d was deleted"
    assert by_member[("t2", "g2", "u1")] == f"Removed by migration 0600: member u1 {NOT_OURS}"
    deleted_group = [row for row in logged if row.resource_id == "g1d"]
    assert [(row.tenant_id, row.detail) for row in deleted_group] == [
        ("t1", "Removed by migration 0600: the group was deleted")
    ]
    misfiled = [row for row in logged if row.resource_id == "g2" and "filed" in row.detail]
    assert [row.tenant_id for row in misfiled] == ["t2"]  # the group's tenant
    assert {row.resource_name for row in logged if row.resource_id == "g1"} == {"Group g1"}


def test_foreign_and_dangling_memberships_are_removed_and_recorded(tmp_path: Path) -> None:
    """0600 removes memberships to another tenant's, deleted or nonexistent members (SQLite),
    records each in the group's tenant's activity, and recounts the groups touched."""
    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        _check_upgrade(database)
    finally:
        database.dispose()


@pytest.fixture
def postgres_scratch() -> Iterator[Database]:
    """A PostgreSQL database of the test's own (the shared one is at head)."""
    if POSTGRES_URL is None:
        pytest.skip("HOSTSYNC_TEST_POSTGRES_URL is not set")
    url = make_url(POSTGRES_URL)
    name = f"hostsync_m0600_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database = Database(url.set(database=name).render_as_string(hide_password=False))
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.mark.postgres
def test_foreign_and_dangling_memberships_are_removed_on_postgresql(
    postgres_scratch: Database,
) -> None:
    """The same as on SQLite, on PostgreSQL."""
    _check_upgrade(postgres_scratch)
