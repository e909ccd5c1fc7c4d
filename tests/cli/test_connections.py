"""Connections (cli/connections.py), on uvicorn with uvloop, over real sockets.

A request that reaches an idle connection before its keep-alive runs out is answered even when
the event loop is blocked past the deadline (the server then finds the timer due and the
request waiting: it must read first, not close); an idle connection is still closed after the
keep-alive; a connection that ends with a request in flight is logged.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from hostsync.cli.connections import HttpProtocol
from hostsync.store.database import Database
from hostsync.store.tenants import create_key, create_tenant
from tests.live_server import free_port, served

KEEP_ALIVE = 0.4
REQUEST = b"GET /ping?filter=userName%20eq%20%22secret%22 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
RESPONSE_END = b"pong"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers ``pong`` at once, or after ``/slow`` waits two seconds."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        await asyncio.sleep(2)
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]}
    )
    await send({"type": "http.response.body", "body": RESPONSE_END})


@contextmanager
def serving(protocol: type[asyncio.Protocol]) -> Iterator[tuple[uvicorn.Server, int]]:
    """A uvicorn server on uvloop in a thread; yields it and its port."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http=protocol,
        timeout_keep_alive=KEEP_ALIVE,  # type: ignore[arg-type]  # uvicorn's hint says int
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield server, port
    finally:
        server.should_exit = True
        thread.join(10)


def loop_of(server: uvicorn.Server) -> asyncio.AbstractEventLoop:
    """The server's event loop (its thread's)."""
    servers = server.servers
    assert servers
    loop: asyncio.AbstractEventLoop = servers[0].get_loop()
    return loop


def exchange(sock: socket.socket) -> bytes:
    """Send one request; read until its body (b"" if the server closed or reset instead)."""
    sock.sendall(REQUEST)
    return answer(sock)


def answer(sock: socket.socket) -> bytes:
    received = b""
    try:
        while not received.endswith(RESPONSE_END):
            chunk = sock.recv(4096)
            if not chunk:
                return b""
            received += chunk
    except ConnectionResetError:
        return b""
    return received


def request_during_a_stall(protocol: type[asyncio.Protocol], *, timer: bool) -> tuple[bytes, bytes]:
    """Answer of a request sent while the loop is blocked past the keep-alive deadline, and
    what the connection reads once idle for longer than the keep-alive afterwards."""
    with serving(protocol) as (server, port), socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(5)
        assert exchange(sock).startswith(b"HTTP/1.1 200")  # the connection is kept alive
        # Block the loop from now until past the deadline (KEEP_ALIVE after that answer) ...
        loop, block = loop_of(server), functools.partial(time.sleep, KEEP_ALIVE * 2.5)
        if timer:
            loop.call_soon_threadsafe(loop.call_later, 0, block)
        else:
            loop.call_soon_threadsafe(block)
        time.sleep(KEEP_ALIVE / 4)
        # ... and send the next request within the deadline, while it is blocked.
        during = exchange(sock)
        if not during:
            return during, b""
        time.sleep(KEEP_ALIVE * 2)  # idle past the keep-alive: the server closes it
        try:
            afterwards = sock.recv(4096)
        except ConnectionResetError:
            afterwards = b"reset"
        return during, afterwards


@pytest.mark.parametrize("stall", ["in a task", "in a timer"])
def test_a_request_that_waits_when_the_keep_alive_ends_is_answered(stall: str) -> None:
    """Answered, the loop blocked from a task or a timer callback (libuv runs those in
    different phases); an idle connection is still closed after the keep-alive."""
    during, afterwards = request_during_a_stall(HttpProtocol, timer=stall == "in a timer")
    assert during.startswith(b"HTTP/1.1 200")
    assert afterwards == b""  # the server's FIN: closed once idle, as before


def test_a_connection_closed_with_a_request_in_flight_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The client goes away while its request runs: one warning with method and path, no query."""
    caplog.set_level(logging.WARNING, logger="hostsync.cli.connections")
    with serving(HttpProtocol) as (_, port):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(REQUEST.replace(b"/ping", b"/slow"))
            time.sleep(0.2)  # the request is read and runs
        deadline = time.monotonic() + 5
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.02)
        with socket.create_connection(("127.0.0.1", port)) as sock:  # answered: no warning
            sock.settimeout(5)
            assert exchange(sock).startswith(b"HTTP/1.1 200")
        time.sleep(0.1)
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 1, lines
    assert "closed with 1 request(s) in flight, first GET /slow" in lines[0]
    assert "secret" not in lines[0] and "filter" not in lines[0]


def test_hostsync_serve_logs_a_client_gone_mid_body_once(tmp_path: Path) -> None:
    """``hostsync serve``: a POST whose client closes before the body ends is one warning in
    the log, with no traceback and no "unhandled error" (it is not the server's failure)."""
    url = f"sqlite:///{tmp_path / 'gone.db'}"
    database = Database(url)
    database.migrate()
    with database.connect(write=True) as connection:
        tenant = create_tenant(connection, "Gone")
        key = create_key(connection, tenant.id, "test")[1]
    database.dispose()
    log = tmp_path / "server.log"
    with served(url, log) as (_, base):
        address = httpx.URL(base)
        with socket.create_connection((address.host, address.port)) as sock:
            sock.sendall(
                f"POST {address.path}/Users HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {key}\r\nContent-Type: application/scim+json\r\n"
                "Content-Length: 400\r\n\r\n".encode()
                + b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userN'
            )
            time.sleep(0.5)  # the request is read; its body is awaited
        deadline = time.monotonic() + 10
        while "in flight" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
    text = log.read_text()
    assert text.count("in flight") == 1, text
    assert "closed with 1 request(s) in flight, first POST /v1/usersync/SCIM/Users" in text
    assert "Traceback" not in text and "unhandled error" not in text
    assert key not in text
