"""``hostsync admin create``: password from the environment, errors as one line, exit 2."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from hostsync.cli.admin import admin
from hostsync.store.admins import verify_password
from hostsync.store.database import Database
from hostsync.store.tenants import create_tenant


def test_admin_create_reads_the_password_from_the_environment(tmp_path: Path) -> None:
    """The created administrator can sign in with the password from the environment."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    database = Database(url)
    database.migrate()
    with database.connect(write=True) as connection:
        tenant = create_tenant(connection, "Contoso")
    runner = CliRunner()
    env = {"HOSTSYNC_ADMIN_PASSWORD": "a long enough password"}
    result = runner.invoke(
        admin, ["create", tenant.id, "it@contoso.com", "--database-url", url], env=env
    )
    assert result.exit_code == 0, result.output
    with database.connect(write=True) as connection:
        assert verify_password(connection, "IT@contoso.com", "a long enough password")
        assert verify_password(connection, "it@contoso.com", "wrong") is None
    again = runner.invoke(
        admin, ["create", "Contoso", "it@contoso.com", "--database-url", url], env=env
    )
    assert again.exit_code == 2
    assert "exists" in again.output
    unknown = runner.invoke(admin, ["create", "Nobody", "x@y.z", "--database-url", url], env=env)
    assert unknown.exit_code == 2
    database.dispose()
