"""``hostsync sso saml``: the three lines for Entra, the public-URL rule, clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from hostsync.cli import cli
from hostsync.store.admin_tables import activity
from hostsync.store.database import Database
from hostsync.store.sso.providers import load_provider
from hostsync.store.tenants import create_tenant
from tests.sso.idp import EntraIdp, KeyPair, key_pair


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return key_pair()


@pytest.fixture
def cli_db(tmp_path: Path) -> Iterator[tuple[Database, str, str]]:
    url = f"sqlite:///{tmp_path / 'sso.db'}"
    database = Database(url)
    database.migrate()
    with database.connect(write=True) as connection:
        tenant_id = create_tenant(connection, "Contoso").id
    yield database, url, tenant_id
    database.dispose()


def run(url: str, *args: str, public_url: str | None = "https://hosts.example.com") -> Result:
    env = {"HOSTSYNC_PUBLIC_URL": public_url} if public_url else {"HOSTSYNC_PUBLIC_URL": ""}
    return CliRunner().invoke(cli, [*args, "--database-url", url], env=env)


def test_configures_the_tenant_and_prints_exactly_three_lines(
    cli_db: tuple[Database, str, str], keys: KeyPair, tmp_path: Path
) -> None:
    database, url, tenant_id = cli_db
    entra = EntraIdp(keys)
    metadata = tmp_path / "Contoso.xml"
    metadata.write_bytes(entra.metadata())
    result = run(url, "sso", "saml", "Contoso", "--idp-metadata", str(metadata))
    assert result.exit_code == 0, result.output
    base = f"https://hosts.example.com/saml/{tenant_id}"
    assert result.stdout.splitlines() == [
        f"Identifier (Entity ID): {base}",
        f"Reply URL (Assertion Consumer Service URL): {base}/acs",
        f"Sign on URL: {base}/login",
    ]
    with database.connect(write=False) as connection:
        idp = load_provider(connection, tenant_id)
        logged = connection.execute(
            select(activity.c.operation, activity.c.resource_type).where(
                activity.c.tenant_id == tenant_id
            )
        ).all()
    assert idp is not None
    assert idp.entity_id == entra.entity_id
    assert idp.login_url == entra.login_url
    assert [(r.operation, r.resource_type) for r in logged] == [("configure", "SingleSignOn")]


def test_without_a_public_url_it_says_so_and_changes_nothing(
    cli_db: tuple[Database, str, str], keys: KeyPair, tmp_path: Path
) -> None:
    database, url, tenant_id = cli_db
    metadata = tmp_path / "m.xml"
    metadata.write_bytes(EntraIdp(keys).metadata())
    result = run(url, "sso", "saml", tenant_id, "--idp-metadata", str(metadata), public_url=None)
    assert result.exit_code != 0
    assert "HOSTSYNC_PUBLIC_URL" in result.output
    with database.connect(write=False) as connection:
        assert load_provider(connection, tenant_id) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<html>not metadata</html>", "not SAML metadata"),
        (b"\x00\x01garbage", "cannot be read"),
    ],
)
def test_bad_metadata_gets_a_clear_message(
    cli_db: tuple[Database, str, str], tmp_path: Path, content: bytes, message: str
) -> None:
    _database, url, tenant_id = cli_db
    metadata = tmp_path / "bad.xml"
    metadata.write_bytes(content)
    result = run(url, "sso", "saml", tenant_id, "--idp-metadata", str(metadata))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_missing_file_and_an_unknown_tenant_are_clear(
    cli_db: tuple[Database, str, str], keys: KeyPair, tmp_path: Path
) -> None:
    _database, url, _tenant_id = cli_db
    missing = run(url, "sso", "saml", "Contoso", "--idp-metadata", str(tmp_path / "none.xml"))
    assert missing.exit_code == 2
    assert "cannot read" in missing.output
    metadata = tmp_path / "m.xml"
    metadata.write_bytes(EntraIdp(keys).metadata())
    unknown = run(url, "sso", "saml", "Nobody", "--idp-metadata", str(metadata))
    assert unknown.exit_code == 2
    assert "Nobody" in unknown.output
