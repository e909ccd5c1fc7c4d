"""The CLI opens the database as the settings configure it (the store never reads them)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from hostsync.cli.admin import open_database
from hostsync.store.database import SQLITE_MMAP_BYTES, Database


def _mmap_size(database: Database) -> int:
    with database.connect(write=False) as connection:
        return int(connection.exec_driver_sql("PRAGMA mmap_size").scalar_one())


def test_the_database_is_opened_as_the_settings_configure_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--database-url`` wins over ``HOSTSYNC_DATABASE_URL``; ``HOSTSYNC_SQLITE_MMAP_MB`` sizes
    the memory map."""
    url = f"sqlite:///{tmp_path / 'd.db'}"
    context = click.Context(click.Command("test"))
    monkeypatch.setenv("HOSTSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    database = open_database(context, url)
    monkeypatch.setenv("HOSTSYNC_DATABASE_URL", url)
    monkeypatch.setenv("HOSTSYNC_SQLITE_MMAP_MB", "64")
    configured = open_database(context, None)
    try:
        assert database.url == url and _mmap_size(database) == SQLITE_MMAP_BYTES
        assert _mmap_size(configured) == 64 * 1024 * 1024
    finally:
        database.dispose()
        configured.dispose()
