"""Front-desk notifications: check-ins with their deliveries queued, then the outbox drained.

    python bench/outbox.py                       # SQLite file in a temporary directory
    python bench/outbox.py --api                 # through the kiosk API of hostsync serve
    python bench/outbox.py --checkins 5000 --database-url postgresql://postgres@127.0.0.1/bench

1. **Check-ins**: each one a write unit of its own: with ``--api``, ``POST
   /v1/kiosk/visits`` from ``--concurrency`` kiosks (asyncio, one connection each) to a
   ``hostsync serve`` process (one worker, its notification worker off); else straight
   through the store. Either way the visit and its
   deliveries (the host's e-mail; with ``--channels``, a Slack post too, to a local
   receiver) committed together, through ``store.frontdesk.visits.check_in``, by
   ``--threads`` threads. Prints check-ins per second.
2. **Delivery**: a local aiosmtpd server on loopback takes the e-mails; one delivery worker
   (``frontdesk.delivery.worker``, batches of ``--batch`` on one SMTP connection each)
   sends every queued delivery and records each outcome. Prints e-mails per second (the
   whole drain, webhook posts included when queued), and checks
   that every e-mail arrived exactly once.

Targets (issue 20): at least 300 check-ins/s with their deliveries queued, and at least 100
e-mails/s to a local SMTP server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import text

from hostsync.frontdesk.delivery.smtp import SmtpSender, parse_smtp_url
from hostsync.frontdesk.delivery.worker import DeliveryWorker, WorkerOptions
from hostsync.frontdesk.sealing import Sealer, new_key
from hostsync.frontdesk.visits import arrival
from hostsync.store.database import Database
from hostsync.store.frontdesk.channels import set_channel
from hostsync.store.frontdesk.outbox import SqlOutbox
from hostsync.store.frontdesk.sites import create_kiosk, create_site
from hostsync.store.frontdesk.visits import CheckIn, check_in
from hostsync.store.tenants import create_tenant


class Counter:
    """An aiosmtpd handler that counts messages and their Message-IDs."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                self.ids.append(line.split(b":", 1)[1].strip().decode())
                break
        return "250 OK"


class Accepting(BaseHTTPRequestHandler):
    """A webhook receiver that answers 204 to every POST."""

    protocol_version = "HTTP/1.1"
    posts = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Accepting.posts += 1
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed(
    database: Database, hosts: int, channel: str | None, sealer: Sealer
) -> tuple[Any, list[str]]:
    with database.connect(write=True) as connection:
        tenant = create_tenant(connection, f"Bench {time.time_ns()}").id
        site = create_site(connection, tenant, "Bench HQ", timezone="Europe/Paris")
        if channel:
            set_channel(connection, tenant, "slack", sealer.seal(channel))
    ids: list[str] = []
    with database.directory(tenant) as directory:
        for n in range(hosts):
            name = f"host{n:06d}@contoso.example"
            ids.append(
                directory.create_user(
                    {
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": name,
                        "displayName": f"Host {n}",
                        "emails": [{"value": name, "type": "work", "primary": True}],
                        "active": True,
                    }
                ).id
            )
    return site, ids


def check_ins(database: Database, site: Any, hosts: list[str], count: int, threads: int) -> float:
    who = CheckIn("kiosk Bench", kiosk_id="bench")

    def work(offset: int) -> None:
        for n in range(offset, count, threads):
            with database.connect(write=True) as connection:
                check_in(
                    connection,
                    site,
                    arrival(f"Visitor {n}", "Fabrikam", None, hosts[n % len(hosts)]),
                    who,
                    host_label="Host",
                )

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started


