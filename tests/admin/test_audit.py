"""Audit entries: key create/rotate/revoke (console and CLI), sign-in success and failure,
sign-out, prunes; each in the acting tenant's log only."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
from click.testing import CliRunner
from sqlalchemy import update

from hostsync.cli import cli
from hostsync.config import Settings
from hostsync.store.activity.queries import ActivityFilter, Entry, page
from hostsync.store.activity.recording import RequestContext
from hostsync.store.activity.records import append
from hostsync.store.admin_tables import activity
from hostsync.store.admins import create_admin
from hostsync.store.clock import now
from hostsync.store.database import Database
from hostsync.store.tenants import create_tenant, list_keys
from tests.admin.conftest import PASSWORD, console_app, csrf_of, sign_in

ENTRA = "/integrations/host-synchronization/entra"
KEYS = "/integrations/host-synchronization/keys"


def _log(database: Database, tenant_id: str) -> list[Entry]:
    with database.connect(write=False) as connection:
        return page(connection, tenant_id, ActivityFilter(), limit=200)[1]


def _ops(entries: list[Entry], resource_type: str) -> list[str]:
    return [e.operation for e in reversed(entries) if e.resource_type == resource_type]


async def test_key_actions_in_the_console_are_audited(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str, admin_email: str
) -> None:
    """Creating, rotating and revoking a key each leave a row naming the admin and the key."""
    page_ = await signed_in.get(ENTRA)
    created = await signed_in.post(KEYS, data={"csrf": csrf_of(page_.text), "label": "Entra"})
    assert created.status_code == 303  # Post/Redirect/Get: the key is on the next page
    key = re.search(r'value="(hsk_[^"]+)"', (await signed_in.get(ENTRA)).text)
    assert key
    key_id = list_keys_of(database, tenant_id)[0]
    rotated = await signed_in.post(f"{KEYS}/{key_id}/rotate", data={"csrf": csrf_of(page_.text)})
    assert rotated.status_code == 303
    revoked = await signed_in.post(f"{KEYS}/{key_id}/revoke", data={"csrf": csrf_of(page_.text)})
    assert revoked.status_code == 303
    entries = _log(database, tenant_id)
    assert _ops(entries, "ApiKey") == ["create", "rotate", "revoke"]
    keyed = [e for e in entries if e.resource_type == "ApiKey"]
    assert all(e.actor == admin_email for e in keyed)
    assert any(e.resource_id == key_id and e.operation == "revoke" for e in keyed)
    text = repr(entries)
    assert key.group(1) not in text  # the key itself is never recorded


def list_keys_of(database: Database, tenant_id: str) -> list[str]:
    with database.connect(write=False) as connection:
        return [k.id for k in list_keys(connection, tenant_id)]


async def test_sign_in_success_failure_and_sign_out_are_audited(
    browser: httpx.AsyncClient, database: Database, tenant_id: str, admin_email: str
) -> None:
    """A wrong password, a sign-in and a sign-out each leave a row; no password is stored."""
    assert (await sign_in(browser, admin_email, "not the password")).status_code == 401
    assert (await sign_in(browser, admin_email)).status_code == 303
    status = await browser.get("/")
    assert (await browser.post("/signout", data={"csrf": csrf_of(status.text)})).status_code == 303
    entries = _log(database, tenant_id)
    assert _ops(entries, "Admin") == ["sign-in-failed", "sign-in", "sign-out"]
    failed = next(e for e in entries if e.operation == "sign-in-failed")
    assert failed.status == 401 and failed.outcome == "failure"
    assert "from 127.0.0.1" in (failed.detail or "")
    assert "not the password" not in repr(entries) and PASSWORD not in repr(entries)


async def test_audit_rows_stay_in_their_tenant(
    database: Database, settings: Settings, signed_in: httpx.AsyncClient, tenant_id: str
) -> None:
    """B's administrator sees none of A's audit rows, and A's sign-ins are not in B's log."""
    with database.connect(write=True) as connection:
        other = create_tenant(connection, "Fabrikam").id
        other_email = f"admin-{other}@example.com"
        create_admin(connection, other, other_email, PASSWORD)
    app = console_app(database, settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as other_browser:
        assert (await sign_in(other_browser, other_email)).status_code == 303
        seen = await other_browser.get("/activity")
        exported = await other_browser.get("/activity.csv")
    mine = _log(database, tenant_id)
    assert any(e.operation == "sign-in" for e in mine)
    for entry in mine:
        assert entry.actor not in seen.text
        assert entry.actor not in exported.text
    assert all(e.actor == other_email for e in _log(database, other) if e.operation == "sign-in")


async def test_prune_is_audited(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    """Removing old activity from the console leaves a row saying how many and how old."""
    page_ = await signed_in.get("/activity")
    answer = await signed_in.post(
        "/activity/prune", data={"csrf": csrf_of(page_.text), "days": "7"}
    )
    assert answer.status_code == 303
    prunes = [e for e in _log(database, tenant_id) if e.operation == "prune"]
    assert len(prunes) == 1 and "older than 7 days" in (prunes[0].detail or "")


def test_cli_key_create_and_revoke_are_audited(tmp_path: Path) -> None:
    """``hostsync key create`` and ``key revoke`` leave rows with actor ``cli (user)``."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    database = Database(url)
    database.migrate()
    with database.connect(write=True) as connection:
        tenant = create_tenant(connection, "Contoso").id
    runner = CliRunner()
    created = runner.invoke(cli, ["key", "create", tenant, "--database-url", url])
    assert created.exit_code == 0, created.output
    key_id = list_keys_of(database, tenant)[0]
    revoked = runner.invoke(cli, ["key", "revoke", tenant, key_id, "--database-url", url])
    assert revoked.exit_code == 0, revoked.output
    entries = _log(database, tenant)
    assert _ops(entries, "ApiKey") == ["create", "revoke"]
    assert all(e.actor.startswith("cli (") and e.method == "CLI" for e in entries)
    assert created.output.strip() not in repr(entries)
    database.dispose()


def test_cli_prune_activity_is_audited_in_each_tenant_it_touched(tmp_path: Path) -> None:
    """``admin prune-activity`` records, in each tenant that lost rows, how many and how old."""
    url = f"sqlite:///{tmp_path / 'prune.db'}"
    database = Database(url)
    database.migrate()
    with database.connect(write=True) as connection:
        old = create_tenant(connection, "Contoso").id
        quiet = create_tenant(connection, "Fabrikam").id
        for _ in range(3):
            append(connection, old, RequestContext("POST", "/x"), operation="create", status=201)
        connection.execute(update(activity).values(at=now() - timedelta(days=100)))
    result = CliRunner().invoke(cli, ["admin", "prune-activity", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "3 activity entries removed" in result.output
    entries = _log(database, old)
    assert [(e.operation, e.detail) for e in entries] == [
        ("prune", "3 entries older than 90 days removed")
    ]
    assert _log(database, quiet) == []
    database.dispose()
