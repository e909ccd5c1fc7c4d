"""A mail server that is down never stops provisioning; the e-mail goes out once it is back.

The SMTP server is a real aiosmtpd on a loopback port: "down" is that port with nothing
listening (connection refused), "up" is the server started on it.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner

from hostsync.cli.sync import sync
from hostsync.config import Settings
from hostsync.engine.jobs import Job
from hostsync.engine.notify import (
    OUTBOX_LIMIT,
    Notifier,
    PendingEmail,
    send_email,
    sleep_retrying,
)
from hostsync.engine.schedule import run_cycles
from hostsync.engine.state import FileOutbox, FileSyncState
from hostsync.store.database import Database
from hostsync.web.app import create_app
from tests.engine.conftest import JobDir, Target, WallClock, make_runner
from tests.engine.test_threshold_email import Inbox

SECRET = "smtp-secret-never-logged"
WRONG_TOKEN = "hsk_wrong"


class MailServer:
    """An SMTP server on a fixed loopback port that starts only when asked."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self, **options: Any) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def mail() -> Iterator[MailServer]:
    """A mail server that is down until the test starts it."""
    server = MailServer()
    try:
        yield server
    finally:
        server.stop()


def failing_job(
    job_dir: JobDir, mail: MailServer, token: str = WRONG_TOKEN, extra: str = ""
) -> Job:
    """A job whose cycles fail (a wrong token unless given) and e-mail through ``mail``."""
    return job_dir.write_job(
        f'[settings]\nnotification_email = "ops@contoso.com"\n{extra}'
        f"[settings.smtp]\nport = {mail.port}\n",
        token=token,
    )


def mailer_of(job: Job) -> Any:
    """The CLI's mailer: :func:`send_email` through the job's ``[settings.smtp]``."""
    return lambda message: send_email(job.settings.smtp, message, timeout=5)


def notify_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The warnings :mod:`hostsync.engine.notify` logged."""
    return [r for r in caplog.records if r.name == "hostsync.engine.notify"]


async def test_a_mail_outage_never_fails_a_cycle_and_the_next_cycle_sends_the_email_once(
    job_dir: JobDir, target: Target, mail: MailServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The e-mail the server refused waits in the outbox; after a restart it goes out once."""
    job = failing_job(job_dir, mail)
    caplog.set_level(logging.WARNING)
    first = await make_runner(job, target.transport, mailer=mailer_of(job)).run_cycle()
    assert first.state == "Failed" and "401" in (first.error or "")
    assert (first.emailed, first.emails_pending) == (False, 1)
    assert f"127.0.0.1:{mail.port}" in (first.email_error or "")
    [warning] = notify_warnings(caplog)
    assert warning.exc_info is None and "\n" not in warning.getMessage()
    assert "retried at the next cycle" in warning.getMessage()
    [pending] = FileOutbox(job.outbox_path).load()
    assert first.cycle_id in pending.message

    mail.start()
    # a new runner, as after a restart of `sync run`: the outbox file is all it knows
    second = await make_runner(job, target.transport, mailer=mailer_of(job)).run_cycle()
    assert (second.state, second.emails_pending, second.email_error) == ("Failed", 0, None)
    assert not job.outbox_path.exists()
    [sent] = mail.inbox.messages
    assert sent["Message-ID"] == pending.email()["Message-ID"]
    assert sent["Date"] == pending.email()["Date"]
    assert first.cycle_id in sent.get_payload()

    third = await make_runner(job, target.transport, mailer=mailer_of(job)).run_cycle()
    assert third.state == "Failed"
    assert len(mail.inbox.messages) == 1  # no duplicate, and the same quarantine is not re-sent


async def test_the_sync_run_loop_goes_on_while_the_mail_server_is_down_then_sends_once(
    job_dir: JobDir, target: Target, mail: MailServer
) -> None:
    """``run_cycles`` survives the outage; the server comes back during the first wait."""
    job = failing_job(job_dir, mail)
    clock = WallClock()

    async def sleep(seconds: float) -> None:
        if mail.controller is None:
            mail.start()
        await clock.sleep(seconds)

    last = await run_cycles(
        lambda: make_runner(job, target.transport, mailer=mailer_of(job), now=clock).run_cycle(),
        FileSyncState(job.state_path),
        interval=timedelta(minutes=40),
        now=clock,
        sleep=sleep,
        max_cycles=3,
    )
    assert last.state == "Failed"
    assert FileSyncState(job.state_path).load().failed_cycles == 3
    assert len(mail.inbox.messages) == 1


async def test_a_quarantined_job_sends_its_pending_email_while_it_waits_hours_for_its_cycle(
    job_dir: JobDir, target: Target, mail: MailServer
) -> None:
    """The loop's wait (+6 h in quarantine) retries the outbox every interval, not once."""
    job = failing_job(job_dir, mail)
    clock = WallClock()
    await make_runner(job, target.transport, mailer=mailer_of(job), now=clock).run_cycle()
    assert job.outbox_path.exists()
    mail.start()
    notifier = Notifier(mailer_of(job), FileOutbox(job.outbox_path), now=clock)
    sent_after: list[float] = []

    async def sleep(seconds: float) -> None:
        await clock.sleep(seconds)
        if mail.inbox.messages and not sent_after:
            sent_after.append(sum(clock.slept))

    await sleep_retrying(6 * 3600, notifier.retry, every=40 * 60, sleep=sleep)
    assert sum(clock.slept) == 6 * 3600
    assert len(mail.inbox.messages) == 1 and not job.outbox_path.exists()
    assert sent_after == [2 * 40 * 60]  # retried after the first 40 minutes