def api_check_ins(
    url: str, site: Any, hosts: list[str], count: int, concurrency: int, workdir: str
) -> float:
    """Check-ins as a kiosk makes them: ``POST /v1/kiosk/visits`` to a ``hostsync serve``."""
    database = Database(url)
    with database.connect(write=True) as connection:
        secrets = [
            create_kiosk(connection, site.tenant_id, site.id, f"Bench {n}")[1]
            for n in range(concurrency)
        ]
    database.dispose()
    port = free_port()
    env = {
        **os.environ,
        "HOSTSYNC_OUTBOX_WORKER": "false",  # the drain below is measured on its own
        "HOSTSYNC_RATE_LIMIT": "none",
    }
    log = open(Path(workdir) / "serve.log", "wb")  # noqa: SIM115 - closed in finally
    command = [sys.executable, "-m", "hostsync", "serve", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--database-url", url],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=str(Path(__file__).resolve().parents[1]),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit(f"the server did not start: see {workdir}/serve.log")
            time.sleep(0.1)

        async def kiosk(n: int, http: httpx.AsyncClient) -> None:
            headers = {"Authorization": f"Bearer {secrets[n]}"}
            for v in range(n, count, concurrency):
                body = {"full_name": f"Visitor {v}", "company": "Fabrikam"}
                body["host_id"] = hosts[v % len(hosts)]
                answer = await http.post(f"{base}/v1/kiosk/visits", json=body, headers=headers)
                if answer.status_code != 201:
                    sys.exit(f"check-in refused: {answer.status_code} {answer.text}")

        async def all_kiosks() -> float:
            limits = httpx.Limits(max_connections=concurrency)
            async with httpx.AsyncClient(limits=limits, timeout=30) as http:
                started = time.perf_counter()
                await asyncio.gather(*(kiosk(n, http) for n in range(concurrency)))
                return time.perf_counter() - started

        return asyncio.run(all_kiosks())
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def deliver(database: Database, sealer: Sealer, port: int, batch: int) -> tuple[float, int]:
    worker = DeliveryWorker(
        SqlOutbox(database),
        sealer=sealer,
        mailer=SmtpSender(parse_smtp_url(f"smtp://127.0.0.1:{port}")),
        mail_from="frontdesk@contoso.example",
        options=WorkerOptions(batch=batch),
    )
    handled = 0
    started = time.perf_counter()
    while (claimed := worker.run_once()) > 0:
        handled += claimed
    return time.perf_counter() - started, handled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--checkins", type=int, default=3000)
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument(
        "--api",
        action="store_true",
        help="check in through POST /v1/kiosk/visits of a hostsync serve process",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="kiosks at once (--api)")
    parser.add_argument(
        "--channels", action="store_true", help="queue a Slack post too (a local receiver)"
    )
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="hostsync-outbox-bench-")
    url = args.database_url or f"sqlite:///{workdir}/bench.db"
    database = Database(url)
    database.migrate()
    if database.dialect == "postgresql":  # only this run's deliveries are pending
        with database.connect(write=True) as connection:
            connection.execute(
                text("UPDATE deliveries SET status = 'skipped' WHERE status = 'pending'")
            )
    sealer = Sealer(new_key())
    receiver = None
    if args.channels:
        receiver = ThreadingHTTPServer(("127.0.0.1", 0), Accepting)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
    channel = f"http://127.0.0.1:{receiver.server_address[1]}/slack" if receiver else None
    site, hosts = seed(database, args.hosts, channel, sealer)
    if args.api:
        database.dispose()
        elapsed = api_check_ins(url, site, hosts, args.checkins, args.concurrency, workdir)
    else:
        elapsed = check_ins(database, site, hosts, args.checkins, args.threads)
    counter, port = Counter(), free_port()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sent_in, handled = deliver(database, sealer, port, args.batch)
    finally:
        controller.stop()
    database.dispose()
    unique = len(set(counter.ids))
    result = {
        "database": database.dialect,
        "checkins": args.checkins,
        "through": f"kiosk API, {args.concurrency} kiosks" if args.api else "store",
        "threads": args.threads,
        "checkins_per_s": round(args.checkins / elapsed, 1),
        "deliveries_handled": handled,
        "emails_received": len(counter.ids),
        "emails_unique": unique,
        "emails_per_s": round(len(counter.ids) / sent_in, 1),
        "batch": args.batch,
        "webhook_posts": Accepting.posts,
    }
    if receiver is not None:
        receiver.shutdown()
    print(json.dumps(result))
    if unique != args.checkins or len(counter.ids) != unique:
        sys.exit("not every e-mail arrived exactly once")


if __name__ == "__main__":
    main()
