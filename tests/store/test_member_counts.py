"""groups.member_count stays equal to the membership rows through every change (both backends)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hostsync.scim.resources import normalize_resource
from hostsync.scim.schema import GROUP_RESOURCE, USER_RESOURCE
from hostsync.store.database import Database
from hostsync.store.directory import SqlDirectory
from hostsync.store.tables import groups, memberships


def _users(directory: SqlDirectory, prefix: str, n: int) -> list[str]:
    return directory.import_users(
        [normalize_resource({"userName": f"{prefix}{i}"}, USER_RESOURCE) for i in range(n)]
    )


def _group(directory: SqlDirectory, name: str, members: list[str]) -> str:
    document = normalize_resource({"displayName": name}, GROUP_RESOURCE)
    return directory.create_group(document, members).id


def _assert_counts_true(directory: SqlDirectory) -> None:
    """Every group's kept count equals its rows in memberships, and the directory answers
    ``has_more_members_than`` by it (from the counts its own writes returned, or a query)."""
    g, m = groups.c, memberships.c
    actual = (
        select(func.count()).select_from(memberships).where(m.group_id == g.id).scalar_subquery()
    )
    rows = directory.connection.execute(
        select(g.id, g.display_name, g.member_count, actual).where(
            g.tenant_id == directory.tenant_id, g.deleted_at.is_(None)
        )
    ).all()
    assert rows, "no groups"
    assert [(name, kept) for _, name, kept, _ in rows] == [
        (name, real) for _, name, _, real in rows
    ]
    for group_id, name, _, real in rows:
        assert not directory.has_more_members_than(group_id, real), name
        assert directory.has_more_members_than(group_id, real - 1), name


def test_counts_follow_adds_removes_replaces_and_deletes(
    database: Database, tenant_id: str
) -> None:
    with database.directory(tenant_id) as directory:
        ids = _users(directory, "m", 12)
        big = _group(directory, "Big", ids[:8] + ids[:3])  # duplicates count once
        small = _group(directory, "Small", ids[8:10])
        outer = _group(directory, "Outer", [big, ids[11]])  # a group as a member
        _assert_counts_true(directory)
        assert directory.has_more_members_than(big, 7)
        assert not directory.has_more_members_than(big, 8)

        directory.add_members(big, ids[6:11])  # 6 and 7 are in already: 3 new
        directory.remove_members(small, [ids[9], ids[9], "absent"])  # one real removal
        _assert_counts_true(directory)
        assert directory.has_more_members_than(big, 10)
        assert not directory.has_more_members_than(big, 11)

        directory.clear_members(small)
        directory.add_members(small, ids[:2])
        _assert_counts_true(directory)

        assert directory.delete_user(ids[0])  # leaves Big and Small
        _assert_counts_true(directory)
        assert directory.delete_group(big)  # leaves Outer
        _assert_counts_true(directory)
        assert not directory.has_more_members_than(outer, 1)
        assert directory.has_more_members_than(outer, 0)


def test_a_failed_add_leaves_the_count_alone(database: Database, tenant_id: str) -> None:
    """A group cannot be its own member: nothing is added, nothing counted."""
    with database.directory(tenant_id) as directory:
        ids = _users(directory, "f", 2)
        group = _group(directory, "Self", ids)
        with pytest.raises(Exception, match="itself"):
            directory.add_members(group, [ids[0], group])
        _assert_counts_true(directory)
        assert not directory.has_more_members_than(group, 2)


def test_a_rolled_back_savepoint_leaves_no_stale_count(database: Database, tenant_id: str) -> None:
    """Counts noted inside a savepoint that rolls back are not trusted afterwards (Bulk)."""
    with database.directory(tenant_id) as directory:
        ids = _users(directory, "s", 5)
        group = _group(directory, "Saved", ids[:1])
        with pytest.raises(RuntimeError), directory.savepoint():
            directory.add_members(group, ids[1:])
            assert directory.has_more_members_than(group, 4)
            raise RuntimeError("the operation fails after the add")
        _assert_counts_true(directory)
        assert not directory.has_more_members_than(group, 1)
        directory.remove_members(group, ids[:1])
        _assert_counts_true(directory)
