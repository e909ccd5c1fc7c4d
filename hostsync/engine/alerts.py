"""The failure e-mail of a cycle: composed from its failed (or staged) entries, then delivered.

Delivery goes through the job's :class:`~hostsync.engine.notify.Notifier`: an e-mail the server
does not take waits in the outbox for the next cycle, and a mail outage never fails a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hostsync.engine.jobs import Job
from hostsync.engine.notify import Notifier
from hostsync.engine.reports import failure_email


def send_failure_email(
    notifier: Notifier | None,
    job: Job,
    reason: str,
    summary: Mapping[str, Any],
    entries: Sequence[Mapping[str, Any]],
) -> bool:
    """Send the failure e-mail; False when none is due or it waits for the next cycle."""
    settings = job.settings
    if notifier is None or not settings.notification_email or not settings.send_failure_email:
        return False
    problems = [e for e in entries if e["status"] == "failure"] or [
        e for e in entries if e["provisioningAction"] == "stagedDelete"
    ]
    return notifier.deliver(
        failure_email(
            job=job.name,
            sender=settings.smtp.sender,
            recipient=settings.notification_email,
            reason=reason,
            summary=summary,
            entries=problems,
            log_path=str(job.log_path),
        )
    )
