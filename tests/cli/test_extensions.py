"""``hostsync extension add|list|remove``: output contracts and one-line errors (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostsync.store.activity.queries import ActivityFilter, page
from hostsync.store.database import Database
from hostsync.store.extensions import declarations
from hostsync.store.tenants import create_tenant

from .test_commands import hostsync

VISITLY = "urn:ietf:params:scim:schemas:extension:Visitly:2.0:User"
HEADER = "URN\tATTRIBUTE\tTYPE\tCASE EXACT\tDESCRIPTION"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def tenant(url: str) -> str:
    database = Database(url)
    database.migrate()
    with database.connect(write=True) as connection:
        created = create_tenant(connection, "Acme").id
    database.dispose()
    return created


def test_add_list_and_remove(tmp_path: Path, url: str, tenant: str) -> None:
    """add prints the whole declaration, a second add extends it, list shows every
    attribute of every declaration, remove ends it; each change is in the activity log."""
    added = hostsync(
        "--database-url", url, "extension", "add", "Acme", VISITLY.lower(),
        "--attribute", "site", "--attribute", "floor:INTEGER:Floor of the desk",
        "--case-exact", "SITE", "--description", "Visitly sites",
        cwd=tmp_path,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    canonical = VISITLY.replace("Visitly", "visitly")
    assert added.stdout.splitlines() == [
        HEADER,
        f"{canonical}\tsite\tstring\tyes\t-",
        f"{canonical}\tfloor\tinteger\tno\tFloor of the desk",
    ]
    extended = hostsync(
        "extension", "add", tenant, VISITLY, "--attribute", "badge:boolean",
        "--database-url", url, cwd=tmp_path,
    )  # fmt: skip
    assert extended.returncode == 0, extended.stderr
    assert extended.stdout.splitlines()[-1] == f"{canonical}\tbadge\tboolean\tno\t-"
    listed = hostsync("extension", "list", "Acme", "--database-url", url, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == extended.stdout.splitlines()
    removed = hostsync("extension", "remove", "Acme", VISITLY, "--database-url", url, cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.startswith(f"removed {canonical}")
    database = Database(url)
    with database.connect(write=False) as connection:
        assert declarations(connection, tenant) == []
        _, entries = page(connection, tenant, ActivityFilter(resource_type="Extension"))
    database.dispose()
    assert sorted(entry.operation for entry in entries) == ["declare", "declare", "remove"]
    assert {entry.resource_name for entry in entries} == {canonical}
    assert all(entry.actor.startswith("cli (") for entry in entries)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "Nobody", VISITLY, "--attribute", "site"], "no tenant has the id or name"),
        (["add", "Acme", "urn:foo", "--attribute", "site"], "is not an extension URN"),
        (
            ["add", "Acme", VISITLY.replace("Visitly", "enterprise"), "--attribute", "x"],
            "built in",
        ),
        (["add", "Acme", VISITLY, "--attribute", "1site"], "is not an attribute name"),
        (["add", "Acme", VISITLY, "--attribute", "site:complex"], "not a declarable type"),
        (["add", "Acme", VISITLY, "--attribute", "a", "--attribute", "A"], "already declared"),
        (["add", "Acme", VISITLY, "--attribute", "a", "--case-exact", "b"], "--case-exact"),
        (["add", "Acme", VISITLY], "--attribute"),
        (["remove", "Acme", VISITLY], "has not declared"),
        (["list", "Nobody"], "no tenant has the id or name"),
    ],
)
def test_errors_are_one_line_and_write_nothing(
    tmp_path: Path, url: str, tenant: str, args: list[str], message: str
) -> None:
    done = hostsync("--database-url", url, "extension", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hostsync: error:"), done.stderr
    assert message in lines[0]
    assert "Traceback" not in done.stderr
    database = Database(url)
    with database.connect(write=False) as connection:
        assert declarations(connection, tenant) == []
    database.dispose()
