"""``hostsync extension``: the extension schemas a tenant declares (Entra's custom extensions).

Registered on the main group by ``hostsync.cli``. The rules a declaration follows are
hostsync.scim.extensions's; the commands report a broken one, an unknown tenant or a URN not
declared as one line on stderr with exit code 2, and write nothing then. Each change is
recorded in the tenant's activity log (actor ``cli`` and the operating-system user), and the
running servers serve it from their next request (store/extensions.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import click

from hostsync.cli.admin import AdminCliError, cli_context, database_url_option, open_database
from hostsync.scim.extensions import (
    Declaration,
    DeclarationError,
    DeclaredAttribute,
    attribute_type,
)
from hostsync.scim.schema import AttrType
from hostsync.store.activity.records import audit
from hostsync.store.extensions import declarations, declare, remove_declaration
from hostsync.store.tenants import TenantError, resolve_tenant

_HEADER = "URN\tATTRIBUTE\tTYPE\tCASE EXACT\tDESCRIPTION"


def parse_attribute(spec: str, case_exact: bool) -> DeclaredAttribute:
    """``NAME[:TYPE[:DESCRIPTION]]`` (type ``string`` when left out) as an attribute."""
    name, _, rest = spec.partition(":")
    kind_text, _, description = rest.partition(":")
    kind = attribute_type(kind_text) if kind_text.strip() else AttrType.STRING
    return DeclaredAttribute(name.strip(), kind, case_exact, description.strip())


def _rows(found: Iterable[Declaration]) -> list[str]:
    return [
        "\t".join(
            (
                declaration.urn,
                attribute.name,
                attribute.type.value,
                "yes" if attribute.case_exact else "no",
                attribute.description or "-",
            )
        )
        for declaration in found
        for attribute in declaration.attributes
    ]


@click.group()
def extension() -> None:
    """Declare the extension schemas a tenant's Entra mappings send (custom extensions)."""


@extension.command("add")
@click.argument("tenant", metavar="TENANT")
@click.argument("urn", metavar="URN")
@click.option(
    "--attribute",
    "attributes",
    multiple=True,
    required=True,
    metavar="NAME[:TYPE[:DESCRIPTION]]",
    help="An attribute to declare (repeatable). TYPE: string (default), boolean, integer, "
    "decimal, dateTime or reference; single-valued.",
)
@click.option(
    "--case-exact",
    "case_exact",
    multiple=True,
    metavar="NAME",
    help="Compare this declared attribute case-sensitively in filters (repeatable).",
)
@click.option("--description", default="", help="The schema's description in /Schemas.")
@database_url_option
@click.pass_context
def extension_add(
    ctx: click.Context,
    tenant: str,
    urn: str,
    attributes: tuple[str, ...],
    case_exact: tuple[str, ...],
    description: str,
    database_url: str | None,
) -> None:
    """Declare URN for TENANT (id or name), or add attributes to its declaration.

    URN is urn:ietf:params:scim:schemas:extension:<Name>:2.0:User. Prints the declaration.
    """
    exact = {name.strip().lower() for name in case_exact}
    try:
        added = [
            parse_attribute(spec, spec.partition(":")[0].strip().lower() in exact)
            for spec in attributes
        ]
        unknown = exact - {attribute.name.lower() for attribute in added}
        if unknown:
            raise DeclarationError(
                f"--case-exact names no --attribute of this command: {', '.join(sorted(unknown))}"
            )
    except DeclarationError as exc:
        raise AdminCliError(str(exc)) from None
    database = open_database(ctx, database_url)
    try:
        with database.connect(write=True) as connection:
            tenant_id = resolve_tenant(connection, tenant).id
            declared = declare(connection, tenant_id, urn, added, description.strip())
            audit(
                connection,
                tenant_id,
                cli_context("extension add"),
                "declare",
                resource_type="Extension",
                resource_name=declared.urn,
                detail="attributes: " + ", ".join(a.name for a in added),
            )
    except (DeclarationError, TenantError) as exc:
        raise AdminCliError(str(exc)) from None
    finally:
        database.dispose()
    click.echo(_HEADER)
    for row in _rows([declared]):
        click.echo(row)


@extension.command("list")
@click.argument("tenant", metavar="TENANT")
@database_url_option
@click.pass_context
def extension_list(ctx: click.Context, tenant: str, database_url: str | None) -> None:
    """List TENANT's (id or name) declared extensions, one attribute a line."""
    database = open_database(ctx, database_url)
    try:
        with database.connect(write=False) as connection:
            found = declarations(connection, resolve_tenant(connection, tenant).id)
    except TenantError as exc:
        raise AdminCliError(str(exc)) from None
    finally:
        database.dispose()
    click.echo(_HEADER)
    for row in _rows(found):
        click.echo(row)


@extension.command("remove")
@click.argument("tenant", metavar="TENANT")
@click.argument("urn", metavar="URN")
@database_url_option
@click.pass_context
def extension_remove(ctx: click.Context, tenant: str, urn: str, database_url: str | None) -> None:
    """Remove TENANT's declaration of URN: its attributes are no longer published or accepted.

    Values already stored stay in the users' documents.
    """
    database = open_database(ctx, database_url)
    try:
        with database.connect(write=True) as connection:
            tenant_id = resolve_tenant(connection, tenant).id
            removed = remove_declaration(connection, tenant_id, urn)
            audit(
                connection,
                tenant_id,
                cli_context("extension remove"),
                "remove",
                resource_type="Extension",
                resource_name=removed.urn,
            )
    except (DeclarationError, TenantError) as exc:
        raise AdminCliError(str(exc)) from None
    finally:
        database.dispose()
    click.echo(f"removed {removed.urn} (values already stored stay in the users' documents)")
