"""PostgreSQL's round trips: read units without BEGIN/COMMIT, pings only after idleness;
listed documents as text.

Run against the PostgreSQL of ``HOSTSYNC_TEST_POSTGRES_URL`` (skipped without it).
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import text

from hostsync.scim.errors import ScimError
from hostsync.scim.filters import parse_filter
from hostsync.scim.ports import Selection
from hostsync.scim.resources import normalize_resource
from hostsync.scim.schema import USER_RESOURCE
from hostsync.store.database import Database
from hostsync.store.tenants import create_tenant
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.skipif(POSTGRES_URL is None, reason="needs HOSTSYNC_TEST_POSTGRES_URL")


@pytest.fixture
def postgres() -> Iterator[Database]:
    assert POSTGRES_URL is not None
    database = Database(POSTGRES_URL)
    yield database
    database.dispose()


def _status(connection: object) -> TransactionStatus:
    return connection.connection.driver_connection.info.transaction_status  # type: ignore[attr-defined]


def _backend_pid(database: Database) -> int:
    with database.connect(write=False) as connection:
        return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def test_a_read_unit_holds_no_transaction_and_a_write_unit_does(postgres: Database) -> None:
    with postgres.connect(write=False) as connection:
        connection.exec_driver_sql("SELECT 1").scalar_one()
        assert _status(connection) is TransactionStatus.IDLE  # no BEGIN was sent
    for _ in range(2):  # the same pooled connection again: autocommit did not stick to it
        with postgres.connect(write=True) as connection:
            connection.exec_driver_sql("SELECT 1").scalar_one()
            assert _status(connection) is TransactionStatus.INTRANS


def test_a_write_unit_after_a_read_unit_still_rolls_back_whole(postgres: Database) -> None:
    with postgres.connect(write=False) as connection:
        connection.exec_driver_sql("SELECT 1")
    with postgres.connect(write=True) as connection:
        connection.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS probe (n int)")
    with pytest.raises(RuntimeError), postgres.connect(write=True) as connection:
        connection.execute(text("INSERT INTO probe VALUES (1)"))
        raise RuntimeError("the unit fails after its insert")
    with postgres.connect(write=False) as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM probe").scalar_one() == 0


def _kill(pid: int) -> None:
    assert POSTGRES_URL is not None
    other = Database(POSTGRES_URL)
    try:
        with other.connect(write=True) as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        other.dispose()


def test_a_connection_that_died_while_idle_is_replaced_before_use(postgres: Database) -> None:
    assert postgres.idle_ping is not None
    postgres.idle_ping.after_seconds = 0.0  # every pooled connection counts as idle
    pid = _backend_pid(postgres)
    _kill(pid)
    assert _backend_pid(postgres) != pid  # served, on a new connection
    assert postgres.idle_ping.replaced == 1


def test_without_the_idle_ping_the_dead_connection_fails_its_unit(postgres: Database) -> None:
    """The counterpart: what the ping saves a request from (503, then the pool reconnects)."""
    assert postgres.idle_ping is not None
    postgres.idle_ping.after_seconds = 3600.0
    pid = _backend_pid(postgres)
    _kill(pid)
    with pytest.raises(ScimError) as failed:
        _backend_pid(postgres)
    assert failed.value.status == 503
    assert _backend_pid(postgres) != pid  # the pool was invalidated: the next unit reconnects
    assert postgres.idle_ping.pings == 0


def test_a_connection_back_in_the_pool_a_moment_ago_is_not_pinged(postgres: Database) -> None:
    assert postgres.idle_ping is not None
    for _ in range(5):
        _backend_pid(postgres)
    assert postgres.idle_ping.pings == 0


def test_lists_hand_over_jsonb_as_text_and_reads_for_writes_as_dicts(postgres: Database) -> None:
    """A page's or lookup's documents come as JSON text, spliced into the answer undecoded;
    a write unit's read keeps the driver's dict, which it changes anyway."""
    document = normalize_resource(
        {"userName": "text@contoso.com", "name": {"givenName": "Ünal"}, "active": True},
        USER_RESOURCE,
    )
    with postgres.connect(write=True) as connection:
        tenant_id = create_tenant(connection, "Text").id
    with postgres.directory(tenant_id) as directory:
        user_id = directory.create_user(document).id
    with postgres.directory(tenant_id, write=False) as directory:
        page = directory.list_users(Selection(count=10))
        assert page.resources[0].json is not None
        assert orjson.loads(page.resources[0].json) == document
        found = directory.list_users(
            Selection(filter=parse_filter('userName eq "TEXT@contoso.com"'), count=10)
        )
        assert [user.json is not None for user in found.resources] == [True]
    with postgres.directory(tenant_id) as directory:
        held = directory.get_user(user_id)
        assert held is not None and held.json is None and held.document == document
