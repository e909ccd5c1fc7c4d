"""The ASGI application driven in-process: the server's own cost per request, no network.

    python bench/inprocess.py --workdir DIR [--scenarios page,create] [--requests 2000]
                              [--rounds 3]

``DIR`` is a directory ``bench/run`` seeded (its ``manifest.json``, ``users.tsv`` and
``pool.tsv``; SQLite only). Each scenario's requests are built like ``scim.lua`` builds them
and sent one after another to the application on one event loop, with no socket, HTTP parser
or load generator in the way; the application runs its lifespan (so SQLite checkpoints run in
their background thread, as in ``hostsync serve``) and its garbage-collector tuning. Prints
one JSON line per scenario and round: mean, p50 and p99 µs per request (with ``--concurrency``
above 1 this includes the wait for the request's turn), requests per second on this one core,
the status codes seen, the background checkpoints' rounds and CPU time during the requests,
and with ``--concurrency`` N above 1 the p50 and p99 of the time between an answer and the
N-th before it (``window_*``: a request's wait in a closed loop of N clients served in order).
Writes change the seeded data (new users, renamed users, members added then removed), as a
``bench/run`` on the same directory does.

On this shared machine wrk figures move by ±30 % with the hour while the ratio between two
builds measured back to back in-process moves by a few per cent: this is the tool for an A/B
of a change to the request path (run it on both builds, alternately, on one seeded copy).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from asgi_call import call_asgi  # bench/: run as a script, its folder is on the path

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.store.database import Database
from hostsync.web.app import create_app
from hostsync.web.asgi import tune_garbage_collector

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCENARIOS = (
    "floor",
    "lookup",
    "get-user",
    "get-group",
    "page",
    "page-first",
    "page-last",
    "create",
    "patch",
    "disable",
    "group-add-member",
    "group-remove-member",
)

Request = tuple[str, str, bytes]  # method, path?query, body


class Requests:
    """Builds each scenario's requests from the seeded manifest, as bench/scim.lua does."""

    def __init__(self, workdir: Path, seed: int) -> None:
        self.manifest = json.loads((workdir / "manifest.json").read_text())
        self.users = [
            line.split("\t") for line in (workdir / "users.tsv").read_text().splitlines() if line
        ]
        self.pool = [line for line in (workdir / "pool.tsv").read_text().splitlines() if line]
        self.random = random.Random(seed)
        self.tag = f"ip{seed}-{os.getpid()}-{int(time.time())}"
        self.counter = 0
        self.member = 0
        self.added: list[str] = []  # members the add scenario put in, for the remove scenario

    def user(self) -> list[str]:
        return self.users[self.random.randrange(len(self.users))]

    def build(self, scenario: str) -> Request:
        builder: Callable[[], Request] = getattr(self, "_" + scenario.replace("-", "_"))
        return builder()

    def _floor(self) -> Request:
        return "GET", f"{SCIM_PREFIX}/ResourceTypes/User", b""

    def _lookup(self) -> Request:
        query = "filter=" + quote(f'userName eq "{self.user()[1]}"')
        return "GET", f"{SCIM_PREFIX}/Users?{query}", b""

    def _get_user(self) -> Request:
        return "GET", f"{SCIM_PREFIX}/Users/{self.user()[0]}", b""

    def _get_group(self) -> Request:
        group = self.manifest["big_group_id"]
        return "GET", f"{SCIM_PREFIX}/Groups/{group}?excludedAttributes=members", b""

    def _page_at(self, start: int) -> Request:
        return "GET", f"{SCIM_PREFIX}/Users?startIndex={start}&count=100", b""

    def _page(self) -> Request:
        return self._page_at(self.random.randint(1, max(1, len(self.users) - 99)))

    def _page_first(self) -> Request:
        return self._page_at(1)

    def _page_last(self) -> Request:
        return self._page_at(max(1, len(self.users) - 99))

    def _create(self) -> Request:
        self.counter += 1
        name = f"new-{self.tag}-{self.counter}@contoso.example"
        body = {
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "externalId": f"new-{self.tag}-{self.counter}",
            "userName": name,
            "active": "True",
            "displayName": f"New Host {self.counter}",
            "name": {"givenName": "New", "familyName": f"Host {self.counter}"},
            "emails": [{"primary": True, "type": "work", "value": name}],
            "title": "Host",
            ENTERPRISE: {"department": "Reception"},
        }
        return "POST", f"{SCIM_PREFIX}/Users", orjson.dumps(body)

    def _patch_body(self, operations: list[dict[str, Any]]) -> bytes:
        return orjson.dumps({"schemas": [PATCH_OP], "Operations": operations})

    def _patch(self) -> Request:
        self.counter += 1
        n, user = self.counter, self.user()
        operations = [
            {"op": "Replace", "path": "displayName", "value": f"Renamed {n}"},
            {"op": "Replace", "path": "title", "value": f"Senior Host {n}"},
            {"op": "Replace", "path": "name.familyName", "value": f"Family {n}"},
            {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": f"Dept {n}"},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": user[1]},
        ]
        return "PATCH", f"{SCIM_PREFIX}/Users/{user[0]}", self._patch_body(operations)

    def _disable(self) -> Request:
        operations = [{"op": "Replace", "path": "active", "value": "False"}]
        return "PATCH", f"{SCIM_PREFIX}/Users/{self.user()[0]}", self._patch_body(operations)

    def _member(self, operation: dict[str, Any]) -> Request:
        group = self.manifest["big_group_id"]
        return "PATCH", f"{SCIM_PREFIX}/Groups/{group}", self._patch_body([operation])

    def _group_add_member(self) -> Request:
        self.member += 1
        value = self.pool[self.member % len(self.pool)]
        self.added.append(value)
        return self._member({"op": "Add", "path": "members", "value": [{"value": value}]})

    def _group_remove_member(self) -> Request:
        # Takes out, oldest first, the members the add scenario put in (else a pool user).
        self.member += 1
        value = self.added.pop(0) if self.added else self.pool[self.member % len(self.pool)]
        return self._member({"op": "Remove", "path": f'members[value eq "{value}"]'})


