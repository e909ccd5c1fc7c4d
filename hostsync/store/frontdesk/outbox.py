"""The notification outbox: the deliveries a check-in owes, committed with its visit.

A check-in queues, in its own transaction, one delivery per notification: an e-mail to the
host (or, for *Front desk / I don't know*, one to each of the site's fallback recipients),
and one per channel the tenant has set up (Microsoft Teams, Slack, a signed webhook). A
delivery is ``pending`` until a worker sends it (``sent``), gives up (``failed``) or finds
it owed to nobody any more (``skipped``, with the reason in ``detail``). The host's address
is not copied here: the worker reads it, and whether the host is still active, when it sends.

:class:`SqlOutbox` is the worker's port (:class:`hostsync.frontdesk.ports.Outbox`):

* **Claims are leases.** A claim sets ``leased_until`` on the deliveries it takes, in one
  write unit; a delivery is claimable while ``pending``, due, and not leased (or its lease
  ended: its worker died). On PostgreSQL the rows are locked ``FOR UPDATE SKIP LOCKED``
  while claimed, so workers in several processes never take one delivery together; on
  SQLite the write unit is the lock. The lease's end is the claim's token: an outcome is
  recorded only while ``leased_until`` still holds it, so a worker whose lease ran out (and
  whose delivery another worker took) changes nothing.
* **Claims are fair between tenants**: due deliveries are taken round-robin, each tenant's
  oldest first, then each tenant's second, and so on (a window rank per tenant): one
  tenant's backlog takes no more of a batch than any other tenant with deliveries due.
* **Rerouting**: when the host cannot be notified, the delivery ends ``skipped`` with the
  reason, and one e-mail per fallback recipient of the visit's site is queued in the same
  unit, due at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from hostsync.frontdesk.ports import Arrival, Channel, HostState, Job
from hostsync.frontdesk.sites import Site
from hostsync.store.clock import new_id
from hostsync.store.database import Database
from hostsync.store.frontdesk.tables import deliveries, frontdesk_settings, sites, visits
from hostsync.store.tables import users

CHANNELS = ("teams", "slack", "webhook")
_CHANNEL_COLUMNS = {"teams": "teams_webhook", "slack": "slack_webhook", "webhook": "webhook_url"}


def queue_arrival(
    connection: Connection, site: Site, visit_id: str, host_id: str | None, moment: datetime
) -> int:
    """Queue the deliveries a visitor's arrival owes; return how many."""
    rows: list[dict[str, Any]] = []

    def owe(channel: str, recipient: str, purpose: str) -> None:
        rows.append(
            {
                "id": new_id(),
                "tenant_id": site.tenant_id,
                "visit_id": visit_id,
                "channel": channel,
                "recipient": recipient,
                "purpose": purpose,
                "status": "pending",
                "attempts": 0,
                "due_at": moment,
                "created_at": moment,
            }
        )

    if host_id is not None:
        owe("email", "", "host")
    else:
        for address in site.fallback_recipients:
            owe("email", address, "fallback")
    for channel in configured_channels(connection, site.tenant_id):
        owe(channel, "", "host" if host_id is not None else "fallback")
    if rows:
        connection.execute(insert(deliveries), rows)
    return len(rows)


def configured_channels(connection: Connection, tenant_id: str) -> list[str]:
    """The chat and webhook channels the tenant has set up, in :data:`CHANNELS` order."""
    row = connection.execute(
        select(frontdesk_settings).where(frontdesk_settings.c.tenant_id == tenant_id)
    ).first()
    if row is None:
        return []
    return [channel for channel in CHANNELS if getattr(row, _CHANNEL_COLUMNS[channel])]


def deliveries_of(connection: Connection, tenant_id: str, visit_id: str) -> list[Any]:
    """A visit's deliveries, oldest first (for its page and the kiosk's confirmation)."""
    return list(
        connection.execute(
            select(deliveries)
            .where(deliveries.c.tenant_id == tenant_id, deliveries.c.visit_id == visit_id)
            .order_by(deliveries.c.pk)
        )
    )


ERASED = "not sent: the visitor's data was erased first"

_SEALED = {
    "teams": (frontdesk_settings.c.teams_webhook, None),
    "slack": (frontdesk_settings.c.slack_webhook, None),
    "webhook": (frontdesk_settings.c.webhook_url, frontdesk_settings.c.webhook_secret),
}


