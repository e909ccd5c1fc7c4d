"""The notification worker, wired from settings: the server's background thread and the CLI's.

:class:`OutboxService` owns one :class:`~hostsync.frontdesk.delivery.worker.WorkerThread`
per process. The server's lifespan starts it when e-mail is configured (``smtp_url`` and
``mail_from``) or a tenant has a Teams, Slack or generic webhook channel, and the console
starts it when a channel is added later; ``outbox_worker = false`` leaves sending to
``hostsync outbox run``. Several processes may send at once (the outbox leases what each
claims). Settings problems (an unusable SMTP URL, a key that is not a Fernet key) are one line
naming the setting, the password redacted.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from hostsync.config import Settings
from hostsync.frontdesk.delivery.smtp import SmtpSender, SmtpUrlError, parse_smtp_url
from hostsync.frontdesk.delivery.webhooks import WebhookSender
from hostsync.frontdesk.delivery.worker import DeliveryWorker, WorkerOptions, WorkerThread
from hostsync.frontdesk.sealing import KEY_FILE_NAME, Sealer, SealingError, load_key
from hostsync.store.database import Database, sqlite_path
from hostsync.store.frontdesk.channels import any_channel
from hostsync.store.frontdesk.outbox import SqlOutbox

log = logging.getLogger("hostsync.outbox")


class OutboxSettingsError(ValueError):
    """A notification setting cannot be used (the message names it, nothing secret)."""


def key_file(settings: Settings) -> Path:
    """Where the server key is kept: the setting, else beside the SQLite file, else ``./``."""
    if settings.secret_key_file:
        return Path(settings.secret_key_file)
    path = sqlite_path(settings.database_url)
    return Path(path).parent / KEY_FILE_NAME if path else Path(KEY_FILE_NAME)


def sealer_from(settings: Settings) -> Sealer:
    """The server key's sealer (the key file is created when missing)."""
    try:
        return Sealer(load_key(settings.secret_key, key_file(settings)))
    except SealingError as exc:
        raise OutboxSettingsError(f"HOSTSYNC_SECRET_KEY: {exc}") from None
    except OSError as exc:
        raise OutboxSettingsError(
            f"cannot read or create the key file {key_file(settings)}: {exc.strerror}"
        ) from None


def mailer_from(settings: Settings) -> SmtpSender | None:
    """The SMTP sender, or None when e-mail is not configured."""
    if not settings.smtp_url:
        return None
    try:
        server = parse_smtp_url(settings.smtp_url, ca_file=settings.smtp_ca_file)
    except SmtpUrlError as exc:
        raise OutboxSettingsError(f"HOSTSYNC_SMTP_URL: {exc}") from None
    return SmtpSender(server)


def email_configured(settings: Settings) -> bool:
    """Whether arrival e-mails can be sent (a server and a From address)."""
    return bool(settings.smtp_url and settings.mail_from)


def worker_from(
    settings: Settings, database: Database, sealer: Sealer | None = None
) -> DeliveryWorker:
    """A delivery worker over the database's outbox, with the configured senders."""
    return DeliveryWorker(
        SqlOutbox(database),
        sealer=sealer or sealer_from(settings),
        mailer=mailer_from(settings),
        mail_from=settings.mail_from,
        webhooks=WebhookSender(),
        options=WorkerOptions(
            batch=settings.outbox_batch,
            poll_seconds=settings.outbox_poll_seconds,
            lease_seconds=settings.outbox_lease_seconds,
        ),
    )


class OutboxService:
    """This process's notification worker, started when there is something to send."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self.thread: WorkerThread | None = None
        self._lock = threading.Lock()
        self._sealer: Sealer | None = None

    def sealer(self) -> Sealer:
        """The server key's sealer (read, or created, once)."""
        if self._sealer is None:
            self._sealer = sealer_from(self.settings)
        return self._sealer

    def wanted(self) -> bool:
        """Whether this process should send: enabled, and e-mail or a channel configured."""
        if not self.settings.outbox_worker:
            return False
        if email_configured(self.settings):
            return True
        with self.database.connect(write=False) as connection:
            return any_channel(connection)

    def ensure_started(self) -> bool:
        """Start the worker if it is wanted and not running; whether it runs now."""
        with self._lock:
            if self.thread is not None:
                return True
            try:
                if not self.wanted():
                    return False
                worker = worker_from(self.settings, self.database, self.sealer())
                thread = WorkerThread(worker)
            except OutboxSettingsError as exc:
                log.error("notifications are not sent: %s", exc)
                return False
            except Exception:  # the database is unreachable at start: the console retries
                log.warning("notification worker not started", exc_info=True)
                return False
            thread.start()
            self.thread = thread
            log.info("notification worker started")
            return True

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the worker after its pass under way."""
        with self._lock:
            thread, self.thread = self.thread, None
        if thread is not None and not thread.stop(timeout):
            log.warning("notification worker still busy at shutdown; its leases will expire")
