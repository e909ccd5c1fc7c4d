"""``hostsync admin``: console administrators and activity retention.

Registered on the main group by ``hostsync.cli`` (``cli.add_command(admin)``). Errors are one
line on stderr with exit code 2, like every other command. Creating, removing and resetting
the password of an administrator leave a row in the tenant's activity log (actor ``cli`` and
the operating-system user); removing and resetting end that administrator's sessions.
"""

from __future__ import annotations

import getpass
import os

import click
from sqlalchemy import Connection

from hostsync.config import Settings
from hostsync.store import tenants
from hostsync.store.activity.pruning import DEFAULT_RETENTION_DAYS, prune_each_tenant
from hostsync.store.activity.recording import RequestContext
from hostsync.store.activity.records import audit
from hostsync.store.admins import (
    AdminError,
    create_admin,
    find_admin,
    list_admins,
    remove_admin,
    reset_password,
)
from hostsync.store.database import Database, DatabaseUrlError
from hostsync.store.tenants import TenantError

PASSWORD_VARIABLE = "HOSTSYNC_ADMIN_PASSWORD"  # noqa: S105 - a variable name, not a password


class AdminCliError(click.ClickException):
    """A failure reported as one line on stderr with exit code 2."""

    exit_code = 2


def open_database(ctx: click.Context, database_url: str | None) -> Database:
    """The database of ``--database-url`` (or the root group's, or the settings'), migrated."""
    url = database_url or ((ctx.find_root().obj or {}).get("database_url")) or None
    settings = Settings()
    try:
        database = Database(
            url or settings.database_url,
            sqlite_mmap_bytes=settings.sqlite_mmap_mb << 20,
            postgres_connections=settings.postgres_connections,
        )
        database.migrate()
    except DatabaseUrlError as exc:
        raise AdminCliError(str(exc)) from None
    except Exception as exc:  # a driver error while connecting or migrating
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise AdminCliError(f"cannot open the database: {first[0] if first else exc}") from None
    return database


def cli_context(command: str) -> RequestContext:
    """Who acted, for an activity row written by a command: ``cli (<os user>)``."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment (containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return RequestContext("CLI", f"hostsync {command}", None, actor=f"cli ({user})"[:320])


def resolve_tenant(connection: Connection, tenant: str) -> str:
    """A tenant's id from its id or unique name (``store.tenants.resolve_tenant``).

    :class:`TenantError` if neither names one, or if several tenants share the name.
    """
    return tenants.resolve_tenant(connection, tenant).id


def _password() -> str:
    return os.environ.get(PASSWORD_VARIABLE) or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )


database_url_option = click.option(
    "--database-url",
    "database_url",
    default=None,
    metavar="URL",
    help="sqlite:///file.db or postgresql://user@host/db (env: HOSTSYNC_DATABASE_URL).",
)


@click.group()
def admin() -> None:
    """Manage administrators of the web console."""


@admin.command("create")
@click.argument("tenant", metavar="TENANT")
@click.argument("email", metavar="EMAIL")
@database_url_option
@click.pass_context
def admin_create(ctx: click.Context, tenant: str, email: str, database_url: str | None) -> None:
    """Create an administrator of TENANT (id or name) who signs in with EMAIL.

    The password is read from $HOSTSYNC_ADMIN_PASSWORD, else prompted for (hidden, twice).
    """
    password = _password()
    database = open_database(ctx, database_url)
    try:
        with database.connect(write=True) as connection:
            tenant_id = resolve_tenant(connection, tenant)
            created = create_admin(connection, tenant_id, email, password)
            audit(
                connection,
                tenant_id,
                cli_context("admin create"),
                "create",
                resource_type="Admin",
                resource_id=created.id,
                resource_name=created.email,
            )
    except (TenantError, AdminError) as exc:
        raise AdminCliError(str(exc)) from None
    finally:
        database.dispose()
    click.echo(f"Administrator {created.email} created for tenant {created.tenant_id}.")


@admin.command("list")
@click.argument("tenant", metavar="TENANT")
@database_url_option
@click.pass_context
def admin_list(ctx: click.Context, tenant: str, database_url: str | None) -> None:
    """List TENANT's administrators: e-mail, created, last sign-in, open sessions."""
    database = open_database(ctx, database_url)
    try:
        with database.connect(write=False) as connection:
            found = list_admins(connection, resolve_tenant(connection, tenant))
    except TenantError as exc:
        raise AdminCliError(str(exc)) from None
    finally:
        database.dispose()
    click.echo("EMAIL\tCREATED\tLAST SIGN-IN\tSESSIONS")
    for item in found:
        last = item.last_sign_in_at
        click.echo(
            f"{item.email}\t{item.created_at.isoformat(timespec='seconds')}\t"
            f"{last.isoformat(timespec='seconds') if last else '-'}\t{item.sessions}"
        )


