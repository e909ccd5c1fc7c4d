"""``hostsync site|kiosk|visits``: exact outputs, per-tenant scope, audit rows, one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, update

from hostsync.cli import cli
from hostsync.frontdesk.retention import ANONYMISED_NAME, END_OF_DAY_BY
from hostsync.frontdesk.visits import arrival
from hostsync.store.admin_tables import activity
from hostsync.store.clock import now
from hostsync.store.database import Database
from hostsync.store.frontdesk.sites import authenticate_kiosk, get_site, list_kiosks
from hostsync.store.frontdesk.tables import visits
from hostsync.store.frontdesk.visits import CheckIn, check_in
from hostsync.store.tenants import create_tenant, find_tenant_by_name
from tests.cli.test_commands import hostsync


@pytest.fixture
def cli_db(tmp_path: Path) -> Iterator[tuple[Database, str]]:
    """A migrated SQLite file with two tenants, Contoso and Fabrikam, and its URL."""
    url = f"sqlite:///{tmp_path / 'frontdesk.db'}"
    database = Database(url)
    database.migrate()
    with database.connect(write=True) as connection:
        create_tenant(connection, "Contoso")
        create_tenant(connection, "Fabrikam")
    yield database, url
    database.dispose()


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--database-url", url])


def tenant(database: Database, name: str) -> str:
    with database.connect(write=False) as connection:
        found = find_tenant_by_name(connection, name)
    assert found is not None
    return found.id


def logged(database: Database, tenant_id: str) -> list[tuple[str, str, str | None, str | None]]:
    with database.connect(write=False) as connection:
        rows = connection.execute(
            select(
                activity.c.operation,
                activity.c.resource_type,
                activity.c.resource_name,
                activity.c.detail,
            )
            .where(activity.c.tenant_id == tenant_id, activity.c.actor.startswith("cli ("))
            .order_by(activity.c.pk)
        )
        return [tuple(r) for r in rows]


def visit_of(database: Database, site_id: str, tenant_id: str, name: str, email: str | None) -> str:
    with database.connect(write=True) as connection:
        site = get_site(connection, tenant_id, site_id)
        assert site is not None
        made = check_in(
            connection, site, arrival(name, "ACME", email, front_desk=True), CheckIn("desk")
        )
    return made.id


def visit_row(database: Database, visit_id: str) -> object:
    with database.connect(write=False) as connection:
        return connection.execute(select(visits).where(visits.c.id == visit_id)).one()


def test_site_create_prints_the_id_alone_and_site_list_shows_it(tmp_path: Path) -> None:
    """The printed contract, through the real entry point: the id alone on stdout."""
    url = f"sqlite:///{tmp_path / 'sites.db'}"
    assert (
        hostsync("tenant", "create", "Contoso", "--database-url", url, cwd=tmp_path).returncode == 0
    )
    made = hostsync(
        "site", "create", "Contoso", "Paris HQ", "--timezone", "Europe/Paris",
        "--database-url", url, cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    site_id = made.stdout.strip()
    assert made.stdout == site_id + "\n" and len(site_id) == 32
    listed = hostsync("site", "list", "Contoso", "--database-url", url, cwd=tmp_path)
    assert listed.stdout.splitlines() == [
        "ID\tNAME\tTIME ZONE\tEND OF DAY\tKIOSKS",
        f"{site_id}\tParis HQ\tEurope/Paris\t-\t0",
    ]


def test_site_create_takes_an_end_of_day_and_is_audited(cli_db: tuple[Database, str]) -> None:
    database, url = cli_db
    made = run(url, "site", "create", "Contoso", "Lyon", "--end-of-day", "17:30")
    assert made.exit_code == 0, made.output
    contoso = tenant(database, "Contoso")
    with database.connect(write=False) as connection:
        site = get_site(connection, contoso, made.output.strip())
    assert site is not None and (site.name, site.timezone, site.end_of_day) == (
        "Lyon",
        "UTC",
        "17:30",
    )
    assert logged(database, contoso) == [
        ("create", "Site", "Lyon", "time zone UTC, end of day 17:30")
    ]
    assert logged(database, tenant(database, "Fabrikam")) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["site", "create", "Contoso", "X", "--timezone", "Mars/Olympus"], "unknown time zone"),
        (["site", "create", "Contoso", "X", "--end-of-day", "6pm"], "is not a time like 18:30"),
        (["site", "create", "Contoso", "   "], "a site needs a name"),
        (["site", "create", "Nobody", "X"], "no tenant has the id or name 'Nobody'"),
        (["site", "list", "Nobody"], "no tenant has the id or name"),
        (["kiosk", "create", "Contoso", "--site", "nope"], "this tenant has no site 'nope'"),
        (["kiosk", "create", "Nobody", "--site", "nope"], "no tenant has the id or name"),
        (["kiosk", "list", "Contoso", "--site", "nope"], "this tenant has no site 'nope'"),
        (["kiosk", "revoke", "Contoso", "nope"], "this tenant has no kiosk 'nope'"),
        (["visits", "erase", "Contoso", "--email", "not-an-address"], "not an e-mail address"),
        (["visits", "erase", "Nobody", "--email", "a@b.example"], "no tenant has the id or name"),
        (["visits", "anonymise", "--tenant", "Nobody"], "no tenant has the id or name"),
        (["visits", "checkout-end-of-day", "--tenant", "Nobody"], "no tenant has the id or name"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    cli_db: tuple[Database, str], args: list[str], message: str
) -> None:
    database, url = cli_db
    result = run(url, *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    with database.connect(write=False) as connection:  # nothing half-written
        assert list_kiosks(connection, tenant(database, "Contoso")) == []


def test_a_duplicate_site_name_is_refused(cli_db: tuple[Database, str]) -> None:
    _, url = cli_db
    assert run(url, "site", "create", "Contoso", "Lyon").exit_code == 0
    again = run(url, "site", "create", "Contoso", "lyon")
    assert again.exit_code == 2 and "a site named 'lyon' exists" in again.output
    assert run(url, "site", "create", "Fabrikam", "Lyon").exit_code == 0  # another tenant's


def test_kiosk_create_prints_the_link_path_alone_and_it_authenticates(
    cli_db: tuple[Database, str],
) -> None:
    database, url = cli_db
    site_id = run(url, "site", "create", "Contoso", "Paris HQ").output.strip()
    made = run(url, "kiosk", "create", "Contoso", "--site", site_id, "--label", "Lobby")
    assert made.exit_code == 0, made.output
    path = made.output.strip()
    assert made.output == path + "\n" and path.startswith("/kiosk/hsk_kiosk_")
    with database.connect(write=False) as connection:
        credential = authenticate_kiosk(connection, path.removeprefix("/kiosk/"))
    contoso = tenant(database, "Contoso")
    assert credential is not None
    assert (credential.tenant_id, credential.site_id, credential.label) == (
        contoso,
        site_id,
        "Lobby",
    )
    listed = run(url, "kiosk", "list", "Contoso", "--site", site_id)
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0] == "ID\tSITE\tLABEL\tPREFIX\tCREATED\tLAST SEEN\tREVOKED"
    fields = lines[1].split("\t")
    assert fields[0] == credential.kiosk_id and fields[1:4] == [
        "Paris HQ",
        "Lobby",
        path[7:21] + "…",
    ]
    assert fields[-1] == "-" and path.removeprefix("/kiosk/") not in listed.output
    assert run(url, "site", "list", "Contoso").output.splitlines()[1].split("\t")[-1] == "1"
    revoked = run(url, "kiosk", "revoke", "Contoso", credential.kiosk_id)
    assert revoked.exit_code == 0 and revoked.output == f"revoked {credential.kiosk_id}\n"
    with database.connect(write=False) as connection:
        assert authenticate_kiosk(connection, path.removeprefix("/kiosk/")) is None
    assert run(url, "kiosk", "list", "Contoso").output.splitlines()[1].split("\t")[-1] != "-"
    entries = logged(database, contoso)
    assert [(e[0], e[1]) for e in entries] == [
        ("create", "Site"),
        ("create", "Kiosk"),
        ("revoke", "Kiosk"),
    ]
    assert entries[1][2:] == ("Lobby", f"for site {site_id}")
    assert path[7:] not in str(entries)


def test_another_tenants_site_and_kiosk_are_unknown_here(cli_db: tuple[Database, str]) -> None:
    """A site or kiosk id of Fabrikam's is refused for Contoso, and changes nothing."""
    database, url = cli_db
    theirs = run(url, "site", "create", "Fabrikam", "Berlin").output.strip()
    their_kiosk = run(url, "kiosk", "create", "Fabrikam", "--site", theirs).output.strip()
    made = run(url, "kiosk", "create", "Contoso", "--site", theirs)
    assert made.exit_code == 2 and f"this tenant has no site '{theirs}'" in made.output
    listed = run(url, "kiosk", "list", "Contoso", "--site", theirs)
    assert listed.exit_code == 2
    fabrikam = tenant(database, "Fabrikam")
    with database.connect(write=False) as connection:
        kiosk_id = list_kiosks(connection, fabrikam)[0].id
    revoked = run(url, "kiosk", "revoke", "Contoso", kiosk_id)
    assert revoked.exit_code == 2 and "this tenant has no kiosk" in revoked.output
    with database.connect(write=False) as connection:
        assert authenticate_kiosk(connection, their_kiosk.removeprefix("/kiosk/")) is not None
    assert run(url, "kiosk", "list", "Contoso").output.splitlines()[1:] == []
    assert run(url, "site", "list", "Contoso").output.splitlines()[1:] == []


