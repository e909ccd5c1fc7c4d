"""The command line: exact output contracts and one-line errors with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hostsync.store.database import Database
from hostsync.store.tenants import authenticate


def hostsync(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hostsync", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_tenant_and_key_lifecycle(tmp_path: Path, url: str) -> None:
    """tenant create prints only the id; key create only the key; list and revoke work."""
    created = hostsync("tenant", "create", "Contoso", "--database-url", url, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    tenant_id = created.stdout.strip()
    assert len(tenant_id) == 32 and "\n" not in tenant_id
    key = hostsync(
        "--database-url", url, "key", "create", tenant_id, "--label", "Entra", cwd=tmp_path
    )
    assert key.returncode == 0, key.stderr
    secret = key.stdout.strip()
    assert secret.startswith("hsk_")
    database = Database(url)
    with database.connect(write=False) as connection:
        credential = authenticate(connection, secret)
    assert credential is not None and credential.tenant_id == tenant_id
    listed = hostsync("key", "list", tenant_id, "--database-url", url, cwd=tmp_path)
    assert listed.returncode == 0
    assert "Entra" in listed.stdout
    assert secret not in listed.stdout
    key_id = listed.stdout.splitlines()[1].split("\t")[0]
    revoked = hostsync("key", "revoke", tenant_id, key_id, "--database-url", url, cwd=tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    with database.connect(write=False) as connection:
        assert authenticate(connection, secret) is None
    database.dispose()


def test_database_url_from_environment(tmp_path: Path) -> None:
    """HOSTSYNC_DATABASE_URL is used when --database-url is not given."""
    import os

    env = dict(os.environ, HOSTSYNC_DATABASE_URL=f"sqlite:///{tmp_path / 'env.db'}")
    created = hostsync("tenant", "create", "Env", cwd=tmp_path, env=env)
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "env.db").exists()
    assert not (tmp_path / "hostsync.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["key", "create", "no-such-tenant"], "no tenant has the id"),
        (["key", "revoke", "no-such-tenant", "k"], "no tenant has the id"),
        (["tenant", "create", "  "], "non-empty name"),
        (["--database-url", "mysql://x/y", "tenant", "create", "X"], "unsupported database"),
        (
            ["--database-url", "postgresql://nobody@127.0.0.1:1/none", "tenant", "create", "X"],
            "cannot",
        ),
        (["serve", "--port", "99999"], "99999"),
        (["no-such-command"], "No such command"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    tmp_path: Path, url: str, args: list[str], message: str
) -> None:
    """Every error is a single stderr line and exit code 2, never a traceback."""
    if "--database-url" not in args:
        args = [*args, "--database-url", url] if args[0] in ("key", "tenant") else args
    result = hostsync(*args, cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_default_database_is_sqlite_file_in_cwd(tmp_path: Path) -> None:
    """With no URL anywhere, the database is ./hostsync.db."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "HOSTSYNC_DATABASE_URL"}
    result = hostsync("migrate", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hostsync.db").exists()


def test_demo_prints_url_and_a_working_key_then_serves(tmp_path: Path) -> None:
    """`hostsync demo` prints the Tenant URL and a key that the server it starts accepts."""
    import os
    import socket
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "HOSTSYNC_DATABASE_URL"}
    process = subprocess.Popen(
        [sys.executable, "-m", "hostsync", "demo", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        url = next(line.split()[-1] for line in lines if line.startswith("Tenant URL"))
        key = next(line.split()[-1] for line in lines if line.startswith("Secret Token"))
        assert url == f"http://127.0.0.1:{port}/v1/usersync/SCIM"
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(
                    f"{url}/Users?filter=userName%20eq%20%22probe%22",
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=2,
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "demo server did not start"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.json()["totalResults"] == 0
    finally:
        process.terminate()
        process.wait(timeout=15)
        if process.stdout is not None:
            process.stdout.close()
    assert (tmp_path / "hostsync.db").exists()


def test_migrate_tells_an_upgrade_on_stderr_and_keeps_stdout_to_its_answer(
    tmp_path: Path, url: str
) -> None:
    """An existing database's upgrade is announced on stderr, one line per step; a new one's
    schema is created silently."""
    from alembic import command

    from hostsync.store.migrate import alembic_config

    fresh = hostsync("migrate", "--database-url", url, cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr
    assert (fresh.stdout, fresh.stderr) == ("schema is up to date\n", "")
    old_url = f"sqlite:///{tmp_path / 'old.db'}"
    database = Database(old_url)
    config = alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0400")
    database.dispose()
    upgraded = hostsync("migrate", "--database-url", old_url, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout == "schema is up to date\n"
    lines = upgraded.stderr.splitlines()
    assert lines[0].startswith("hostsync: upgrading the database schema from 0400 to ")
    assert lines[1].startswith("hostsync:   0500 done in ")
