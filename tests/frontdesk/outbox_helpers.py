"""Helpers of the outbox tests: check-ins through the store, a worker over the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from hostsync.frontdesk.delivery.smtp import SmtpSender, parse_smtp_url
from hostsync.frontdesk.delivery.worker import DeliveryWorker, WorkerOptions, utc_now
from hostsync.frontdesk.sealing import Sealer
from hostsync.frontdesk.sites import Site
from hostsync.frontdesk.visits import arrival
from hostsync.store.database import Database
from hostsync.store.frontdesk.outbox import SqlOutbox, deliveries_of
from hostsync.store.frontdesk.tables import deliveries
from hostsync.store.frontdesk.visits import CheckIn, check_in
from hostsync.store.tables import users

SENDER = "Front desk <frontdesk@contoso.example>"
KIOSK = CheckIn("kiosk Lobby", kiosk_id="k1")


def drain(database: Database) -> None:
    """Settle what earlier tests left pending (the session's database is shared)."""
    with database.connect(write=True) as connection:
        connection.execute(
            update(deliveries)
            .where(deliveries.c.status == "pending")
            .values(status="skipped", detail="left by an earlier test")
        )


def visit(database: Database, site: Site, host_id: str | None, name: str = "Ada Lovelace") -> str:
    """Check a visitor in (for the host, or the front desk); the visit's id."""
    with database.connect(write=True) as connection:
        made = check_in(
            connection,
            site,
            arrival(name, "Analytical", None, host_id, front_desk=host_id is None),
            KIOSK,
            host_label=None if host_id is None else "José Núñez",
        )
    return made.id


def of_visit(database: Database, site: Site, visit_id: str) -> list[Any]:
    """The visit's deliveries, oldest first."""
    with database.connect(write=False) as connection:
        return deliveries_of(connection, site.tenant_id, visit_id)


def tenant_deliveries(database: Database, tenant_id: str) -> list[Any]:
    """Every delivery of the tenant."""
    with database.connect(write=False) as connection:
        return list(
            connection.execute(
                select(deliveries)
                .where(deliveries.c.tenant_id == tenant_id)
                .order_by(deliveries.c.pk)
            )
        )


def set_host(database: Database, tenant_id: str, host_id: str, **values: Any) -> None:
    """Change a host's row as SCIM would have (``active``, ``deleted_at``)."""
    with database.connect(write=True) as connection:
        connection.execute(
            update(users)
            .where(users.c.tenant_id == tenant_id, users.c.id == host_id)
            .values(**values)
        )


def make_worker(
    database: Database,
    smtp_url: str | None,
    sealer: Sealer,
    *,
    clock: Callable[[], datetime] = utc_now,
    timeout: float = 2.0,
    **options: Any,
) -> DeliveryWorker:
    """A worker over the database's outbox, sending through ``smtp_url``."""
    mailer = SmtpSender(parse_smtp_url(smtp_url), timeout=timeout) if smtp_url else None
    return DeliveryWorker(
        SqlOutbox(database),
        sealer=sealer,
        mailer=mailer,
        mail_from=SENDER,
        options=WorkerOptions(**options),
        clock=clock,
    )


def run_until_idle(worker: DeliveryWorker, passes: int = 100) -> int:
    """Passes until one claims nothing; how many deliveries were handled."""
    handled = 0
    for _ in range(passes):
        claimed = worker.run_once()
        if claimed == 0:
            return handled
        handled += claimed
    raise AssertionError("the outbox never emptied")
