"""WAL checkpoints in a background thread, off the request path (SQLite).

A checkpoint inside a commit makes that request wait while the log is copied and synced, so a
server turns automatic checkpoints off on its connections and this thread runs a PASSIVE
checkpoint each round, on a connection of its own: often while the log grows (short rounds
spread the copying thinly over the writes), seldom while it does not. A passive checkpoint
blocks neither readers nor writers, and durability is unchanged: a commit is durable once it is
in the log (WAL, ``synchronous=NORMAL``).

* **Restart.** Under a steady stream of writes a passive checkpoint never lets the log start
  over, and a RESTART from this thread would wait for a pause that never comes. So past
  ``restart_frames`` the thread copies once more, syncs the database file itself, and raises
  :attr:`WalCheckpointer.restart_wanted`; the next write unit of work runs the RESTART before
  its BEGIN (:meth:`WalCheckpointer.restart`), with little left to copy or sync.
* **Cut back.** Nothing on the request path shrinks the log file (``journal_size_limit`` -1).
  The thread cuts it back (:meth:`WalCheckpointer.truncate`) once the log has stayed fully
  copied for :data:`IDLE_SECONDS`: it drops the file's cached pages first, outside any lock,
  then cuts holding the process's writer lock, and gives up at once if anyone writes.

Measured: bench/JOURNAL.md#wal-checkpoint-thread
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from typing import Protocol

log = logging.getLogger(__name__)

INTERVAL = 0.05
"""Seconds between rounds while the log grows (module doc: short rounds, a short tail)."""
QUIET_INTERVAL = 0.25
"""Seconds between rounds once a round found the log as the previous one left it."""
LOG_FILE_LIMIT = 64 * 1024 * 1024
"""A log file larger than this is cut back to nothing when the writes pause."""
BUSY_TIMEOUT_MS = 30_000
"""How long a connection waits for a lock: the server's, and the thread's passive checkpoints."""
IDLE_SECONDS = 10.0
"""How long the log stays fully copied and unchanged before its file is cut back."""
RESTART_FRAMES = 65_536
"""Frames in the log (256 MiB of 4 KiB pages) past which the thread makes the log start over."""


class Lock(Protocol):
    """What the thread needs of the process's writer lock (a ``threading.RLock``)."""

    def acquire(self, blocking: bool = ..., timeout: float = ...) -> bool:
        """Take it; without ``blocking``, False at once if someone holds it."""
        ...

    def release(self) -> None:
        """Give it back."""
        ...


class WalCheckpointer:
    """A daemon thread checkpointing one SQLite file's log.

    Every ``interval`` seconds while the log grows, every ``quiet_interval`` while it does not.
    """

    def __init__(
        self,
        path: str,
        interval: float = INTERVAL,
        restart_frames: int = RESTART_FRAMES,
        log_file_limit: int = LOG_FILE_LIMIT,
        *,
        quiet_interval: float = QUIET_INTERVAL,
        idle_seconds: float = IDLE_SECONDS,
        writer_lock: Lock | None = None,
    ) -> None:
        self.path = path
        self.interval = interval
        self.quiet_interval = max(interval, quiet_interval)
        self.restart_frames = restart_frames
        self.log_file_limit = log_file_limit
        self.idle_seconds = idle_seconds
        # The process's writer lock (SqliteWriter.lock): held while the log file is cut back.
        self.writer_lock = writer_lock
        self.checkpoints = 0
        self.syncs = 0
        self.restarts = 0
        self.truncations = 0
        self.cpu_seconds = 0.0  # the thread's CPU time in its rounds (bench/inprocess.py)
        self._paused_since: float | None = None  # when the log was last found fully copied
        self._last_version: int | None = None  # PRAGMA data_version at the last round
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

    def round(self, connection: sqlite3.Connection) -> bool:
        """One round: a passive checkpoint; True if the log changed since the last round.

        Once the log is long, a restart is asked for; once the writes have paused, a large
        log file is cut back.
        """
        busy, frames, done = self.checkpoint(connection)
        if frames >= self.restart_frames and not self.restart_wanted.is_set():
            self.checkpoint(connection)  # copies only what arrived during the first
            self.sync_database()
            self.restart_wanted.set()
        # Not the frame count: a write that starts the log over may leave as many as before.
        version = int(connection.execute("PRAGMA data_version").fetchone()[0])
        changed = version != self._last_version
        self._last_version = version
        if busy or frames != done or changed:
            self._paused_since = None
        elif self._paused_since is None:
            self._paused_since = time.monotonic()
        elif (
            time.monotonic() - self._paused_since >= self.idle_seconds
            and self._log_file_size() > self.log_file_limit
        ):
            self.drop_cached_log()
            self.truncate(connection)
            self._paused_since = None
        return changed

    def _log_file_size(self) -> int:
        try:
            return os.path.getsize(self.path + "-wal")
        except OSError:
            return 0

    def drop_cached_log(self) -> None:
        """Drop the log file's pages from the OS's cache, outside any lock.

        Every frame has been copied and synced, so the pages are clean and no one reads them;
        the TRUNCATE that follows then holds writers off for half as long (module doc).
        """
        advise = getattr(os, "posix_fadvise", None)  # not on macOS or Windows
        if advise is None:
            return
        try:
            descriptor = os.open(self.path + "-wal", os.O_RDONLY)
        except OSError:
            return
        try:
            advise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass  # only advice: the TRUNCATE then takes longer
        finally:
            os.close(descriptor)

    def truncate(self, connection: sqlite3.Connection) -> bool:
        """Cut the log file back to nothing (a TRUNCATE checkpoint), if no one is writing.

        It must not wait: a pending TRUNCATE holds off new writers, whose busy handler would
        then sleep on the server's event loop. So it runs without a busy timeout and gives up
        at once (True if it truncated) when a writer or reader is in the way; the thread tries
        again at the next pause. It holds the process's writer lock, taken without waiting,
        so the writes that arrive meanwhile queue there and start the moment it is done.
        """
        lock = self.writer_lock
        if lock is not None and not lock.acquire(blocking=False):
            return False  # a write of this process is under way
        connection.execute("PRAGMA busy_timeout=0")
        try:
            busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.OperationalError:  # "database is locked": someone is writing
            busy = 1
        finally:
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if lock is not None:
                lock.release()
        if not busy:
            self.truncations += 1
        return not busy

    def sync_database(self) -> None:
        """Flush the database file's written pages to disk here, not in the RESTART.

        What the passive checkpoints copied sits in the OS's cache until a checkpoint reaches
        the end of the log; ``fdatasync`` through a descriptor of the thread's own flushes
        it (the GIL is released meanwhile), so the RESTART's own sync finds little left.
        """
        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            os.fdatasync(descriptor)
        finally:
            os.close(descriptor)
        self.syncs += 1

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
        connection = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
        )
        try:
            wait = self.interval
            while not self._stop.wait(wait):
                began = time.thread_time()
                try:
                    changed = self.round(connection)
                except sqlite3.Error as exc:  # the next round tries again
                    log.warning("WAL checkpoint failed: %s", exc)
                    changed = True
                self.cpu_seconds += time.thread_time() - began
                wait = self.interval if changed else self.quiet_interval
        finally:
            connection.close()
