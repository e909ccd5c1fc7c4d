"""`hostsync demo`: a key kept across restarts, a port checked first, a console you can reach,
a kiosk link that pairs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from hostsync.store.admins import verify_password
from hostsync.store.database import Database
from hostsync.store.frontdesk.sites import authenticate_kiosk, list_kiosks, list_sites
from hostsync.store.tenants import authenticate, find_tenant_by_name
from tests.cli.test_commands import hostsync

RUNNING = "running — Ctrl+C to stop"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "HOSTSYNC_DATABASE_URL"}


def start(cwd: Path, *args: str) -> dict[str, str]:
    """Run `hostsync demo` until it says it is running, stop it; its lines by their label."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hostsync", "demo", "--port", str(_free_port()), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
    )
    lines: dict[str, str] = {}
    watchdog = threading.Timer(60, process.terminate)  # a start that never says so fails
    watchdog.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            label, _, value = line.partition(":")
            lines.setdefault(label.strip(), value.strip())
            if line.strip() == RUNNING:
                lines[RUNNING] = ""
                break
    finally:
        watchdog.cancel()
        process.terminate()
        _, errors = process.communicate(timeout=15)
    assert RUNNING in lines, errors
    return lines


def _key(lines: dict[str, str]) -> str:
    return lines["Secret Token (API key)"].split()[-1]


def _authenticates(database_url: str, key: str) -> bool:
    database = Database(database_url)
    try:
        with database.connect(write=False) as connection:
            return authenticate(connection, key) is not None
    finally:
        database.dispose()


def test_demo_keeps_its_key_across_restarts_and_new_key_replaces_it(tmp_path: Path) -> None:
    """A second start leaves the first key valid and names it by its prefix (the key itself is
    stored nowhere, not even beside the database); `--new-key` prints another and revokes the
    first."""
    url = f"sqlite:///{tmp_path / 'hostsync.db'}"
    first = _key(start(tmp_path))
    assert first.startswith("hsk_")
    again = start(tmp_path)["Secret Token (API key)"]
    assert first[:12] in again and first not in again and "--new-key" in again
    assert _authenticates(url, first)
    for path in tmp_path.iterdir():
        if path.is_file():
            assert first.encode() not in path.read_bytes(), path
    replaced = _key(start(tmp_path, "--new-key"))
    assert replaced != first and replaced.startswith("hsk_")
    assert _authenticates(url, replaced)
    assert not _authenticates(url, first)


def test_a_busy_port_is_reported_in_one_line_before_the_database_is_touched(
    tmp_path: Path,
) -> None:
    """A taken port: one line on stderr naming it with a --port hint, exit code 2, and no
    database created (so no key is revoked or made)."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        answer = hostsync("demo", "--port", str(port), cwd=tmp_path, env=_environment())
    assert answer.returncode == 2
    assert answer.stdout == ""
    assert answer.stderr.count("\n") == 1
    assert f"port {port} is in use; try --port " in answer.stderr
    assert not (tmp_path / "hostsync.db").exists()


def test_a_busy_port_leaves_the_existing_demo_key_valid(tmp_path: Path) -> None:
    """A failed restart on a taken port does not revoke the key an earlier start printed."""
    url = f"sqlite:///{tmp_path / 'hostsync.db'}"
    first = _key(start(tmp_path))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        answer = hostsync("demo", "--port", str(port), cwd=tmp_path, env=_environment())
    assert answer.returncode == 2
    assert _authenticates(url, first)


def test_demo_prints_the_console_an_administrator_and_how_to_stop(tmp_path: Path) -> None:
    """The first start prints the console URL, the demo administrator and a password that signs
    in; later starts print the command that sets a new password instead of a password."""
    url = f"sqlite:///{tmp_path / 'hostsync.db'}"
    first = start(tmp_path)
    base = first["Tenant URL"].removesuffix("/v1/usersync/SCIM")
    assert first["Console"] == f"{base}/"
    email = first["Sign in as"]
    password = first["Password"].split()[0]
    database = Database(url)
    try:
        with database.connect(write=True) as connection:
            assert verify_password(connection, email, password) is not None
    finally:
        database.dispose()
    again = start(tmp_path)
    assert "Password" not in again
    assert again["Sign in as"].startswith(email)
    assert f"hostsync admin reset-password 'Demo Company' {email}" in again["Sign in as"]


def test_demo_help_documents_new_key(tmp_path: Path) -> None:
    """`hostsync demo --help` lists --new-key."""
    answer = hostsync("demo", "--help", cwd=tmp_path)
    assert answer.returncode == 0
    assert "--new-key" in answer.stdout


def _kiosk_secret(lines: dict[str, str]) -> str:
    return lines["Kiosk"].rsplit("/kiosk/", 1)[1]


def test_demo_prints_a_kiosk_link_of_its_head_office_and_a_new_one_each_start(
    tmp_path: Path,
) -> None:
    """The kiosk link is a full URL beside the console's; it pairs a kiosk of the demo tenant's
    "Head office" site. A restart keeps the site (no second one) and prints a new link, and
    the previous link stops working (its secret cannot be shown again)."""
    url = f"sqlite:///{tmp_path / 'hostsync.db'}"
    first = start(tmp_path)
    base = first["Console"].rstrip("/")
    assert first["Kiosk"].startswith(f"{base}/kiosk/hsk_kiosk_")
    again = start(tmp_path)
    old, new = _kiosk_secret(first), _kiosk_secret(again)
    assert old != new
    database = Database(url)
    try:
        with database.connect(write=False) as connection:
            credential = authenticate_kiosk(connection, new)
            assert credential is not None
            assert authenticate_kiosk(connection, old) is None
            tenant = find_tenant_by_name(connection, "Demo Company")
            assert tenant is not None and credential.tenant_id == tenant.id
            sites = list_sites(connection, tenant.id)
            assert [s.name for s in sites] == ["Head office"]
            assert credential.site_id == sites[0].id
            live = [k for k in list_kiosks(connection, tenant.id) if k.revoked_at is None]
            assert [k.id for k in live] == [credential.kiosk_id]
    finally:
        database.dispose()
    for path in tmp_path.iterdir():
        if path.is_file():
            assert new.encode() not in path.read_bytes(), path
