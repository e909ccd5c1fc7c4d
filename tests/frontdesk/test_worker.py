"""The worker over an in-memory outbox: what it sends, reroutes, retries and gives up."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from hostsync.frontdesk.delivery.backoff import Backoff
from hostsync.frontdesk.delivery.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify
from hostsync.frontdesk.delivery.smtp import SmtpSender, parse_smtp_url
from hostsync.frontdesk.delivery.worker import DeliveryWorker, WorkerOptions, WorkerThread
from hostsync.frontdesk.ports import Arrival, Channel, HostState, Job
from hostsync.frontdesk.sealing import Sealer, new_key
from tests.frontdesk.servers import Receiver, SmtpServer

NOW = datetime(2026, 12, 8, 9, 0)
ARRIVAL = Arrival("v1", "Ana Silva", "Fabrikam", "s1", "Paris", "Europe/Paris", NOW, "u1", "Jo")
SENDER = "frontdesk@contoso.example"


@dataclass
class MemoryOutbox:
    """Jobs handed out once each; outcomes recorded by delivery id."""

    jobs: list[Job]
    fallbacks: list[str] = field(default_factory=list)
    outcomes: dict[str, tuple[str, str]] = field(default_factory=dict)
    retries: dict[str, datetime] = field(default_factory=dict)

    def claim(self, now: datetime, limit: int, lease_seconds: float) -> Sequence[Job]:
        taken, self.jobs = self.jobs[:limit], self.jobs[limit:]
        return taken

    def sent(self, job: Job, now: datetime) -> bool:
        self.outcomes[job.id] = ("sent", "")
        return True

    def retry(self, job: Job, at: datetime, error: str) -> bool:
        self.outcomes[job.id] = ("retry", error)
        self.retries[job.id] = at
        return True

    def failed(self, job: Job, now: datetime, error: str) -> bool:
        self.outcomes[job.id] = ("failed", error)
        return True

    def skipped(self, job: Job, now: datetime, reason: str) -> bool:
        self.outcomes[job.id] = ("skipped", reason)
        return True

    def reroute(self, job: Job, now: datetime, reason: str) -> int:
        self.outcomes[job.id] = ("rerouted", reason)
        for n, address in enumerate(self.fallbacks):
            self.jobs.append(
                replace(job, id=f"{job.id}-f{n}", fallback=True, address=address, lease="l")
            )
        return len(self.fallbacks)


def job(id: str, channel: Channel = Channel.EMAIL, **changes: object) -> Job:
    values: dict[str, object] = {
        "id": id,
        "tenant_id": "t1",
        "channel": channel,
        "attempts": 0,
        "queued_at": NOW,
        "lease": "l",
        "arrival": ARRIVAL,
        "host_state": HostState.ACTIVE,
        "address": "jo@contoso.example" if channel is Channel.EMAIL else None,
    }
    values.update(changes)
    return Job(**values)  # type: ignore[arg-type]


def worker(
    outbox: MemoryOutbox, smtp: SmtpServer | None, sealer: Sealer, **options: object
) -> DeliveryWorker:
    mailer = SmtpSender(parse_smtp_url(smtp.url), timeout=2) if smtp else None
    return DeliveryWorker(
        outbox,
        sealer=sealer,
        mailer=mailer,
        mail_from=SENDER,
        options=WorkerOptions(**options),  # type: ignore[arg-type]
        clock=lambda: NOW,
        draw=lambda: 0.5,
    )


def test_an_active_host_gets_the_email(smtp_server: SmtpServer) -> None:
    outbox = MemoryOutbox([job("d1")])
    assert worker(outbox, smtp_server, Sealer(new_key())).run_once() == 1
    assert outbox.outcomes == {"d1": ("sent", "")}
    (mail,) = smtp_server.mailbox.messages
    assert mail["To"] == "jo@contoso.example"
    assert mail["Subject"] == "Your visitor has arrived: Ana Silva (Fabrikam)"


def test_an_inactive_host_is_not_notified_the_fallback_recipients_are(
    smtp_server: SmtpServer,
) -> None:
    outbox = MemoryOutbox([job("d1", host_state=HostState.INACTIVE)], ["desk@contoso.example"])
    work = worker(outbox, smtp_server, Sealer(new_key()))
    work.run_once()
    assert outbox.outcomes["d1"] == ("rerouted", "the host's account is inactive")
    assert smtp_server.mailbox.messages == []
    work.run_once()
    assert outbox.outcomes["d1-f0"] == ("sent", "")
    (mail,) = smtp_server.mailbox.messages
    assert mail["To"] == "desk@contoso.example"
    assert "inactive" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_a_deleted_host_or_one_without_an_address_is_rerouted(smtp_server: SmtpServer) -> None:
    outbox = MemoryOutbox(
        [job("d1", host_state=HostState.DELETED), job("d2", address=None)], ["desk@x.example"]
    )
    worker(outbox, smtp_server, Sealer(new_key())).run_once()
    assert outbox.outcomes["d1"] == ("rerouted", "the host's account has been deleted")
    assert outbox.outcomes["d2"] == ("rerouted", "the host has no e-mail address")
    assert smtp_server.mailbox.messages == []


def test_without_smtp_emails_are_skipped_with_the_reason() -> None:
    outbox = MemoryOutbox([job("d1")])
    worker(outbox, None, Sealer(new_key())).run_once()
    assert outbox.outcomes["d1"][0] == "skipped" and "HOSTSYNC_SMTP_URL" in outbox.outcomes["d1"][1]


def test_smtp_down_retries_with_backoff_then_gives_up() -> None:
    down = SmtpServer()  # never started
    outbox = MemoryOutbox([job("d1"), job("d2", attempts=2)])
    worker(outbox, down, Sealer(new_key()), backoff=Backoff(base=10, max_attempts=3)).run_once()
    assert outbox.outcomes["d1"][0] == "retry"
    assert outbox.retries["d1"] == NOW + timedelta(seconds=5)  # draw 0.5 of 10 s
    state, error = outbox.outcomes["d2"]
    assert state == "failed" and error.startswith("gave up after 3 attempts")


def test_channels_are_signed_shaped_and_sent(receiver: Receiver) -> None:
    sealer = Sealer(new_key())
    sealed = {
        Channel.TEAMS: sealer.seal(receiver.url("/teams")),
        Channel.SLACK: sealer.seal(receiver.url("/slack")),
        Channel.WEBHOOK: sealer.seal(receiver.url("/generic")),
    }
    jobs = [job(f"d-{c.value}", c, sealed_url=u) for c, u in sealed.items()]
    jobs[2] = replace(jobs[2], sealed_secret=sealer.seal("whsec_1"))
    outbox = MemoryOutbox(jobs)
    worker(outbox, None, sealer).run_once()
    assert {v[0] for v in outbox.outcomes.values()} == {"sent"}
    by_path = {r.path: r for r in receiver.requests}
    assert json.loads(by_path["/teams"].body)["attachments"][0]["content"]["type"] == "AdaptiveCard"
    assert "blocks" in json.loads(by_path["/slack"].body)
    generic = by_path["/generic"]
    assert generic.headers[IDEMPOTENCY_HEADER.lower()] == "d-webhook"
    header = generic.headers[SIGNATURE_HEADER.lower()]
    assert verify("whsec_1", header, generic.body, now=time.time())
    assert json.loads(generic.body)["id"] == "d-webhook"


def test_a_failing_target_costs_one_attempt_per_pass(receiver: Receiver) -> None:
    receiver.status = 503
    sealer = Sealer(new_key())
    url = sealer.seal(receiver.url())
    outbox = MemoryOutbox([job(f"d{n}", Channel.SLACK, sealed_url=url) for n in range(5)])
    worker(outbox, None, sealer).run_once()
    assert len(receiver.requests) == 1
    assert [outbox.outcomes[f"d{n}"][0] for n in range(5)] == ["retry"] * 5


def test_an_inactive_host_turns_a_channel_message_to_the_front_desk(receiver: Receiver) -> None:
    sealer = Sealer(new_key())
    outbox = MemoryOutbox(
        [
            job(
                "d1",
                Channel.WEBHOOK,
                sealed_url=sealer.seal(receiver.url()),
                host_state=HostState.INACTIVE,
            )
        ]
    )
    worker(outbox, None, sealer).run_once()
    data = json.loads(receiver.requests[0].body)["data"]
    assert data["front_desk"] is True and data["reason"] == "the host's account is inactive"


def test_a_removed_channel_is_skipped_and_a_foreign_key_fails() -> None:
    other = Sealer(new_key()).seal("https://example.com/hook")
    outbox = MemoryOutbox([job("d1", Channel.TEAMS), job("d2", Channel.TEAMS, sealed_url=other)])
    worker(outbox, None, Sealer(new_key())).run_once()
    assert outbox.outcomes["d1"][0] == "skipped"
    assert outbox.outcomes["d2"][0] == "failed"


def test_the_thread_stops_cleanly(smtp_server: SmtpServer) -> None:
    outbox = MemoryOutbox([job("d1")])
    thread = WorkerThread(worker(outbox, smtp_server, Sealer(new_key()), poll_seconds=0.05))
    thread.start()
    deadline = time.monotonic() + 10
    while "d1" not in outbox.outcomes and time.monotonic() < deadline:
        time.sleep(0.02)
    assert thread.stop(timeout=5)
    assert outbox.outcomes["d1"] == ("sent", "")
    assert not thread.thread.is_alive()
