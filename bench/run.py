"""Benchmark hostsync: seed a tenant, serve it on one core, drive it with wrk from the other.

    bench/run                                  # 100,000 users, 10 s per scenario
    bench/run --users 10000 --duration 5       # a quick run
    bench/run --users 1000000 --scenarios lookup,create,patch
    bench/run --database-url postgresql://postgres@127.0.0.1/bench --workers 2 --server-cpus 0,1

Prints one JSON line per scenario on stdout (and appends them to ``--out``): requests/s,
p50/p90/p99 ms, errors. The server runs under ``taskset -c <server-cpus>``, wrk under
``taskset -c <load-cpus>`` with one thread and 16 connections. Two stack figures come last
(``stack-bare``: a bare ASGI app on uvicorn; ``stack-starlette``: a Starlette route that
checks a header and answers orjson), driven by the same Lua script: they show what the
generator and the stack can do on this machine, the ceiling hostsync's ``floor`` is judged
against.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LUA = BENCH / "scim.lua"
SCIM_BASE = "/v1/usersync/SCIM"

READ_SCENARIOS = [
    "floor",
    "lookup",
    "lookup-externalid",
    "get-user",
    "get-group",
    "page",
    "page-first",
    "page-last",
]
WRITE_SCENARIOS = [
    "create",
    "patch",
    "disable",
    "group-add-member",
    "group-remove-member",
    "group-churn-big",
    "group-churn-small",
]
SCENARIOS = READ_SCENARIOS + WRITE_SCENARIOS
# Scenarios that walk the pool of new members: each run starts where the previous one stopped.
POOL_WALKERS = ("group-add-member", "group-remove-member")


class BenchError(RuntimeError):
    """A benchmark step failed; the message says what to do."""


# -- wrk ----------------------------------------------------------------------------------
def ensure_wrk(install: bool = True) -> str:
    """Return wrk's path, installing the Debian package when possible."""
    found = shutil.which("wrk")
    if found:
        return found
    if install and shutil.which("apt-get") and os.geteuid() == 0:
        print("bench: wrk is missing; installing it with apt-get", file=sys.stderr)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        quiet = {"stdout": subprocess.DEVNULL, "env": env}
        if subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], **quiet).returncode:
            subprocess.run(["apt-get", "update", "-q"], **quiet)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], **quiet)
        found = shutil.which("wrk")
        if found:
            return found
    raise BenchError(
        "wrk is not installed: install it (Debian/Ubuntu: sudo apt-get install -y wrk; "
        "macOS: brew install wrk) and run again"
    )


def pinned(cpus: str | None, command: Sequence[str]) -> list[str]:
    """``command`` under ``taskset -c cpus`` (unchanged when no pinning is asked or possible)."""
    if not cpus or shutil.which("taskset") is None:
        return list(command)
    return ["taskset", "-c", cpus, *command]


def wrk_command(
    wrk: str,
    url: str,
    scenario: str,
    data_dir: Path,
    *,
    duration: float,
    connections: int,
    threads: int,
    tag: str,
    offset: int,
    base: str,
    load_cpus: str | None,
) -> list[str]:
    """The wrk command line of one scenario run."""
    return pinned(
        load_cpus,
        [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "30s",
            "-s",
            str(LUA),
            url,
            "--",
            scenario,
            str(data_dir),
            tag,
            str(offset),
            base,
        ],
    )


_BENCH_LINE = re.compile(r"^BENCH (\{.*\})\s*$", re.MULTILINE)


def parse_wrk_output(output: str) -> dict[str, Any]:
    """The figures the Lua ``done()`` printed, as a dict."""
    match = _BENCH_LINE.search(output)
    if match is None:
        raise BenchError(f"wrk printed no BENCH line:\n{output}")
    figures: dict[str, Any] = json.loads(match.group(1))
    return figures


def run_wrk(command: Sequence[str]) -> dict[str, Any]:
    """Run wrk and return its figures."""
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise BenchError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    return parse_wrk_output(completed.stdout)


# -- data for the Lua script ----------------------------------------------------------------
def lua_string(value: str) -> str:
    """A Lua string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def write_lua_manifest(data_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest.lua`` (what scim.lua reads) from the seeder's manifest."""
    fields = {
        key: value
        for key, value in manifest.items()
        if key in ("api_key", "big_group_id", "small_group_id")
    }
    body = ", ".join(f"{key} = {lua_string(str(value))}" for key, value in fields.items())
    path = data_dir / "manifest.lua"
    path.write_text(f"return {{ {body} }}\n")
    return path


