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

A passive checkpoint alone never lets the log start over under a steady stream of writes:
SQLite rewinds the log only when a write begins while every frame has been copied, and the
frames written while a checkpoint runs are always still to copy. Measured in-process: 12,000
creates and PATCHes back to back left a 483 MB log, growing by about 40 KB a write (a long
initial cycle from Entra would fill the disk). A RESTART checkpoint from this thread does not
help: it must wait for a moment with no write in progress, and polling for one (SQLite's busy
handler sleeps 1, 2, 5… ms between tries) misses the microseconds between back-to-back
writes, so it waited until the writes stopped. So once the log holds ``restart_frames``
frames the thread copies it once more and raises :attr:`WalCheckpointer.restart_wanted`; the
next write unit of work, before its BEGIN, runs the RESTART itself (:meth:`restart`). It then
copies only the frames written since, syncs the database file, and its own write starts the
log over (and truncates the file to :data:`JOURNAL_SIZE_LIMIT`). That write, and those
queued behind it, wait for the sync: 30 to 72 ms in-process here (8 restarts in 16,000
writes with a 64 MiB threshold), so the threshold is 256 MiB, about 6,000 writes of the
benchmark's kind between two such waits, which keeps them out of the 99th percentile.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)

JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
"""Bytes the log file is truncated to after a checkpoint let it restart."""
RESTART_FRAMES = 65_536
"""Frames in the log (256 MiB of 4 KiB pages) past which the thread makes the log start over."""


class WalCheckpointer:
    """A daemon thread checkpointing one SQLite file's log every ``interval`` seconds."""

    def __init__(
        self, path: str, interval: float = 0.2, restart_frames: int = RESTART_FRAMES
    ) -> None:
        self.path = path
        self.interval = interval
        self.restart_frames = restart_frames
        self.checkpoints = 0
        self.restarts = 0
        self.restart_wanted = threading.Event()
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

    def round(self, connection: sqlite3.Connection) -> None:
        """One round: a passive checkpoint; once the log is long, a restart is asked for."""
        _, frames, _ = self.checkpoint(connection)
        if frames >= self.restart_frames and not self.restart_wanted.is_set():
            self.checkpoint(connection)  # copies only what arrived during the first
            self.restart_wanted.set()

    def restart(self, connection: sqlite3.Connection) -> None:
        """Copy what is left and let the log start over.

        On a writer's connection, between two of its transactions (see the module's docstring).
        """
        self.restart_wanted.clear()
        try:
            busy, _, _ = connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        except sqlite3.Error as exc:  # the thread asks again after its next round
            log.warning("WAL restart failed: %s", exc)
            return
        if not busy:
            self.restarts += 1

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        try:
            connection.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
            while not self._stop.wait(self.interval):
                try:
                    self.round(connection)
                except sqlite3.Error as exc:  # the next round tries again
                    log.warning("WAL checkpoint failed: %s", exc)
        finally:
            connection.close()


__all__ = ["WalCheckpointer"]
