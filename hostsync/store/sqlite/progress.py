"""A progress handler on a SQLite connection: a check SQLite calls while a statement runs.

SQLite calls the handler every ``steps`` virtual-machine steps; a true answer interrupts the
statement (``interrupted``). The store's query budget uses it to stop a costly scan in time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from sqlalchemy import Connection


def watch_progress(
    connection: Connection, handler: Callable[[], int], steps: int
) -> Callable[[], None] | None:
    """Have SQLite call ``handler`` every ``steps`` steps of ``connection``'s statements.

    Returns what removes the handler again, or None if ``connection`` is not SQLite's.
    """
    driver = connection.connection.driver_connection
    if not isinstance(driver, sqlite3.Connection):
        return None
    driver.set_progress_handler(handler, steps)

    def unwatch() -> None:
        driver.set_progress_handler(None, 0)

    return unwatch
