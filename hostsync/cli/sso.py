"""``hostsync sso saml``: set up a tenant's SAML single sign-on from Entra's metadata.

Registered on the main group by ``hostsync.cli``. The command reads Entra's *Federation
Metadata XML*, stores the identity provider for the tenant (replacing any earlier one, as
after a certificate rollover) and prints exactly the three values an administrator pastes
into Entra's *Basic SAML Configuration*, one a line (docs/sso.md). Single sign-on needs
``HOSTSYNC_PUBLIC_URL``: without it the command says so and changes nothing. Errors are one
line on stderr with exit code 2; the change leaves a row in the tenant's activity log.
"""

from __future__ import annotations

from pathlib import Path

import click

from hostsync.cli.admin import (
    AdminCliError,
    cli_context,
    database_url_option,
    open_database,
    resolve_tenant,
)
from hostsync.config import Settings
from hostsync.sso import MetadataError, ProviderError, ServiceProvider, read_idp_metadata
from hostsync.sso.documents import MAX_DOCUMENT_BYTES
from hostsync.store.activity.records import audit
from hostsync.store.sso.providers import save_provider
from hostsync.store.tenants import TenantError


@click.group()
def sso() -> None:
    """Set up single sign-on for a tenant's console."""


@sso.command("saml")
@click.argument("tenant", metavar="TENANT")
@click.option(
    "--idp-metadata",
    "metadata_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Entra's Federation Metadata XML (SAML Certificates > Federation Metadata XML).",
)
@click.option(
    "--allow-sha1",
    is_flag=True,
    default=False,
    help="Also accept responses signed with SHA-1 (Entra's legacy option; off by default).",
)
@database_url_option
@click.pass_context
def sso_saml(
    ctx: click.Context,
    tenant: str,
    metadata_file: Path,
    allow_sha1: bool,
    database_url: str | None,
) -> None:
    """Set up SAML sign-in for TENANT (id or name) from Entra's metadata FILE.

    Prints the Identifier (Entity ID), Reply URL and Sign on URL to enter in Entra.
    """
    public_url = Settings().public_url
    if not public_url:
        raise AdminCliError(
            "single sign-on needs HOSTSYNC_PUBLIC_URL, the address people reach hostsync at "
            "(such as https://hosts.example.com): set it and run the command again"
        )
    try:
        ServiceProvider.of(public_url, "0" * 32)  # the URL's form, before anything is read
    except ProviderError as exc:
        raise AdminCliError(str(exc)) from None
    try:
        with metadata_file.open("rb") as handle:
            data = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise AdminCliError(f"cannot read {metadata_file}: {exc.strerror or exc}") from None
    try:
        provider = read_idp_metadata(data, allow_sha1=allow_sha1)
    except MetadataError as exc:
        raise AdminCliError(f"{metadata_file}: {exc}") from None
    database = open_database(ctx, database_url)
    try:
        with database.connect(write=True) as connection:
            tenant_id = resolve_tenant(connection, tenant)
            sp = ServiceProvider.of(public_url, tenant_id)
            save_provider(connection, tenant_id, provider)
            audit(
                connection,
                tenant_id,
                cli_context("sso saml"),
                "configure",
                resource_type="SingleSignOn",
                resource_name=provider.entity_id[:320],
                detail=(
                    f"SAML identity provider {provider.entity_id[:200]}, "
                    f"{len(provider.certificates)} signing certificate(s), first expiring "
                    f"{provider.first_expiry():%Y-%m-%d}"
                    + (", SHA-1 accepted" if allow_sha1 else "")
                ),
            )
    except (TenantError, ProviderError) as exc:
        raise AdminCliError(str(exc)) from None
    finally:
        database.dispose()
    click.echo(f"Identifier (Entity ID): {sp.entity_id}")
    click.echo(f"Reply URL (Assertion Consumer Service URL): {sp.acs_url}")
    click.echo(f"Sign on URL: {sp.login_url}")
