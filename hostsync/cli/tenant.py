"""``hostsync tenant list``: every tenant with its administrators and unrevoked keys.

Registered on the ``tenant`` group by ``hostsync.cli``; the group's other commands live there.
"""

from __future__ import annotations

import click

from hostsync.cli.admin import database_url_option, open_database
from hostsync.store.admins import tenant_summaries


@click.command("list")
@database_url_option
@click.pass_context
def tenant_list(ctx: click.Context, database_url: str | None) -> None:
    """List every tenant: id, name, created, administrators, unrevoked keys."""
    database = open_database(ctx, database_url)
    try:
        with database.connect(write=False) as connection:
            found = tenant_summaries(connection)
    finally:
        database.dispose()
    click.echo("ID\tNAME\tCREATED\tADMINS\tKEYS")
    for item in found:
        created = item.created_at.isoformat(timespec="seconds")
        click.echo(f"{item.id}\t{item.name}\t{created}\t{item.admins}\t{item.active_keys}")
