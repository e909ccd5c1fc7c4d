"""groups.member_count stays equal to the membership rows through every change (both backends)."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hostsync.scim.resources import normalize_resource
from hostsync.scim.schema import GROUP_RESOURCE, USER_RESOURCE
from hostsync.store.database import Database
from hostsync.store.directory import SqlDirectory
from hostsync.store.tables import groups, memberships
from hostsync.store.tenants import create_tenant


def _users(directory: SqlDirectory, prefix: str, n: int) -> list[str]:
    return directory.import_users(
        [normalize_resource({"userName": f"{prefix}{i}"}, USER_RESOURCE) for i in range(n)]
    )


def _group(directory: SqlDirectory, name: str, members: list[str]) -> str:
    document = normalize_resource({"displayName": name}, GROUP_RESOURCE)
    return directory.create_group(document, members).id


def _assert_counts_true(directory: SqlDirectory) -> None:
    """The directory answers ``has_more_members_than`` by each group's real number of rows in
    memberships (from the counts its own writes returned plus the changes it keeps back, or a
    query), and once it has written what it kept back, every group's kept count equals them."""
    g, m = groups.c, memberships.c
    actual = (
        select(func.count()).select_from(memberships).where(m.group_id == g.id).scalar_subquery()
    )

    def rows() -> list[Any]:
        return list(
            directory.connection.execute(
                select(g.id, g.display_name, g.member_count, actual).where(
                    g.tenant_id == directory.tenant_id, g.deleted_at.is_(None)
                )
            ).all()
        )

    before = rows()
    assert before, "no groups"
    for group_id, name, _, real in before:
        assert not directory.has_more_members_than(group_id, real), name
        assert directory.has_more_members_than(group_id, real - 1), name
    directory.flush()
    after = rows()
    assert [(name, kept) for _, name, kept, _ in after] == [
        (name, real) for _, name, _, real in after
    ]


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


def _answers_true(directory: SqlDirectory, group_ids: list[str]) -> None:
    """``has_more_members_than`` tells each group's real number of rows, with nothing flushed."""
    m = memberships.c
    for group_id in group_ids:
        real = directory.connection.execute(
            select(func.count()).select_from(memberships).where(m.group_id == group_id)
        ).scalar_one()
        assert not directory.has_more_members_than(group_id, real)
        assert directory.has_more_members_than(group_id, real - 1)


def _kept_counts_true(database: Database, tenant_id: str) -> None:
    """In a unit of work of its own: every group's kept count equals its rows."""
    with database.directory(tenant_id, write=False) as directory:
        _assert_counts_true(directory)


class _Rollback(Exception):
    pass


# One step on one of two groups: what it does, which users, whether it then bumps the group's
# version (as a PATCH does), runs in a savepoint that rolls back, or ends the unit of work.
_steps = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "clear", "delete-user", "none"]),
        st.integers(0, 1),
        st.sets(st.integers(0, 5), max_size=4),
        st.booleans(),  # touch the group after the change
        st.booleans(),  # roll the step back
        st.booleans(),  # end the unit of work after the step
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=_steps)
def test_counts_kept_back_are_written_once_and_rolled_back_with_their_savepoint(
    database: Database, steps: list[Any]
) -> None:
    """The count a membership change moves is kept back until the UPDATE that bumps the
    group's version, or the end of the unit of work; a savepoint that rolls back drops it."""
    with database.connect(write=True) as connection:
        tenant_id = create_tenant(connection, "Kept").id
    with database.directory(tenant_id) as directory:
        ids = _users(directory, "k", 6)
        group_ids = [_group(directory, "A", ids[:2]), _group(directory, "B", [])]
    versions = dict.fromkeys(group_ids, 1)
    deleted: set[str] = set()
    context = database.directory(tenant_id)
    directory = context.__enter__()
    try:
        for action, which, chosen, touch, roll_back, end in steps:
            group_id = group_ids[which]
            members = [ids[i] for i in sorted(chosen) if ids[i] not in deleted]
            try:
                with directory.savepoint():
                    if action == "add":
                        directory.add_members(group_id, members)
                    elif action == "remove":
                        directory.remove_members(group_id, members)
                    elif action == "clear":
                        directory.clear_members(group_id)
                    elif action == "delete-user" and members:
                        assert directory.delete_user(members[0])
                    if touch:
                        stored = directory.touch_group(group_id, version=versions[group_id])
                    _answers_true(directory, group_ids)
                    if roll_back:
                        raise _Rollback
                    if touch:
                        versions[group_id] = stored.version
                    if action == "delete-user" and members:
                        deleted.add(members[0])
            except _Rollback:
                pass
            _answers_true(directory, group_ids)
            if end:
                context.__exit__(None, None, None)
                _kept_counts_true(database, tenant_id)
                context = database.directory(tenant_id)
                directory = context.__enter__()
    finally:
        context.__exit__(None, None, None)
    _kept_counts_true(database, tenant_id)


