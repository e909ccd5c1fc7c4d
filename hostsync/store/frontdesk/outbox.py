"""The notification outbox: the deliveries a check-in owes, committed with its visit.

A check-in queues, in its own transaction, one delivery per notification: an e-mail to the
host (or, for *Front desk / I don't know*, one to each of the site's fallback recipients),
and one per channel the tenant has set up (Microsoft Teams, Slack, a signed webhook). A
delivery is ``pending`` until a worker sends it (``sent``), gives up (``failed``) or finds
it owed to nobody any more (``skipped``, with the reason in ``detail``). The host's address
is not copied here: the worker reads it, and whether the host is still active, when it sends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from hostsync.frontdesk.sites import Site
from hostsync.store.clock import new_id
from hostsync.store.frontdesk.tables import deliveries, frontdesk_settings

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