async def test_a_refused_login_is_logged_as_one_line_without_the_password(
    job_dir: JobDir,
    target: Target,
    mail: MailServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A delivery error is one warning line: no traceback, no password (loopback plain login)."""
    monkeypatch.setenv("SMTP_PASSWORD", SECRET)
    mail.start(
        auth_require_tls=False, authenticator=lambda *args: AuthResult(success=False, handled=False)
    )
    job = job_dir.write_job(
        '[settings]\nnotification_email = "ops@contoso.com"\n'
        f'[settings.smtp]\nport = {mail.port}\nusername = "hostsync"\n'
        'password_env = "SMTP_PASSWORD"\n',
        token="hsk_wrong",
    )
    caplog.set_level(logging.DEBUG)
    report = await make_runner(job, target.transport, mailer=mailer_of(job)).run_cycle()
    assert report.state == "Failed" and report.emails_pending == 1
    assert "535" in (report.email_error or "")
    [warning] = notify_warnings(caplog)
    assert warning.exc_info is None and "\n" not in warning.getMessage()
    assert SECRET not in caplog.text and SECRET not in job.outbox_path.read_text()
    assert mail.inbox.messages == []


async def test_an_unreadable_outbox_is_logged_and_never_stops_the_cycle(
    job_dir: JobDir, target: Target, mail: MailServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A corrupt ``<job>.outbox.json`` is ignored with a warning; the new e-mail still goes."""
    job = failing_job(job_dir, mail)
    job.outbox_path.write_text("{not json")
    mail.start()
    caplog.set_level(logging.WARNING)
    report = await make_runner(job, target.transport, mailer=mailer_of(job)).run_cycle()
    assert (report.state, report.emailed) == ("Failed", True)
    assert len(mail.inbox.messages) == 1
    assert any("cannot be read" in r.getMessage() for r in notify_warnings(caplog))


class MemoryOutbox:
    """An outbox in memory."""

    def __init__(self) -> None:
        self.pending: list[PendingEmail] = []

    def load(self) -> list[PendingEmail]:
        return list(self.pending)

    def save(self, pending: Any) -> None:
        self.pending = list(pending)


def test_waiting_emails_go_out_oldest_first_each_once_and_the_outbox_is_bounded() -> None:
    """Unsent e-mails are kept in order (at most OUTBOX_LIMIT) and each is sent exactly once."""
    sent: list[str] = []
    down = True

    def mailer(message: EmailMessage) -> None:
        if down:
            raise ConnectionRefusedError(111, "Connection refused")
        sent.append(str(message["Subject"]))

    outbox = MemoryOutbox()
    notifier = Notifier(mailer, outbox)
    for number in range(OUTBOX_LIMIT + 2):
        message = EmailMessage()
        message["Subject"] = f"mail {number}"
        assert notifier.deliver(message) is False
    assert notifier.pending == OUTBOX_LIMIT
    assert notifier.error == "[Errno 111] Connection refused"
    down = False
    newest = EmailMessage()
    newest["Subject"] = "newest"
    assert notifier.deliver(newest) is True
    assert sent == [f"mail {n}" for n in range(2, OUTBOX_LIMIT + 2)] + ["newest"]
    assert (outbox.pending, notifier.pending, notifier.error) == ([], 0, None)
    assert notifier.retry() == 0 and len(sent) == OUTBOX_LIMIT + 1


def test_sync_run_once_exits_0_when_only_the_email_failed_and_says_it_is_pending(
    job_dir: JobDir, database: Database, settings: Settings, api_key: str, mail: MailServer
) -> None:
    """A cycle that provisioned (here: staged deletes) exits 0 even if its e-mail is pending."""
    job = failing_job(job_dir, mail, token=api_key, extra="deletion_threshold = 1\n")
    transport = httpx.ASGITransport(app=create_app(settings, database))

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(sync, list(args), obj={"sync_transport": transport})

    assert invoke("run", str(job.path), "--once").exit_code == 0
    document = job_dir.source()
    document["appRoleAssignments"] = [
        a for a in document["appRoleAssignments"] if a["principalId"] not in {"u-bob", "g-hosts"}
    ]
    job_dir.write_source(document)
    result = invoke("run", str(job.path), "--once")
    assert result.exit_code == 0, result.output
    assert "StagedDeletes" in result.stdout
    assert "e-mail pending: 1 failure e-mail(s) not sent" in result.stderr
    assert "retried at the next cycle" in result.stderr
    status = invoke("status", str(job.path))
    assert "e-mails pending: 1 (since " in " ".join(status.output.split())  # values aligned


def test_sync_run_once_of_a_failed_cycle_reports_the_cycle_not_the_mail_error(
    job_dir: JobDir, database: Database, settings: Settings, mail: MailServer
) -> None:
    """A failed cycle still exits 2 naming its own error; the pending e-mail is a side note."""
    job = failing_job(job_dir, mail)
    transport = httpx.ASGITransport(app=create_app(settings, database))
    result = CliRunner().invoke(
        sync, ["run", str(job.path), "--once"], obj={"sync_transport": transport}
    )
    assert result.exit_code == 2
    assert "Error: cycle failed: " in result.stderr and "401" in result.stderr
    assert "e-mail pending: 1" in result.stderr
