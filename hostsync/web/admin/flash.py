"""The Post/Redirect/Get flash: a form's result, kept in memory for its session's next page."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from hostsync.store import admins as admin_store

FLASH_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class Flash:
    """What a form's result page shows once after the redirect: a notice, maybe a new key."""

    notice: str
    new_key: str | None = None
    new_key_id: str | None = None
    replaced_key_id: str | None = None
    failed: bool = False
    """The notice reports a failure (shown as an error)."""


class FlashStore:
    """One-time messages for the page a form redirects to (Post/Redirect/Get).

    Held in the process's memory, keyed by the session's digest: a flash is read at most once
    and forgotten after ``FLASH_SECONDS``, so a one-time key never reaches a URL, a cookie or
    the database, and a reload of the result page shows nothing new and creates nothing.
    """

    def __init__(self, seconds: float = FLASH_SECONDS) -> None:
        self.seconds = seconds
        self._items: dict[str, tuple[float, Flash]] = {}
        self._lock = threading.Lock()

    def put(self, session: admin_store.Session, flash: Flash) -> None:
        """Keep ``flash`` for the session's next read (replacing an unread one)."""
        moment = time.monotonic()
        with self._lock:
            self._items = {k: v for k, v in self._items.items() if v[0] > moment}
            self._items[session.digest] = (moment + self.seconds, flash)

    def take(self, session: admin_store.Session) -> Flash | None:
        """The session's flash, removed; None when there is none or it has expired."""
        with self._lock:
            found = self._items.pop(session.digest, None)
        if found is None or found[0] <= time.monotonic():
            return None
        return found[1]
