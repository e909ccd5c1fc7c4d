"""The ``hostsync`` command line: serve, demo, tenants and API keys (and the groups it registers).

Errors are one line on stderr and exit code 2; nothing prints a traceback. Sub-command groups
that grow large live in their own modules of this package and are registered here.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy import make_url

from hostsync.cli.admin import admin, cli_context
from hostsync.cli.demo import DEMO_TENANT, demo_admin, demo_key, demo_kiosk, port_problem
from hostsync.cli.extension import extension
from hostsync.cli.frontdesk import kiosk, site, visits
from hostsync.cli.outbox import outbox
from hostsync.cli.sso import sso
from hostsync.cli.sync import sync
from hostsync.cli.tenant import tenant_list
from hostsync.config import SCIM_PREFIX, Settings
from hostsync.scim.errors import ScimError
from hostsync.store.activity.records import audit
from hostsync.store.admins import AdminError
from hostsync.store.database import Database, DatabaseUrlError
from hostsync.store.tenants import (
    TenantError,
    create_key,
    create_tenant,
    find_tenant_by_name,
    list_keys,
    resolve_tenant,
    revoke_key,
)

F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """A failure reported as one line on stderr with exit code 2."""

    exit_code = 2


def database_option(function: F) -> F:
    """Add ``--database-url`` (default: $HOSTSYNC_DATABASE_URL, else ./hostsync.db)."""
    return click.option(
        "--database-url",
        "database_url",
        default=None,
        metavar="URL",
        help="sqlite:///file.db or postgresql://user@host/db (env: HOSTSYNC_DATABASE_URL).",
    )(function)


def _settings(ctx: click.Context, database_url: str | None) -> Settings:
    url = database_url or (ctx.obj or {}).get("database_url")
    try:
        settings = Settings()
    except ValidationError as exc:  # one line per setting, not a traceback
        problems = "; ".join(
            f"HOSTSYNC_{'_'.join(map(str, error['loc'])).upper()}: {error['msg']}"
            for error in exc.errors()
        )
        raise CliError(f"invalid setting: {problems}") from None
    if url:
        settings = settings.model_copy(update={"database_url": url})
    return settings


def _database(settings: Settings) -> Database:
    try:
        database = Database(
            settings.database_url,
            sqlite_mmap_bytes=settings.sqlite_mmap_mb << 20,
            postgres_connections=settings.postgres_connections,
        )
        database.migrate(progress=lambda line: click.echo(f"hostsync: {line}", err=True))
    except DatabaseUrlError as exc:
        raise CliError(str(exc)) from None
    except ScimError as exc:
        raise CliError(f"cannot reach the database: {exc.detail}") from None
    except Exception as exc:  # a driver error while connecting or migrating
        raise CliError(f"cannot open the database: {_first_line(exc)}") from None
    return database


def _first_line(exc: BaseException) -> str:
    """The first line of a (driver) error, without SQLAlchemy's background links."""
    cause = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return lines[0] if lines else type(cause).__name__


