"""Retention, erasure and the end-of-day check-out in the store, on each backend.

Visits are made by real check-ins, then dated back; every chore is shown to leave another
tenant's visits alone, to change each visit once (a second run changes nothing), and to go
in batches.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, select, update

from hostsync.frontdesk.retention import ANONYMISED_NAME, END_OF_DAY_BY
from hostsync.frontdesk.sites import Site
from hostsync.frontdesk.visits import arrival
from hostsync.store.clock import now
from hostsync.store.database import Database
from hostsync.store.frontdesk.retention import (
    ErasureTarget,
    anonymise_expired,
    check_out_at_end_of_day,
    erase_visitor,
    erasure_by_email,
    erasure_of_visit,
    retention_days_of,
    set_retention_days,
)
from hostsync.store.frontdesk.sites import create_site, update_site
from hostsync.store.frontdesk.tables import visits
from hostsync.store.frontdesk.visits import CheckIn, check_in, check_out
from hostsync.store.tenants import create_tenant

DESK = CheckIn("front desk")


def visit(
    database: Database,
    site: Site,
    name: str,
    *,
    email: str | None = None,
    company: str | None = "Analytical Engines",
    at: datetime | None = None,
) -> str:
    """Check a visitor in at the site (for the front desk), dated ``at``; return the visit id."""
    with database.connect(write=True) as connection:
        made = check_in(connection, site, arrival(name, company, email, front_desk=True), DESK)
        if at is not None:
            connection.execute(
                update(visits).where(visits.c.id == made.id).values(checked_in_at=at)
            )
    return made.id


def row(database: Database, visit_id: str) -> Any:
    with database.connect(write=False) as connection:
        return connection.execute(select(visits).where(visits.c.id == visit_id)).one()


def other_site(database: Database, name: str = "Rival", **values: Any) -> Site:
    """A site of a tenant of its own."""
    with database.connect(write=True) as connection:
        tenant = create_tenant(connection, "Rival Corp")
        made = create_site(connection, tenant.id, name, timezone="Europe/Paris")
        if values:
            made = update_site(connection, tenant.id, made.id, **values)
        return made


class Calls:
    """A recorder that keeps what it heard."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, int]] = []

    def __call__(self, connection: Connection, tenant_id: str, count: int) -> None:
        self.heard.append((tenant_id, count))


def test_visits_past_the_default_year_are_anonymised_and_keep_host_site_and_times(
    database: Database, site: Site
) -> None:
    moment = now()
    old = visit(database, site, "Ada Lovelace", email="ada@example.com", at=moment - timedelta(366))
    young = visit(database, site, "Zoe Young", email="zoe@example.com", at=moment - timedelta(364))
    with database.connect(write=True) as connection:
        check_out(connection, site.tenant_id, old, "front desk", moment=moment - timedelta(365.9))
    before = row(database, old)
    calls = Calls()
    done = anonymise_expired(database, tenant_id=site.tenant_id, moment=moment, record=calls)
    assert done == {site.tenant_id: 1}
    assert calls.heard == [(site.tenant_id, 1)]
    after = row(database, old)
    assert after.visitor_name == ANONYMISED_NAME
    assert after.visitor_name_folded == ANONYMISED_NAME.casefold()
    assert (after.visitor_company, after.visitor_email, after.visitor_email_folded) == (
        None,
        None,
        None,
    )
    assert after.anonymised_at == moment
    kept = ("site_id", "host_id", "host_label", "front_desk", "checked_in_at", "checked_in_by")
    kept += ("checked_out_at", "checked_out_by", "kiosk_id")
    assert {k: getattr(after, k) for k in kept} == {k: getattr(before, k) for k in kept}
    assert row(database, young).visitor_name == "Zoe Young"
    assert row(database, young).anonymised_at is None
    again = Calls()
    assert anonymise_expired(database, tenant_id=site.tenant_id, moment=moment, record=again) == {}
    assert again.heard == []  # nothing anonymised: nothing to audit
    assert row(database, old).anonymised_at == moment  # not stamped again


def test_a_tenants_own_retention_period_applies_to_it_alone(database: Database, site: Site) -> None:
    moment = now()
    rival = other_site(database)
    ours = visit(database, site, "Ada", at=moment - timedelta(40))
    theirs = visit(database, rival, "Bob", at=moment - timedelta(40))
    with database.connect(write=True) as connection:
        assert retention_days_of(connection, site.tenant_id) == 365
        assert set_retention_days(connection, site.tenant_id, 30) == 365
        assert set_retention_days(connection, site.tenant_id, 31) == 30  # an update, not a row
        assert retention_days_of(connection, site.tenant_id) == 31
        assert retention_days_of(connection, rival.tenant_id) == 365
    done = anonymise_expired(database, moment=moment)  # every tenant
    assert done.get(site.tenant_id) == 1 and rival.tenant_id not in done
    assert row(database, ours).anonymised_at == moment
    assert row(database, theirs).visitor_name == "Bob"


