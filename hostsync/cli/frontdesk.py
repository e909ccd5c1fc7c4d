"""``hostsync site``, ``hostsync kiosk`` and ``hostsync visits``: the front desk's commands.

Registered on the main group by ``hostsync.cli``. A tenant is named by its id or its unique
name; a site or kiosk by its id, and only within that tenant (another tenant's id is unknown
here). Errors are one line on stderr with exit code 2, like every other command. Creating a
site, creating or revoking a kiosk, and erasing a visitor leave a row in the tenant's activity
log (actor ``cli`` and the operating-system user), as does each tenant's retention run.

``site create`` prints the site's id alone and ``kiosk create`` the kiosk's link path alone
(``/kiosk/<secret>``, shown once: only its digest is kept), so scripts can capture them.
"""

from __future__ import annotations

import click

from hostsync.cli.admin import (
    AdminCliError,
    cli_context,
    database_url_option,
    open_database,
    resolve_tenant,
)
from hostsync.frontdesk.retention import RetentionError, erasure_address
from hostsync.frontdesk.sites import SiteSettingError, end_of_day
from hostsync.store.activity.erasures import erasure_recorder, retention_recorder
from hostsync.store.activity.records import audit
from hostsync.store.frontdesk.retention import (
    anonymise_expired,
    check_out_at_end_of_day,
    erase_visitor,
    erasure_by_email,
)
from hostsync.store.frontdesk.sites import (
    SiteError,
    create_kiosk,
    create_site,
    get_site,
    list_kiosks,
    list_sites,
    revoke_kiosk,
    update_site,
)
from hostsync.store.tenants import TenantError


@click.group()
def site() -> None:
    """Manage a tenant's front-desk sites."""


@site.command("create")
@click.argument("tenant", metavar="TENANT")
@click.argument("name", metavar="NAME")
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    metavar="TZ",
    help="IANA time zone of the site (Europe/Paris); visit times and the end of day use it.",
)
@click.option(
    "--end-of-day",
    "end_of_day_text",
    default=None,
    metavar="HH:MM",
    help="Local time at which visitors still on site are checked out (default: never).",
)
@database_url_option
@click.pass_context
def site_create(
    ctx: click.Context,
    tenant: str,
    name: str,
    timezone: str,
    end_of_day_text: str | None,
    database_url: str | None,
) -> None:
    """Create a site of TENANT (id or name); print its id."""
    try:
        ends = end_of_day(end_of_day_text)
    except SiteSettingError as exc:
        raise AdminCliError(str(exc)) from None
    database = open_database(ctx, database_url)
    try:
        with database.connect(write=True) as connection:
            tenant_id = resolve_tenant(connection, tenant)
            created = create_site(connection, tenant_id, name, timezone=timezone)
            if ends is not None:
                created = update_site(connection, tenant_id, created.id, end_of_day=ends)
            audit(
                connection,
                tenant_id,
                cli_context("site create"),
                "create",
                resource_type="Site",
                resource_id=created.id,
                resource_name=created.name,
                detail=f"time zone {created.timezone}, end of day {created.end_of_day or 'none'}",
            )
    except (TenantError, SiteSettingError) as exc:
        raise AdminCliError(str(exc)) from None
    finally:
        database.dispose()
    click.echo(created.id)


@site.command("list")
@click.argument("tenant", metavar="TENANT")
@database_url_option
@click.pass_context
def site_list(ctx: click.Context, tenant: str, database_url: str | None) -> None:
    """List TENANT's sites: id, name, time zone, end of day, live kiosks."""
    database = open_database(ctx, database_url)
    try:
        with database.connect(write=False) as connection:
            tenant_id = resolve_tenant(connection, tenant)
            found = list_sites(connection, tenant_id)
            live: dict[str, int] = {}
            for made in list_kiosks(connection, tenant_id):
                if made.revoked_at is None:
                    live[made.site_id] = live.get(made.site_id, 0) + 1
    except TenantError as exc:
        raise AdminCliError(str(exc)) from None
    finally:
        database.dispose()
    click.echo("ID\tNAME\tTIME ZONE\tEND OF DAY\tKIOSKS")
    for item in found:
        click.echo(
            f"{item.id}\t{item.name}\t{item.timezone}\t{item.end_of_day or '-'}\t"
            f"{live.get(item.id, 0)}"
        )


@click.group()
def kiosk() -> None:
    """Manage the kiosks (tablets) of a tenant's sites."""


@kiosk.command("create")
@click.argument("tenant", metavar="TENANT")
@click.option("--site", "site_id", required=True, metavar="SITE_ID", help="The kiosk's site.")
@click.option("--label", default=None, help="A name for the kiosk (default: '<site> kiosk').")
@database_url_option
@click.pass_context
def kiosk_create(
    ctx: click.Context, tenant: str, site_id: str, label: str | None, database_url: str | None
) -> None:
    """Create a kiosk for a site of TENANT; print its link path (shown once).

    Open ``<server><path>`` on the tablet: it pairs and remembers itself.
    """
    database = open_database(ctx, database_url)
    try:
        with database.connect(write=True) as connection:
            tenant_id = resolve_tenant(connection, tenant)
            created, secret = create_kiosk(connection, tenant_id, site_id, label)
            audit(
                connection,
                tenant_id,
                cli_context("kiosk create"),
                "create",
                resource_type="Kiosk",
                resource_id=created.id,
                resource_name=created.label,
                detail=f"for site {site_id}",
            )
    except (TenantError, SiteError, SiteSettingError) as exc:
        raise AdminCliError(str(exc)) from None
    finally:
        database.dispose()
    click.echo(f"/kiosk/{secret}")


