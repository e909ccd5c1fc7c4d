"""The console's Retention page: the retention period, and *Erase a visitor* in two steps.

Every form needs the session's CSRF token; the result comes back through a redirect and a
one-time notice; the activity log records who did it and how many visits changed, never the
visitor's details; another tenant's visits are never counted, shown or changed.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import select

from hostsync.frontdesk.retention import ANONYMISED_NAME
from hostsync.frontdesk.sites import Site
from hostsync.frontdesk.visits import arrival
from hostsync.store.admin_tables import activity
from hostsync.store.database import Database
from hostsync.store.frontdesk.retention import retention_days_of
from hostsync.store.frontdesk.sites import create_site
from hostsync.store.frontdesk.tables import visits
from hostsync.store.frontdesk.visits import CheckIn, check_in
from hostsync.store.tenants import create_tenant
from tests.admin.conftest import csrf_of


def _site(database: Database, tenant_id: str, name: str = "HQ") -> Site:
    with database.connect(write=True) as connection:
        return create_site(connection, tenant_id, name)


def _visit(database: Database, site: Site, name: str, email: str | None) -> str:
    with database.connect(write=True) as connection:
        made = check_in(
            connection, site, arrival(name, "ACME", email, front_desk=True), CheckIn("desk")
        )
    return made.id


def _row(database: Database, visit_id: str) -> Any:
    with database.connect(write=False) as connection:
        return connection.execute(select(visits).where(visits.c.id == visit_id)).one()


def _log(database: Database, tenant_id: str) -> list[tuple[str, str | None, str | None, str]]:
    with database.connect(write=False) as connection:
        rows = connection.execute(
            select(
                activity.c.operation,
                activity.c.resource_type,
                activity.c.detail,
                activity.c.actor,
            )
            .where(activity.c.tenant_id == tenant_id, activity.c.operation != "sign-in")
            .order_by(activity.c.pk)
        )
        return [tuple(r) for r in rows]


def _rival(database: Database) -> Site:
    with database.connect(write=True) as connection:
        other = create_tenant(connection, "Rival")
    return _site(database, other.id, "Rival HQ")


async def test_the_page_shows_the_default_period_and_is_in_the_menu(
    signed_in: httpx.AsyncClient,
) -> None:
    page = await signed_in.get("/retention")
    assert page.status_code == 200
    assert re.search(r'id="days"[^>]*value="365"', page.text)
    assert '<a href="/retention" aria-current="page">Retention</a>' in page.text
    assert "Erase a visitor" in page.text
    status = await signed_in.get("/status")
    assert '<a href="/retention" >Retention</a>' in status.text


async def test_the_page_needs_a_session(browser: httpx.AsyncClient) -> None:
    for path in ("/retention", "/retention/erase?visit=x"):
        answer = await browser.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/signin?")


async def test_setting_the_period_redirects_tells_once_and_is_audited(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str, admin_email: str
) -> None:
    page = await signed_in.get("/retention")
    saved = await signed_in.post("/retention", data={"csrf": csrf_of(page.text), "days": "30"})
    assert saved.status_code == 303 and saved.headers["location"] == "/retention"
    shown = await signed_in.get("/retention")
    assert "Visits are now anonymised 30 days after the check-in." in shown.text
    assert re.search(r'id="days"[^>]*value="30"', shown.text)
    assert "Visits are now anonymised" not in (await signed_in.get("/retention")).text
    with database.connect(write=False) as connection:
        assert retention_days_of(connection, tenant_id) == 30
    assert _log(database, tenant_id) == [
        ("update", "Retention", "visits are anonymised after 30 days (was 365)", admin_email)
    ]


async def test_a_bad_period_is_refused_on_the_page_and_changes_nothing(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    page = await signed_in.get("/retention")
    for days in ("0", "3651", "ten", ""):
        refused = await signed_in.post(
            "/retention", data={"csrf": csrf_of(page.text), "days": days}
        )
        assert refused.status_code == 422
        assert 'role="alert" id="days-error">Retention is' in refused.text
    forged = await signed_in.post("/retention", data={"days": "10"})  # no CSRF token
    assert forged.status_code == 403
    with database.connect(write=False) as connection:
        assert retention_days_of(connection, tenant_id) == 365
    assert _log(database, tenant_id) == []


async def test_erasing_by_email_confirms_the_count_first_then_anonymises_this_tenants_visits(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str, admin_email: str
) -> None:
    site = _site(database, tenant_id)
    first = _visit(database, site, "Ada Lovelace", "ada@example.com")
    second = _visit(database, site, "Ada L.", "Ada@Example.COM")
    stranger = _visit(database, site, "Zoe", "zoe@example.com")
    rival = _rival(database)
    foreign = _visit(database, rival, "Ada Lovelace", "ada@example.com")
    page = await signed_in.get("/retention")
    csrf = csrf_of(page.text)
    asked = await signed_in.post(
        "/retention/erase", data={"csrf": csrf, "email": "ADA@example.com "}
    )
    assert asked.status_code == 200
    assert re.search(r"<strong>2</strong> visits with this e-mail address", asked.text)
    assert _row(database, first).visitor_name == "Ada Lovelace"  # nothing changed yet
    confirmed = await signed_in.post(
        "/retention/erase",
        data={"csrf": csrf_of(asked.text), "email": "ADA@example.com ", "confirm": "yes"},
    )
    assert confirmed.status_code == 303 and confirmed.headers["location"] == "/retention"
    result = await signed_in.get("/retention")
    assert "Visitor erased: 2 visits anonymised." in result.text
    for erased in (first, second):
        found = _row(database, erased)
        assert (found.visitor_name, found.visitor_email, found.visitor_company) == (
            ANONYMISED_NAME,
            None,
            None,
        )
    assert _row(database, stranger).visitor_name == "Zoe"
    assert _row(database, foreign).visitor_email == "ada@example.com"
    logged = _log(database, tenant_id)
    assert logged == [
        (
            "erase",
            "Visitor",
            "visitor erased (matched by e-mail address): 2 visit(s) anonymised",
            admin_email,
        )
    ]
    assert _log(database, rival.tenant_id) == []


async def test_an_address_with_no_visits_here_offers_nothing_to_erase(
    signed_in: httpx.AsyncClient, database: Database
) -> None:
    rival = _rival(database)
    foreign = _visit(database, rival, "Bob", "bob@example.com")
    page = await signed_in.get("/retention")
    asked = await signed_in.post(
        "/retention/erase", data={"csrf": csrf_of(page.text), "email": "bob@example.com"}
    )
    assert asked.status_code == 200
    assert "No visit has this e-mail address" in asked.text
    assert 'name="confirm"' not in asked.text
    forced = await signed_in.post(
        "/retention/erase",
        data={"csrf": csrf_of(page.text), "email": "bob@example.com", "confirm": "yes"},
    )
    assert forced.status_code == 303
    assert _row(database, foreign).visitor_name == "Bob"


async def test_a_bad_address_is_refused_on_the_page(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get("/retention")
    refused = await signed_in.post(
        "/retention/erase", data={"csrf": csrf_of(page.text), "email": "not an address"}
    )
    assert refused.status_code == 422
    assert 'id="email-error">This is not an e-mail address' in refused.text
    assert 'value="not an address"' in refused.text


async def test_erasing_from_a_visit_without_an_address_takes_that_visit_alone(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    site = _site(database, tenant_id)
    nameless = _visit(database, site, "Bob Smith", None)
    namesake = _visit(database, site, "Bob Smith", None)
    asked = await signed_in.get(f"/retention/erase?visit={nameless}")
    assert asked.status_code == 200
    assert "<strong>only this visit</strong>" in asked.text
    assert f'name="visit" value="{nameless}"' in asked.text
    done = await signed_in.post(
        "/retention/erase",
        data={"csrf": csrf_of(asked.text), "visit": nameless, "confirm": "yes"},
    )
    assert done.status_code == 303
    assert "Visitor erased: 1 visit anonymised." in (await signed_in.get("/retention")).text
    assert _row(database, nameless).visitor_name == ANONYMISED_NAME
    assert _row(database, namesake).visitor_name == "Bob Smith"
    again = await signed_in.get(f"/retention/erase?visit={nameless}")
    assert "anonymised already" in again.text


async def test_erasing_from_a_visit_with_an_address_takes_all_of_that_address(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    site = _site(database, tenant_id)
    one = _visit(database, site, "Ada", "ada@example.com")
    other = _visit(database, site, "Ada", "ADA@example.com")
    asked = await signed_in.get(f"/retention/erase?visit={one}")
    assert re.search(r"<strong>2</strong> visits with this e-mail address", asked.text)
    await signed_in.post(
        "/retention/erase", data={"csrf": csrf_of(asked.text), "visit": one, "confirm": "yes"}
    )
    assert _row(database, other).anonymised_at is not None


async def test_another_tenants_visit_is_not_found_and_not_erased(
    signed_in: httpx.AsyncClient, database: Database
) -> None:
    rival = _rival(database)
    foreign = _visit(database, rival, "Bob", None)
    assert (await signed_in.get(f"/retention/erase?visit={foreign}")).status_code == 404
    page = await signed_in.get("/retention")
    posted = await signed_in.post(
        "/retention/erase", data={"csrf": csrf_of(page.text), "visit": foreign, "confirm": "yes"}
    )
    assert posted.status_code == 404
    assert _row(database, foreign).visitor_name == "Bob"
    assert _log(database, rival.tenant_id) == []


async def test_an_erasure_without_the_csrf_token_changes_nothing(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    site = _site(database, tenant_id)
    mine = _visit(database, site, "Ada", "ada@example.com")
    forged = await signed_in.post(
        "/retention/erase", data={"email": "ada@example.com", "confirm": "yes"}
    )
    assert forged.status_code == 403
    assert _row(database, mine).visitor_name == "Ada"
    assert (await signed_in.get("/retention/erase")).headers["location"] == "/retention"
