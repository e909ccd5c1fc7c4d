"""``hostsync outbox run``: sends what is due from its own process; settings errors are one line."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hostsync.store.database import Database
from hostsync.store.frontdesk.sites import create_site
from hostsync.store.tenants import create_tenant
from tests.cli.test_commands import hostsync
from tests.frontdesk.conftest import make_host
from tests.frontdesk.outbox_helpers import tenant_deliveries, visit
from tests.frontdesk.servers import SmtpServer


def queued(path: Path, visits: int) -> tuple[Database, str]:
    database = Database(f"sqlite:///{path}")
    database.migrate()
    with database.connect(write=True) as connection:
        tenant = create_tenant(connection, "Contoso").id
        site = create_site(connection, tenant, "Paris HQ", timezone="Europe/Paris")
    host = make_host(database, tenant, "Jo", "Host")
    for n in range(visits):
        visit(database, site, host, f"Visitor {n}")
    return database, tenant


def test_run_once_sends_the_due_emails(tmp_path: Path, smtp_server: SmtpServer) -> None:
    database, tenant = queued(tmp_path / "h.db", 3)
    env = {
        **os.environ,
        "HOSTSYNC_SMTP_URL": smtp_server.url,
        "HOSTSYNC_MAIL_FROM": "frontdesk@contoso.example",
        "HOSTSYNC_SECRET_KEY": "",
    }
    done = hostsync(
        "outbox",
        "run",
        "--once",
        "--database-url",
        f"sqlite:///{tmp_path / 'h.db'}",
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3 deliveries handled"
    assert len(smtp_server.mailbox.messages) == 3
    assert {r.status for r in tenant_deliveries(database, tenant)} == {"sent"}
    key = tmp_path / "hostsync.key"  # beside the SQLite file, owner-only
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    database.dispose()


def test_an_unusable_smtp_url_is_one_line_without_the_password(tmp_path: Path) -> None:
    queued(tmp_path / "h.db", 0)[0].dispose()
    env = {**os.environ, "HOSTSYNC_SMTP_URL": "smtp://me:hunter2@mail.example.com:25"}
    failed = hostsync(
        "outbox",
        "run",
        "--once",
        "--database-url",
        f"sqlite:///{tmp_path / 'h.db'}",
        cwd=tmp_path,
        env=env,
    )
    assert failed.returncode == 2
    assert "HOSTSYNC_SMTP_URL" in failed.stderr and "in clear" in failed.stderr
    assert "hunter2" not in failed.stderr + failed.stdout
    assert "Traceback" not in failed.stderr


def test_settings_never_show_the_smtp_password_or_the_key() -> None:
    from hostsync.config import Settings

    settings = Settings(smtp_url="smtps://me:hunter2@mail.example", secret_key="k3y-material")
    assert "hunter2" not in repr(settings) and "k3y-material" not in repr(settings)
    assert "hunter2" not in str(settings)


def test_the_server_starts_no_worker_when_nothing_is_configured(tmp_path: Path) -> None:
    from hostsync.config import Settings
    from hostsync.web.outbox import OutboxService

    database, _tenant = queued(tmp_path / "h.db", 0)
    try:
        idle = OutboxService(Settings(), database)
        assert idle.ensure_started() is False and idle.thread is None
        configured = OutboxService(
            Settings(smtp_url="smtp://127.0.0.1:1", mail_from="f@x.example", secret_key=""),
            database,
        )
        configured.settings = configured.settings.model_copy(
            update={"secret_key_file": str(tmp_path / "k.key")}
        )
        assert configured.ensure_started() is True and configured.thread is not None
        configured.stop(timeout=10)
        assert configured.thread is None
        off = OutboxService(
            Settings(smtp_url="smtp://127.0.0.1:1", mail_from="f@x.example", outbox_worker=False),
            database,
        )
        assert off.ensure_started() is False
    finally:
        database.dispose()
