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

The rounds are short while the log grows (:data:`INTERVAL`, 50 ms) and sparse while it does
not (:data:`QUIET_INTERVAL`; ``PRAGMA data_version`` tells whether anyone committed since the
last round). On a server given one core the thread's CPU time is taken from the requests:
most of it is the kernel writing back the log's pages in the ``fdatasync`` SQLite runs before
it copies (perf), so it grows with the bytes written, and the length of a round decides how
much of it lands on the requests in flight at once. In-process, 16 creates in flight, a
request's wait for the 16 before it (p99 ÷ p50): 2.2 to 2.6 with a round every 200 ms (9 to
12 ms of CPU each), 1.8 to 2.3 with 50 ms, for about 1 % more CPU in all (bench/README.md).

A passive checkpoint alone never lets the log start over under a steady stream of writes:
SQLite rewinds the log only when a write begins while every frame has been copied, and the
frames written while a checkpoint runs are always still to copy. Measured in-process: 12,000
creates and PATCHes back to back left a 483 MB log, growing by about 40 KB a write (a long
initial cycle from Entra would fill the disk). A RESTART checkpoint from this thread does not
help: it must wait for a moment with no write in progress, and polling for one (SQLite's busy
handler sleeps 1, 2, 5… ms between tries) misses the microseconds between back-to-back
writes, so it waited until the writes stopped. So once the log holds ``restart_frames``
frames the thread copies it once more, syncs the database file (:meth:`sync_database`) and
raises :attr:`WalCheckpointer.restart_wanted`; the next write unit of work, before its BEGIN,
runs the RESTART itself (:meth:`restart`). It then copies only the frames written since and
syncs the database file, and its own write starts the log over. That write, and those queued
behind it, wait for what the RESTART does on the request path, so it does as little as it can:

* The thread syncs the database file before it asks. A passive checkpoint that does not reach
  the end of the log (always, under a steady stream of writes) leaves the pages it copied in
  the OS's cache, unsynced; the RESTART's sync then flushed all of them on the request path,
  10 to 60 ms here (strace). Synced by the thread first, the RESTART's sync took 1.2 ms.
* Nothing on the request path shrinks the log file (``journal_size_limit`` -1, SQLite's
  default): a write that starts the log over under a limit truncates the file there, and
  cutting 256 MiB of log back to 64 MiB (the kernel dropping the file's cached pages) was
  most of the wait. Over HTTP, 16 connections, 100,000 users, 30 s of creates (about nine
  restarts): p99 67 to 72 ms with the limit, 23 to 28 ms without; 1,360 to 1,640-1,780 creates/s
  (bench/README.md). The thread cuts the file back instead (:meth:`truncate`), once the log
  has stayed fully copied for :data:`IDLE_SECONDS`, i.e. when the writes have paused.

Cutting the file back holds off writers while the kernel frees its pages and blocks (on this
machine's ext4, mounted with ``discard``: 50 ms for 256 MiB after its cache is dropped,
90 to 100 ms before). So the thread drops the file's cached pages first, outside any lock,
waits for a pause of :data:`IDLE_SECONDS` (a write that arrives during the cut waits for it),
and holds the process's writer lock while it cuts, so this process's writers queue there and
start the moment it is done instead of sleeping in SQLite's busy handler (1, 2, 5, 10… ms
between polls). Measured in-process: a write that started 1 ms into the cut of a 315 MB log
waited 106 to 143 ms without these and 55 to 77 ms with them (five trials each); with a 1 s
pause, 5 of 20 writes that came after pauses of 1.2 to 1.35 s waited 81 to 132 ms.
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
"""Frames in the log (256 MiB of 4 KiB pages) past which the thread makes the log start over:
about 5,500 creates of the benchmark's kind (12 pages each)."""


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
        # The process's writer lock (Database): held while the log file is cut back.
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


__all__ = ["WalCheckpointer"]