@click.group()
@database_option
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """hostsync: a SCIM 2.0 host directory that Microsoft Entra ID provisions into."""
    ctx.ensure_object(dict)
    ctx.obj["database_url"] = database_url


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--proxy-headers/--no-proxy-headers",
    default=None,
    help="Take the client address and scheme from X-Forwarded-For/-Proto sent by a trusted "
    "proxy (env: HOSTSYNC_PROXY_HEADERS; default off: both come from the socket).",
)
@click.option(
    "--forwarded-allow-ips",
    default=None,
    metavar="LIST",
    help="Comma-separated addresses or networks of the trusted proxies "
    "(env: HOSTSYNC_FORWARDED_ALLOW_IPS; default 127.0.0.1).",
)
@database_option
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    workers: int,
    proxy_headers: bool | None,
    forwarded_allow_ips: str | None,
    database_url: str | None,
) -> None:
    """Serve the SCIM API (and create or migrate the schema first)."""
    settings = _settings(ctx, database_url)
    if proxy_headers is not None:
        settings = settings.model_copy(update={"proxy_headers": proxy_headers})
    if forwarded_allow_ips is not None:
        settings = settings.model_copy(update={"forwarded_allow_ips": forwarded_allow_ips})
    _database(settings).dispose()
    _serve(settings, host, port, workers)


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    """Run uvicorn; workers build the app from the environment (web/asgi.py).

    A ``--host`` that names one address is added to the allowed hosts (it is what clients
    that connect by address send); uvicorn's own trust of ``X-Forwarded-*`` from 127.0.0.1
    is off unless ``proxy_headers`` is set. Idle connections stay open ``keep_alive_seconds``;
    a connection that ends with a request in flight is logged (cli/connections.py).
    """
    import uvicorn

    from hostsync.cli.connections import HttpProtocol

    os.environ["HOSTSYNC_DATABASE_URL"] = settings.database_url
    if host not in ("0.0.0.0", "::", ""):  # noqa: S104 - comparing, not binding
        allowed = f"{settings.allowed_hosts},{host}".strip(",")
        os.environ["HOSTSYNC_ALLOWED_HOSTS"] = allowed
    uvicorn.run(
        "hostsync.web.asgi:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
        proxy_headers=settings.proxy_headers,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        http=HttpProtocol,
        timeout_keep_alive=settings.keep_alive_seconds,
    )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--new-key",
    is_flag=True,
    help="Revoke the demo key and make another (by default each start keeps and prints it).",
)
@database_option
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, new_key: bool, database_url: str | None) -> None:
    """Create the demo tenant, its key, administrator and site if absent; print them, then serve.

    The demo key is kept across starts (printed when made; ``--new-key`` replaces it); the
    kiosk link is new at each start (the previous one is revoked); the port is checked before
    the database is touched.
    """
    problem = port_problem(host, port)
    if problem:
        raise CliError(problem)
    settings = _settings(ctx, database_url)
    database = _database(settings)
    try:
        with database.connect(write=True) as connection:
            tenant = find_tenant_by_name(connection, DEMO_TENANT) or create_tenant(
                connection, DEMO_TENANT
            )
            kept = demo_key(connection, tenant.id, new=new_key)
            administrator = demo_admin(connection, tenant.id)
            front_desk = demo_kiosk(connection, tenant.id)
    except (AdminError, TenantError) as exc:
        raise CliError(str(exc)) from None
    finally:
        database.dispose()
    base = (settings.public_url or f"http://{host}:{port}").rstrip("/")
    given = database_url or (ctx.obj or {}).get("database_url")
    database_arg = (
        f" --database-url {shlex.quote(make_url(given).render_as_string(hide_password=True))}"
        if given
        else ""
    )
    click.echo(f"Tenant:      {tenant.name} ({tenant.id})")
    click.echo(f"Tenant URL:  {base}{SCIM_PREFIX}")
    if kept.secret is None:
        click.echo(
            f"Secret Token (API key): {kept.prefix}… as printed at its first start, still valid "
            f"(only its digest is kept; to replace it: hostsync demo --new-key{database_arg})"
        )
    else:
        click.echo(f"Secret Token (API key): {kept.secret}")
        click.echo("  (kept across restarts but printed only now: copy it; --new-key replaces it)")
        click.echo(
            f"Try: curl -H 'Authorization: Bearer {kept.secret}' "
            f"'{base}{SCIM_PREFIX}/Users?filter=userName%20eq%20%22nobody%22'"
        )
    click.echo(f"Console:     {base}/")
    reset = (
        f"hostsync admin reset-password {shlex.quote(tenant.name)} "
        f"{shlex.quote(administrator.email)}{database_arg}"
    )
    if administrator.password is not None:
        click.echo(f"Sign in as:  {administrator.email}")
        click.echo(f"Password:    {administrator.password}  (shown once; to change it: {reset})")
    else:
        click.echo(f"Sign in as:  {administrator.email} (to set a new password: {reset})")
    click.echo(f"Kiosk:       {base}/kiosk/{front_desk.secret}")
    click.echo(
        "  (open it on a tablet or phone: it pairs and remembers itself; each start prints a new "
        "link and the previous one stops working)"
    )
    click.echo("running — Ctrl+C to stop")
    _serve(settings, host, port, 1)


