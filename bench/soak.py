"""Soak: N tenants x R requests/second each against a live `hostsync serve`, for a bounded time.

    python bench/soak.py [--tenants 20] [--rps 25] [--seconds 30] [--workers 1]
                         [--database-url URL]   (default: a fresh SQLite file in a temp dir)

Each tenant sends an open-loop stream (request k leaves at start + k/rps whatever the latency of
the others) of an Entra-like mix: userName lookups, creates, PATCHes, reads by id and group
member additions. Prints totals, errors (each transport failure with its time) and latency
percentiles, the load average before and after, and the server log's count of connections
closed with a request in flight; exits 1 on any error (a non-2xx answer or a transport
failure) or if the achieved rate falls short of 95 %.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from hostsync.config import SCIM_PREFIX
from hostsync.store.database import Database
from hostsync.store.tenants import create_key, create_tenant

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CONNECTIONS = 8
"""Connections per tenant, and requests under way at once; later ones wait their turn (their
latency counts from when they were due). httpcore's pool scans every connection and queued
request whenever a request starts or ends (idle ones with an O(n²) count): with 64 per tenant,
a latency spike grew the pools and the generator's CPU per request with them, until it could
no longer keep up on a busy machine (bench/JOURNAL.md#soak-dropped-connections)."""


class TenantLoad:
    def __init__(self, n: int, key: str, base: str, rps: float, seconds: float) -> None:
        self.n, self.rps, self.seconds = n, rps, seconds
        self.http = httpx.AsyncClient(
            base_url=base,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
            # Idle connections are dropped after 5 s, well before the server's keep-alive
            # (HOSTSYNC_KEEP_ALIVE_SECONDS, 75 s): the client closes them, never the server.
            # Both at 5 s, a request could leave on a connection whose FIN had arrived while
            # this loop was busy (bench/JOURNAL.md#soak-dropped-connections).
            limits=httpx.Limits(
                max_connections=CONNECTIONS,
                max_keepalive_connections=CONNECTIONS,
                keepalive_expiry=5.0,
            ),
        )
        self.slots = asyncio.Semaphore(CONNECTIONS)  # the rest wait here, not in httpcore
        self.users: list[str] = []
        self.group = ""
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self.failures: list[str] = []  # transport failures: when, what
        self.kinds: Counter[str] = Counter()
        self.count = 0

    async def setup(self) -> None:
        created = await self.http.post(
            "/Groups", json={"schemas": [GROUP], "displayName": f"soak-{self.n}"}
        )
        created.raise_for_status()
        self.group = created.json()["id"]
        for _ in range(5):
            await self.create()

    async def create(self) -> httpx.Response:
        self.count += 1
        response = await self.http.post(
            "/Users",
            json={
                "schemas": [USER],
                "userName": f"t{self.n}-u{self.count}@example.com",
                "externalId": f"ext-{self.count}",
                "name": {"givenName": "Soak", "familyName": str(self.count)},
                "emails": [{"value": f"t{self.n}-u{self.count}@example.com", "type": "work"}],
            },
        )
        if response.status_code == 201:
            self.users.append(response.json()["id"])
        return response

    async def one(self) -> None:
        started = time.perf_counter()
        async with self.slots:
            await self.send(started)

    async def send(self, started: float) -> None:
        roll = random.random()
        kind = "?"
        try:
            if roll < 0.4:
                kind = "lookup"
                name = f"t{self.n}-u{random.randint(1, max(1, self.count))}@example.com"
                response = await self.http.get("/Users", params={"filter": f'userName eq "{name}"'})
            elif roll < 0.6:
                kind = "create"
                response = await self.create()
            elif roll < 0.8:
                kind = "patch"
                response = await self.http.patch(
                    f"/Users/{random.choice(self.users)}",
                    json={
                        "schemas": [PATCH],
                        "Operations": [
                            {"op": "replace", "path": "title", "value": f"v{random.random()}"}
                        ],
                    },
                )
            elif roll < 0.9:
                kind = "get"
                response = await self.http.get(f"/Users/{random.choice(self.users)}")
            else:
                kind = "member-add"
                response = await self.http.patch(
                    f"/Groups/{self.group}",
                    json={
                        "schemas": [PATCH],
                        "Operations": [
                            {
                                "op": "add",
                                "path": "members",
                                "value": [{"value": random.choice(self.users)}],
                            }
                        ],
                    },
                )
            self.kinds[kind] += 1
            if response.status_code >= 300:
                self.errors[f"{kind} {response.status_code}"] += 1
        except httpx.HTTPError as exc:
            self.errors[type(exc).__name__] += 1
            self.failures.append(
                f"{time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d} tenant {self.n} "
                f"{kind} after {(time.perf_counter() - started) * 1000:.0f} ms: {exc!r} "
                f"({exc.__context__!r})"
            )
        self.latencies.append(time.perf_counter() - started)

    async def run(self, start: float) -> None:
        tasks = []
        total = int(self.rps * self.seconds)
        for k in range(total):
            delay = start + k / self.rps - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one()))
        await asyncio.gather(*tasks)
        await self.http.aclose()


