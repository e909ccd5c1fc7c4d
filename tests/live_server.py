"""A real ``hostsync serve`` process on loopback, for tests that need real sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from hostsync.config import SCIM_PREFIX


def free_port() -> int:
    """An unused TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(
    database_url: str,
    log: Path,
    *,
    port: int | None = None,
    workers: int = 1,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A ``hostsync serve`` process; yields (process, SCIM base URL). Stopped on exit."""
    port = port or free_port()
    command = [sys.executable, "-m", "hostsync", "serve", "--port", str(port)]
    command += ["--workers", str(workers), "--database-url", database_url]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, log)
        yield process, f"http://127.0.0.1:{port}{SCIM_PREFIX}"
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_healthy(root: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until ``root``/healthz answers 200 (or fail with the server's log)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()}")
        try:
            if httpx.get(f"{root}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server did not start: {log.read_text()}")