@cli.group()
def tenant() -> None:
    """Manage tenants."""


@tenant.command("create")
@click.argument("name")
@database_option
@click.pass_context
def tenant_create(ctx: click.Context, name: str, database_url: str | None) -> None:
    """Create a tenant; print its id."""
    database = _database(_settings(ctx, database_url))
    try:
        with database.connect(write=True) as connection:
            created = create_tenant(connection, name, refuse_duplicate=True)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    click.echo(created.id)


@cli.group()
def key() -> None:
    """Manage API keys (the Secret Token pasted into Entra)."""


@key.command("create")
@click.argument("tenant_id", metavar="TENANT")
@click.option("--label", default="Microsoft Entra ID", show_default=True)
@database_option
@click.pass_context
def key_create(ctx: click.Context, tenant_id: str, label: str, database_url: str | None) -> None:
    """Create an API key for TENANT (id or name); print it (it is never shown again)."""
    database = _database(_settings(ctx, database_url))
    try:
        with database.connect(write=True) as connection:
            tenant_id = resolve_tenant(connection, tenant_id).id
            created, secret = create_key(connection, tenant_id, label)
            audit(
                connection,
                tenant_id,
                cli_context("key create"),
                "create",
                resource_type="ApiKey",
                resource_id=created.id,
                resource_name=f"{created.label} ({created.prefix}…)",
            )
    except TenantError as exc:
        raise CliError(str(exc)) from None
    click.echo(secret)


@key.command("list")
@click.argument("tenant_id", metavar="TENANT")
@database_option
@click.pass_context
def key_list(ctx: click.Context, tenant_id: str, database_url: str | None) -> None:
    """List TENANT's (id or name) keys: id, prefix, label, created, last used, revoked."""
    database = _database(_settings(ctx, database_url))
    try:
        with database.connect(write=False) as connection:
            keys = list_keys(connection, resolve_tenant(connection, tenant_id).id)
    except TenantError as exc:
        raise CliError(str(exc)) from None
    click.echo("ID\tPREFIX\tLABEL\tCREATED\tLAST USED\tREVOKED")
    for item in keys:
        click.echo(
            "\t".join(
                [
                    item.id,
                    item.prefix + "…",
                    item.label,
                    item.created_at.isoformat(timespec="seconds"),
                    item.last_used_at.isoformat(timespec="seconds") if item.last_used_at else "-",
                    item.revoked_at.isoformat(timespec="seconds") if item.revoked_at else "-",
                ]
            )
        )


@key.command("revoke")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("key_id")
@database_option
@click.pass_context
def key_revoke(ctx: click.Context, tenant_id: str, key_id: str, database_url: str | None) -> None:
    """Revoke one of TENANT's (id or name) keys."""
    database = _database(_settings(ctx, database_url))
    try:
        with database.connect(write=True) as connection:
            tenant_id = resolve_tenant(connection, tenant_id).id
            revoke_key(connection, tenant_id, key_id)
            audit(
                connection,
                tenant_id,
                cli_context("key revoke"),
                "revoke",
                resource_type="ApiKey",
                resource_id=key_id,
            )
    except TenantError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"revoked {key_id}")


@cli.command()
@database_option
@click.pass_context
def migrate(ctx: click.Context, database_url: str | None) -> None:
    """Create or upgrade the database schema, then exit."""
    _database(_settings(ctx, database_url)).dispose()
    click.echo("schema is up to date")


tenant.add_command(tenant_list)
cli.add_command(admin)
cli.add_command(extension)
cli.add_command(sync)
cli.add_command(site)
cli.add_command(kiosk)
cli.add_command(visits)
cli.add_command(outbox)
cli.add_command(sso)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI; report any error as one line and exit 2."""
    try:
        cli.main(args=argv, prog_name="hostsync", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("hostsync: aborted", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        message = " ".join(exc.format_message().split())
        click.echo(f"hostsync: error: {message}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