# -- servers --------------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """A server process we started (its own process group, so its workers stop with it)."""

    name: str
    command: list[str]
    url: str
    ready_path: str
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    cwd: Path | None = None

    def start(self, timeout: float = 60.0) -> None:
        """Start the process and wait until ``ready_path`` answers."""
        log = self.log.open("wb") if self.log else None
        try:  # the child writes to its own copy of the file
            self.process = subprocess.Popen(
                self.command,
                env={**os.environ, **self.env},
                stdout=subprocess.DEVNULL if log is None else log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.cwd,
            )
        finally:
            if log is not None:
                log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                detail = self.log.read_text()[-2000:] if self.log else ""
                raise BenchError(f"{self.name} exited with {self.process.returncode}\n{detail}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=1):  # noqa: S310
                    return
            except urllib.error.HTTPError:
                return  # it answered (401 without a key): it is up
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise BenchError(f"{self.name} did not answer {self.ready_path} within {timeout} s")

    def rss_mb(self) -> dict[str, float]:
        """Resident memory of the server and its children, in MB.

        ``rss_mb`` in all, and of it ``rss_anon_mb`` (the processes' own memory) and
        ``rss_file_mb`` (mapped files: the SQLite database read through its memory map, which
        is the kernel's page cache).
        """
        fields = {"VmRSS:": "rss_mb", "RssAnon:": "rss_anon_mb", "RssFile:": "rss_file_mb"}
        totals = dict.fromkeys(fields.values(), 0)
        if self.process is None:
            return dict.fromkeys(totals, 0.0)
        for pid in [self.process.pid, *_children(self.process.pid)]:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    name = fields.get(line.split(maxsplit=1)[0]) if line else None
                    if name is not None:
                        totals[name] += int(line.split()[1])
        return {name: round(kb / 1024, 1) for name, kb in totals.items()}

    def stop(self) -> None:
        """Stop the process group we started."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    @contextlib.contextmanager
    def running(self) -> Iterator[Server]:
        """Start on entry, stop on exit."""
        self.start()
        try:
            yield self
        finally:
            self.stop()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            found += [int(child), *_children(int(child))]
    return found


def hostsync_server(
    database_url: str, port: int, workers: int, cpus: str | None, log: Path
) -> Server:
    """hostsync serve, pinned."""
    command = [
        sys.executable,
        "-m",
        "hostsync",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--database-url",
        database_url,
    ]
    return Server(
        "hostsync",
        pinned(cpus, command),
        f"http://127.0.0.1:{port}",
        "/healthz",
        # The default per-key rate limit (hostsync.config) would cap every scenario; the
        # benchmark measures the server, so it is switched off.
        env={"PYTHONPATH": str(ROOT), "HOSTSYNC_RATE_LIMIT": "none"},
        log=log,
        # ``python -m`` puts the working directory first on sys.path, ahead of PYTHONPATH and
        # of the editable install: started from another checkout, the server would import
        # that checkout's hostsync (an A/B against a git worktree then compares one build).
        cwd=ROOT,
    )


def uvicorn_server(
    name: str,
    app: str,
    port: int,
    cpus: str | None,
    log: Path,
    env: dict[str, str] | None = None,
) -> Server:
    """An ASGI app of bench/ (``module:attribute``) under uvicorn, pinned."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--app-dir",
        str(BENCH),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return Server(
        name, pinned(cpus, command), f"http://127.0.0.1:{port}", "/", env=env or {}, log=log
    )


def stack_server(kind: str, port: int, cpus: str | None, log: Path) -> Server:
    """The bare ASGI app or the minimal Starlette app of bench/stack_app.py under uvicorn."""
    return uvicorn_server(f"stack-{kind}", f"stack_app:{kind}", port, cpus, log)


# -- scenarios ----------------------------------------------------------------------------
@dataclass
class Driver:
    """Runs scenarios against one server and prints one JSON line per scenario."""

    wrk: str
    data_dir: Path
    duration: float
    warmup: float
    connections: int
    threads: int
    load_cpus: str | None
    labels: dict[str, Any]
    out: Path | None = None
    offsets: dict[str, int] = field(default_factory=dict)

    def run(
        self, server: Server, scenario: str, base: str, name: str | None = None
    ) -> dict[str, Any]:
        """Warm up, measure, print and return one scenario's figures."""
        figures: dict[str, Any] = {}
        for seconds, measured in ((self.warmup, False), (self.duration, True)):
            if seconds <= 0:
                continue
            tag = f"{scenario}-{int(time.time() * 1000) % 10**9}"
            offset = self.offsets.get(scenario, 0)
            command = wrk_command(
                self.wrk,
                server.url,
                scenario,
                self.data_dir,
                duration=seconds,
                connections=self.connections,
                threads=self.threads,
                tag=tag,
                offset=offset,
                base=base,
                load_cpus=self.load_cpus,
            )
            figures = run_wrk(command)
            self.offsets[scenario] = offset + figures["requests"] + self.connections * 4
            if measured:
                break
        record = {
            "server": server.name,
            "scenario": name or scenario,
            **{key: figures[key] for key in ("requests_per_s", "p50_ms", "p99_ms", "errors")},
            "p90_ms": figures["p90_ms"],
            "requests": figures["requests"],
            "seconds": figures["seconds"],
            **self.labels,
        }
        self.emit(record)
        return record

    def emit(self, record: dict[str, Any]) -> None:
        """Print one JSON line (and append it to the output file)."""
        line = json.dumps(record)
        print(line, flush=True)
        if self.out is not None:
            with self.out.open("a") as out:
                out.write(line + "\n")


def warm_sqlite_file(database_url: str) -> None:
    """Read a SQLite database file once, so the run starts with it in the OS's page cache.

    The server reads most of a large directory with ``pread`` (past its memory map), which is
    a copy from the page cache when the page is there and a disk read when it is not. On this
    machine the cache does not reliably keep a file it has not read lately: a 1,000,000-user
    directory (1.2 GB) was once found a third out of the cache, and its lookups ran at
    1,650/s instead of 2,170/s. Warming it makes runs comparable. A no-op for PostgreSQL.
    """
    if database_kind(database_url) != "sqlite":
        return
    path = Path(database_url.split("///", 1)[-1])
    if not path.is_file():
        return
    with path.open("rb", buffering=0) as database:
        while database.read(4 << 20):
            pass


def database_kind(url: str) -> str:
    """sqlite or postgresql."""
    return "postgresql" if url.startswith("postgres") else "sqlite"


def seed_into(database_url: str, data_dir: Path, users: int) -> dict[str, Any]:
    """Seed (a fresh SQLite file, or a new tenant in PostgreSQL) and write manifest.lua."""
    sys.path.insert(0, str(BENCH))
    from seed import seed  # bench/ is not a package

    if database_kind(database_url) == "sqlite":
        path = Path(database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    manifest = seed(database_url, data_dir, users)
    write_lua_manifest(data_dir, manifest)
    return manifest


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark hostsync with wrk.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=10, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--database-url", default=None, help="default: SQLite in --workdir")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--load-cpus", default="1")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="reuse the seeded data in workdir")
    parser.add_argument("--no-stack", action="store_true", help="skip the stack figures")
    parser.add_argument("--out", type=Path, default=None, help="also append JSON lines here")
    args = parser.parse_args(argv)
    unknown = set(args.scenarios.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        wrk = ensure_wrk()
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    workdir: Path = args.workdir or Path(f"/tmp/hostsync-bench-{args.users}")  # noqa: S108
    workdir.mkdir(parents=True, exist_ok=True)
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    if args.reuse and (workdir / "manifest.json").exists():
        manifest = json.loads((workdir / "manifest.json").read_text())
        write_lua_manifest(workdir, manifest)
    else:
        manifest = seed_into(database_url, workdir, args.users)
    warm_sqlite_file(manifest["database_url"])
    labels = {
        "users": args.users,
        "connections": args.connections,
        "database": database_kind(database_url),
        "workers": args.workers,
        "date": time.strftime("%Y-%m-%d"),
    }
    driver = Driver(
        wrk,
        workdir,
        args.duration,
        args.warmup,
        args.connections,
        args.threads,
        args.load_cpus,
        labels,
        args.out,
    )
    server = hostsync_server(
        database_url, free_port(), args.workers, args.server_cpus, workdir / "server.log"
    )
    try:
        with server.running():
            for scenario in args.scenarios.split(","):
                driver.run(server, scenario, SCIM_BASE)
            driver.emit({"server": "hostsync", "scenario": "rss", **server.rss_mb(), **labels})
        if not args.no_stack:
            for kind in ("bare", "starlette"):
                stack = stack_server(kind, free_port(), args.server_cpus, workdir / f"{kind}.log")
                with stack.running():
                    driver.run(stack, "bare", "", name=f"stack-{kind}")
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
