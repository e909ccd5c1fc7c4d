"""Outage tests with real processes: ``hostsync serve`` killed mid-queue, then started again.

The deliveries are queued before the server starts (check-ins through the store); the server
sends them to a slow SMTP server, is killed with SIGKILL part-way, and a new server process
sends the rest. Nothing is lost: every delivery is ``sent`` and its e-mail arrived. Delivery
is at least once: a message the SMTP server took just before the kill may arrive twice, with
the same Message-ID (so mail systems show it once); at most one batch can be affected.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from hostsync.frontdesk.sealing import new_key
from hostsync.store.database import Database
from hostsync.store.frontdesk.sites import create_site
from hostsync.store.tenants import create_tenant
from tests.frontdesk.conftest import make_host
from tests.frontdesk.outbox_helpers import tenant_deliveries, visit
from tests.frontdesk.servers import SmtpServer
from tests.live_server import served

BATCH = 5


def test_a_server_killed_mid_queue_loses_no_notification(tmp_path: Path) -> None:
    path = tmp_path / "hostsync.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    with database.connect(write=True) as connection:
        tenant = create_tenant(connection, "Contoso").id
        site = create_site(connection, tenant, "Paris HQ", timezone="Europe/Paris")
    host = make_host(database, tenant, "José", "Nunez")
    for n in range(40):
        visit(database, site, host, f"Visitor {n}")
    database.dispose()  # the server processes have the file to themselves

    smtp = SmtpServer()
    smtp.mailbox.delay = 0.05  # a batch is under way when the server dies
    smtp.start()
    env = {
        "HOSTSYNC_SMTP_URL": smtp.url,
        "HOSTSYNC_MAIL_FROM": "frontdesk@contoso.example",
        "HOSTSYNC_SECRET_KEY": new_key().decode(),
        "HOSTSYNC_OUTBOX_BATCH": str(BATCH),
        "HOSTSYNC_OUTBOX_POLL_SECONDS": "0.1",
        "HOSTSYNC_OUTBOX_LEASE_SECONDS": "2",
    }
    log = tmp_path / "serve.log"
    url = f"sqlite:///{path}"
    try:
        with served(url, log, env=env) as (process, _base):
            deadline = time.monotonic() + 30
            while len(smtp.mailbox.messages) < 12:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.02)
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        before = len(smtp.mailbox.messages)
        assert before < 40  # killed mid-queue
        with served(url, log, env=env):
            deadline = time.monotonic() + 60
            while True:
                rows = tenant_deliveries(database, tenant)
                if {r.status for r in rows} == {"sent"}:
                    break
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
    finally:
        smtp.stop()
        database.dispose()
    received = smtp.mailbox.ids()
    assert set(received) == {f"<{r.id}@contoso.example>" for r in rows}
    assert len(rows) == 40
    assert len(received) - len(set(received)) <= BATCH  # only the batch under way at the kill
