"""The delivery worker: claims due deliveries in batches, sends them, records each outcome.

One pass (:meth:`DeliveryWorker.run_once`) claims up to ``batch`` due deliveries through the
:class:`~hostsync.frontdesk.ports.Outbox` (a lease: other workers skip them), then:

* **E-mail to a host** whose account is inactive or deleted now, or who has no address: the
  host is not notified; the delivery ends ``rerouted`` with the reason, and the site's
  fallback recipients are queued instead (sent in a later pass, usually the next).
* **E-mail**: the batch's messages go through one SMTP connection.
* **Teams, Slack, generic webhook**: one POST each to the tenant's (unsealed) URL; the
  generic webhook's is signed (``signing``). When the host can no longer be notified, the
  message says the front desk should meet the visitor, and why.
* Outcomes: sent; refused for good → ``failed``; otherwise tried again after a backoff
  (``backoff``) until it gives up → ``failed`` with the last error.

Fairness inside a pass: after one attempt to a tenant's webhook target fails, that target's
other deliveries in the pass wait for their retry without a request, so a receiver that
times out costs one timeout per pass, not one per delivery. Claims are fair between tenants
(the port's rule). :meth:`run` loops until its stop event is set; a pass under way finishes
first (its requests are bounded by their timeouts), and a worker that dies instead leaves
its leased deliveries to come back when the lease ends. Several workers may run at once.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import orjson

from hostsync.frontdesk.delivery import messages
from hostsync.frontdesk.delivery.backoff import Backoff
from hostsync.frontdesk.delivery.signing import signed_headers
from hostsync.frontdesk.delivery.smtp import Outgoing, SmtpSender, compose
from hostsync.frontdesk.delivery.webhooks import WebhookSender
from hostsync.frontdesk.ports import Arrival, Channel, HostState, Job, Outbox, Outcome
from hostsync.frontdesk.sealing import Sealer, SealingError

log = logging.getLogger(__name__)

REASONS = {
    HostState.INACTIVE: "the host's account is inactive",
    HostState.DELETED: "the host's account has been deleted",
}
NO_ADDRESS = "the host has no e-mail address"
NO_SMTP = "no SMTP server is configured (HOSTSYNC_SMTP_URL)"
NO_CHANNEL = "the channel is no longer configured"


def utc_now() -> datetime:
    """The current time, naive UTC (as the store keeps times)."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """How a worker paces itself: ``batch`` claims a pass, ``lease_seconds`` per claim."""

    batch: int = 50
    poll_seconds: float = 1.0
    lease_seconds: float = 120.0
    backoff: Backoff = field(default_factory=Backoff)


class DeliveryWorker:
    """Sends the outbox's deliveries (module doc)."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        sealer: Sealer | None,
        mailer: SmtpSender | None = None,
        mail_from: str | None = None,
        webhooks: WebhookSender | None = None,
        options: WorkerOptions = WorkerOptions(),
        clock: Callable[[], datetime] = utc_now,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.outbox = outbox
        self.sealer = sealer
        self.mailer = mailer if mail_from else None
        self.mail_from = mail_from or ""
        self.webhooks = webhooks or WebhookSender()
        self.options = options
        self.clock = clock
        self.draw = draw

    def run_once(self) -> int:
        """One pass: claim, send, record; how many deliveries were claimed."""
        jobs = self.outbox.claim(self.clock(), self.options.batch, self.options.lease_seconds)
        mails: list[tuple[Job, Outgoing]] = []
        posts: list[Job] = []
        for job in jobs:
            if job.channel is Channel.EMAIL:
                mail = self._email(job)
                if mail is not None:
                    mails.append((job, mail))
            else:
                posts.append(job)
        if mails and self.mailer is not None:
            outcomes = self.mailer.send_batch([mail for _, mail in mails])
            for (job, _), sent in zip(mails, outcomes, strict=True):
                self._record(job, sent)
        failing: dict[tuple[str, Channel], Outcome] = {}
        for job in posts:
            target = (job.tenant_id, job.channel)
            outcome = failing.get(target) or self._post(job)
            if outcome is None:
                continue
            if not outcome.ok and not outcome.permanent:
                failing[target] = outcome
            self._record(job, outcome)
        return len(jobs)

    def run(self, stop: threading.Event) -> None:
        """Pass after pass until ``stop`` is set; waits ``poll_seconds`` when idle."""
        while not stop.is_set():
            try:
                claimed = self.run_once()
            except Exception:  # the database is down or busy: try again after a pause
                log.warning("delivery pass failed; trying again", exc_info=True)
                claimed = 0
            if claimed < self.options.batch:
                stop.wait(self.options.poll_seconds)

    def _email(self, job: Job) -> Outgoing | None:
        """The e-mail to send for ``job``, or None when the job was settled otherwise."""
        if not job.fallback:
            reason = REASONS.get(job.host_state)
            if reason is None and job.host_state is HostState.NONE:
                reason = "the visit is for the front desk"
            if reason is None and not job.address:
                reason = NO_ADDRESS
            if reason is not None:
                queued = self.outbox.reroute(job, self.clock(), reason)
                log.info("delivery %s rerouted (%s): %d fallback e-mail(s)", job.id, reason, queued)
                return None
        if not job.address:
            self.outbox.skipped(job, self.clock(), "no e-mail address to send to")
            return None
        if self.mailer is None:
            self.outbox.skipped(job, self.clock(), NO_SMTP)
            return None
        arrival = job.arrival
        if job.fallback and arrival.reason is None and arrival.host_label is not None:
            arrival = replace(arrival, reason=REASONS.get(job.host_state, NO_ADDRESS))
        try:
            return compose(
                messages.email(arrival),
                sender=self.mail_from,
                to=job.address,
                delivery_id=job.id,
                queued_at=job.queued_at,
            )
        except (ValueError, TypeError) as exc:  # an address the e-mail library refuses
            self.outbox.failed(job, self.clock(), f"the address cannot be used: {exc}")
            return None

    def _post(self, job: Job) -> Outcome | None:
        """One webhook attempt, or None when the job was settled without one."""
        if job.sealed_url is None or self.sealer is None:
            self.outbox.skipped(job, self.clock(), NO_CHANNEL)
            return None
        try:
            url = self.sealer.open(job.sealed_url)
            secret = None if job.sealed_secret is None else self.sealer.open(job.sealed_secret)
        except SealingError as exc:
            return Outcome.refused(str(exc))
        arrival = job.arrival
        reason = REASONS.get(job.host_state)
        if reason is not None and arrival.reason is None:
            arrival = replace(arrival, reason=reason)
        return send_to_channel(self.webhooks, job.channel, url, secret, arrival, job)

    def _record(self, job: Job, outcome: Outcome) -> None:
        now = self.clock()
        if outcome.ok:
            kept = self.outbox.sent(job, now)
        elif outcome.permanent:
            kept = self.outbox.failed(job, now, outcome.error)
        else:
            attempts = job.attempts + 1
            at = self.options.backoff.next_attempt(attempts, job.queued_at, now, self.draw)
            if at is None:
                error = f"gave up after {attempts} attempts: {outcome.error}"
                kept = self.outbox.failed(job, now, error)
            else:
                kept = self.outbox.retry(job, at, outcome.error)
        if not kept:
            log.warning("delivery %s: the lease ended before its outcome was recorded", job.id)
        elif not outcome.ok:
            log.info("delivery %s (%s): %s", job.id, job.channel.value, outcome.error)