def test_a_member_add_then_a_version_bump_is_one_update_of_the_group(
    sqlite_db: Database,
) -> None:
    """Adding a member and bumping the group's version write the group's row once, and the
    member count the 200 response needs comes back with it (no SELECT of the count)."""
    with sqlite_db.connect(write=True) as connection:
        tenant_id = create_tenant(connection, "Trace").id
    with sqlite_db.directory(tenant_id) as directory:
        ids = _users(directory, "t", 3)
        group_id = _group(directory, "Traced", ids[:1])
    seen: list[str] = []
    with sqlite_db.directory(tenant_id) as directory:
        driver: sqlite3.Connection = directory.connection.connection.driver_connection  # type: ignore[assignment]
        current = directory.get_group(group_id)
        assert current is not None
        driver.set_trace_callback(seen.append)
        try:
            directory.add_members(group_id, ids[1:])
            directory.touch_group(group_id, version=current.version)
            assert directory.has_more_members_than(group_id, 2)
            assert not directory.has_more_members_than(group_id, 3)
        finally:
            driver.set_trace_callback(None)
    updates = [sql for sql in seen if sql.lstrip().upper().startswith("UPDATE GROUPS")]
    assert len(updates) == 1, updates
    assert "member_count=(groups.member_count + 2)" in updates[0]
    assert not [sql for sql in seen if "SELECT groups.member_count" in sql]
    _kept_counts_true(sqlite_db, tenant_id)


def test_a_users_groups_are_the_same_asked_alone_or_with_others(
    database: Database, tenant_id: str
) -> None:
    """One user's groups (its own statement) come as a page's do: by name, deleted left out."""
    with database.directory(tenant_id) as directory:
        ids = _users(directory, "g", 2)
        for name in ("Zeta", "alpha", "Mid", "Gone"):
            _group(directory, name, ids)
        gone = [g for g, refs in _named(directory, ids[0]).items() if refs == "Gone"]
        assert directory.delete_group(gone[0])
        alone = directory.groups_of([ids[0]])
        together = directory.groups_of(ids)
        assert directory.groups_of([]) == {}
    assert [ref.display for ref in alone[ids[0]]] == ["alpha", "Mid", "Zeta"]
    assert alone[ids[0]] == together[ids[0]]


def _named(directory: SqlDirectory, user_id: str) -> dict[str, str]:
    return {ref.value: ref.display for ref in directory.groups_of([user_id])[user_id]}


def test_a_member_group_is_typed_group_added_alone_or_with_others(
    database: Database, tenant_id: str
) -> None:
    """A member that is a group of the tenant is stored as type Group (its own statement when
    it comes alone, as Entra sends them), a user as User."""
    with database.directory(tenant_id) as directory:
        ids = _users(directory, "t", 2)
        inner = _group(directory, "Inner", [])
        other = _group(directory, "Other", [])
        alone = _group(directory, "Alone", [])
        directory.add_members(alone, [inner])
        directory.add_members(alone, [ids[0]])
        mixed = _group(directory, "Mixed", [])
        directory.add_members(mixed, [ids[1], other, ids[0]])
        found = directory.members_of([alone, mixed])
    assert {(m.value, m.type) for m in found[alone]} == {(inner, "Group"), (ids[0], "User")}
    assert {(m.value, m.type) for m in found[mixed]} == {
        (ids[1], "User"),
        (other, "Group"),
        (ids[0], "User"),
    }
