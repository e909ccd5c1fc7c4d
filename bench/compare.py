"""Side by side: hostsync and python-scim's scim2-server, same scenarios, same cores, one run.

    bench/compare                      # 10,000 users, 5 s per scenario
    bench/compare --users 100000 --duration 10

Installs ``scim2-server`` (and uvicorn) from PyPI into its own virtual environment
(``~/.cache/hostsync-bench/venv-scim2``, made once), seeds each server with the same users
and groups (hostsync through its store, scim2-server through its own application
in-process), serves each under
uvicorn pinned to the server core, drives both with the same wrk Lua script from the load
core, and prints one JSON line per scenario and server, then one ratio line per scenario
(``ratio`` = hostsync requests/s ÷ scim2-server requests/s). scim2-server keeps everything in
memory; hostsync commits every write to SQLite before answering.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from run import (
    BENCH,
    SCENARIOS,
    SCIM_BASE,
    BenchError,
    Driver,
    Server,
    ensure_wrk,
    free_port,
    hostsync_server,
    pinned,
    seed_into,
    write_lua_manifest,
)

SCIM2_VENV = Path.home() / ".cache" / "hostsync-bench" / "venv-scim2"
SCIM2_PACKAGES = ["scim2-server", "uvicorn"]


def ensure_scim2_venv(venv: Path) -> Path:
    """The scim2-server virtual environment's python, created and filled on first use."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import scim2_server.applications.asgi, uvicorn"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"compare: installing {' '.join(SCIM2_PACKAGES)} into {venv}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *SCIM2_PACKAGES,
        ],
        check=True,
    )
    return python


def scim2_server(python: Path, users: int, data_dir: Path, cpus: str | None) -> Server:
    """scim2-server under uvicorn; it seeds itself before it starts listening."""
    port = free_port()
    command = [
        str(python),
        str(BENCH / "scim2_app.py"),
        "--users",
        str(users),
        "--out",
        str(data_dir),
        "--port",
        str(port),
    ]
    return Server(
        "scim2-server",
        pinned(cpus, command),
        f"http://127.0.0.1:{port}",
        "/v2/ServiceProviderConfig",
        log=data_dir / "server.log",
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--warmup", type=float, default=1)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--load-cpus", default="1")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        wrk = ensure_wrk()
        python = ensure_scim2_venv(SCIM2_VENV)
    except (BenchError, subprocess.CalledProcessError) as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 2
    workdir: Path = args.workdir or Path(f"/tmp/hostsync-compare-{args.users}")  # noqa: S108
    scenarios = args.scenarios.split(",")
    labels = {"users": args.users, "connections": args.connections, "date": time.strftime("%F")}
    rates: dict[str, dict[str, float]] = {}

    def drive(server: Server, data_dir: Path, base: str) -> None:
        driver = Driver(
            wrk,
            data_dir,
            args.duration,
            args.warmup,
            args.connections,
            1,
            args.load_cpus,
            labels,
            args.out,
        )
        for scenario in scenarios:
            record = driver.run(server, scenario, base)
            rates.setdefault(scenario, {})[server.name] = record["requests_per_s"]
            if record["errors"]:
                rates[scenario][server.name + "-errors"] = record["errors"]

    try:
        ours = workdir / "hostsync"
        ours.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{ours / 'bench.db'}"
        seed_into(database_url, ours, args.users)
        server = hostsync_server(
            database_url, free_port(), 1, args.server_cpus, ours / "server.log"
        )
        with server.running():
            drive(server, ours, SCIM_BASE)
        theirs = workdir / "scim2-server"
        theirs.mkdir(parents=True, exist_ok=True)
        peer = scim2_server(python, args.users, theirs, args.server_cpus)
        peer.start(timeout=120 + args.users / 50)
        try:
            write_lua_manifest(theirs, json.loads((theirs / "manifest.json").read_text()))
            drive(peer, theirs, "/v2")
        finally:
            peer.stop()
    except BenchError as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 1
    for scenario in scenarios:
        pair: dict[str, Any] = rates.get(scenario, {})
        ours_rate, theirs_rate = pair.get("hostsync", 0.0), pair.get("scim2-server", 0.0)
        line = {
            "scenario": scenario,
            "hostsync_rps": ours_rate,
            "scim2_server_rps": theirs_rate,
            "ratio": round(ours_rate / theirs_rate, 1) if theirs_rate else None,
            **{key: value for key, value in pair.items() if key.endswith("-errors")},
            **labels,
        }
        print(json.dumps(line), flush=True)
        if args.out is not None:
            with args.out.open("a") as out:
                out.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