def _claimable(now: datetime) -> Any:
    """Pending, due, and not under a live lease."""
    return and_(
        deliveries.c.status == "pending",
        deliveries.c.due_at <= now,
        or_(deliveries.c.leased_until.is_(None), deliveries.c.leased_until <= now),
    )


def host_address(document: dict[str, Any] | None, user_name: str | None) -> str | None:
    """A host's address: the primary e-mail, else the work e-mail, else an address userName."""
    emails = [e for e in (document or {}).get("emails") or [] if isinstance(e, dict)]
    for chosen in (
        [e for e in emails if e.get("primary") is True],
        [e for e in emails if str(e.get("type", "")).lower() == "work"],
    ):
        for entry in chosen:
            value = str(entry.get("value") or "").strip()
            if "@" in value:
                return value
    if user_name and "@" in user_name and " " not in user_name.strip():
        return user_name.strip()
    return None


def _host_state(row: Any) -> HostState:
    if row.host_id is None:
        return HostState.NONE
    if row.user_pk is None or row.deleted_at is not None:
        return HostState.DELETED
    return HostState.ACTIVE if row.active else HostState.INACTIVE


class SqlOutbox:
    """The outbox port over the database (module doc)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def claim(self, now: datetime, limit: int, lease_seconds: float) -> Sequence[Job]:
        """Lease up to ``limit`` due deliveries, round-robin between tenants, oldest first."""
        until = now + timedelta(seconds=lease_seconds)
        postgres = self.database.dialect == "postgresql"
        with self.database.connect(write=True) as connection:
            rank = (
                func.row_number()
                .over(partition_by=deliveries.c.tenant_id, order_by=deliveries.c.due_at)
                .label("rank")
            )
            due = (
                select(deliveries.c.id, deliveries.c.due_at, rank).where(_claimable(now)).subquery()
            )
            ids = list(
                connection.execute(
                    select(due.c.id).order_by(due.c.rank, due.c.due_at).limit(limit)
                ).scalars()
            )
            if ids and postgres:  # lock them; a row another worker holds or took is left
                ids = list(
                    connection.execute(
                        select(deliveries.c.id)
                        .where(deliveries.c.id.in_(ids), _claimable(now))
                        .with_for_update(skip_locked=True)
                    ).scalars()
                )
            if not ids:
                return []
            connection.execute(
                update(deliveries).where(deliveries.c.id.in_(ids)).values(leased_until=until)
            )
            rows = connection.execute(_jobs_query(ids)).all()
            erased = [row.id for row in rows if row.anonymised_at is not None]
            if erased:  # nothing is sent about a visitor whose data was erased since
                connection.execute(
                    update(deliveries)
                    .where(deliveries.c.id.in_(erased))
                    .values(status="skipped", leased_until=None, detail=ERASED)
                )
        lease = until.isoformat()
        return [_job(row, lease) for row in rows if row.anonymised_at is None]

    def _settle(self, job: Job, **values: Any) -> bool:
        with self.database.connect(write=True) as connection:
            return _settle(connection, job, values)

    def sent(self, job: Job, now: datetime) -> bool:
        """The delivery went out."""
        return self._settle(job, status="sent", sent_at=now, attempts=job.attempts + 1, detail=None)

    def retry(self, job: Job, at: datetime, error: str) -> bool:
        """Due again at ``at``, one attempt more, the error kept for the visit's page."""
        return self._settle(job, due_at=at, attempts=job.attempts + 1, detail=error[:1000])

    def failed(self, job: Job, now: datetime, error: str) -> bool:
        """The delivery will never go out."""
        return self._settle(job, status="failed", attempts=job.attempts + 1, detail=error[:1000])

    def skipped(self, job: Job, now: datetime, reason: str) -> bool:
        """Nothing to send it to."""
        return self._settle(job, status="skipped", detail=reason[:1000])

    def reroute(self, job: Job, now: datetime, reason: str) -> int:
        """End the host's delivery and queue the site's fallback recipients, in one unit."""
        with self.database.connect(write=True) as connection:
            recipients = connection.execute(
                select(sites.c.fallback_recipients).where(
                    sites.c.tenant_id == job.tenant_id, sites.c.id == job.arrival.site_id
                )
            ).scalar_one_or_none()
            addresses = [str(a) for a in recipients or ()]
            if addresses:
                detail = f"rerouted: {reason}; sent to the site's fallback recipients instead"
            else:
                detail = f"not sent: {reason}, and the site has no fallback recipients"
            if not _settle(connection, job, {"status": "skipped", "detail": detail[:1000]}):
                return -1
            if addresses:
                connection.execute(
                    insert(deliveries),
                    [
                        {
                            "id": new_id(),
                            "tenant_id": job.tenant_id,
                            "visit_id": job.arrival.visit_id,
                            "channel": "email",
                            "recipient": address,
                            "purpose": "fallback",
                            "status": "pending",
                            "attempts": 0,
                            "due_at": now,
                            "created_at": now,
                        }
                        for address in addresses
                    ],
                )
            return len(addresses)


