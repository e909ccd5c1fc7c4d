"""run_unit: one SCIM request's unit of work, its activity rows in the same transaction."""

from __future__ import annotations

import pytest

from hostsync.scim.ports import Directory, Selection, Stored
from hostsync.store.activity.queries import ActivityFilter, Entry, page
from hostsync.store.activity.recording import RecordingDirectory, RequestContext, run_unit
from hostsync.store.database import Database

CONTEXT = RequestContext("POST", "/Users", "test-agent")


def _entries(database: Database, tenant_id: str) -> list[Entry]:
    with database.connect(write=False) as connection:
        total, entries = page(connection, tenant_id, ActivityFilter())
    assert total == len(entries)
    return entries


def test_a_write_unit_records_its_changes_and_returns_the_result(
    database: Database, tenant_id: str
) -> None:
    """The work runs through the recording directory; its change is one activity row."""

    def work(directory: Directory) -> Stored:
        assert isinstance(directory, RecordingDirectory)
        return directory.create_user({"userName": "ada@contoso.com", "password": "x"})

    stored = run_unit(database, tenant_id, CONTEXT, work, write=True)
    with database.directory(tenant_id, write=False) as directory:
        assert directory.get_user(stored.id) is not None
    [entry] = _entries(database, tenant_id)
    assert (entry.operation, entry.resource_id, entry.status) == ("create", stored.id, 201)
    assert (entry.method, entry.path, entry.client) == ("POST", "/Users", "test-agent")
    assert {change["path"] for change in entry.changes} == {"userName"}


def test_a_read_unit_records_nothing_and_returns_the_result(
    database: Database, tenant_id: str
) -> None:
    """A read is given the directory itself and leaves no activity row."""
    run_unit(
        database,
        tenant_id,
        CONTEXT,
        lambda directory: directory.create_user({"userName": "grace@contoso.com"}),
        write=True,
    )
    before = len(_entries(database, tenant_id))

    def work(directory: Directory) -> int:
        assert not isinstance(directory, RecordingDirectory)
        return directory.list_users(Selection()).total

    context = RequestContext("GET", "/Users", "test-agent")
    assert run_unit(database, tenant_id, context, work, write=False) == 1
    assert len(_entries(database, tenant_id)) == before


def test_a_failing_write_unit_leaves_neither_change_nor_activity_row(
    database: Database, tenant_id: str
) -> None:
    """An exception after a change rolls back the change and its activity rows alike."""
    created: list[str] = []

    def work(directory: Directory) -> None:
        created.append(directory.create_user({"userName": "rolled@back"}).id)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_unit(database, tenant_id, CONTEXT, work, write=True)
    assert created
    with database.directory(tenant_id, write=False) as directory:
        assert directory.get_user(created[0]) is None
    assert _entries(database, tenant_id) == []
