"""Shared by the SQLite wing's tests."""

from __future__ import annotations

import threading

from hostsync.store.sqlite.writer import SqliteWriter


def lock_is_free(writer: SqliteWriter) -> bool:
    """Whether another thread could take the writer's lock right now."""
    taken: list[bool] = []

    def take() -> None:
        got = writer.lock.acquire(blocking=False)
        taken.append(got)
        if got:
            writer.lock.release()

    thread = threading.Thread(target=take)
    thread.start()
    thread.join()
    return taken == [True]