def _settle(connection: Connection, job: Job, values: dict[str, Any]) -> bool:
    """Record an outcome while the claim's lease holds; whether it did."""
    result = connection.execute(
        update(deliveries)
        .where(
            deliveries.c.id == job.id,
            deliveries.c.tenant_id == job.tenant_id,
            deliveries.c.status == "pending",
            deliveries.c.leased_until == datetime.fromisoformat(job.lease),
        )
        .values(leased_until=None, **values)
    )
    return bool(result.rowcount == 1)


def _jobs_query(ids: list[str]) -> Any:
    """The claimed deliveries with their visit, site, host and the tenant's channels."""
    joined = (
        deliveries.join(
            visits,
            and_(
                visits.c.id == deliveries.c.visit_id, visits.c.tenant_id == deliveries.c.tenant_id
            ),
        )
        .join(sites, and_(sites.c.id == visits.c.site_id, sites.c.tenant_id == visits.c.tenant_id))
        .outerjoin(
            users, and_(users.c.id == visits.c.host_id, users.c.tenant_id == visits.c.tenant_id)
        )
        .outerjoin(frontdesk_settings, frontdesk_settings.c.tenant_id == deliveries.c.tenant_id)
    )
    return (
        select(
            deliveries.c.id,
            deliveries.c.tenant_id,
            deliveries.c.channel,
            deliveries.c.recipient,
            deliveries.c.purpose,
            deliveries.c.attempts,
            deliveries.c.created_at,
            deliveries.c.visit_id,
            visits.c.visitor_name,
            visits.c.visitor_company,
            visits.c.site_id,
            visits.c.checked_in_at,
            visits.c.host_id,
            visits.c.host_label,
            visits.c.anonymised_at,
            sites.c.name.label("site_name"),
            sites.c.timezone,
            users.c.pk.label("user_pk"),
            users.c.active,
            users.c.deleted_at,
            users.c.user_name,
            users.c.document,
            frontdesk_settings.c.teams_webhook,
            frontdesk_settings.c.slack_webhook,
            frontdesk_settings.c.webhook_url,
            frontdesk_settings.c.webhook_secret,
        )
        .select_from(joined)
        .where(deliveries.c.id.in_(ids))
        .order_by(deliveries.c.due_at)
    )


def _job(row: Any, lease: str) -> Job:
    state = _host_state(row)
    fallback = row.purpose == "fallback"
    channel = Channel(row.channel)
    address: str | None = None
    if channel is Channel.EMAIL:
        if fallback:
            address = row.recipient or None
        elif state is HostState.ACTIVE:
            address = host_address(row.document, row.user_name)
    sealed_url = sealed_secret = None
    if channel is not Channel.EMAIL:
        url_column, secret_column = _SEALED[channel.value]
        sealed_url = getattr(row, url_column.name)
        sealed_secret = None if secret_column is None else getattr(row, secret_column.name)
    return Job(
        id=row.id,
        tenant_id=row.tenant_id,
        channel=channel,
        attempts=row.attempts,
        queued_at=row.created_at,
        lease=lease,
        arrival=Arrival(
            visit_id=row.visit_id,
            visitor_name=row.visitor_name,
            company=row.visitor_company,
            site_id=row.site_id,
            site_name=row.site_name,
            site_timezone=row.timezone,
            checked_in_at=row.checked_in_at,
            host_id=row.host_id,
            host_label=row.host_label,
        ),
        host_state=state,
        fallback=fallback,
        address=address,
        sealed_url=sealed_url,
        sealed_secret=sealed_secret,
    )
