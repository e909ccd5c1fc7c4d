"""``hostsync admin list|remove|reset-password`` and ``hostsync tenant list``: per tenant,
sessions ended, audited, and one-line errors with exit code 2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hostsync.cli import cli
from hostsync.store.activity.queries import ActivityFilter, page
from hostsync.store.admins import create_admin, load_session, start_session, verify_password
from hostsync.store.database import Database
from hostsync.store.tenants import create_key, create_tenant

PASSWORD = "a long enough password"
NEW_PASSWORD = "another long password"


@pytest.fixture
def cli_db(tmp_path: Path) -> Iterator[tuple[Database, str]]:
    """A migrated SQLite file and its URL."""
    url = f"sqlite:///{tmp_path / 'admins.db'}"
    database = Database(url)
    database.migrate()
    yield database, url
    database.dispose()


def run(args: list[str], url: str, password: str | None = None) -> Result:
    """Run ``hostsync`` in-process (errors: one line, exit code 2)."""
    env = {"HOSTSYNC_ADMIN_PASSWORD": password} if password else {}
    return CliRunner().invoke(cli, [*args, "--database-url", url], env=env)


def test_admin_list_shows_only_that_tenants_admins(cli_db: tuple[Database, str]) -> None:
    """Each tenant's list names its administrators and open sessions, never another's."""
    database, url = cli_db
    with database.connect(write=True) as connection:
        a = create_tenant(connection, "Contoso").id
        b = create_tenant(connection, "Fabrikam").id
        admin = create_admin(connection, a, "it@contoso.com", PASSWORD)
        create_admin(connection, b, "it@fabrikam.com", PASSWORD)
        start_session(connection, admin)
    listed = run(["admin", "list", "Contoso"], url)
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert lines[0].startswith("EMAIL")
    assert lines[1].startswith("it@contoso.com\t") and lines[1].endswith("\t1")
    assert "fabrikam" not in listed.output
    assert "it@fabrikam.com" in run(["admin", "list", b], url).output


def test_admin_remove_ends_sessions_and_is_audited(cli_db: tuple[Database, str]) -> None:
    """Removing an administrator ends their sessions, records it, and they cannot sign in."""
    database, url = cli_db
    with database.connect(write=True) as connection:
        a = create_tenant(connection, "Contoso").id
        admin = create_admin(connection, a, "it@contoso.com", PASSWORD)
        _, token = start_session(connection, admin)
    removed = run(["admin", "remove", a, "IT@contoso.com"], url)
    assert removed.exit_code == 0, removed.output
    assert "1 session(s) ended" in removed.output
    with database.connect(write=True) as connection:
        assert load_session(connection, token) is None
        assert verify_password(connection, "it@contoso.com", PASSWORD) is None
        entries = page(connection, a, ActivityFilter(), limit=10)[1]
    assert [(e.operation, e.resource_name) for e in entries] == [("remove", "it@contoso.com")]


def test_admin_reset_password_ends_sessions(cli_db: tuple[Database, str]) -> None:
    """A reset takes the new password from the environment, ends sessions and is audited."""
    database, url = cli_db
    with database.connect(write=True) as connection:
        a = create_tenant(connection, "Contoso").id
        admin = create_admin(connection, a, "it@contoso.com", PASSWORD)
        _, token = start_session(connection, admin)
    reset = run(["admin", "reset-password", "Contoso", "it@contoso.com"], url, NEW_PASSWORD)
    assert reset.exit_code == 0, reset.output
    with database.connect(write=True) as connection:
        assert load_session(connection, token) is None
        assert verify_password(connection, "it@contoso.com", NEW_PASSWORD)
        assert verify_password(connection, "it@contoso.com", PASSWORD) is None
        entries = page(connection, a, ActivityFilter(), limit=10)[1]
    assert [e.operation for e in entries] == ["reset-password"]
    assert NEW_PASSWORD not in repr(entries)


def test_admin_commands_cannot_reach_another_tenants_admin(cli_db: tuple[Database, str]) -> None:
    """Naming tenant A with B's administrator is an error (exit 2): nothing changes."""
    database, url = cli_db
    with database.connect(write=True) as connection:
        a = create_tenant(connection, "Contoso").id
        b = create_tenant(connection, "Fabrikam").id
        create_admin(connection, b, "it@fabrikam.com", PASSWORD)
    for args in (
        ["admin", "remove", a, "it@fabrikam.com"],
        ["admin", "reset-password", a, "it@fabrikam.com"],
    ):
        result = run(args, url, NEW_PASSWORD)
        assert result.exit_code == 2, result.output
        assert "has no administrator" in result.output
    with database.connect(write=False) as connection:
        assert verify_password(connection, "it@fabrikam.com", PASSWORD)


@pytest.mark.parametrize(
    "args",
    [
        ["admin", "list", "Nobody"],
        ["admin", "remove", "Nobody", "x@y.z"],
        ["admin", "reset-password", "Nobody", "x@y.z"],
        ["admin", "remove", "Contoso", "nobody@contoso.com"],
        ["admin", "reset-password", "Contoso", "nobody@contoso.com"],
    ],
)
def test_unknown_tenant_or_admin_is_one_line_and_exit_2(
    cli_db: tuple[Database, str], args: list[str]
) -> None:
    """An unknown tenant or administrator is one clear line, exit code 2, no traceback."""
    database, url = cli_db
    with database.connect(write=True) as connection:
        create_tenant(connection, "Contoso")
    result = run(args, url, NEW_PASSWORD)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and ("no tenant" in errors[0] or "no administrator" in errors[0])


def test_reset_password_refuses_a_short_password(cli_db: tuple[Database, str]) -> None:
    """A too-short new password is refused with exit 2 and the old one keeps working."""
    database, url = cli_db
    with database.connect(write=True) as connection:
        a = create_tenant(connection, "Contoso").id
        create_admin(connection, a, "it@contoso.com", PASSWORD)
    result = run(["admin", "reset-password", a, "it@contoso.com"], url, "short")
    assert result.exit_code == 2 and "at least" in result.output
    with database.connect(write=False) as connection:
        assert verify_password(connection, "it@contoso.com", PASSWORD)


def test_tenant_list_names_every_tenant(cli_db: tuple[Database, str]) -> None:
    """``tenant list`` shows each tenant with its administrators and unrevoked keys."""
    database, url = cli_db
    with database.connect(write=True) as connection:
        a = create_tenant(connection, "Contoso").id
        b = create_tenant(connection, "Fabrikam").id
        create_admin(connection, a, "it@contoso.com", PASSWORD)
        create_key(connection, a, "entra")
    listed = run(["tenant", "list"], url)
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert lines[0] == "ID\tNAME\tCREATED\tADMINS\tKEYS"
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert rows[a][1] == "Contoso" and rows[a][3:] == ["1", "1"]
    assert rows[b][1] == "Fabrikam" and rows[b][3:] == ["0", "0"]
