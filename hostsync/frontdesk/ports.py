"""The Outbox port: what the delivery worker needs from the store, and the values it passes.

A *delivery* is one notification of one visit on one channel: an e-mail to one address, or
one post to the tenant's Microsoft Teams, Slack or generic webhook. The check-in queues a
visit's deliveries in its own transaction; the worker (``delivery.worker``) claims the due
ones in batches, sends them and records each outcome here. Rules every implementation keeps:

* A claim is a lease: a claimed delivery is invisible to other workers until the lease ends;
  a worker that dies mid-batch loses nothing, its deliveries become due again when their
  lease runs out. Recording an outcome with a lease that has ended (another worker has
  claimed the delivery since) changes nothing and answers False.
* Claims are fair between tenants: one batch takes at most its share of one tenant's due
  deliveries, so a tenant's backlog never holds another tenant's deliveries back.
* Every delivery ends in exactly one final state: ``sent``, ``failed`` (gave up or refused)
  or ``skipped`` (nothing to send it to, or rerouted: the host could not be notified and
  the site's fallback recipients were queued instead). All but ``sent`` carry the reason
  the visit shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Channel(StrEnum):
    """Where a delivery goes."""

    EMAIL = "email"
    TEAMS = "teams"
    SLACK = "slack"
    WEBHOOK = "webhook"


class Status(StrEnum):
    """A delivery's state; all but ``pending`` are final."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class HostState(StrEnum):
    """The visit's host when the delivery runs (``none``: the visit is for the front desk)."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    DELETED = "deleted"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Arrival:
    """What a notification says: who arrived, where, when, for whom.

    ``checked_in_at`` is naive UTC (as stored); messages show it in ``site_timezone``.
    ``host_label`` names the host the visitor chose (None: the visit is for the front desk).
    ``reason`` is set when the message goes to the front desk instead of the host: why the
    host is not notified (their account is inactive or deleted).
    """

    visit_id: str
    visitor_name: str
    company: str | None
    site_id: str
    site_name: str
    site_timezone: str
    checked_in_at: datetime
    host_id: str | None = None
    host_label: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed delivery: everything the worker needs to send it.

    ``address`` is the e-mail address (``email``: the host's current one, resolved when
    claimed, or a fallback recipient's); None for the other channels or when the host has
    none. ``sealed_url``/``sealed_secret`` are the tenant's channel target as sealed by
    :mod:`hostsync.frontdesk.sealing`, None when the channel is not (or no longer)
    configured. ``lease`` identifies this claim; outcomes are recorded against it.
    """

    id: str
    tenant_id: str
    channel: Channel
    attempts: int
    queued_at: datetime
    lease: str
    arrival: Arrival
    host_state: HostState
    fallback: bool = False
    address: str | None = None
    sealed_url: str | None = None
    sealed_secret: str | None = None


class Outbox(Protocol):
    """The deliveries' store, as the worker sees it (``store.frontdesk.outbox.SqlOutbox``).

    Times are naive UTC. Every recording method answers False when the lease is no longer
    this claim's (nothing was changed).
    """

    def claim(self, now: datetime, limit: int, lease_seconds: float) -> Sequence[Job]:
        """Lease up to ``limit`` due deliveries, fairly between tenants, oldest first."""
        ...

    def sent(self, job: Job, now: datetime) -> bool:
        """The delivery went out (final)."""
        ...

    def retry(self, job: Job, at: datetime, error: str) -> bool:
        """The attempt failed and may succeed later: due again at ``at``; one more attempt."""
        ...

    def failed(self, job: Job, now: datetime, error: str) -> bool:
        """The delivery will never go out: refused for good, or out of attempts (final)."""
        ...

    def skipped(self, job: Job, now: datetime, reason: str) -> bool:
        """There is nothing to send it to (no address, channel removed) (final)."""
        ...

    def reroute(self, job: Job, now: datetime, reason: str) -> int:
        """The host cannot be notified: end this delivery, queue the fallback recipients'.

        This delivery ends ``skipped``, its detail saying why and where it went instead,
        and one e-mail delivery per
        fallback recipient of the visit's site is queued, due now. Answers how many were
        queued (0: the site has none; -1: the lease was lost).
        """
        ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt's result: sent, or an error that is ``permanent`` or worth retrying.

    ``error`` is one line for the visit's record: it never holds a webhook URL, a password
    or a message's content.
    """

    ok: bool
    error: str = ""
    permanent: bool = False

    @classmethod
    def success(cls) -> Outcome:
        """The receiver took it."""
        return cls(ok=True)

    @classmethod
    def transient(cls, error: str) -> Outcome:
        """Failed this time; worth another attempt."""
        return cls(ok=False, error=error)

    @classmethod
    def refused(cls, error: str) -> Outcome:
        """Failed for good: another attempt would fail the same way."""
        return cls(ok=False, error=error, permanent=True)