def send_to_channel(
    webhooks: WebhookSender,
    channel: Channel,
    url: str,
    secret: str | None,
    arrival: Arrival,
    job: Job | None = None,
    *,
    timeout: float | None = None,
    delivery_id: str | None = None,
    queued_at: datetime | None = None,
    now: Callable[[], datetime] = utc_now,
) -> Outcome:
    """Render ``arrival`` for ``channel`` and post it to ``url`` (the console's test too)."""
    identity = job.id if job is not None else delivery_id or "test"
    when = job.queued_at if job is not None else queued_at or now()
    headers: dict[str, str] = {}
    if channel is Channel.TEAMS:
        body = orjson.dumps(messages.teams_body(arrival))
    elif channel is Channel.SLACK:
        body = orjson.dumps(messages.slack_body(arrival))
    else:
        body = orjson.dumps(messages.webhook_event(arrival, identity, when))
        if secret is not None:
            stamp = int(now().replace(tzinfo=UTC).timestamp())
            headers = signed_headers(secret, stamp, body, identity)
    return webhooks.post(url, body, headers, timeout=timeout)


class WorkerThread:
    """A worker running in a daemon thread of this process, stopped cleanly."""

    def __init__(self, worker: DeliveryWorker, *, name: str = "hostsync-outbox") -> None:
        self.worker = worker
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=worker.run, args=(self.stop_event,), name=name)
        self.thread.daemon = True

    def start(self) -> None:
        """Start sending."""
        self.thread.start()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop after the pass under way; True when the thread ended within ``timeout``."""
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(timeout)
        return not self.thread.is_alive()


def sample_arrival(site_name: str = "Test site", timezone: str = "UTC") -> Arrival:
    """The arrival a console **Send test** sends: clearly a test, naming no real person."""
    return Arrival(
        visit_id="test",
        visitor_name="Test Visitor (hostsync test message)",
        company="hostsync",
        site_id="test",
        site_name=site_name,
        site_timezone=timezone,
        checked_in_at=utc_now(),
        host_id=None,
        host_label="the front desk",
    )


def channel_names() -> Sequence[Channel]:
    """The webhook channels, in the console's order."""
    return (Channel.TEAMS, Channel.SLACK, Channel.WEBHOOK)
