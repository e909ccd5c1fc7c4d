"""Sends failure e-mails through SMTP (stdlib :mod:`smtplib`); keeps those it cannot send.

Transport (``[settings.smtp]``, :class:`~hostsync.engine.jobs.SmtpConfig`):

* ``tls = "starttls"`` and ``tls = "implicit"`` use :func:`ssl.create_default_context`: the
  certificate chain and the server's host name are verified, against the system's CAs or,
  with ``ca_file``, against that file's CAs alone. STARTTLS that the server does not offer is
  an error, never a fall-back to clear text.
* A login is sent only inside TLS, or in clear to a loopback server: the job file refuses
  anything else at load time (:func:`~hostsync.engine.jobs.check_smtp`) and
  :func:`send_email` refuses it again for configurations built in code.

Delivery (:class:`Notifier`): an e-mail that cannot be sent is logged as one line (no
traceback, no password) and kept in an :class:`Outbox` (``<job>.outbox.json``, so a restart
still sends it); it is retried before the next cycle and before any newer e-mail, oldest
first, and dropped once the server took it. A mail server that is down never stops
provisioning. Delivery is at least once: a crash between the server's acceptance and the
outbox's rewrite sends that e-mail again; the retry carries the first attempt's
``Message-ID`` and ``Date``.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email import message_from_string, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Protocol

from hostsync.engine.errors import EngineError
from hostsync.engine.jobs import SmtpConfig, is_loopback

log = logging.getLogger(__name__)

Mailer = Callable[[EmailMessage], None]
"""Sends one message or raises (:func:`send_email` raises :class:`EngineError`)."""

OUTBOX_LIMIT = 20
"""Most e-mails kept unsent; past it the oldest is dropped (and logged)."""


async def sleep_retrying(
    seconds: float,
    retry: Callable[[], object],
    *,
    every: float,
    sleep: Callable[[float], Awaitable[None]],
) -> None:
    """Sleep ``seconds`` in steps of at most ``every``, calling ``retry`` between steps.

    The ``sync run`` loop's sleep: a quarantined job waits hours for its next cycle, and the
    e-mail saying so should not wait with it (``retry`` is :meth:`Notifier.retry`, which costs
    one missing-file check when nothing waits).
    """
    remaining = max(seconds, 0.0)
    while remaining > every > 0:
        await sleep(every)
        remaining -= every
        retry()
    await sleep(remaining)


def tls_context(smtp: SmtpConfig) -> ssl.SSLContext:
    """A verifying client context: the system's CAs, or only ``ca_file``'s."""
    return ssl.create_default_context(cafile=smtp.ca_file)


def _password(smtp: SmtpConfig) -> str:
    name = smtp.password_env or ""
    password = os.environ.get(name, "")
    if not password:
        raise EngineError(
            f"cannot log in to {smtp.host}: environment variable {name or '(none)'} is unset"
        )
    return password


def one_line(error: BaseException) -> str:
    """An exception as one line of text (SMTP replies may span several)."""
    return " ".join(str(error).split()) or type(error).__name__


def send_email(smtp: SmtpConfig, message: EmailMessage, *, timeout: float = 10.0) -> None:
    """Send one message; raise :class:`EngineError` when the server cannot take it."""
    mode, port = smtp.mode, smtp.server_port
    if smtp.username and mode == "none" and not is_loopback(smtp.host):
        raise EngineError(
            f"refusing to send the SMTP password in clear to {smtp.host}: set tls in the job"
        )
    password = _password(smtp) if smtp.username else ""
    try:
        context = tls_context(smtp) if mode != "none" else None
        server: smtplib.SMTP
        if mode == "implicit":
            server = smtplib.SMTP_SSL(smtp.host, port, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(smtp.host, port, timeout=timeout)
        with server:
            if mode == "starttls":
                server.starttls(context=context)
            if smtp.username:
                server.login(smtp.username, password)
            server.send_message(message)
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        raise EngineError(
            f"cannot send e-mail through {smtp.host}:{port}: {one_line(exc)}"
        ) from None


@dataclass(frozen=True, slots=True)
class PendingEmail:
    """An e-mail not sent yet: the whole message, when it was first tried, the last error."""

    message: str
    queued: str
    attempts: int = 1
    error: str = ""

    def email(self) -> EmailMessage:
        """The message, parsed back."""
        return message_from_string(self.message, _class=EmailMessage, policy=policy.default)


class Outbox(Protocol):
    """Where unsent e-mails wait (``engine.state.FileOutbox``: a file beside the job)."""

    def load(self) -> list[PendingEmail]:
        """The waiting e-mails, oldest first."""
        ...

    def save(self, pending: Sequence[PendingEmail]) -> None:
        """Replace the waiting e-mails (an empty sequence empties the outbox)."""
        ...


class Notifier:
    """Sends e-mails through ``mailer``; keeps in ``outbox`` those it cannot send.

    Never raises for a failed delivery: it logs one line and remembers the error in ``error``.
    """

    def __init__(
        self,
        mailer: Mailer,
        outbox: Outbox,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.mailer = mailer
        self.outbox = outbox
        self.now = now
        self.error: str | None = None
        """The last delivery error; None once the outbox is empty again."""
        self.pending = 0
        """E-mails waiting after the last call."""

    def deliver(self, message: EmailMessage) -> bool:
        """Send ``message`` after the older waiting ones; True when it went out now."""
        now = self.now()
        if "Date" not in message:
            message["Date"] = format_datetime(now)
        if "Message-ID" not in message:
            sender = str(message.get("From", ""))
            message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
        waiting = self._load()
        left = self._flush(waiting)
        error = self.error if left else self._send(message)
        if error is None:
            if waiting:
                self._save([])
            self.error, self.pending = None, 0
            return True
        self._keep([*left, self._pending(message, now, attempts=0 if left else 1, error=error)])
        log.warning(
            "failure e-mail %r to %s not sent (%d waiting, retried at the next cycle): %s",
            str(message.get("Subject", "")),
            str(message.get("To", "")),
            self.pending,
            error,
        )
        return False

    def retry(self) -> int:
        """Send the waiting e-mails, oldest first, until one fails; the number sent."""
        waiting = self._load()
        if not waiting:
            self.pending = 0
            return 0
        left = self._flush(waiting)
        self._keep(left)
        if left:
            log.warning(
                "%d failure e-mail(s) still not sent, retried at the next cycle: %s",
                len(left),
                self.error,
            )
        else:
            self.error = None
        return len(waiting) - len(left)

    def _flush(self, waiting: list[PendingEmail]) -> list[PendingEmail]:
        """Send ``waiting`` in order until one fails; what is left, the failed one first."""
        for index, item in enumerate(waiting):
            error = self._send(item.email())
            if error is not None:
                failed = replace(item, attempts=item.attempts + 1, error=error)
                return [failed, *waiting[index + 1 :]]
        return []

    def _send(self, message: EmailMessage) -> str | None:
        """Hand ``message`` to the mailer; the error as one line, or None when it went out."""
        try:
            self.mailer(message)
        except Exception as exc:  # a mail outage, or a broken mailer, never stops a cycle
            self.error = one_line(exc)
            return self.error
        return None

    @staticmethod
    def _pending(
        message: EmailMessage, now: datetime, *, attempts: int, error: str
    ) -> PendingEmail:
        return PendingEmail(
            message.as_string(policy=policy.default),
            now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            attempts,
            error,
        )

    def _keep(self, pending: list[PendingEmail]) -> None:
        """Save ``pending`` as the outbox, dropping the oldest past :data:`OUTBOX_LIMIT`."""
        dropped = len(pending) - OUTBOX_LIMIT
        if dropped > 0:
            log.warning(
                "%d unsent failure e-mail(s) dropped: at most %d wait", dropped, OUTBOX_LIMIT
            )
            pending = pending[dropped:]
        self._save(pending)
        self.pending = len(pending)

    def _load(self) -> list[PendingEmail]:
        try:
            return self.outbox.load()
        except (EngineError, OSError) as exc:
            log.warning("unsent failure e-mails cannot be read, ignored: %s", one_line(exc))
            return []

    def _save(self, pending: list[PendingEmail]) -> None:
        try:
            self.outbox.save(pending)
        except (EngineError, OSError) as exc:
            log.warning("unsent failure e-mails cannot be kept: %s", one_line(exc))
