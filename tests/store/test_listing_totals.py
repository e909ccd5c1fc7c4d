"""totalResults and paging in the store: the live counter, partial pages and deep pages."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hostsync.scim.errors import UniquenessError
from hostsync.scim.filters import parse_filter
from hostsync.scim.ports import Selection
from hostsync.scim.resources import normalize_resource
from hostsync.scim.schema import GROUP_RESOURCE, USER_RESOURCE
from hostsync.store.database import Database
from hostsync.store.tables import resource_counts, users


def _user(name: str) -> dict[str, object]:
    return normalize_resource({"userName": name, "externalId": f"x-{name}"}, USER_RESOURCE)


def _group(name: str) -> dict[str, object]:
    return normalize_resource({"displayName": name}, GROUP_RESOURCE)


def _live(database: Database, tenant_id: str) -> int:
    with database.connect(write=False) as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(users)
                .where(users.c.tenant_id == tenant_id, users.c.deleted_at.is_(None))
            ).scalar_one()
        )


def test_unfiltered_total_follows_creates_imports_and_deletes(
    database: Database, tenant_id: str
) -> None:
    with database.directory(tenant_id) as directory:
        ids = [directory.create_user(_user(f"u{i}")).id for i in range(5)]
        ids += directory.import_users([_user(f"bulk{i}") for i in range(7)])
        assert directory.delete_user(ids[0])
        assert not directory.delete_user(ids[0])  # a second delete changes nothing
    with database.directory(tenant_id, write=False) as directory:
        page = directory.list_users(Selection(start_index=1, count=3))
    assert page.total == 11 == _live(database, tenant_id)
    assert [s.id for s in page.resources] == ids[1:4]


def test_failed_create_does_not_count(database: Database, tenant_id: str) -> None:
    with database.directory(tenant_id) as directory:
        directory.create_user(_user("same"))
    with pytest.raises(UniquenessError), database.directory(tenant_id) as directory:
        directory.create_user(_user("SAME"))
    with database.directory(tenant_id, write=False) as directory:
        assert directory.list_users(Selection(count=0)).total == 1


def test_group_total_and_counter_rows(database: Database, tenant_id: str) -> None:
    with database.directory(tenant_id) as directory:
        first = directory.create_group(_group("A"), [])
        directory.create_group(_group("B"), [])
        directory.delete_group(first.id)
        assert directory.list_groups(Selection(count=0)).total == 1
    with database.connect(write=False) as connection:
        rows = dict(
            connection.execute(
                select(resource_counts.c.resource, resource_counts.c.live).where(
                    resource_counts.c.tenant_id == tenant_id
                )
            ).all()
        )
    assert rows == {"Group": 1, "GroupDel": 1}  # live groups; deletions (store/paging.py)


def test_pages_walk_every_user_once_with_exact_totals(database: Database, tenant_id: str) -> None:
    with database.directory(tenant_id) as directory:
        ids = directory.import_users([_user(f"p{i:03d}") for i in range(23)])
        directory.delete_user(ids[5])
    expected = [i for n, i in enumerate(ids) if n != 5]
    seen: list[str] = []
    with database.directory(tenant_id, write=False) as directory:
        for start in range(1, 30, 10):
            page = directory.list_users(Selection(start_index=start, count=10))
            assert page.total == 22
            seen += [s.id for s in page.resources]
        beyond = directory.list_users(Selection(start_index=40, count=10))
    assert seen == expected
    assert beyond.total == 22 and not beyond.resources


def test_lookup_totals_without_count(database: Database, tenant_id: str) -> None:
    with database.directory(tenant_id) as directory:
        directory.import_users([_user(f"Look{i}") for i in range(3)])
    with database.directory(tenant_id, write=False) as directory:
        by_name = directory.list_users(Selection(filter=parse_filter('userName eq "LOOK1"')))
        by_external = directory.list_users(
            Selection(filter=parse_filter('externalId eq "x-Look2"'))
        )
        none = directory.list_users(Selection(filter=parse_filter('userName eq "nobody"')))
        counted = directory.list_users(
            Selection(filter=parse_filter('userName eq "look0"'), start_index=2, count=1)
        )
        only_total = directory.list_users(
            Selection(filter=parse_filter('externalId eq "x-Look0"'), count=0)
        )
    assert by_name.total == 1 and by_name.resources[0].document["userName"] == "Look1"
    assert by_external.total == 1 and by_external.resources[0].document["userName"] == "Look2"
    assert none.total == 0 and not none.resources
    assert counted.total == 1 and not counted.resources
    assert only_total.total == 1 and not only_total.resources


@pytest.mark.parametrize("start_index", [2**63, 2**63 + 1, 2**80])
@pytest.mark.parametrize("filter_text", [None, 'userName eq "u1"', "title pr"])
def test_a_start_index_past_a_sql_integer_is_past_the_end(
    database: Database, tenant_id: str, start_index: int, filter_text: str | None
) -> None:
    """The store answers any startIndex: past 2^63 no SQL integer holds the offset."""
    with database.directory(tenant_id) as directory:
        for i in range(3):
            directory.create_user({**_user(f"u{i}"), "title": "t"})
        selection = Selection(
            filter=None if filter_text is None else parse_filter(filter_text),
            start_index=start_index,
            count=10,
        )
        page = directory.list_users(selection)
    assert list(page.resources) == []
    assert page.total == (1 if filter_text and "eq" in filter_text else 3)
