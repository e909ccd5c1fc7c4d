"""store/sqlite/raw.py: prebuilt statements on sqlite3 give what SQLAlchemy gives, errors alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy import exc as sa_exc

from hostsync.scim.resources import normalize_resource
from hostsync.scim.schema import GROUP_RESOURCE, USER_RESOURCE
from hostsync.store.database import Database
from hostsync.store.sqlite.raw import RawSqlite
from hostsync.store.statements import prebuilt
from hostsync.store.tables import users
from hostsync.store.tenants import create_tenant


def _seed(database: Database) -> tuple[str, list[str], str]:
    with database.connect(write=True) as connection:
        tenant = create_tenant(connection, "Raw").id
    with database.directory(tenant) as directory:
        user_ids = [
            directory.create_user(
                normalize_resource(
                    {"userName": f"U{i}@Example.com", "externalId": f"x{i}", "active": i % 2 == 0},
                    USER_RESOURCE,
                )
            ).id
            for i in range(3)
        ]
        group = directory.create_group(
            normalize_resource({"displayName": "Hosts"}, GROUP_RESOURCE), user_ids[:2]
        )
    return tenant, user_ids, group.id


def test_rows_and_types_match_sqlalchemy(sqlite_db: Database) -> None:
    tenant, user_ids, group_id = _seed(sqlite_db)
    sql = prebuilt("sqlite")
    cases = [
        (sql.users.get, {"b_tenant": tenant, "b_id": user_ids[1]}),
        (
            sql.user_by["user_name_folded"],
            {"b_tenant": tenant, "b_value": "u2@example.com", "b_limit": 5, "b_offset": 0},
        ),
        (sql.users.page, {"b_tenant": tenant, "b_limit": 2, "b_offset": 1}),
        (sql.groups_of, {"b_tenant": tenant, "b_ids": user_ids}),
        (sql.groups_of_one, {"b_tenant": tenant, "b_id": user_ids[0]}),
        (sql.members_of, {"b_tenant": tenant, "b_ids": [group_id]}),
        (sql.live, {"b_tenant": tenant, "b_resource": "User"}),
    ]
    with sqlite_db.connect(write=False) as connection:
        raw = RawSqlite(connection.connection.driver_connection)  # type: ignore[arg-type]
        for statement, params in cases:
            expected = [tuple(row) for row in connection.execute(statement, params).all()]
            got = raw.execute(statement, params).all()
            assert [tuple(row) for row in got] == expected, statement
            assert expected, f"the case {statement} found nothing: it would prove nothing"
        typed = select(users.c.active, users.c.document, users.c.created_at).where(
            users.c.id == bindparam("b_id")
        )
        row = raw.execute(typed, {"b_id": user_ids[1]}).first()
    assert isinstance(row.created_at, datetime) and row.active is False
    assert row.document["userName"] == "U1@Example.com"


def test_writes_store_what_sqlalchemy_reads_back(sqlite_db: Database) -> None:
    tenant, user_ids, group_id = _seed(sqlite_db)
    sql = prebuilt("sqlite")
    moment = datetime(2026, 11, 28, 12, 0, 0)  # no microseconds: still stored with .000000
    with sqlite_db.connect(write=True) as connection:
        raw = RawSqlite(connection.connection.driver_connection)  # type: ignore[arg-type]
        replaced = raw.execute(
            sql.users.replacing(sql.users.keys),
            {
                "b_tenant": tenant,
                "b_id": user_ids[0],
                "b_expected": 1,
                "b_modified_at": moment,
                "b_user_name": "New@Example.com",
                "b_user_name_folded": "new@example.com",
                "b_external_id": None,
                "b_active": False,
                "b_document": {"userName": "New@Example.com", "active": False},
            },
        ).first()
        assert replaced.version == 2
        assert datetime.fromisoformat(replaced.modified_at) == moment  # text: Stored parses it
        removed = raw.execute(
            sql.remove_members, {"b_tenant": tenant, "b_group": group_id, "b_ids": user_ids}
        )
        assert removed.rowcount == 2
    with sqlite_db.directory(tenant, write=False) as directory:
        stored = directory.get_user(user_ids[0])
        assert directory.members_of([group_id]) == {group_id: []}
    assert stored is not None and stored.version == 2 and stored.last_modified == moment
    assert stored.document == {"userName": "New@Example.com", "active": False}
    with sqlite_db.connect(write=False) as connection:
        text = connection.exec_driver_sql(
            "SELECT modified_at FROM users WHERE id = ?", (user_ids[0],)
        ).scalar()
    assert text == "2026-11-28 12:00:00.000000"  # the format SQLAlchemy writes and sorts by


def test_sqlite_errors_surface_as_sqlalchemy_errors(sqlite_db: Database) -> None:
    tenant, user_ids, _group_id = _seed(sqlite_db)
    sql = prebuilt("sqlite")
    with sqlite_db.connect(write=True) as connection:
        raw = RawSqlite(connection.connection.driver_connection)  # type: ignore[arg-type]
        row = {
            "id": user_ids[0],  # the id is unique
            "tenant_id": tenant,
            "user_name": "other",
            "user_name_folded": "other",
            "external_id": None,
            "active": True,
            "document": {},
            "created_at": datetime(2026, 1, 1),
            "modified_at": datetime(2026, 1, 1),
            "version": 1,
        }
        with pytest.raises(sa_exc.IntegrityError):
            raw.execute(sql.users.insert, row)
        with pytest.raises(sa_exc.IntegrityError):
            raw.executemany(sql.users.insert, [row])
        with pytest.raises(sa_exc.OperationalError, match="no such table"):
            raw.execute(text("SELECT * FROM no_such_table"), {})
        assert raw.executemany(sql.add_members, []).rowcount == 0


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 29, 9, 5, 7, 123),
        datetime(2026, 11, 29, 9, 5, 7),  # no microseconds: still six digits
        datetime(999, 1, 2, 3, 4, 5, 6),  # a year before 1000: padded, as SQLAlchemy pads it
        datetime(1, 1, 1),
        datetime(9999, 12, 31, 23, 59, 59, 999999),
    ],
)
def test_datetimes_are_written_as_sqlalchemy_writes_them(moment: datetime) -> None:
    from sqlalchemy.dialects.sqlite import DATETIME
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    from hostsync.store.sqlite.raw import datetime_text

    sqlalchemy_text = DATETIME().bind_processor(SQLiteDialect_pysqlite())
    assert datetime_text(moment) == sqlalchemy_text(moment)
    assert datetime.fromisoformat(datetime_text(moment) or "") == moment
    aware = moment.replace(tzinfo=UTC)  # the zone is dropped, as SQLAlchemy drops it
    assert datetime_text(aware) == sqlalchemy_text(moment)