def test_one_tenants_run_leaves_another_tenants_expired_visits(
    database: Database, site: Site
) -> None:
    moment = now()
    rival = other_site(database)
    theirs = visit(database, rival, "Bob", email="bob@example.com", at=moment - timedelta(400))
    assert anonymise_expired(database, tenant_id=site.tenant_id, moment=moment) == {}
    assert row(database, theirs).visitor_email == "bob@example.com"


def test_retention_goes_in_batches_and_audits_once_with_the_total(
    database: Database, site: Site
) -> None:
    moment = now()
    ids = [visit(database, site, f"Visitor {n}", at=moment - timedelta(500 + n)) for n in range(5)]
    calls = Calls()
    done = anonymise_expired(
        database, tenant_id=site.tenant_id, moment=moment, record=calls, batch=2
    )
    assert done == {site.tenant_id: 5}
    assert calls.heard == [(site.tenant_id, 5)]
    assert all(row(database, i).visitor_name == ANONYMISED_NAME for i in ids)


def test_erasing_by_email_is_case_insensitive_and_stays_in_the_tenant(
    database: Database, site: Site
) -> None:
    first = visit(database, site, "Ada Lovelace", email="Ada@Example.com")
    second = visit(database, site, "A. Lovelace", email="ada@example.COM", company=None)
    stranger = visit(database, site, "Zoe", email="zoe@example.com")
    rival = other_site(database)
    theirs = visit(database, rival, "Ada Lovelace", email="ada@example.com")
    with database.connect(write=False) as connection:
        target = erasure_by_email(connection, site.tenant_id, "ada@example.com")
    assert target == ErasureTarget("ada@example.com", None, 2)
    calls = Calls()
    assert erase_visitor(database, site.tenant_id, target, record=calls) == 2
    assert calls.heard == [(site.tenant_id, 2)]
    for erased in (first, second):
        found = row(database, erased)
        assert (found.visitor_name, found.visitor_email, found.visitor_company) == (
            ANONYMISED_NAME,
            None,
            None,
        )
        assert found.anonymised_at is not None
    assert row(database, stranger).visitor_name == "Zoe"
    assert row(database, theirs).visitor_email == "ada@example.com"
    with database.connect(write=False) as connection:
        assert erasure_by_email(connection, site.tenant_id, "ada@example.com").visits == 0
        assert erasure_by_email(connection, rival.tenant_id, "ada@example.com").visits == 1
    again = Calls()
    assert erase_visitor(database, site.tenant_id, target, record=again) == 0
    assert again.heard == [(site.tenant_id, 0)]  # the request is audited even when done


def test_erasing_from_a_visit_takes_its_address_or_that_visit_alone(
    database: Database, site: Site
) -> None:
    with_address = visit(database, site, "Ada", email="ada@example.com")
    other_of_hers = visit(database, site, "Ada L.", email="ADA@example.com")
    nameless = visit(database, site, "Bob Smith")
    namesake = visit(database, site, "Bob Smith")
    with database.connect(write=False) as connection:
        by_address = erasure_of_visit(connection, site.tenant_id, with_address)
        alone = erasure_of_visit(connection, site.tenant_id, nameless)
    assert by_address == ErasureTarget("ada@example.com", None, 2)
    assert alone == ErasureTarget(None, nameless, 1)
    assert by_address is not None and alone is not None
    assert erase_visitor(database, site.tenant_id, by_address) == 2
    assert erase_visitor(database, site.tenant_id, alone) == 1
    assert row(database, other_of_hers).anonymised_at is not None
    assert row(database, namesake).visitor_name == "Bob Smith"  # a name is not an identity
    with database.connect(write=False) as connection:
        assert erasure_of_visit(connection, site.tenant_id, nameless) == ErasureTarget(
            None, nameless, 0
        )


def test_another_tenants_visit_cannot_be_erased_from_here(database: Database, site: Site) -> None:
    rival = other_site(database)
    theirs = visit(database, rival, "Bob")
    with database.connect(write=False) as connection:
        assert erasure_of_visit(connection, site.tenant_id, theirs) is None
    forged = ErasureTarget(None, theirs, 1)  # even a target built by hand
    assert erase_visitor(database, site.tenant_id, forged) == 0
    assert row(database, theirs).visitor_name == "Bob"


def test_an_erasure_names_an_address_or_a_visit(database: Database, site: Site) -> None:
    with pytest.raises(ValueError, match="names an e-mail address or a visit"):
        erase_visitor(database, site.tenant_id, ErasureTarget(None, None, 0))


def _end_of_day_site(database: Database, site: Site, end: str | None) -> Site:
    with database.connect(write=True) as connection:
        return update_site(connection, site.tenant_id, site.id, end_of_day=end)


