"""Item 7: the database goes away → 503 + Retry-After (SCIM error) within 5 s, /healthz
unhealthy; when it comes back the server recovers by itself.

The outage is made with a TCP proxy this test starts and stops in front of the test
PostgreSQL server (the machine's PostgreSQL itself is never touched), or with a port nothing
listens on.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from contextlib import suppress

import httpx
import pytest
from sqlalchemy.engine import make_url

from hostsync.config import Settings
from hostsync.store.database import Database
from hostsync.web.app import create_app

from ..conftest import POSTGRES_URL
from ..live_server import free_port
from .conftest import assert_scim_error, client_for, new_tenant


class TcpProxy:
    """A loopback TCP proxy that can be stopped (refusing and cutting connections) and restarted."""

    def __init__(self, target: tuple[str, int], port: int) -> None:
        self.target = target
        self.port = port
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            with suppress(OSError):  # wakes the thread blocked in accept() (Linux)
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._open:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with suppress(OSError):
                sink.shutdown(socket.SHUT_RDWR)


async def _timed(http: httpx.AsyncClient, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await http.get(path)
    return response, time.monotonic() - started


async def test_unreachable_postgres_is_503_within_5_seconds() -> None:
    """Nothing listens at the database's address: 503 + Retry-After, fast; /healthz is 503."""
    database = Database(f"postgresql://hostsync@127.0.0.1:{free_port()}/hostsync")
    app = create_app(Settings(key_cache_seconds=0), database)
    async with client_for(app, "hsk_" + "x" * 43) as http:
        for path in ("/Users", "/Groups?filter=displayName%20eq%20%22x%22"):
            response, elapsed = await _timed(http, path)
            assert_scim_error(response, 503)
            assert response.headers["retry-after"].isdigit()
            assert elapsed < 5
        created = await http.post("/Users", json={"userName": "x"})
        assert_scim_error(created, 503)
        health, elapsed = await _timed(http, "http://testserver/healthz")
        assert health.status_code == 503 and health.json()["status"] == "unhealthy"
        assert elapsed < 5
    database.dispose()


@pytest.mark.parametrize("backend", ["postgres"] if POSTGRES_URL else [])
async def test_outage_and_recovery_through_a_proxy(backend: str) -> None:
    """Up → down (503 within 5 s, /healthz 503) → up again, with no restart of the app."""
    assert POSTGRES_URL is not None
    direct = Database(POSTGRES_URL)
    direct.migrate()
    _, key = new_tenant(direct, "Outage")
    direct.dispose()
    url = make_url(Database(POSTGRES_URL).url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432), free_port())
    proxy.start()
    database = Database(url.set(port=proxy.port).render_as_string(hide_password=False))
    app = create_app(Settings(key_cache_seconds=0, rate_limit="none"), database)
    try:
        async with client_for(app, key) as http:
            assert (await http.get("/Users")).status_code == 200
            assert (await http.get("http://testserver/healthz")).status_code == 200

            proxy.stop()
            for path in ("/Users", "/Users?filter=userName%20eq%20%22a%22"):
                response, elapsed = await _timed(http, path)
                assert_scim_error(response, 503)
                assert response.headers["retry-after"].isdigit()
                assert elapsed < 5, elapsed
            written = await http.post("/Users", json={"userName": "during-outage"})
            assert_scim_error(written, 503)
            health, elapsed = await _timed(http, "http://testserver/healthz")
            assert health.status_code == 503 and elapsed < 5

            proxy.start()
            deadline = time.monotonic() + 10
            statuses = []
            while time.monotonic() < deadline:
                statuses.append((await http.get("/Users")).status_code)
                if statuses[-1] == 200:
                    break
                await asyncio.sleep(0.2)
            assert statuses[-1] == 200, statuses
            assert (await http.get("http://testserver/healthz")).status_code == 200
            created = await http.post("/Users", json={"userName": "after-outage"})
            assert created.status_code == 201, created.text
            missing = await http.get("/Users", params={"filter": 'userName eq "during-outage"'})
            assert missing.json()["totalResults"] == 0
    finally:
        proxy.stop()
        database.dispose()