def test_visits_erase_anonymises_that_address_in_that_tenant_and_audits_no_address(
    cli_db: tuple[Database, str],
) -> None:
    database, url = cli_db
    contoso, fabrikam = tenant(database, "Contoso"), tenant(database, "Fabrikam")
    ours = run(url, "site", "create", "Contoso", "HQ").output.strip()
    theirs = run(url, "site", "create", "Fabrikam", "HQ").output.strip()
    mine = visit_of(database, ours, contoso, "Ada Lovelace", "Ada@Example.com")
    other = visit_of(database, ours, contoso, "Zoe", "zoe@example.com")
    foreign = visit_of(database, theirs, fabrikam, "Ada Lovelace", "ada@example.com")
    erased = run(url, "visits", "erase", "Contoso", "--email", " ADA@example.COM ")
    assert erased.exit_code == 0, erased.output
    assert erased.output == "1 visit(s) anonymised.\n"
    assert visit_row(database, mine).visitor_name == ANONYMISED_NAME  # type: ignore[attr-defined]
    assert visit_row(database, other).visitor_name == "Zoe"  # type: ignore[attr-defined]
    assert visit_row(database, foreign).visitor_email == "ada@example.com"  # type: ignore[attr-defined]
    entries = logged(database, contoso)
    assert entries[-1] == (
        "erase",
        "Visitor",
        None,
        "visitor erased (matched by e-mail address): 1 visit(s) anonymised",
    )
    assert "ada" not in str(entries).casefold()
    assert logged(database, fabrikam)[-1][0] == "create"  # Fabrikam's log: its site only