@admin.command("remove")
@click.argument("tenant", metavar="TENANT")
@click.argument("email", metavar="EMAIL")
@database_url_option
@click.pass_context
def admin_remove(ctx: click.Context, tenant: str, email: str, database_url: str | None) -> None:
    """Remove TENANT's administrator EMAIL and end their sessions."""
    database = open_database(ctx, database_url)
    try:
        with database.connect(write=True) as connection:
            tenant_id = resolve_tenant(connection, tenant)
            removed, ended = remove_admin(connection, tenant_id, email)
            audit(
                connection,
                tenant_id,
                cli_context("admin remove"),
                "remove",
                resource_type="Admin",
                resource_id=removed.id,
                resource_name=removed.email,
                detail=f"{ended} session(s) ended",
            )
    except (TenantError, AdminError) as exc:
        raise AdminCliError(str(exc)) from None
    finally:
        database.dispose()
    click.echo(f"Administrator {removed.email} removed; {ended} session(s) ended.")


@admin.command("reset-password")
@click.argument("tenant", metavar="TENANT")
@click.argument("email", metavar="EMAIL")
@database_url_option
@click.pass_context
def admin_reset_password(
    ctx: click.Context, tenant: str, email: str, database_url: str | None
) -> None:
    """Set a new password for TENANT's administrator EMAIL and end their sessions.

    The password is read from $HOSTSYNC_ADMIN_PASSWORD, else prompted for (hidden, twice).
    """
    database = open_database(ctx, database_url)
    try:
        with database.connect(write=False) as connection:
            tenant_id = resolve_tenant(connection, tenant)
            find_admin(connection, tenant_id, email)  # unknown: say so before asking
        password = _password()
        with database.connect(write=True) as connection:
            changed, ended = reset_password(connection, tenant_id, email, password)
            audit(
                connection,
                tenant_id,
                cli_context("admin reset-password"),
                "reset-password",
                resource_type="Admin",
                resource_id=changed.id,
                resource_name=changed.email,
                detail=f"{ended} session(s) ended",
            )
    except (TenantError, AdminError) as exc:
        raise AdminCliError(str(exc)) from None
    finally:
        database.dispose()
    click.echo(f"Password of {changed.email} reset; {ended} session(s) ended.")


@admin.command("prune-activity")
@click.option("--days", default=DEFAULT_RETENTION_DAYS, show_default=True, type=click.IntRange(1))
@database_url_option
@click.pass_context
def admin_prune(ctx: click.Context, days: int, database_url: str | None) -> None:
    """Delete provisioning activity older than DAYS days, for every tenant."""
    database = open_database(ctx, database_url)
    try:
        with database.connect(write=True) as connection:
            removed = prune_each_tenant(connection, days)
            for tenant_id, count in removed.items():
                audit(
                    connection,
                    tenant_id,
                    cli_context("admin prune-activity"),
                    "prune",
                    resource_type="Admin",
                    detail=f"{count} entries older than {days} days removed",
                )
    finally:
        database.dispose()
    click.echo(f"{sum(removed.values())} activity entries removed.")
