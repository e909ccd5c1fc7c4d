"""``hostsync admin``: console administrators and activity retention.

Registered on the main group by ``hostsync.cli`` (``cli.add_command(admin)``). Errors are one
line on stderr with exit code 2, like every other command.
"""

from __future__ import annotations

import os

import click

from hostsync.config import Settings
from hostsync.store.activity import DEFAULT_RETENTION_DAYS, prune
from hostsync.store.admins import AdminError, create_admin
from hostsync.store.database import Database, DatabaseUrlError
from hostsync.store.tenants import TenantError, find_tenant_by_name, get_tenant

PASSWORD_VARIABLE = "HOSTSYNC_ADMIN_PASSWORD"  # noqa: S105 - a variable name, not a password


class AdminCliError(click.ClickException):
    """A failure reported as one line on stderr with exit code 2."""

    exit_code = 2


def _database(ctx: click.Context, database_url: str | None) -> Database:
    url = database_url or ((ctx.find_root().obj or {}).get("database_url")) or None
    settings = Settings()
    try:
        database = Database.from_settings(settings, url)
        database.migrate()
    except DatabaseUrlError as exc:
        raise AdminCliError(str(exc)) from None
    except Exception as exc:  # a driver error while connecting or migrating
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise AdminCliError(f"cannot open the database: {first[0] if first else exc}") from None
    return database


_database_option = click.option(
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
@_database_option
@click.pass_context
def admin_create(ctx: click.Context, tenant: str, email: str, database_url: str | None) -> None:
    """Create an administrator of TENANT (id or name) who signs in with EMAIL.

    The password is read from $HOSTSYNC_ADMIN_PASSWORD, else prompted for (hidden, twice).
    """
    password = os.environ.get(PASSWORD_VARIABLE) or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    database = _database(ctx, database_url)
    try:
        with database.connect(write=True) as connection:
            try:
                tenant_id = get_tenant(connection, tenant).id
            except TenantError:
                found = find_tenant_by_name(connection, tenant)
                if found is None:
                    raise
                tenant_id = found.id
            created = create_admin(connection, tenant_id, email, password)
    except (TenantError, AdminError) as exc:
        raise AdminCliError(str(exc)) from None
    finally:
        database.dispose()
    click.echo(f"Administrator {created.email} created for tenant {created.tenant_id}.")


@admin.command("prune-activity")
@click.option("--days", default=DEFAULT_RETENTION_DAYS, show_default=True, type=click.IntRange(1))
@_database_option
@click.pass_context
def admin_prune(ctx: click.Context, days: int, database_url: str | None) -> None:
    """Delete provisioning activity older than DAYS days, for every tenant."""
    database = _database(ctx, database_url)
    try:
        with database.connect(write=True) as connection:
            removed = prune(connection, days)
    finally:
        database.dispose()
    click.echo(f"{removed} activity entries removed.")


__all__ = ["admin"]
