"""Sites and kiosks in the store: settings rules, group mapping, kiosk secrets, tenancy."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hostsync.frontdesk.sites import SiteSettingError
from hostsync.store.database import Database
from hostsync.store.frontdesk.sites import (
    DuplicateSiteError,
    SiteError,
    archive_site,
    authenticate_kiosk,
    create_kiosk,
    create_site,
    get_site,
    list_kiosks,
    list_sites,
    revoke_kiosk,
    set_site_groups,
    update_site,
)
from hostsync.store.frontdesk.tables import kiosks
from hostsync.store.tenants import create_tenant


def other_tenant(database: Database) -> str:
    with database.connect(write=True) as connection:
        return create_tenant(connection, "Fabrikam").id


def test_a_site_keeps_its_name_and_time_zone(database: Database, tenant_id: str) -> None:
    with database.connect(write=True) as connection:
        site = create_site(connection, tenant_id, "  Paris   HQ ", timezone="Europe/Paris")
        assert (site.name, site.timezone, site.privacy) == ("Paris HQ", "Europe/Paris", "full")
        assert get_site(connection, tenant_id, site.id) == site
        assert [s.id for s in list_sites(connection, tenant_id)] == [site.id]


@pytest.mark.parametrize(
    ("name", "timezone", "message"),
    [
        ("", None, "needs a name"),
        ("x" * 201, None, "at most 200"),
        ("Lyon", "Mars/Olympus", "unknown time zone"),
        ("Lyon", "../../etc/passwd", "unknown time zone"),
    ],
)
def test_bad_site_settings_are_refused_with_a_reason(
    database: Database, tenant_id: str, name: str, timezone: str | None, message: str
) -> None:
    with database.connect(write=True) as connection, pytest.raises(SiteSettingError) as caught:
        create_site(connection, tenant_id, name, timezone=timezone)
    assert message in str(caught.value)


def test_site_names_are_unique_per_tenant_only(database: Database, tenant_id: str) -> None:
    with database.connect(write=True) as connection:
        create_site(connection, tenant_id, "Lyon")
    with database.connect(write=True) as connection, pytest.raises(DuplicateSiteError):
        create_site(connection, tenant_id, "LYON")
    other = other_tenant(database)
    with database.connect(write=True) as connection:
        assert create_site(connection, other, "Lyon").name == "Lyon"


def test_fallback_recipients_are_checked_and_deduplicated(
    database: Database, tenant_id: str
) -> None:
    with database.connect(write=True) as connection:
        site = create_site(connection, tenant_id, "Lyon")
        site = update_site(
            connection,
            tenant_id,
            site.id,
            fallback_recipients=["desk@contoso.example", "DESK@contoso.example", " "],
        )
        assert site.fallback_recipients == ("desk@contoso.example",)
        with pytest.raises(SiteSettingError, match="not an e-mail address"):
            update_site(connection, tenant_id, site.id, fallback_recipients=["desk"])


def test_a_site_maps_only_its_own_tenants_groups(database: Database, tenant_id: str) -> None:
    other = other_tenant(database)
    with database.directory(other) as directory:
        foreign = directory.create_group({"displayName": "Sales"}, []).id
    with database.directory(tenant_id) as directory:
        own = directory.create_group({"displayName": "Sales"}, []).id
    with database.connect(write=True) as connection:
        site = create_site(connection, tenant_id, "Lyon")
        assert set_site_groups(connection, tenant_id, site.id, [own, own]).group_ids == (own,)
        with pytest.raises(SiteSettingError, match="no group"):
            set_site_groups(connection, tenant_id, site.id, [own, foreign])
        assert get_site(connection, tenant_id, site.id).group_ids == (own,)  # type: ignore[union-attr]


def test_another_tenant_cannot_read_or_change_a_site(database: Database, tenant_id: str) -> None:
    other = other_tenant(database)
    with database.connect(write=True) as connection:
        site = create_site(connection, tenant_id, "Lyon")
        assert get_site(connection, other, site.id) is None
        assert list_sites(connection, other) == []
        with pytest.raises(SiteError):
            update_site(connection, other, site.id, name="Mine")
        with pytest.raises(SiteError):
            create_kiosk(connection, other, site.id)
        with pytest.raises(SiteError):
            archive_site(connection, other, site.id)
        assert get_site(connection, tenant_id, site.id) == site


def test_a_kiosk_secret_is_stored_as_a_digest_and_names_its_site(
    database: Database, tenant_id: str
) -> None:
    with database.connect(write=True) as connection:
        site = create_site(connection, tenant_id, "Lyon")
        kiosk, secret = create_kiosk(connection, tenant_id, site.id, None)
        stored = connection.execute(select(kiosks)).all()
        assert all(secret not in str(tuple(row)) for row in stored)
        assert kiosk.label == "Lyon kiosk"
        assert secret.startswith(kiosk.prefix)
        credential = authenticate_kiosk(connection, secret)
        assert credential is not None
        assert (credential.tenant_id, credential.site_id, credential.kiosk_id) == (
            tenant_id,
            site.id,
            kiosk.id,
        )
        assert authenticate_kiosk(connection, secret + "x") is None
        assert authenticate_kiosk(connection, "hsk_" + secret[10:]) is None


def test_revoked_kiosks_and_archived_sites_authenticate_nothing(
    database: Database, tenant_id: str
) -> None:
    other = other_tenant(database)
    with database.connect(write=True) as connection:
        site = create_site(connection, tenant_id, "Lyon")
        first, first_secret = create_kiosk(connection, tenant_id, site.id, "A")
        _, second_secret = create_kiosk(connection, tenant_id, site.id, "B")
        with pytest.raises(SiteError):
            revoke_kiosk(connection, other, first.id)
        assert authenticate_kiosk(connection, first_secret) is not None
        revoke_kiosk(connection, tenant_id, first.id)
        assert authenticate_kiosk(connection, first_secret) is None
        assert [k.revoked_at is not None for k in list_kiosks(connection, tenant_id)] == [
            False,
            True,
        ]
        assert list_kiosks(connection, other) == []
        archive_site(connection, tenant_id, site.id)
        assert authenticate_kiosk(connection, second_secret) is None
        assert list_sites(connection, tenant_id) == []
