"""``hostsync outbox run``: send arrival notifications from a process of its own.

For deployments that set ``HOSTSYNC_OUTBOX_WORKER=false`` on the servers, or that want the
sending apart from them; running it beside servers that send too is safe (the outbox leases
what each process claims). It runs until interrupted (Ctrl-C, SIGTERM), finishing the pass
under way; ``--once`` sends what is due now and exits. Registered on the main group by
``hostsync.cli``.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click

from hostsync.cli.admin import AdminCliError, open_database
from hostsync.config import Settings
from hostsync.web.outbox import OutboxSettingsError, email_configured, worker_from


@click.group()
def outbox() -> None:
    """Arrival notifications (e-mail, Teams, Slack, webhooks)."""


@outbox.command("run")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option("--database-url", default=None, metavar="URL", help="Default: the settings'.")
@click.pass_context
def run(ctx: click.Context, once: bool, database_url: str | None) -> None:
    """Send due notifications until interrupted, retrying failures with backoff."""
    logging.basicConfig(level=logging.INFO, format="hostsync: %(message)s")
    settings = Settings()
    database = open_database(ctx, database_url)
    try:
        worker = worker_from(settings, database)
        if not email_configured(settings):
            click.echo(
                "hostsync: e-mail is not configured (HOSTSYNC_SMTP_URL and HOSTSYNC_MAIL_FROM): "
                "e-mail deliveries are skipped",
                err=True,
            )
        if once:
            sent = 0
            while (claimed := worker.run_once()) > 0:
                sent += claimed
                if claimed < worker.options.batch:
                    break
            click.echo(f"{sent} deliveries handled")
            return
        stop = threading.Event()

        def interrupted(_signal: int, _frame: FrameType | None) -> None:
            stop.set()

        previous = signal.signal(signal.SIGTERM, interrupted)
        try:
            click.echo("hostsync: sending notifications (Ctrl-C stops)", err=True)
            worker.run(stop)
        except KeyboardInterrupt:
            stop.set()
        finally:
            signal.signal(signal.SIGTERM, previous)
    except OutboxSettingsError as exc:
        raise AdminCliError(str(exc)) from None
    finally:
        database.dispose()
