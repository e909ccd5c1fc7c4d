"""A tenant's notification channels: Microsoft Teams, Slack and a generic signed webhook.

Kept in the tenant's ``frontdesk_settings`` row, sealed by the caller
(:mod:`hostsync.frontdesk.sealing`): this module stores and returns sealed text only, and the
console shows masked forms. A channel is set up when its URL column holds a value; removing
one clears it (and the webhook's signing secret with its URL). Deliveries already queued for
a removed channel end ``skipped`` when their turn comes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, or_, select, update

from hostsync.store.clock import now
from hostsync.store.frontdesk.tables import frontdesk_settings

COLUMNS = {
    "teams": frontdesk_settings.c.teams_webhook,
    "slack": frontdesk_settings.c.slack_webhook,
    "webhook": frontdesk_settings.c.webhook_url,
}
"""The column holding each channel's sealed URL."""


class UnknownChannelError(LookupError):
    """No channel has this name."""


@dataclass(frozen=True, slots=True)
class SealedChannel:
    """One set-up channel: its sealed URL and (generic webhook) sealed signing secret."""

    channel: str
    sealed_url: str
    sealed_secret: str | None


def channels_of(connection: Connection, tenant_id: str) -> dict[str, SealedChannel]:
    """The tenant's set-up channels by name (``teams``, ``slack``, ``webhook``)."""
    row = connection.execute(
        select(frontdesk_settings).where(frontdesk_settings.c.tenant_id == tenant_id)
    ).first()
    if row is None:
        return {}
    found: dict[str, SealedChannel] = {}
    for name, column in COLUMNS.items():
        sealed = getattr(row, column.name)
        if sealed:
            secret = row.webhook_secret if name == "webhook" else None
            found[name] = SealedChannel(name, sealed, secret)
    return found


def set_channel(
    connection: Connection,
    tenant_id: str,
    channel: str,
    sealed_url: str | None,
    sealed_secret: str | None = None,
) -> None:
    """Set (or with ``sealed_url`` None, remove) one channel of the tenant."""
    column = COLUMNS.get(channel)
    if column is None:
        raise UnknownChannelError(channel)
    values: dict[str, object] = {column.name: sealed_url, "modified_at": now()}
    if channel == "webhook":
        values["webhook_secret"] = sealed_secret if sealed_url is not None else None
    changed = connection.execute(
        update(frontdesk_settings)
        .where(frontdesk_settings.c.tenant_id == tenant_id)
        .values(**values)
    ).rowcount
    if not changed:
        connection.execute(insert(frontdesk_settings).values(tenant_id=tenant_id, **values))


def any_channel(connection: Connection) -> bool:
    """Whether any tenant has a channel set up (a server then starts its worker)."""
    condition = or_(*(column.is_not(None) for column in COLUMNS.values()))
    return (
        connection.execute(select(frontdesk_settings.c.tenant_id).where(condition).limit(1)).first()
        is not None
    )
