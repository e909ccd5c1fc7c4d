"""Issue 18 (files): a SQLite database that hostsync creates, and the ``-wal`` and ``-shm``
files SQLite creates beside it, are readable by their owner only (``0600``), whatever the
umask: they hold every tenant's directory and the digests of API keys.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostsync.store.database import Database

from .conftest import new_tenant


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask that makes new files world-readable (0644)."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("open_umask")
def test_a_new_database_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    """Created by migrate and written to: the file, its WAL and its shared-memory file."""
    path = tmp_path / "private" / "hostsync.db"
    database = Database(f"sqlite:///{path}")
    try:
        database.migrate()
        new_tenant(database, "Private")
        with database.connect(write=False) as connection:
            connection.exec_driver_sql("SELECT 1")
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
    finally:
        database.dispose()
    assert modes == {p.name: 0o600 for p in files}


@pytest.mark.usefixtures("open_umask")
def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    """A file the operator created is opened as it is (its mode is theirs to choose)."""
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    database = Database(f"sqlite:///{path}")
    try:
        database.migrate()
    finally:
        database.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
