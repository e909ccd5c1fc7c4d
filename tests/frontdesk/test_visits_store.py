"""Check-in in the store: the visit and its deliveries in one transaction, offered hosts only."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hostsync.frontdesk.sites import Site
from hostsync.frontdesk.visits import VisitError, arrival
from hostsync.store.clock import now
from hostsync.store.database import Database
from hostsync.store.frontdesk.outbox import deliveries_of
from hostsync.store.frontdesk.sites import create_site, set_site_groups, update_site
from hostsync.store.frontdesk.tables import deliveries, frontdesk_settings, visits
from hostsync.store.frontdesk.visits import (
    CheckIn,
    UnknownHostError,
    check_in,
    check_out,
    get_visit,
    on_site,
)
from hostsync.store.tenants import create_tenant
from tests.frontdesk.conftest import make_host

KIOSK = CheckIn("kiosk Lobby", kiosk_id="k1")


def counts(database: Database, tenant_id: str) -> tuple[int, int]:
    with database.connect(write=False) as connection:
        v = connection.execute(
            select(func.count()).select_from(visits).where(visits.c.tenant_id == tenant_id)
        ).scalar_one()
        d = connection.execute(
            select(func.count()).select_from(deliveries).where(deliveries.c.tenant_id == tenant_id)
        ).scalar_one()
    return v, d


def test_a_check_in_queues_the_hosts_email_with_the_visit(database: Database, site: Site) -> None:
    host = make_host(database, site.tenant_id, "José", "Núñez")
    with database.connect(write=True) as connection:
        visit = check_in(
            connection,
            site,
            arrival("Ada Lovelace", "Analytical", None, host),
            KIOSK,
            host_label="José Núñez",
        )
    with database.connect(write=False) as connection:
        assert get_visit(connection, site.tenant_id, visit.id) == visit
        queued = deliveries_of(connection, site.tenant_id, visit.id)
    assert [(d.channel, d.purpose, d.status) for d in queued] == [("email", "host", "pending")]
    assert (visit.host_label, visit.checked_in_by, visit.kiosk_id) == (
        "José Núñez",
        "kiosk Lobby",
        "k1",
    )


def test_front_desk_arrivals_go_to_each_fallback_recipient_and_channel(
    database: Database, site: Site
) -> None:
    with database.connect(write=True) as connection:
        site = update_site(
            connection,
            site.tenant_id,
            site.id,
            fallback_recipients=["desk@contoso.example", "guard@contoso.example"],
        )
        connection.execute(
            frontdesk_settings.insert().values(
                tenant_id=site.tenant_id, slack_webhook="sealed", modified_at=now()
            )
        )
        visit = check_in(connection, site, arrival("Ada", front_desk=True), KIOSK)
        queued = deliveries_of(connection, site.tenant_id, visit.id)
    assert [(d.channel, d.recipient, d.purpose) for d in queued] == [
        ("email", "desk@contoso.example", "fallback"),
        ("email", "guard@contoso.example", "fallback"),
        ("slack", "", "fallback"),
    ]


@pytest.mark.parametrize("state", ["inactive", "deleted", "other tenant", "unknown"])
def test_a_host_the_site_does_not_offer_writes_nothing(
    database: Database, site: Site, state: str
) -> None:
    if state == "inactive":
        host = make_host(database, site.tenant_id, "Ina", "Active", active=False)
    elif state == "deleted":
        host = make_host(database, site.tenant_id, "Del", "Eted")
        with database.directory(site.tenant_id) as directory:
            directory.delete_user(host)
    elif state == "other tenant":
        with database.connect(write=True) as connection:
            other = create_tenant(connection, "Fabrikam").id
        host = make_host(database, other, "For", "Eign")
    else:
        host = "0" * 32
    before = counts(database, site.tenant_id)
    with database.connect(write=True) as connection, pytest.raises(UnknownHostError):
        check_in(connection, site, arrival("Ada", host_id=host), KIOSK)
    assert counts(database, site.tenant_id) == before


def test_a_site_that_maps_groups_offers_only_their_members(
    database: Database, tenant_id: str
) -> None:
    member = make_host(database, tenant_id, "Mem", "Ber")
    outsider = make_host(database, tenant_id, "Out", "Sider")
    with database.directory(tenant_id) as directory:
        group = directory.create_group({"displayName": "Lyon staff"}, [member]).id
    with database.connect(write=True) as connection:
        site = create_site(connection, tenant_id, "Lyon")
        site = set_site_groups(connection, tenant_id, site.id, [group])
        check_in(connection, site, arrival("Ada", host_id=member), KIOSK)
    with database.connect(write=True) as connection, pytest.raises(UnknownHostError):
        check_in(connection, site, arrival("Ada", host_id=outsider), KIOSK)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"full_name": "  "}, "Full name is required"),
        ({"full_name": "Ada", "email": "ada"}, "not an e-mail address"),
        ({"full_name": "Ada"}, "Choose who you are visiting"),
        ({"full_name": "Ada", "host_id": "x", "front_desk": True}, "not both"),
        ({"full_name": 7, "front_desk": True}, "must be text"),
        ({"full_name": "A" * 201, "front_desk": True}, "at most 200"),
    ],
)
def test_what_a_visitor_types_is_checked(fields: dict[str, object], message: str) -> None:
    with pytest.raises(VisitError, match=message):
        arrival(**fields)  # type: ignore[arg-type]


def test_check_out_and_the_on_site_list(database: Database, site: Site) -> None:
    with database.connect(write=True) as connection:
        ada = check_in(connection, site, arrival("Ada Lovelace", front_desk=True), KIOSK)
        zoe = check_in(connection, site, arrival("Zoé Ångström", front_desk=True), KIOSK)
    with database.connect(write=False) as connection:
        assert [v.id for v in on_site(connection, site.tenant_id, site.id)] == [ada.id, zoe.id]
        found = on_site(connection, site.tenant_id, site.id, name_prefix="zoe ang")
        assert [v.id for v in found] == [zoe.id]
    with database.connect(write=True) as connection:
        assert check_out(connection, "f" * 32, ada.id, "kiosk") is None  # another tenant
        assert check_out(connection, site.tenant_id, ada.id, "kiosk", site_id="x") is None
        out = check_out(connection, site.tenant_id, ada.id, "kiosk Lobby", site_id=site.id)
        assert out is not None and out.checked_out_by == "kiosk Lobby"
        assert check_out(connection, site.tenant_id, ada.id, "again") is None
    with database.connect(write=False) as connection:
        assert [v.id for v in on_site(connection, site.tenant_id, site.id)] == [zoe.id]


def test_a_site_chosen_by_attribute_offers_only_the_hosts_that_match(
    database: Database, tenant_id: str
) -> None:
    enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    paris = make_host(database, tenant_id, "Par", "Is", **{enterprise: {"division": "Paris"}})
    lyon = make_host(database, tenant_id, "Ly", "On", **{enterprise: {"division": "Lyon"}})
    with database.connect(write=True) as connection:
        site = create_site(connection, tenant_id, "Paris office")
        site = update_site(
            connection,
            tenant_id,
            site.id,
            match_attribute=f"{enterprise}:division",
            match_value="Paris",
        )
        check_in(connection, site, arrival("Ada", host_id=paris), KIOSK)
    with database.connect(write=True) as connection, pytest.raises(UnknownHostError):
        check_in(connection, site, arrival("Ada", host_id=lyon), KIOSK)
    with database.connect(write=True) as connection:
        broken = update_site(
            connection, tenant_id, site.id, match_attribute="urn:nope:thing", match_value="x"
        )
    with database.connect(write=True) as connection, pytest.raises(UnknownHostError):
        check_in(connection, broken, arrival("Ada", host_id=paris), KIOSK)
