"""Deep pages from page anchors (store/paging.py) list exactly what OFFSET lists."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Connection, select

from hostsync.scim.errors import UniquenessError
from hostsync.scim.ports import Selection
from hostsync.scim.resources import normalize_resource
from hostsync.scim.schema import USER_RESOURCE
from hostsync.store import directory as directory_module
from hostsync.store import paging
from hostsync.store.database import Database
from hostsync.store.tables import users


def _user(name: str) -> dict[str, object]:
    return normalize_resource({"userName": name}, USER_RESOURCE)


def _all_pages(database: Database, tenant_id: str, size: int) -> list[list[str]]:
    """Every page at every start index: [ids of the page starting at i] for i = 1…total."""
    pages = []
    with database.directory(tenant_id, write=False) as directory:
        total = directory.list_users(Selection(count=0)).total
        for start in range(1, total + 1):
            page = directory.list_users(Selection(start_index=start, count=size))
            assert page.total == total, start
            pages.append([stored.id for stored in page.resources])
    return pages


def _expected(ids: list[str], size: int) -> list[list[str]]:
    return [ids[i : i + size] for i in range(len(ids))]


@pytest.fixture
def small_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Anchors every 4 rows, used from offset 4, rebuilt whenever stale."""
    monkeypatch.setattr(directory_module, "STEP", 4)
    monkeypatch.setattr(directory_module, "MIN_OFFSET", 4)
    monkeypatch.setattr(paging, "STEP", 4)
    monkeypatch.setattr(paging, "REBUILD_SECONDS", 0.0)


@pytest.mark.usefixtures("small_steps")
def test_anchored_pages_follow_creates_and_deletes(database: Database, tenant_id: str) -> None:
    with database.directory(tenant_id) as directory:
        ids = directory.import_users([_user(f"a{i:03d}") for i in range(30)])
    assert _all_pages(database, tenant_id, 3) == _expected(ids, 3)
    # The walk above built anchors (both backends).
    assert database.page_anchors.start(tenant_id, "User", 0, 9) is not None

    with database.directory(tenant_id) as directory:  # deletes shift every later position
        for index in (0, 7, 8, 29):
            assert directory.delete_user(ids[index])
        more = [directory.create_user(_user(f"b{i:03d}")).id for i in range(25)]
    alive = [user_id for n, user_id in enumerate(ids) if n not in (0, 7, 8, 29)] + more
    assert _all_pages(database, tenant_id, 3) == _expected(alive, 3)


def test_stale_anchors_fall_back_to_offset_until_rebuilt(
    database: Database, tenant_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(directory_module, "STEP", 4)
    monkeypatch.setattr(directory_module, "MIN_OFFSET", 4)
    monkeypatch.setattr(paging, "STEP", 4)
    monkeypatch.setattr(paging, "REBUILD_SECONDS", 3600.0)  # no rebuild in this test
    with database.directory(tenant_id) as directory:
        ids = directory.import_users([_user(f"c{i:03d}") for i in range(20)])
    assert _all_pages(database, tenant_id, 5) == _expected(ids, 5)
    with database.directory(tenant_id) as directory:
        directory.delete_user(ids[2])
    alive = ids[:2] + ids[3:]
    assert _all_pages(database, tenant_id, 5) == _expected(alive, 5)


def test_a_failed_create_leaves_the_live_count_alone(database: Database, tenant_id: str) -> None:
    """The count is taken before the insert; a taken userName takes it back with the insert:
    with the savepoint a caller that goes on runs it in (as /Bulk does), or with the unit."""
    with database.directory(tenant_id) as directory:
        directory.create_user(_user("taken"))
    with database.directory(tenant_id) as directory:
        with pytest.raises(UniquenessError), directory.savepoint():
            directory.create_user(_user("TAKEN"))
        assert directory.list_users(Selection(count=0)).total == 1
        directory.create_user(_user("free"))
    with pytest.raises(UniquenessError), database.directory(tenant_id) as directory:
        directory.create_user(_user("lost with its unit"))
        directory.create_user(_user("Taken"))
    with database.directory(tenant_id, write=False) as directory:
        assert directory.list_users(Selection(count=0)).total == 2


def test_postgres_inserts_of_one_tenant_take_pks_in_commit_order(
    database: Database, tenant_id: str
) -> None:
    """While one unit of work has created a user and not committed, another tenant-mate's
    create waits before drawing a pk: pks are drawn in commit order, as anchors need."""
    if database.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time; its rowids are in commit order")
    sequence = "SELECT last_value FROM users_pk_seq"
    done = threading.Event()
    second: list[int] = []

    def create_second() -> None:
        with database.directory(tenant_id) as directory:
            stored = directory.create_user(_user("second"))
        with database.connect(write=False) as connection:
            second.append(_pk(connection, stored.id))
        done.set()

    with database.directory(tenant_id) as directory:
        first = directory.create_user(_user("first"))
        first_pk = _pk(directory.connection, first.id)
        thread = threading.Thread(target=create_second)
        thread.start()
        time.sleep(0.5)  # the second create would have drawn its pk by now if it could
        assert not done.is_set()
        with database.connect(write=False) as observer:
            assert observer.exec_driver_sql(sequence).scalar_one() == first_pk
    thread.join(10)
    assert done.is_set()
    assert second[0] > first_pk


def _pk(connection: Connection, user_id: str) -> int:
    return int(connection.execute(select(users.c.pk).where(users.c.id == user_id)).scalar_one())
