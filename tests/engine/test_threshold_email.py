"""Accidental-deletion threshold: stage, quarantine, e-mail through real SMTP, allow."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from hostsync.engine.notify import send_email
from hostsync.engine.state import FileSyncState
from tests.engine.conftest import JobDir, Target, make_runner


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on loopback."""
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def test_threshold_stages_disables_emails_and_waits_for_allow_deletes(
    job_dir: JobDir, target: Target, smtp: tuple[Inbox, int]
) -> None:
    """Three removals over a threshold of 1 are staged and mailed; allow-deletes runs them."""
    inbox, port = smtp
    extra = (
        '[settings]\ndeletion_threshold = 1\nnotification_email = "ops@contoso.com"\n'
        f'[settings.smtp]\nhost = "127.0.0.1"\nport = {port}\n'
    )
    job = job_dir.write_job(extra, token=target.api_key)

    def mailer(message: Any) -> None:
        send_email(job.settings.smtp, message)

    await make_runner(job, target.transport, mailer=mailer).run_cycle()
    document = job_dir.source()
    document["appRoleAssignments"] = [
        a for a in document["appRoleAssignments"] if a["principalId"] not in {"u-bob", "g-hosts"}
    ]
    job_dir.write_source(document)
    stopped = await make_runner(job, target.transport, mailer=mailer).run_cycle()
    assert stopped.state == "StagedDeletes"
    staged = sorted(
        e["sourceIdentity"]["id"]
        for e in stopped.entries
        if e["provisioningAction"] == "stagedDelete"
    )
    assert staged == ["g-hosts", "u-bob", "u-cy"]
    bob = await target.user("bob@contoso.com")
    assert bob is not None and bob["active"] is True
    state = FileSyncState(job.state_path).load()
    assert state.quarantine is not None and state.quarantine.reason == "TooManyDeletes"
    [mail] = inbox.messages
    assert mail["To"] == "ops@contoso.com"
    assert "TooManyDeletes" in mail["Subject"]
    assert stopped.cycle_id in mail.get_payload()

    state.allow_deletes = True
    FileSyncState(job.state_path).save(state)
    allowed = await make_runner(job, target.transport, mailer=mailer).run_cycle()
    assert allowed.state == "Succeeded"
    bob = await target.user("bob@contoso.com")
    assert bob is not None and bob["active"] is False
    after = FileSyncState(job.state_path).load()
    assert (after.quarantine, after.staged, after.allow_deletes) == (None, [], False)
    assert len(inbox.messages) == 1


async def test_failed_cycle_quarantines_and_emails_once(
    job_dir: JobDir, target: Target, smtp: tuple[Inbox, int]
) -> None:
    """A revoked token stops the cycle: one e-mail, quarantine with a next attempt."""
    inbox, port = smtp
    extra = f'[settings]\nnotification_email = "ops@contoso.com"\n[settings.smtp]\nport = {port}\n'
    job = job_dir.write_job(extra, token="hsk_wrong")

    def mailer(message: Any) -> None:
        send_email(job.settings.smtp, message)

    first = await make_runner(job, target.transport, mailer=mailer).run_cycle()
    second = await make_runner(job, target.transport, mailer=mailer).run_cycle()
    assert (first.state, second.state) == ("Failed", "Failed")
    assert "401" in (first.error or "")
    state = FileSyncState(job.state_path).load()
    assert state.quarantine is not None
    assert state.quarantine.reason == "EncounteredQuarantineException"
    assert state.failed_cycles == 2
    assert len(inbox.messages) == 1
