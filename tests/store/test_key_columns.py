"""A replace sets only the key columns that change, and the columns always match the document.

The store copies userName (and its case-folded form), externalId and active out of a user's
document into columns, and a group's displayName and externalId. A replace sets only those
whose value differs from what it read at the version it replaces (store/directory.py,
``_TableStatements.replacing``). These tests check both halves: the columns always equal what
the stored document says, through savepoints that roll back and units of work that end, and
an UPDATE that changes no key leaves the key columns (so their indexes) out of its SET.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hostsync.scim.filters import parse_filter
from hostsync.scim.ports import Selection
from hostsync.scim.resources import normalize_resource
from hostsync.scim.schema import GROUP_RESOURCE, USER_RESOURCE
from hostsync.store.database import Database
from hostsync.store.directory import SqlDirectory
from hostsync.store.filters import fold
from hostsync.store.tables import groups, users
from hostsync.store.tenants import create_tenant


def _columns(directory: SqlDirectory, user_id: str) -> tuple[Any, ...]:
    c = users.c
    row = directory.connection.execute(
        select(c.user_name, c.user_name_folded, c.external_id, c.active, c.document).where(
            c.id == user_id
        )
    ).one()
    return tuple(row)


def _assert_columns_match_document(directory: SqlDirectory, user_id: str) -> None:
    user_name, folded, external_id, active, document = _columns(directory, user_id)
    assert user_name == document["userName"]
    assert folded == fold(document["userName"])
    assert external_id == document.get("externalId")
    assert active == document.get("active", True)
    # The indexes behind Entra's lookups find the user by what its document says.
    assert _found(directory, f'userName eq "{document["userName"].upper()}"') == [user_id]
    if document.get("externalId") is not None:
        assert _found(directory, f'externalId eq "{document["externalId"]}"') == [user_id]


def _found(directory: SqlDirectory, text: str) -> list[str]:
    page = directory.list_users(Selection(filter=parse_filter(text)))
    return [stored.id for stored in page.resources]


class _Rollback(Exception):
    pass


# One step: new key values for the user, whether a GET reads it first, and whether the step
# runs in a savepoint that then rolls back.
_steps = st.lists(
    st.tuples(
        st.sampled_from(["ann", "Ann", "ANN", "bob"]),  # case-only changes included
        st.sampled_from([None, "x1", "x2"]),
        st.booleans(),
        st.booleans(),  # read before the replace
        st.booleans(),  # roll the step back
        st.booleans(),  # end the unit of work after the step
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=_steps)
def test_key_columns_follow_the_document(database: Database, steps: list[Any]) -> None:
    with database.connect(write=True) as connection:
        tenant_id = create_tenant(connection, "Keys").id
    with database.directory(tenant_id) as directory:
        user_id = directory.create_user(
            normalize_resource({"userName": "ann", "title": "t0"}, USER_RESOURCE)
        ).id
    version = 1  # what the test knows; a GET is not needed to replace at it
    directory_context = database.directory(tenant_id)
    directory = directory_context.__enter__()
    try:
        for number, (name, external_id, active, read_first, roll_back, end) in enumerate(steps):
            if read_first:
                current = directory.get_user(user_id)
                assert current is not None and current.version == version
            body: dict[str, Any] = {"userName": name, "active": active, "title": f"t{number}"}
            if external_id is not None:
                body["externalId"] = external_id
            document = normalize_resource(body, USER_RESOURCE)
            try:
                with directory.savepoint():
                    stored = directory.replace_user(user_id, document, version=version)
                    _assert_columns_match_document(directory, user_id)
                    if roll_back:
                        raise _Rollback
                    version = stored.version
            except _Rollback:
                pass
            _assert_columns_match_document(directory, user_id)
            if end:
                directory_context.__exit__(None, None, None)
                directory_context = database.directory(tenant_id)
                directory = directory_context.__enter__()
                _assert_columns_match_document(directory, user_id)
    finally:
        directory_context.__exit__(None, None, None)


def test_group_key_columns_follow_the_document(database: Database, tenant_id: str) -> None:
    with database.directory(tenant_id) as directory:
        group = directory.create_group(
            normalize_resource({"displayName": "Desk"}, GROUP_RESOURCE), []
        )
        for name, external_id in [("Desk", "g1"), ("DESK", "g1"), ("Front", None), ("Front", "g2")]:
            current = directory.get_group(group.id)
            assert current is not None
            body = {"displayName": name, **({"externalId": external_id} if external_id else {})}
            directory.replace_group(
                group.id, normalize_resource(body, GROUP_RESOURCE), version=current.version
            )
            touched = directory.touch_group(group.id, version=current.version + 1)
            c = groups.c
            row = directory.connection.execute(
                select(c.display_name, c.display_name_folded, c.external_id).where(c.id == group.id)
            ).one()
            assert tuple(row) == (name, fold(name), external_id)
            assert touched.version == current.version + 2


def _update_of(database: Database, tenant_id: str, name: str, change: dict[str, Any]) -> str:
    """The UPDATE statement SQLite ran for one read-then-replace of a new user."""
    with database.directory(tenant_id) as directory:
        user_id = directory.create_user(
            normalize_resource({"userName": name, "externalId": name}, USER_RESOURCE)
        ).id
    seen: list[str] = []
    with database.directory(tenant_id) as directory:
        driver: sqlite3.Connection = directory.connection.connection.driver_connection  # type: ignore[assignment]
        current = directory.get_user(user_id)
        assert current is not None
        document = {**current.document, **change}
        driver.set_trace_callback(seen.append)
        try:
            directory.replace_user(user_id, document, version=current.version)
        finally:
            driver.set_trace_callback(None)
        _assert_columns_match_document(directory, user_id)
    (update,) = [sql for sql in seen if sql.lstrip().upper().startswith("UPDATE USERS")]
    return update.split(" WHERE ")[0]


_KEYS = ("user_name", "user_name_folded", "external_id", "active")


def _set_columns(set_clause: str) -> set[str]:
    return {name for name in _KEYS if f"{name}=" in set_clause.replace(" ", "")}


def test_an_update_sets_only_the_key_columns_that_change(sqlite_db: Database) -> None:
    with sqlite_db.connect(write=True) as connection:
        tenant_id = create_tenant(connection, "Trace").id

    assert _set_columns(_update_of(sqlite_db, tenant_id, "a", {"title": "Boss"})) == set()
    assert _set_columns(_update_of(sqlite_db, tenant_id, "b", {"userName": "B"})) == {"user_name"}
    assert _set_columns(_update_of(sqlite_db, tenant_id, "c", {"userName": "c2"})) == {
        "user_name",
        "user_name_folded",
    }
    assert _set_columns(
        _update_of(sqlite_db, tenant_id, "d", {"externalId": "d2", "active": False})
    ) == {"external_id", "active"}