@kiosk.command("list")
@click.argument("tenant", metavar="TENANT")
@click.option("--site", "site_id", default=None, metavar="SITE_ID", help="Only this site's.")
@database_url_option
@click.pass_context
def kiosk_list(
    ctx: click.Context, tenant: str, site_id: str | None, database_url: str | None
) -> None:
    """List TENANT's kiosks: id, site, label, prefix, created, last seen, revoked."""
    database = open_database(ctx, database_url)
    try:
        with database.connect(write=False) as connection:
            tenant_id = resolve_tenant(connection, tenant)
            if site_id is not None and get_site(connection, tenant_id, site_id) is None:
                raise SiteError(f"this tenant has no site '{site_id[:40]}'")
            found = list_kiosks(connection, tenant_id, site_id)
            names = {item.id: item.name for item in list_sites(connection, tenant_id)}
    except (TenantError, SiteError) as exc:
        raise AdminCliError(str(exc)) from None
    finally:
        database.dispose()
    click.echo("ID\tSITE\tLABEL\tPREFIX\tCREATED\tLAST SEEN\tREVOKED")
    for item in found:
        seen, revoked = item.last_seen_at, item.revoked_at
        click.echo(
            "\t".join(
                [
                    item.id,
                    names.get(item.site_id, item.site_id),
                    item.label,
                    item.prefix + "…",
                    item.created_at.isoformat(timespec="seconds"),
                    seen.isoformat(timespec="seconds") if seen else "-",
                    revoked.isoformat(timespec="seconds") if revoked else "-",
                ]
            )
        )


@kiosk.command("revoke")
@click.argument("tenant", metavar="TENANT")
@click.argument("kiosk_id", metavar="KIOSK_ID")
@database_url_option
@click.pass_context
def kiosk_revoke(ctx: click.Context, tenant: str, kiosk_id: str, database_url: str | None) -> None:
    """Revoke one of TENANT's kiosks: its link and paired tablets stop working at once."""
    database = open_database(ctx, database_url)
    try:
        with database.connect(write=True) as connection:
            tenant_id = resolve_tenant(connection, tenant)
            revoke_kiosk(connection, tenant_id, kiosk_id)
            audit(
                connection,
                tenant_id,
                cli_context("kiosk revoke"),
                "revoke",
                resource_type="Kiosk",
                resource_id=kiosk_id,
            )
    except (TenantError, SiteError) as exc:
        raise AdminCliError(str(exc)) from None
    finally:
        database.dispose()
    click.echo(f"revoked {kiosk_id}")


@click.group()
def visits() -> None:
    """Retention, erasure and end-of-day check-out of front-desk visits."""


@visits.command("anonymise")
@click.option("--tenant", default=None, metavar="TENANT", help="Only this tenant (id or name).")
@database_url_option
@click.pass_context
def visits_anonymise(ctx: click.Context, tenant: str | None, database_url: str | None) -> None:
    """Anonymise the visits older than their tenant's retention period (default 365 days).

    The server does this by itself every hour; this runs it now.
    """
    database = open_database(ctx, database_url)
    try:
        tenant_id = None
        if tenant is not None:
            with database.connect(write=False) as connection:
                tenant_id = resolve_tenant(connection, tenant)
        done = anonymise_expired(
            database,
            tenant_id=tenant_id,
            record=retention_recorder(cli_context("visits anonymise")),
        )
    except TenantError as exc:
        raise AdminCliError(str(exc)) from None
    finally:
        database.dispose()
    click.echo(f"{sum(done.values())} visit(s) anonymised in {len(done)} tenant(s).")


@visits.command("erase")
@click.argument("tenant", metavar="TENANT")
@click.option("--email", required=True, metavar="ADDRESS", help="The visitor's e-mail address.")
@database_url_option
@click.pass_context
def visits_erase(ctx: click.Context, tenant: str, email: str, database_url: str | None) -> None:
    """Erase a visitor of TENANT: anonymise every visit with this e-mail address now.

    The address is compared case-insensitively; the activity log records the erasure and
    how many visits it changed, never the address.
    """
    try:
        address = erasure_address(email)
    except RetentionError as exc:
        raise AdminCliError(str(exc)) from None
    database = open_database(ctx, database_url)
    try:
        with database.connect(write=False) as connection:
            tenant_id = resolve_tenant(connection, tenant)
            target = erasure_by_email(connection, tenant_id, address)
        count = erase_visitor(
            database,
            tenant_id,
            target,
            record=erasure_recorder(cli_context("visits erase"), target),
        )
    except TenantError as exc:
        raise AdminCliError(str(exc)) from None
    finally:
        database.dispose()
    click.echo(f"{count} visit(s) anonymised.")


@visits.command("checkout-end-of-day")
@click.option("--tenant", default=None, metavar="TENANT", help="Only this tenant (id or name).")
@database_url_option
@click.pass_context
def visits_checkout(ctx: click.Context, tenant: str | None, database_url: str | None) -> None:
    """Check out the visitors still on site after their site's end of day.

    Each is checked out at that end of day (local to the site), by "end of day"; sites
    without an end-of-day time are left alone. The server does this every minute.
    """
    database = open_database(ctx, database_url)
    try:
        tenant_id = None
        if tenant is not None:
            with database.connect(write=False) as connection:
                tenant_id = resolve_tenant(connection, tenant)
        count = check_out_at_end_of_day(database, tenant_id=tenant_id)
    except TenantError as exc:
        raise AdminCliError(str(exc)) from None
    finally:
        database.dispose()
    click.echo(f"{count} visitor(s) checked out.")
