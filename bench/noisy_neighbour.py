"""Noisy neighbour: one tenant's worst-case queries against another tenant's lookups.

    python bench/noisy_neighbour.py                       # 100,000 users in A, SQLite, 20 s
    python bench/noisy_neighbour.py --users 10000 --duration 5
    python bench/noisy_neighbour.py --database-url postgresql://postgres@127.0.0.1/bench

Seeds tenant A with ``--users`` users and tenant B with ``--b-users`` (bench/seed.py, through
the store), serves them with ``hostsync serve`` on ``--server-cpus`` (bench/run.py's server,
rate limits off), and from ``--load-cpus`` runs for ``--duration`` seconds:

* ``--clients`` (4) closed-loop clients of tenant A, each cycling through the worst cases:
  a chain of ``co``/``ew`` terms on stored attributes (at the scan-term cap, and one of 200
  terms), ``sortBy`` on attributes no index holds, and both together;
* one closed-loop client of tenant B sending Entra's ``userName eq`` lookup.

Prints one JSON line (and appends it to ``--out``): B's lookups (count, p50/p95/p99/max ms,
any answer other than 200; 0 stands for no answer within ``--timeout``), A's answers by
status, A's p50 and max ms, and how many of A's answers broke the rules (none, a 5xx other
than 503, a 503 without ``Retry-After``, or more than 2 s). The issue 18 targets: B's p99
< 20 ms, A's max < 2 s, no broken answer.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from run import (  # noqa: E402 - bench/ is a directory of scripts
    SCIM_BASE,
    database_kind,
    free_port,
    hostsync_server,
    warm_sqlite_file,
)
from seed import seed  # noqa: E402

A_LIMIT_SECONDS = 2.0


def worst_cases(cap_terms: int = 10) -> list[dict[str, str]]:
    """The query parameters A's clients cycle through (see the module doc)."""
    chain = " or ".join(f'title co "zz{i}"' for i in range(cap_terms - 1))
    chain += ' or displayName ew "nobody"'
    long_chain = " or ".join(f'title co "x{i}"' for i in range(200))
    return [
        {"filter": chain, "count": "100"},
        {"sortBy": "title", "count": "100"},
        {"filter": chain, "sortBy": "name.familyName", "count": "100"},
        {"filter": 'emails[value ew "@nowhere.example"]', "sortBy": "displayName"},
        {"filter": long_chain},
        {"sortBy": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"},
    ]


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile of ``values`` (nearest rank), 0 if there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def _get(client: httpx.Client, params: dict[str, str]) -> tuple[int, httpx.Headers]:
    """GET /Users: the status and headers, or 0 if no answer came (a timeout, a reset)."""
    try:
        response = client.get("/Users", params=params)
    except httpx.HTTPError:
        return 0, httpx.Headers()
    return response.status_code, response.headers


class Load:
    """The clients' outcomes, gathered from their threads."""

    def __init__(
        self, base: str, a_key: str, b_key: str, b_user: str, duration: float, timeout: float
    ) -> None:
        self.base, self.timeout = base, timeout
        self.a_key, self.b_key, self.b_user = a_key, b_key, b_user
        self.stop_at = time.monotonic() + duration
        self.lock = threading.Lock()
        self.b_seconds: list[float] = []
        self.b_other: Counter[int] = Counter()
        self.a_seconds: list[float] = []
        self.a_status: Counter[int] = Counter()
        self.a_broken = 0

    def noisy(self, offset: int) -> None:
        """One of tenant A's clients: worst cases, one after the other."""
        cases = worst_cases()
        headers = {"Authorization": f"Bearer {self.a_key}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=self.timeout) as client:
            turn = offset
            while time.monotonic() < self.stop_at:
                params = cases[turn % len(cases)]
                turn += 1
                started = time.perf_counter()
                status, headers = _get(client, params)
                seconds = time.perf_counter() - started
                broken = (
                    seconds > A_LIMIT_SECONDS
                    or not status
                    or (status >= 500 and status != 503)
                    or (status == 503 and "retry-after" not in headers)
                )
                with self.lock:
                    self.a_seconds.append(seconds)
                    self.a_status[status] += 1
                    self.a_broken += broken

    def lookups(self) -> None:
        """Tenant B's client: Entra's userName lookup, one after the other."""
        headers = {"Authorization": f"Bearer {self.b_key}"}
        params = {"filter": f'userName eq "{self.b_user}"'}
        with httpx.Client(base_url=self.base, headers=headers, timeout=self.timeout) as client:
            while time.monotonic() < self.stop_at:
                started = time.perf_counter()
                status, _ = _get(client, params)
                seconds = time.perf_counter() - started
                with self.lock:
                    self.b_seconds.append(seconds)
                    if status != 200:
                        self.b_other[status] += 1

    def summary(self) -> dict[str, Any]:
        """The figures the module doc lists."""
        b, a = self.b_seconds, self.a_seconds
        return {
            "b_lookups": len(b),
            "b_p50_ms": round(percentile(b, 0.50) * 1000, 2),
            "b_p95_ms": round(percentile(b, 0.95) * 1000, 2),
            "b_p99_ms": round(percentile(b, 0.99) * 1000, 2),
            "b_max_ms": round(max(b, default=0) * 1000, 2),
            "b_not_200": dict(self.b_other),
            "a_requests": len(a),
            "a_status": {str(k): v for k, v in sorted(self.a_status.items())},
            "a_p50_ms": round(percentile(a, 0.50) * 1000, 1),
            "a_max_ms": round(max(a, default=0) * 1000, 1),
            "a_broken": self.a_broken,
        }


def run_load(
    base: str, manifests: dict[str, Any], duration: float, clients: int, timeout: float = 10
) -> Load:
    """Run A's clients and B's lookups for ``duration`` seconds against ``base``."""
    load = Load(
        base,
        manifests["a"]["api_key"],
        manifests["b"]["api_key"],
        manifests["b_user"],
        duration,
        timeout,
    )
    threads = [threading.Thread(target=load.noisy, args=(n,)) for n in range(clients)]
    threads.append(threading.Thread(target=load.lookups))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return load


def prepare(
    database_url: str, workdir: Path, users: int, b_users: int, *, reuse: bool
) -> dict[str, Any]:
    """Seed tenants A and B (or reuse what a previous run seeded in ``workdir``)."""
    saved = workdir / "noisy.json"
    if reuse and saved.exists():
        manifests: dict[str, Any] = json.loads(saved.read_text())
        return manifests
    if database_kind(database_url) == "sqlite":
        path = Path(database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    a = seed(database_url, workdir / "a", users, quiet=users < 100_000)
    b = seed(database_url, workdir / "b", b_users, extra_groups=0, quiet=True)
    b_user = (workdir / "b" / "users.tsv").read_text().splitlines()[b_users // 2].split("\t")[1]
    manifests = {"a": a, "b": b, "b_user": b_user, "users": users, "b_users": b_users}
    saved.write_text(json.dumps(manifests, indent=2))
    return manifests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000, help="tenant A's users")
    parser.add_argument("--b-users", type=int, default=100, help="tenant B's users")
    parser.add_argument("--duration", type=float, default=20, help="seconds of load")
    parser.add_argument("--clients", type=int, default=4, help="tenant A's clients")
    parser.add_argument("--database-url", default=None, help="default: SQLite in --workdir")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="reuse the tenants in workdir")
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--load-cpus", default="1")
    parser.add_argument("--timeout", type=float, default=10, help="seconds per request")
    parser.add_argument("--out", type=Path, default=None, help="also append the JSON line here")
    args = parser.parse_args(argv)
    workdir: Path = args.workdir or Path(f"/tmp/hostsync-noisy-{args.users}")  # noqa: S108
    workdir.mkdir(parents=True, exist_ok=True)
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    if database_url.startswith(("postgres://", "postgresql://")):
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]
    manifests = prepare(database_url, workdir, args.users, args.b_users, reuse=args.reuse)
    warm_sqlite_file(database_url)
    server_cpus = args.server_cpus or None  # "": not pinned
    server = hostsync_server(database_url, free_port(), 1, server_cpus, workdir / "server.log")
    if args.load_cpus:  # the clients run on the other core, as wrk does in bench/run
        os.sched_setaffinity(0, {int(cpu) for cpu in args.load_cpus.split(",")})
    with server.running():
        load = run_load(
            server.url + SCIM_BASE, manifests, args.duration, args.clients, args.timeout
        )
    record = {
        "scenario": "noisy-neighbour",
        "users": args.users,
        "b_users": args.b_users,
        "clients": args.clients,
        "duration": args.duration,
        "database": database_kind(database_url),
        "date": time.strftime("%Y-%m-%d"),
        **load.summary(),
    }
    line = json.dumps(record)
    print(line, flush=True)
    if args.out is not None:
        with args.out.open("a") as out:
            out.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