class Driver:
    """Calls the ASGI application with one prepared request at a time."""

    def __init__(self, app: Any, api_key: str) -> None:
        self.app = app
        self.headers = [
            (b"host", b"127.0.0.1:8000"),
            (b"authorization", f"Bearer {api_key}".encode()),
            (b"accept", b"application/scim+json"),
        ]

    async def call(self, request: Request) -> int:
        method, target, body = request
        path, _, query = target.partition("?")
        headers = list(self.headers)
        if body:
            headers.append((b"content-type", b"application/scim+json"))
            headers.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        status, _ = await call_asgi(self.app, scope, body)
        return status


async def _lifespan(app: Any) -> tuple[asyncio.Queue[dict[str, Any]], asyncio.Task[Any]]:
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise SystemExit(f"application start-up failed: {started}")
    return inbox, task


async def run(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir)
    requests = Requests(workdir, args.seed)
    manifest = requests.manifest
    if not str(manifest["database_url"]).startswith("sqlite"):
        raise SystemExit("bench/inprocess.py drives a SQLite workdir (PostgreSQL waits on I/O)")
    settings = Settings(database_url=manifest["database_url"], rate_limit="none")
    database = Database(settings.database_url)
    app = create_app(settings, database)
    tune_garbage_collector()
    inbox, lifespan = await _lifespan(app)
    driver = Driver(app, manifest["api_key"])
    try:
        for round_number in range(1, args.rounds + 1):
            for scenario in args.scenarios:
                prepared = [requests.build(scenario) for _ in range(args.requests)]
                checkpointer = database.checkpointer
                rounds, cpu = _checkpoint_totals(checkpointer)
                figures = await _measure(driver, scenario, prepared, round_number, args.concurrency)
                if checkpointer is not None:  # the background checkpoints during the requests
                    after_rounds, after_cpu = _checkpoint_totals(checkpointer)
                    figures["checkpoint_rounds"] = after_rounds - rounds
                    figures["checkpoint_cpu_ms"] = round((after_cpu - cpu) * 1e3, 1)
                print(json.dumps(figures))
                sys.stdout.flush()
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await lifespan


