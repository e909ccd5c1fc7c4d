"""The SQLite key signal (store/key_signal.py): a counter beside the database that moves only
when a unit of work that changed API keys has ended."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hostsync.store.database import Database
from hostsync.store.key_signal import SIGNAL_SUFFIX, SqliteKeySignal
from hostsync.store.tenants import create_key, create_tenant, revoke_key


def _signal(database: Database) -> SqliteKeySignal:
    path = database.engine.url.database
    assert path is not None
    return SqliteKeySignal(path)


def test_a_key_change_moves_the_counter_once_its_unit_has_ended(sqlite_db: Database) -> None:
    """Creating and revoking a key each move the counter, after the commit and not before."""
    signal = _signal(sqlite_db)
    start = signal.generation()
    assert start is not None
    with sqlite_db.connect(write=True) as connection:
        tenant = create_tenant(connection, "Acme")
        meta, _key = create_key(connection, tenant.id, "Entra")
        assert signal.generation() == start  # not yet: the change has not committed
    created = signal.generation()
    assert created is not None and created != start
    with sqlite_db.connect(write=True) as connection:
        revoke_key(connection, tenant.id, meta.id)
    revoked = signal.generation()
    assert revoked is not None and revoked not in (start, created)
    signal.close()


def test_other_writes_leave_the_counter_alone(sqlite_db: Database) -> None:
    """A commit that changes no key costs the check nothing: the counter stays as it was."""
    signal = _signal(sqlite_db)
    with sqlite_db.connect(write=True) as connection:
        tenant = create_tenant(connection, "Acme")
    before = signal.generation()
    for n in range(3):
        with sqlite_db.directory(tenant.id) as directory:
            directory.create_user(
                {
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": f"user{n}@example.com",
                    "active": True,
                }
            )
    assert signal.generation() == before
    signal.close()


def test_a_rolled_back_change_never_leaves_the_counter_where_a_cache_trusts_it(
    sqlite_db: Database,
) -> None:
    """A key change rolled back still bumps (a lookup more), never re-uses an earlier value."""
    signal = _signal(sqlite_db)
    with sqlite_db.connect(write=True) as connection:
        tenant = create_tenant(connection, "Acme")
    seen = {signal.generation()}
    with pytest.raises(RuntimeError), sqlite_db.connect(write=True) as connection:
        create_key(connection, tenant.id, "Entra")
        raise RuntimeError("the unit fails after the change")
    after = signal.generation()
    assert after is not None and after not in seen
    signal.close()


def test_the_signal_file_is_the_owners_only(sqlite_db: Database) -> None:
    """The counter file beside the database is created 0600, like the database."""
    signal = _signal(sqlite_db)
    assert signal.generation() is not None
    path = Path(f"{sqlite_db.engine.url.database}{SIGNAL_SUFFIX}")
    assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0
    signal.close()


def test_an_unwritable_place_means_no_cache_trust(tmp_path: Path) -> None:
    """Where the file cannot be made, the generation is None: every key is looked up."""
    not_a_directory = tmp_path / "plain-file"
    not_a_directory.write_text("")
    assert SqliteKeySignal(str(not_a_directory / "db.sqlite")).generation() is None
