"""Per-object escrow back-off, quarantine back-off, the 4-week disable and the run loop."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx

from hostsync.engine.clock import backoff
from hostsync.engine.jobs import Job
from hostsync.engine.ports import Kind
from hostsync.engine.runner import CycleReport
from hostsync.engine.schedule import run_cycles
from hostsync.engine.state import FileSyncState
from tests.engine.conftest import JobDir, Target, WallClock, make_runner

FAST_ESCROW = "[settings]\nescrow_retry_minutes = [0, 60, 120]\n"


class RejectUser(httpx.AsyncBaseTransport):
    """Answers 400 to every POST /Users carrying ``user_name`` while ``on``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, user_name: str) -> None:
        self.inner = inner
        self.user_name = user_name
        self.on = True
        self.attempts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and self.user_name in request.content.decode():
            self.attempts += 1
            if self.on:
                return httpx.Response(400, json={"detail": "rejected"}, request=request)
        return await self.inner.handle_async_request(request)


def test_backoff_repeats_the_last_delay() -> None:
    """The n-th failure waits the n-th delay; past the list, the last delay repeats."""
    delays = [0.0, 360.0, 720.0, 1440.0]
    assert [backoff(delays, n) for n in (1, 2, 4, 9)] == [
        timedelta(0),
        timedelta(hours=6),
        timedelta(hours=24),
        timedelta(hours=24),
    ]


async def test_failed_object_is_retried_with_growing_delays(
    job_dir: JobDir, target: Target
) -> None:
    """Bob fails: retried next cycle, then only after 60 min, then 120; others cost nothing."""
    job = job_dir.write_job(FAST_ESCROW, token=target.api_key)
    reject = RejectUser(target.transport, "bob@contoso.com")
    clock = WallClock()

    async def cycle(after_minutes: float) -> CycleReport:
        clock.advance(minutes=after_minutes)
        return await make_runner(job, reject, now=clock).run_cycle()

    first = await cycle(0)
    assert first.state == "EntryLevelErrors" and reject.attempts == 1
    escrow = FileSyncState(job.state_path).load().escrows["User:u-bob"]
    assert (escrow.failures, escrow.code) == (1, "BadRequest")
    await cycle(1)  # first delay 0: the next cycle retries
    assert reject.attempts == 2
    waiting = await cycle(1)  # second failure waits 60 minutes
    assert reject.attempts == 2
    assert waiting.counts.get("escrow:deferred") == 1 and waiting.requests == 0
    await cycle(60)
    assert reject.attempts == 3
    assert FileSyncState(job.state_path).load().escrows["User:u-bob"].failures == 3
    await cycle(119)  # third delay is 120 minutes
    assert reject.attempts == 3
    reject.on = False
    healed = await cycle(2)
    assert reject.attempts == 4 and healed.state == "Succeeded"
    state = FileSyncState(job.state_path).load()
    assert state.escrows == {}
    assert state.link(Kind.USER, "u-bob") is not None
    ana = await target.user("ana@contoso.com")
    bob = await target.user("bob@contoso.com")
    assert ana is not None and bob is not None
    enterprise = ana["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
    assert enterprise["manager"]["value"] == bob["id"]


async def test_source_change_retries_an_escrowed_object_at_once(
    job_dir: JobDir, target: Target
) -> None:
    """An escrowed object whose source values change is retried without waiting its delay."""
    job = job_dir.write_job(FAST_ESCROW, token=target.api_key)
    reject = RejectUser(target.transport, "bob@contoso.com")
    clock = WallClock()
    for _ in range(2):
        await make_runner(job, reject, now=clock).run_cycle()
    assert reject.attempts == 2
    reject.on = False
    await make_runner(job, reject, now=clock).run_cycle()
    assert reject.attempts == 2  # waiting out the 60-minute delay
    document = job_dir.source()
    job_dir.user(document, "u-bob")["jobTitle"] = "Facilities Lead"
    job_dir.write_source(document)
    report = await make_runner(job, reject, now=clock).run_cycle()
    assert reject.attempts == 3 and report.state == "Succeeded"
    bob = await target.user("bob@contoso.com")
    assert bob is not None and bob["title"] == "Facilities Lead"


class Switch(httpx.AsyncBaseTransport):
    """Answers 401 to everything while ``broken``, else forwards to the target."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None) -> None:
        self.inner = inner
        self.broken = True
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.broken or self.inner is None:
            return httpx.Response(401, json={"detail": "bad token"}, request=request)
        return await self.inner.handle_async_request(request)


def _loop_job(job_dir: JobDir, token: str = "unused") -> Job:  # noqa: S107
    return job_dir.write_job('[settings]\nnotification_email = "ops@contoso.com"\n', token=token)


async def test_quarantine_backs_off_then_disables_the_job_after_four_weeks(
    job_dir: JobDir,
) -> None:
    """A job failing forever runs at +6 h, +12 h, +24 h, then daily, and stops after 28 days."""
    job = _loop_job(job_dir)
    switch = Switch(None)
    clock = WallClock()
    started = clock()
    mails: list[EmailMessage] = []
    cycle_times: list[Any] = []

    def record(report: CycleReport) -> None:
        cycle_times.append(clock())

    last = await run_cycles(
        lambda: make_runner(job, switch, now=clock, mailer=mails.append).run_cycle(),
        FileSyncState(job.state_path),
        interval=timedelta(minutes=40),
        now=clock,
        sleep=clock.sleep,
        on_report=record,
        max_cycles=60,  # a guard: the job must disable itself long before
    )
    assert len(cycle_times) < 60
    hours = [s / 3600 for s in clock.slept]
    assert hours[:4] == [6, 12, 24, 24]
    assert set(hours[3:]) == {24}
    assert cycle_times[-1] - started >= timedelta(days=28)
    assert cycle_times[-2] - started < timedelta(days=28)
    state = FileSyncState(job.state_path).load()
    assert last.state == "Failed" and state.disabled is not None
    assert "28 days" in state.disabled
    assert [m["Subject"].split(": ", 2)[-1] for m in mails] == [
        "EncounteredQuarantineException",
        "the job was disabled after weeks in quarantine",
    ]
    requests = switch.requests
    disabled = await make_runner(job, switch, now=clock).run_cycle()
    assert (disabled.state, switch.requests) == ("Disabled", requests)


async def test_success_lifts_quarantine_and_the_interval_resumes(
    job_dir: JobDir, target: Target
) -> None:
    """Two failed cycles back off 6 h then 12 h; after a success cycles are 40 minutes apart."""
    job = _loop_job(job_dir, token=target.api_key)
    switch = Switch(target.transport)
    clock = WallClock()
    reports: list[CycleReport] = []

    def record(report: CycleReport) -> None:
        reports.append(report)
        if len(reports) == 2:
            switch.broken = False

    await run_cycles(
        lambda: make_runner(job, switch, now=clock).run_cycle(),
        FileSyncState(job.state_path),
        interval=timedelta(minutes=40),
        now=clock,
        sleep=clock.sleep,
        on_report=record,
        max_cycles=4,
    )
    assert [r.state for r in reports] == ["Failed", "Failed", "Succeeded", "Succeeded"]
    assert clock.slept == [6 * 3600, 12 * 3600, 40 * 60]
    state = FileSyncState(job.state_path).load()
    assert state.quarantine is None and state.disabled is None
