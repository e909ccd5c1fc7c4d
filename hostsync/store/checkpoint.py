"""WAL checkpoints in a background thread, off the request path (SQLite).

By default SQLite checkpoints inside the commit that pushes the write-ahead log past 1,000
pages: that commit copies the log into the database file and fsyncs it, about 5 ms, so one
write in a hundred or so answered in 5 ms instead of 0.2 ms and the rest paid a share too
(measured in-process: creates 304 → 229 µs on average, p99 5.2 ms → 0.35 ms without it).
A server therefore turns automatic checkpoints off on its connections and runs a PASSIVE
checkpoint every ``interval`` seconds in this thread, with a connection of its own. A passive
checkpoint never blocks readers or writers; the thread releases the GIL while SQLite copies
and syncs. Durability is unchanged: a commit is durable once it is in the log (WAL,
``synchronous=NORMAL``), whenever the log is checkpointed.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)

JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
"""Bytes the log file is truncated to after a checkpoint let it restart."""


class WalCheckpointer:
    """A daemon thread checkpointing one SQLite file's log every ``interval`` seconds."""

    def __init__(self, path: str, interval: float = 0.2) -> None:
        self.path = path
        self.interval = interval
        self.checkpoints = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpointer", daemon=True)

    def start(self) -> None:
        """Start checkpointing."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current checkpoint."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def checkpoint(self, connection: sqlite3.Connection) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, frames in the log, frames checkpointed)."""
        busy, frames, done = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1
        return int(busy), int(frames), int(done)

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        try:
            connection.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
            while not self._stop.wait(self.interval):
                try:
                    self.checkpoint(connection)
                except sqlite3.Error as exc:  # the next round tries again
                    log.warning("WAL checkpoint failed: %s", exc)
        finally:
            connection.close()


__all__ = ["WalCheckpointer"]