def _checkpoint_totals(checkpointer: Any) -> tuple[int, float]:
    if checkpointer is None:
        return 0, 0.0
    # getattr: bench/instructions.py drives older builds too, from before the thread kept it.
    return int(checkpointer.checkpoints), float(getattr(checkpointer, "cpu_seconds", 0.0))


async def _measure(
    driver: Driver,
    scenario: str,
    prepared: list[Request],
    round_number: int,
    concurrency: int,
) -> dict[str, Any]:
    for request in prepared[: max(1, len(prepared) // 20)]:
        if request[0] == "GET":  # warm the caches a little; writes are not repeated
            await driver.call(request)
    timings: list[float] = []
    finished: list[float] = []
    statuses: Counter[int] = Counter()
    clock = time.perf_counter
    _instrument(True)
    cpu_began = time.thread_time()
    began = clock()
    queue = iter(prepared)

    async def client() -> None:  # a closed loop, as one of wrk's connections
        for request in queue:
            start = clock()
            statuses[await driver.call(request)] += 1
            end = clock()
            timings.append(end - start)
            finished.append(end)
            # Over a network the client's next request arrives after at least one more turn
            # of the server's loop; without this it would come in the same turn.
            await asyncio.sleep(0)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = clock() - began
    cpu = time.thread_time() - cpu_began
    _instrument(False)
    timings.sort()
    # In a closed loop of ``concurrency`` clients served one at a time and in order, a request
    # waits for the ones ahead of it: about the time between its answer and the answer
    # ``concurrency`` before it (what wrk's connections would see, without the network).
    windows = sorted(b - a for a, b in zip(finished, finished[concurrency:], strict=False))
    window = {}
    if concurrency > 1 and windows:
        window = {
            "window_p50_us": round(windows[len(windows) // 2] * 1e6, 1),
            "window_p99_us": round(
                windows[min(len(windows) - 1, int(len(windows) * 0.99))] * 1e6, 1
            ),
        }
    return {
        "scenario": scenario,
        "round": round_number,
        "requests": len(prepared),
        "concurrency": concurrency,
        "mean_us": round(statistics.fmean(timings) * 1e6, 1),
        "p50_us": round(timings[len(timings) // 2] * 1e6, 1),
        "p99_us": round(timings[min(len(timings) - 1, int(len(timings) * 0.99))] * 1e6, 1),
        "requests_per_s": round(len(prepared) / elapsed, 1),
        "cpu_us": round(cpu / len(prepared) * 1e6, 1),
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
        **window,
    }


def _instrument(on: bool) -> None:
    """Under ``valgrind --tool=callgrind --instr-atstart=no`` (``--callgrind``): count
    instructions only while the measured requests run."""
    if os.environ.get("HOSTSYNC_BENCH_CALLGRIND"):
        mode = "on" if on else "off"
        subprocess.run(
            ["callgrind_control", "--instr=" + mode, str(os.getpid())],
            check=True,
            stdout=subprocess.DEVNULL,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True, help="a directory bench/run seeded")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--requests", type=int, default=2000, help="per scenario and round")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="requests in flight at once on the one event loop (1: one after another)",
    )
    args = parser.parse_args(argv)
    args.scenarios = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    if not (Path(args.workdir) / "manifest.json").exists():
        parser.error(f"{args.workdir}/manifest.json not found: seed it with bench/run first")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
