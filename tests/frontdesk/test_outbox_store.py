"""The outbox over a real database (SQLite, and PostgreSQL when configured) and real servers.

Check-ins queue deliveries; a worker sends them through a real SMTP server and webhook
receiver; leases, rerouting, fairness between tenants and tenant isolation are checked on
the rows.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import insert, update

from hostsync.frontdesk.delivery.worker import utc_now
from hostsync.frontdesk.ports import Channel, HostState
from hostsync.frontdesk.sealing import Sealer, new_key
from hostsync.frontdesk.sites import Site
from hostsync.store.clock import new_id, now
from hostsync.store.database import Database
from hostsync.store.frontdesk.channels import channels_of, set_channel
from hostsync.store.frontdesk.outbox import SqlOutbox, host_address
from hostsync.store.frontdesk.sites import create_site, update_site
from hostsync.store.frontdesk.tables import visits
from hostsync.store.tenants import create_tenant
from tests.frontdesk.conftest import make_host
from tests.frontdesk.outbox_helpers import (
    drain,
    make_worker,
    of_visit,
    run_until_idle,
    set_host,
    tenant_deliveries,
    visit,
)
from tests.frontdesk.servers import Receiver, SmtpServer

SEALER = Sealer(new_key())


@pytest.fixture(autouse=True)
def _drained(database: Database) -> None:
    drain(database)


def with_fallbacks(database: Database, site: Site, *addresses: str) -> Site:
    with database.connect(write=True) as connection:
        return update_site(connection, site.tenant_id, site.id, fallback_recipients=list(addresses))


def test_the_host_email_is_sent_and_the_visit_records_it(
    database: Database, site: Site, smtp_server: SmtpServer
) -> None:
    host = make_host(database, site.tenant_id, "José", "Núñez")
    visit_id = visit(database, site, host)
    assert run_until_idle(make_worker(database, smtp_server.url, SEALER)) == 1
    (delivery,) = of_visit(database, site, visit_id)
    assert (delivery.status, delivery.attempts, delivery.detail) == ("sent", 1, None)
    assert delivery.sent_at is not None and delivery.leased_until is None
    (mail,) = smtp_server.mailbox.messages
    assert mail["To"] == "josé.núñez@contoso.example"
    assert mail["Message-ID"] == f"<{delivery.id}@contoso.example>"
    assert "Paris HQ" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"active": False}, "inactive"), ({"deleted_at": "now"}, "deleted")],
)
def test_a_host_gone_by_delivery_time_is_not_notified_the_fallbacks_are(
    database: Database,
    site: Site,
    smtp_server: SmtpServer,
    change: dict[str, object],
    reason: str,
) -> None:
    site = with_fallbacks(database, site, "desk@contoso.example", "guard@contoso.example")
    host = make_host(database, site.tenant_id, "Jo", "Gone")
    visit_id = visit(database, site, host)
    set_host(
        database, site.tenant_id, host, **{k: now() if v == "now" else v for k, v in change.items()}
    )
    run_until_idle(make_worker(database, smtp_server.url, SEALER))
    rows = of_visit(database, site, visit_id)
    assert [(r.purpose, r.status) for r in rows] == [
        ("host", "skipped"),
        ("fallback", "sent"),
        ("fallback", "sent"),
    ]
    assert reason in rows[0].detail and "fallback recipients instead" in rows[0].detail
    assert sorted(str(m["To"]) for m in smtp_server.mailbox.messages) == [
        "desk@contoso.example",
        "guard@contoso.example",
    ]
    body = smtp_server.mailbox.messages[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert reason in body


def test_without_fallback_recipients_the_visit_says_nobody_was_told(
    database: Database, site: Site, smtp_server: SmtpServer
) -> None:
    host = make_host(database, site.tenant_id, "Jo", "Idle", active=False)
    # Offered at check-in time, inactive by delivery time:
    host = make_host(database, site.tenant_id, "Jo", "Later")
    visit_id = visit(database, site, host)
    set_host(database, site.tenant_id, host, active=False)
    run_until_idle(make_worker(database, smtp_server.url, SEALER))
    (row,) = of_visit(database, site, visit_id)
    assert row.status == "skipped" and "no fallback recipients" in row.detail
    assert smtp_server.mailbox.messages == []


def test_smtp_down_during_check_ins_then_up_every_email_arrives_exactly_once(
    database: Database, site: Site
) -> None:
    server = SmtpServer()  # its port is fixed; not listening yet
    host = make_host(database, site.tenant_id, "José", "Núñez")
    ids = [visit(database, site, host, f"Visitor {n}") for n in range(25)]
    clock = [utc_now()]
    worker = make_worker(database, server.url, SEALER, clock=lambda: clock[0], batch=10)
    run_until_idle(worker)  # every attempt fails: all wait for a retry
    rows = tenant_deliveries(database, site.tenant_id)
    assert {(r.status, r.attempts) for r in rows} == {("pending", 1)}
    assert all("cannot reach the SMTP server" in r.detail for r in rows)
    server.start()
    try:
        clock[0] += timedelta(minutes=5)  # past every first retry's backoff (at most 5 s)
        run_until_idle(worker)
        rows = tenant_deliveries(database, site.tenant_id)
        assert {r.status for r in rows} == {"sent"}
        received = server.mailbox.ids()
        assert sorted(received) == sorted(f"<{r.id}@contoso.example>" for r in rows)
        assert len(received) == len(set(received)) == len(ids)
    finally:
        server.stop()


def test_a_worker_that_dies_mid_batch_loses_nothing_and_its_late_outcomes_are_ignored(
    database: Database, site: Site, smtp_server: SmtpServer
) -> None:
    host = make_host(database, site.tenant_id, "José", "Núñez")
    for n in range(6):
        visit(database, site, host, f"Visitor {n}")
    outbox = SqlOutbox(database)
    start = utc_now()
    taken = outbox.claim(start, 4, 60)  # then the process dies: nothing recorded
    assert len(taken) == 4
    assert len(outbox.claim(start, 10, 60)) == 2  # leased ones are not handed out twice
    later = start + timedelta(seconds=61)
    worker = make_worker(database, smtp_server.url, SEALER, clock=lambda: later)
    assert run_until_idle(worker) == 6
    assert outbox.sent(taken[0], later) is False  # the dead worker's lease is gone
    rows = tenant_deliveries(database, site.tenant_id)
    assert {r.status for r in rows} == {"sent"}
    assert sorted(smtp_server.mailbox.ids()) == sorted(f"<{r.id}@contoso.example>" for r in rows)


def test_several_workers_at_once_never_send_one_delivery_twice(
    database: Database, site: Site, smtp_server: SmtpServer
) -> None:
    host = make_host(database, site.tenant_id, "José", "Núñez")
    for n in range(60):
        visit(database, site, host, f"Visitor {n}")
    workers = [make_worker(database, smtp_server.url, SEALER, batch=5) for _ in range(3)]
    threads = [threading.Thread(target=run_until_idle, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    rows = tenant_deliveries(database, site.tenant_id)
    assert {r.status for r in rows} == {"sent"}
    received = smtp_server.mailbox.ids()
    assert len(received) == len(set(received)) == 60


def test_a_tenants_failing_backlog_does_not_hold_back_another_tenants_emails(
    database: Database, site: Site, smtp_server: SmtpServer, receiver: Receiver
) -> None:
    receiver.status = 503
    with database.connect(write=True) as connection:
        set_channel(connection, site.tenant_id, "webhook", SEALER.seal(receiver.url()))
        other = create_tenant(connection, "Fabrikam").id
        other_site = create_site(connection, other, "Lyon", timezone="Europe/Paris")
    noisy = make_host(database, site.tenant_id, "Noisy", "Host")
    quiet = make_host(database, other, "Quiet", "Host")
    for n in range(40):  # 40 e-mails and 40 webhooks due before the other tenant's
        visit(database, site, noisy, f"Visitor {n}")
    quiet_visits = [visit(database, other_site, quiet, f"Guest {n}") for n in range(3)]
    claimed = SqlOutbox(database).claim(utc_now(), 10, 0.001)
    assert sum(job.tenant_id == other for job in claimed) == 3
    worker = make_worker(database, smtp_server.url, SEALER, batch=10)
    worker.run_once()
    for visit_id in quiet_visits:
        assert [r.status for r in of_visit(database, other_site, visit_id)] == ["sent"]
    assert len(receiver.requests) <= 1  # one failed attempt per pass, not one per delivery


def test_webhook_channels_go_out_signed_and_shaped(
    database: Database, site: Site, receiver: Receiver
) -> None:
    with database.connect(write=True) as connection:
        set_channel(connection, site.tenant_id, "teams", SEALER.seal(receiver.url("/teams")))
        set_channel(connection, site.tenant_id, "slack", SEALER.seal(receiver.url("/slack")))
        set_channel(
            connection,
            site.tenant_id,
            "webhook",
            SEALER.seal(receiver.url("/generic")),
            SEALER.seal("whsec_x"),
        )
    host = make_host(database, site.tenant_id, "José", "Núñez")
    visit_id = visit(database, site, host)
    run_until_idle(make_worker(database, None, SEALER))
    statuses = {r.channel: r.status for r in of_visit(database, site, visit_id)}
    assert statuses == {"email": "skipped", "teams": "sent", "slack": "sent", "webhook": "sent"}
    generic = next(r for r in receiver.requests if r.path == "/generic")
    event = json.loads(generic.body)
    assert event["data"]["visit_id"] == visit_id and event["data"]["site"]["name"] == "Paris HQ"
    assert generic.headers["idempotency-key"] == event["id"]


def test_claims_never_mix_tenants_data(database: Database, site: Site) -> None:
    with database.connect(write=True) as connection:
        other = create_tenant(connection, "Fabrikam").id
        other_site = create_site(connection, other, "Lyon", timezone="Europe/Paris")
        set_channel(connection, site.tenant_id, "slack", SEALER.seal("https://hooks.example/a"))
    stranger = make_host(database, site.tenant_id, "Only", "InContoso")
    # A visit of the other tenant naming this tenant's user (made by hand: the store refuses).
    with database.connect(write=True) as connection:
        visit_id = new_id()
        connection.execute(
            insert(visits).values(
                id=visit_id,
                tenant_id=other,
                site_id=other_site.id,
                visitor_name="Eve",
                visitor_name_folded="eve",
                host_id=stranger,
                host_label="Only InContoso",
                front_desk=False,
                checked_in_at=now(),
                checked_in_by="test",
            )
        )
        from hostsync.store.frontdesk.outbox import queue_arrival

        queue_arrival(connection, other_site, visit_id, stranger, now())
        assert channels_of(connection, other) == {}
    jobs = [j for j in SqlOutbox(database).claim(utc_now(), 50, 60) if j.tenant_id == other]
    assert [(j.channel, j.host_state, j.address) for j in jobs] == [
        (Channel.EMAIL, HostState.DELETED, None)
    ]
    assert all(j.sealed_url is None for j in jobs)


def test_host_address_prefers_primary_then_work_then_user_name() -> None:
    emails = [
        {"value": "home@x.example", "type": "home"},
        {"value": "work@x.example", "type": "work"},
        {"value": "main@x.example", "type": "other", "primary": True},
    ]
    assert host_address({"emails": emails}, "u@x.example") == "main@x.example"
    assert host_address({"emails": emails[:2]}, "u@x.example") == "work@x.example"
    assert host_address({"emails": emails[:1]}, "u@x.example") == "u@x.example"
    assert host_address({}, "jdoe") is None


def test_nothing_is_sent_about_a_visitor_erased_before_delivery(
    database: Database, site: Site, smtp_server: SmtpServer
) -> None:
    host = make_host(database, site.tenant_id, "José", "Núñez")
    visit_id = visit(database, site, host)
    with database.connect(write=True) as connection:
        connection.execute(
            update(visits)
            .where(visits.c.tenant_id == site.tenant_id, visits.c.id == visit_id)
            .values(visitor_name="", anonymised_at=now())
        )
    assert run_until_idle(make_worker(database, smtp_server.url, SEALER)) == 0
    (row,) = of_visit(database, site, visit_id)
    assert (row.status, row.detail) == ("skipped", "not sent: the visitor's data was erased first")
    assert smtp_server.mailbox.messages == []
