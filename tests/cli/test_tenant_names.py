"""Every command that takes a tenant takes its id or its unique name; names are never guessed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hostsync.store.database import Database
from hostsync.store.tenants import authenticate, create_tenant
from tests.cli.test_commands import hostsync


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'names.db'}"


def test_tenant_create_refuses_a_name_in_use(tmp_path: Path, url: str) -> None:
    """A second `tenant create` with a taken name fails in one line (exit 2) naming the
    existing tenant's id, and creates nothing."""
    first = hostsync("tenant", "create", "Contoso", "--database-url", url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = hostsync("tenant", "create", " Contoso ", "--database-url", url, cwd=tmp_path)
    assert again.returncode == 2
    assert again.stdout == ""
    assert again.stderr.count("\n") == 1
    assert "a tenant named 'Contoso' exists" in again.stderr
    assert first.stdout.strip() in again.stderr
    listed = hostsync("tenant", "list", "--database-url", url, cwd=tmp_path)
    assert listed.stdout.count("\tContoso\t") == 1


def test_key_commands_take_the_tenant_name(tmp_path: Path, url: str) -> None:
    """`key create`, `key list` and `key revoke` accept the tenant's name as well as its id."""
    created = hostsync("tenant", "create", "Fabrikam", "--database-url", url, cwd=tmp_path)
    tenant_id = created.stdout.strip()
    made = hostsync("key", "create", "Fabrikam", "--database-url", url, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    database = Database(url)
    try:
        with database.connect(write=False) as connection:
            credential = authenticate(connection, secret)
        assert credential is not None and credential.tenant_id == tenant_id
        listed = hostsync("key", "list", "Fabrikam", "--database-url", url, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        key_id = listed.stdout.splitlines()[1].split("\t")[0]
        revoked = hostsync("key", "revoke", "Fabrikam", key_id, "--database-url", url, cwd=tmp_path)
        assert revoked.returncode == 0, revoked.stderr
        with database.connect(write=False) as connection:
            assert authenticate(connection, secret) is None
    finally:
        database.dispose()


@pytest.mark.parametrize(
    "command",
    [
        ["key", "create", "Shared"],
        ["key", "list", "Shared"],
        ["key", "revoke", "Shared", "some-key"],
        ["admin", "list", "Shared"],
        ["admin", "remove", "Shared", "someone@example.com"],
    ],
)
def test_a_name_shared_by_several_tenants_is_refused_with_their_ids(
    tmp_path: Path, url: str, command: list[str]
) -> None:
    """Two tenants named alike (made before names were unique): a command given that name
    fails in one line listing both ids, and acts on neither."""
    migrated = hostsync("migrate", "--database-url", url, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    database = Database(url)
    try:
        with database.connect(write=True) as connection:
            first = create_tenant(connection, "Shared").id
            second = create_tenant(connection, "Shared").id
    finally:
        database.dispose()
    answer = hostsync(*command, "--database-url", url, cwd=tmp_path)
    assert answer.returncode == 2
    assert answer.stdout == ""
    assert answer.stderr.count("\n") == 1
    assert "several tenants are named 'Shared'" in answer.stderr
    assert first in answer.stderr and second in answer.stderr


def test_admin_create_takes_the_tenant_name(tmp_path: Path, url: str) -> None:
    """`admin create` with the tenant's unique name creates the administrator there."""
    created = hostsync("tenant", "create", "Northwind", "--database-url", url, cwd=tmp_path)
    tenant_id = created.stdout.strip()
    env = dict(os.environ, HOSTSYNC_ADMIN_PASSWORD="a long enough password")
    made = hostsync(
        "admin", "create", "Northwind", "it@example.com", "--database-url", url,
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert tenant_id in made.stdout
