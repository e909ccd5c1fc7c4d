"""Item 8 (secrets): no log line and no table holds an API key or a password in clear; the
access log, which would carry request lines, is off (uvicorn's access log is disabled by
``hostsync serve``), so neither bearer tokens nor filter values reach the logs.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from hostsync.config import Settings
from hostsync.store.database import Database
from hostsync.store.tables import metadata
from hostsync.web.app import create_app

from ..live_server import served
from .conftest import PATCH_OP, USER_SCHEMA, client_for, new_tenant


def _secret_traffic(key: str, password: str) -> list[tuple[str, str, dict[str, object]]]:
    near_miss = key[:-1] + ("A" if key[-1] != "A" else "B")
    return [
        (
            "POST",
            "/Users",
            {
                "json": {
                    "schemas": [USER_SCHEMA],
                    "userName": "pw@example.com",
                    "password": password,
                }
            },
        ),
        ("GET", "/Users", {"params": {"filter": 'userName eq "pw@example.com"'}}),
        ("GET", "/Users", {"headers": {"Authorization": f"Bearer {near_miss}"}}),
        ("GET", "/Users", {"headers": {"Authorization": f"Basic {key}"}}),
        ("GET", "/Users", {"params": {"filter": f'userName eq "{key}"'}}),
        ("POST", "/Users", {"json": {"userName": "other@example.com", "password": password}}),
        (
            "POST",
            "/Users",
            {
                "content": f'{{"userName": "{password}"',
                "headers": {"Content-Type": "application/json"},
            },
        ),
    ]


async def test_no_key_or_password_in_logs_or_tables(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Every log record of a session of requests, and every row of every table, is scanned."""
    caplog.set_level(logging.DEBUG)
    app = create_app(Settings(key_cache_seconds=0), database)
    _, key = new_tenant(database, "Secrets")
    password = "P@ss-" + secrets.token_urlsafe(16)
    async with client_for(app, key) as http:
        created = None
        for method, path, kwargs in _secret_traffic(key, password):
            response = await http.request(method, path, **kwargs)  # type: ignore[arg-type]
            assert response.status_code < 500, response.text
            assert password not in response.text
            if response.status_code == 201 and created is None:
                created = response.json()["id"]
        assert created is not None
        patched = await http.patch(
            f"/Users/{created}",
            json={
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "password", "value": password}],
            },
        )
        assert patched.status_code < 500 and password not in patched.text
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in server_side)
    assert key not in logged
    assert password not in logged
    with database.connect(write=False) as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                text = repr(tuple(row))
                assert key not in text, table.name
                assert password not in text, table.name


def test_served_process_logs_no_access_lines_keys_or_filters(tmp_path: Path) -> None:
    """`hostsync serve`: its whole output after traffic holds no key, no filter value and no
    access-log request line."""
    url = f"sqlite:///{tmp_path / 'secrets.db'}"
    database = Database(url)
    database.migrate()
    _, key = new_tenant(database)
    database.dispose()
    log = tmp_path / "server.log"
    password = "P@ss-" + secrets.token_urlsafe(16)
    marker = "pii-" + secrets.token_hex(6)
    with (
        served(url, log) as (_, base),
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as http,
    ):
        for method, path, kwargs in _secret_traffic(key, password):
            http.request(method, path, **kwargs)  # type: ignore[arg-type]
        http.get("/Users", params={"filter": f'userName eq "{marker}"'})
        http.get("/nowhere")
    output = log.read_text()
    assert key not in output
    assert password not in output
    assert marker not in output
    assert "GET /v1/usersync" not in output and "HTTP/1.1" not in output


async def test_admin_password_and_session_never_stored_in_clear(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """The console's password and session token appear in no log line and no table row."""
    import re

    from hostsync.store.admins import create_admin

    caplog.set_level(logging.DEBUG)
    tenant_id, _ = new_tenant(database, "Console secrets")
    password = "Adm-" + secrets.token_urlsafe(16)
    email = f"admin-{tenant_id}@example.com"
    with database.connect(write=True) as connection:
        create_admin(connection, tenant_id, email, password)
    app = create_app(Settings(key_cache_seconds=0), database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        page = await http.get("/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        signed = await http.post(
            "/signin",
            data={"csrf": csrf.group(1), "email": email, "password": password, "next": "/"},
        )
        assert signed.status_code == 303
        session_token = next(iter(http.cookies.values()))
        wrong = await http.post(
            "/signin",
            data={"csrf": csrf.group(1), "email": email, "password": password + "x", "next": "/"},
        )
        assert wrong.status_code in (401, 403)
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
    assert password not in logged and session_token not in logged
    with database.connect(write=False) as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                text = repr(tuple(row))
                assert password not in text, table.name
                assert session_token not in text, table.name