async def soak(base: str, keys: list[str], rps: float, seconds: float) -> int:
    loads = [TenantLoad(n, key, base, rps, seconds) for n, key in enumerate(keys)]
    await asyncio.gather(*(load.setup() for load in loads))
    start = time.perf_counter() + 0.2
    cpu_started = time.process_time()
    await asyncio.gather(*(load.run(start) for load in loads))
    elapsed = time.perf_counter() - start
    latencies = sorted(x for load in loads for x in load.latencies)
    errors = sum((load.errors for load in loads), Counter())
    kinds = sum((load.kinds for load in loads), Counter())
    total = len(latencies)

    def pct(p: float) -> float:
        return latencies[min(total - 1, int(p * total))] * 1000

    achieved = total / elapsed
    cpu = time.process_time() - cpu_started
    print(
        f"soak: {len(keys)} tenants x {rps:g} rps for {seconds:g} s: {total} requests in "
        f"{elapsed:.1f} s ({achieved:.0f} rps achieved), {sum(errors.values())} errors"
    )
    print(f"mix: {dict(kinds)}")
    print(
        f"latency ms: p50 {pct(0.50):.1f}  p95 {pct(0.95):.1f}  p99 {pct(0.99):.1f}  "
        f"max {latencies[-1] * 1000:.1f}  mean {statistics.fmean(latencies) * 1000:.1f}"
    )
    print(f"client CPU: {cpu:.1f} s, {cpu / max(1, total) * 1000:.2f} ms per request")
    if errors:
        print(f"errors: {dict(errors)}")
    for failure in sorted(x for load in loads for x in load.failures)[:20]:
        print(f"  {failure}")
    return 1 if errors or achieved < 0.95 * rps * len(keys) else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--rps", type=float, default=25)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="hostsync-soak-"))
    url = args.database_url or f"sqlite:///{workdir / 'soak.db'}"
    database = Database(url)
    database.migrate()
    keys = []
    with database.connect(write=True) as connection:
        for n in range(args.tenants):
            tenant = create_tenant(connection, f"Soak {n}")
            keys.append(create_key(connection, tenant.id, "soak")[1])
    database.dispose()
    port = free_port()
    log = workdir / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hostsync",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--database-url",
                url,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    try:
        root = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{root}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            print(log.read_text())
            return 1
        print(f"server: {url} ({args.workers} worker(s)), log {log}")
        print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        status = asyncio.run(soak(root + SCIM_PREFIX, keys, args.rps, args.seconds))
        print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        return status
    finally:
        server.terminate()
        server.wait(10)
        lines = log.read_text(errors="replace").splitlines()
        in_flight = [line for line in lines if "in flight" in line]
        print(f"server log: {len(lines)} lines, {len(in_flight)} connection(s) closed in flight")
        for line in in_flight[:10]:
            print(f"  {line}")


if __name__ == "__main__":
    sys.exit(main())