def test_visitors_left_on_site_are_checked_out_at_that_days_end_across_a_dst_change(
    database: Database, site: Site
) -> None:
    """Paris, 18:00: on 30 March 2024 that is 17:00 UTC, on 31 March (summer time) 16:00."""
    site = _end_of_day_site(database, site, "18:00")
    saturday = visit(database, site, "Sat Urday", at=datetime(2024, 3, 30, 9, 0))
    sunday = visit(database, site, "Sun Day", at=datetime(2024, 3, 31, 8, 0))
    late = visit(database, site, "Late Comer", at=datetime(2024, 3, 31, 16, 30))  # 18:30 local
    gone = visit(database, site, "Al Ready", at=datetime(2024, 3, 31, 8, 0))
    with database.connect(write=True) as connection:
        check_out(connection, site.tenant_id, gone, "kiosk", moment=datetime(2024, 3, 31, 9, 0))
    moment = datetime(2024, 3, 31, 16, 45)
    assert check_out_at_end_of_day(database, tenant_id=site.tenant_id, moment=moment) == 2
    assert (row(database, saturday).checked_out_at, row(database, saturday).checked_out_by) == (
        datetime(2024, 3, 30, 17, 0),
        END_OF_DAY_BY,
    )
    assert (row(database, sunday).checked_out_at, row(database, sunday).checked_out_by) == (
        datetime(2024, 3, 31, 16, 0),
        END_OF_DAY_BY,
    )
    assert row(database, late).checked_out_at is None  # their day ends tomorrow
    assert row(database, gone).checked_out_by == "kiosk"
    assert row(database, gone).checked_out_at == datetime(2024, 3, 31, 9, 0)
    assert check_out_at_end_of_day(database, tenant_id=site.tenant_id, moment=moment) == 0
    tomorrow = datetime(2024, 4, 1, 16, 0)
    assert check_out_at_end_of_day(database, tenant_id=site.tenant_id, moment=tomorrow) == 1
    assert row(database, late).checked_out_at == tomorrow


def test_a_site_without_an_end_of_day_never_checks_anyone_out(
    database: Database, site: Site
) -> None:
    stays = visit(database, site, "Night Owl", at=datetime(2024, 1, 2, 9, 0))
    assert site.end_of_day is None
    assert check_out_at_end_of_day(database, moment=datetime(2024, 3, 1, 12, 0)) >= 0
    assert row(database, stays).checked_out_at is None


def test_end_of_day_keeps_to_each_tenants_own_sites(database: Database, site: Site) -> None:
    site = _end_of_day_site(database, site, "17:00")
    rival = other_site(database, end_of_day="17:00")
    ours = visit(database, site, "Ada", at=datetime(2024, 2, 5, 9, 0))
    theirs = visit(database, rival, "Bob", at=datetime(2024, 2, 5, 9, 0))
    moment = datetime(2024, 2, 5, 18, 0)
    assert check_out_at_end_of_day(database, tenant_id=site.tenant_id, moment=moment) == 1
    assert row(database, ours).checked_out_at == datetime(2024, 2, 5, 16, 0)
    assert row(database, theirs).checked_out_at is None
    check_out_at_end_of_day(database, moment=moment)  # every tenant: theirs, at their end
    assert row(database, theirs).checked_out_at == datetime(2024, 2, 5, 16, 0)
    assert row(database, ours).checked_out_at == datetime(2024, 2, 5, 16, 0)


def test_end_of_day_goes_in_batches(database: Database, site: Site) -> None:
    site = _end_of_day_site(database, site, "18:00")
    ids = [visit(database, site, f"V {n}", at=datetime(2024, 5, 6, 7, n)) for n in range(5)]
    moment = datetime(2024, 5, 7, 0, 0)
    assert check_out_at_end_of_day(database, tenant_id=site.tenant_id, moment=moment, batch=2) == 5
    assert {row(database, i).checked_out_at for i in ids} == {datetime(2024, 5, 6, 16, 0)}


def test_passes_running_at_once_change_each_visit_once(database: Database, site: Site) -> None:
    """Two processes' passes (threads here) over the same visits: the counts add up to the
    visits there were, and every visit is anonymised and checked out exactly once."""
    site = _end_of_day_site(database, site, "18:00")
    moment = now()
    ids = [
        visit(database, site, f"V {n}", at=moment - timedelta(400, minutes=n)) for n in range(12)
    ]
    results: list[int] = []
    lock = threading.Lock()

    def anonymise(stamp: datetime) -> None:
        done = anonymise_expired(database, tenant_id=site.tenant_id, moment=stamp, batch=3)
        with lock:
            results.append(done.get(site.tenant_id, 0))

    def checkout() -> None:
        count = check_out_at_end_of_day(database, tenant_id=site.tenant_id, moment=moment, batch=3)
        with lock:
            results.append(count)

    stamps = [moment, moment + timedelta(seconds=1)]
    threads = [threading.Thread(target=anonymise, args=(stamp,)) for stamp in stamps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 12
    results.clear()
    threads = [threading.Thread(target=checkout) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 12
    for visit_id in ids:
        found = row(database, visit_id)
        assert found.anonymised_at in stamps and found.checked_out_by == END_OF_DAY_BY
    database.dispose()  # the threads' connections
