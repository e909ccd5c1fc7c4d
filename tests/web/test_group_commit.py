"""Group commit through the app (SQLite): concurrent requests share commits, and no answer
leaves before the commit that holds its work (store/sqlite/units.py, web/turns.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection

import hostsync.store.sqlite.units as units
from hostsync.store.database import Database
from hostsync.store.sqlite.units import CommitGroup

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture
def sqlite_only(database: Database) -> Iterator[Database]:
    if database.commit_group is None:
        pytest.skip("group commit is SQLite's (PostgreSQL units run in worker threads)")
    yield database


@pytest.fixture
def group_sizes(sqlite_only: Database, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The units of each commit the group makes."""
    sizes: list[int] = []
    settle = CommitGroup.settle

    def counting(group: CommitGroup) -> None:
        if group.open:
            sizes.append(group.units)
        settle(group)

    monkeypatch.setattr(CommitGroup, "settle", counting)
    return sizes


def _committed_user_names(database: Database, tenant_id: str) -> set[str]:
    path = database.engine.url.database
    assert path is not None
    with sqlite3.connect(path) as outside:  # sees only what was committed
        rows = outside.execute("SELECT user_name FROM users WHERE tenant_id = ?", (tenant_id,))
        return {row[0] for row in rows}


async def test_concurrent_creates_commit_in_groups_and_each_answer_follows_its_commit(
    client: httpx.AsyncClient, sqlite_only: Database, tenant_id: str, group_sizes: list[int]
) -> None:
    names = [f"group{i}@contoso.example" for i in range(20)] + ["group3@contoso.example"] * 4
    seen_at_answer: list[tuple[int, str, bool]] = []

    async def create(name: str) -> None:
        response = await client.post("/Users", json={"schemas": [USER], "userName": name})
        committed = name in _committed_user_names(sqlite_only, tenant_id)
        seen_at_answer.append((response.status_code, name, committed))

    await asyncio.gather(*(create(name) for name in names))

    statuses = sorted(status for status, _, _ in seen_at_answer)
    assert statuses == [201] * 20 + [409] * 4
    # every 201 was already committed, seen from another connection, when it was answered
    assert all(committed for status, _, committed in seen_at_answer if status == 201)
    assert _committed_user_names(sqlite_only, tenant_id) == set(names)
    assert max(group_sizes) > 1  # they did share commits
    assert sum(group_sizes) >= len(names)  # each create's unit committed in some group


async def test_a_failed_group_commit_answers_503_to_its_units_and_stores_none_of_them(
    client: httpx.AsyncClient,
    sqlite_only: Database,
    tenant_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failures = {"left": 1}
    end = units.end_sqlite_unit

    def failing_once(connection: Connection, driver: sqlite3.Connection, *, commit: bool) -> Any:
        if commit and failures["left"]:
            failures["left"] -= 1
            raise sqlite3.OperationalError("disk I/O error")
        return end(connection, driver, commit=commit)

    monkeypatch.setattr(units, "end_sqlite_unit", failing_once)
    names = [f"lost{i}@contoso.example" for i in range(6)]
    responses = await asyncio.gather(
        *(client.post("/Users", json={"schemas": [USER], "userName": name}) for name in names)
    )
    statuses = [response.status_code for response in responses]
    failed = [name for name, status in zip(names, statuses, strict=True) if status == 503]
    assert failed, statuses  # the first group's commit failed
    assert set(statuses) <= {201, 503}
    for response in responses:
        if response.status_code == 503:
            body = response.json()
            assert body["status"] == "503"
            assert response.headers.get("retry-after")
    stored = _committed_user_names(sqlite_only, tenant_id)
    assert not stored & set(failed)  # nothing of a failed group is kept
    assert stored == {n for n, s in zip(names, statuses, strict=True) if s == 201}
    # the connection and the writer lock are usable again
    again = await client.post("/Users", json={"schemas": [USER], "userName": failed[0]})
    assert again.status_code == 201