def test_visits_anonymise_and_checkout_end_of_day(cli_db: tuple[Database, str]) -> None:
    database, url = cli_db
    contoso, fabrikam = tenant(database, "Contoso"), tenant(database, "Fabrikam")
    ours = run(url, "site", "create", "Contoso", "HQ", "--end-of-day", "18:00").output.strip()
    theirs = run(url, "site", "create", "Fabrikam", "HQ", "--end-of-day", "18:00").output.strip()
    old = visit_of(database, ours, contoso, "Ada", "ada@example.com")
    their_old = visit_of(database, theirs, fabrikam, "Bob", None)
    with database.connect(write=True) as connection:
        connection.execute(
            update(visits)
            .where(visits.c.id.in_([old, their_old]))
            .values(checked_in_at=now() - timedelta(days=400))
        )
    anonymised = run(url, "visits", "anonymise", "--tenant", "Contoso")
    assert anonymised.output == "1 visit(s) anonymised in 1 tenant(s).\n"
    assert visit_row(database, their_old).visitor_name == "Bob"  # type: ignore[attr-defined]
    assert logged(database, contoso)[-1] == (
        "anonymise",
        "Visit",
        None,
        "1 visit(s) older than 365 days anonymised",
    )
    checked = run(url, "visits", "checkout-end-of-day", "--tenant", "Fabrikam")
    assert checked.output == "1 visitor(s) checked out.\n"
    assert visit_row(database, their_old).checked_out_by == END_OF_DAY_BY  # type: ignore[attr-defined]
    assert visit_row(database, old).checked_out_at is None  # type: ignore[attr-defined]
    assert run(url, "visits", "checkout-end-of-day").output == "1 visitor(s) checked out.\n"
    assert run(url, "visits", "anonymise").output == "1 visit(s) anonymised in 1 tenant(s).\n"
    assert run(url, "visits", "anonymise").output == "0 visit(s) anonymised in 0 tenant(s).\n"


def test_the_commands_are_in_the_help() -> None:
    top = CliRunner().invoke(cli, ["--help"]).output
    assert all(f"  {name} " in top for name in ("site", "kiosk", "visits"))
    assert "--timezone" in CliRunner().invoke(cli, ["site", "create", "--help"]).output
