"""The replay cache and the AuthnRequest IDs on the shared table, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from hostsync.store.database import Database
from hostsync.store.sso.once import StoredOneTimeIds
from hostsync.store.sso.tables import saml_once
from hostsync.store.tenants import create_tenant


def _tenants(database: Database) -> tuple[str, str]:
    with database.connect(write=True) as connection:
        return create_tenant(connection, "A").id, create_tenant(connection, "B").id


def test_an_assertion_id_is_accepted_once_across_transactions(database: Database) -> None:
    a, _ = _tenants(database)
    until = datetime.now(UTC) + timedelta(minutes=10)
    with database.connect(write=True) as connection:
        assert StoredOneTimeIds(connection, a).first_use("_assertion-1", until)
    with database.connect(write=True) as connection:  # another unit, as another worker's
        assert not StoredOneTimeIds(connection, a).first_use("_assertion-1", until)
        assert StoredOneTimeIds(connection, a).first_use("_assertion-2", until)


def test_one_tenants_ids_do_not_use_up_anothers(database: Database) -> None:
    a, b = _tenants(database)
    until = datetime.now(UTC) + timedelta(minutes=10)
    with database.connect(write=True) as connection:
        assert StoredOneTimeIds(connection, a).first_use("_same", until)
        assert StoredOneTimeIds(connection, b).first_use("_same", until)
        StoredOneTimeIds(connection, a).issue_request("id-a", until)
    with database.connect(write=True) as connection:
        assert not StoredOneTimeIds(connection, b).redeem_request("id-a", datetime.now(UTC))
        assert StoredOneTimeIds(connection, a).redeem_request("id-a", datetime.now(UTC))


def test_a_request_id_is_redeemed_once_and_only_before_it_expires(database: Database) -> None:
    a, _ = _tenants(database)
    moment = datetime.now(UTC)
    with database.connect(write=True) as connection:
        ids = StoredOneTimeIds(connection, a)
        ids.issue_request("id-1", moment + timedelta(minutes=30))
        ids.issue_request("id-2", moment + timedelta(minutes=30))
        assert ids.redeem_request("id-1", moment)
        assert not ids.redeem_request("id-1", moment)
        assert not ids.redeem_request("id-unknown", moment)
        assert not ids.redeem_request("id-2", moment + timedelta(minutes=31))
        assert not ids.redeem_request("", moment)
        assert not ids.redeem_request("x" * 300, moment)


def test_expired_rows_are_removed_when_the_tenant_remembers_another(database: Database) -> None:
    a, b = _tenants(database)
    past = datetime.now(UTC) - timedelta(seconds=1)
    with database.connect(write=True) as connection:
        StoredOneTimeIds(connection, a).first_use("_old", past)
        StoredOneTimeIds(connection, b).first_use("_old-b", past)
        StoredOneTimeIds(connection, a).first_use("_new", past + timedelta(hours=1))

    def count(tenant: str) -> int:
        with database.connect(write=False) as connection:
            return int(
                connection.execute(
                    select(func.count())
                    .select_from(saml_once)
                    .where(saml_once.c.tenant_id == tenant)
                ).scalar_one()
            )

    assert count(a) == 1  # the expired one went, the new one stays
    assert count(b) == 1  # another tenant's rows are its own business
