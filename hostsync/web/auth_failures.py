"""Failed authentications made visible, a bounded number of times.

A token that fails to authenticate is counted per client address. At most one record per
address and ``interval`` (60 s), and at most ``records_per_interval`` records in all per
interval in each process, are written; each carries the count of refusals from that address
since the previous one, so a flood of bad tokens costs a few writes a minute.

A record goes where the administrator who can act on it looks:

- if the token is one of a tenant's keys (revoked), or starts with the shown prefix of one
  (``hsk_`` and 8 characters, as the console lists keys), an entry in **that tenant's**
  activity log: operation ``authenticate``, status 401, the key's prefix and label, whether
  it is revoked or unknown, the client address and the count. Typically an Entra job still
  provisioning with a key that was revoked.
- otherwise a warning in the server log with the client address and the token cut to its
  shown prefix (or only its length, for tokens that are not hostsync keys).

Neither ever holds the token itself (store/redaction.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hostsync.caching import LeastRecent
from hostsync.store.activity.recording import RequestContext
from hostsync.store.activity.records import append
from hostsync.store.database import Database
from hostsync.store.redaction import redact_keys
from hostsync.store.tenants import KEY_PREFIX, PresentedKey, find_presented_key

log = logging.getLogger("hostsync.web.auth")

RECORD_INTERVAL_SECONDS = 60.0
RECORDS_PER_INTERVAL = 60
"""Records (activity rows or log lines) one process writes per interval, all addresses."""
TRACKED_ADDRESSES = 10_000
"""Addresses whose refusals are tallied; the longest-quiet one is forgotten past it."""
_SHOWN = 12


@dataclass(slots=True)
class _Tally:
    refused: int = 0
    recorded_at: float = float("-inf")


class FailedAuthentications:
    """Tallies refused tokens per client address and says when to record them."""

    def __init__(
        self,
        database: Database,
        *,
        interval: float = RECORD_INTERVAL_SECONDS,
        records_per_interval: int = RECORDS_PER_INTERVAL,
        tracked_addresses: int = TRACKED_ADDRESSES,
    ) -> None:
        self.database = database
        self.interval = interval
        self.records_per_interval = records_per_interval
        self.tracked_addresses = tracked_addresses
        self._tallies: LeastRecent[str, _Tally] = LeastRecent(tracked_addresses)
        self._window_start = float("-inf")
        self._window_records = 0
        self._lock = threading.Lock()

    def refused(
        self, token: str, address: str, method: str, path: str, agent: str | None
    ) -> Callable[[], None] | None:
        """Count one refusal; return the recording to run (off the loop) if one is due."""
        moment = time.monotonic()
        with self._lock:
            tally = self._tallies.get(address) or _Tally()
            self._tallies.put(address, tally)  # the longest-quiet address goes first
            tally.refused += 1
            if moment - tally.recorded_at < self.interval:
                return None
            if moment - self._window_start >= self.interval:
                self._window_start, self._window_records = moment, 0
            if self._window_records >= self.records_per_interval:
                return None
            self._window_records += 1
            count, tally.refused, tally.recorded_at = tally.refused, 0, moment
        context = RequestContext(method=method, path=path[:500], client=agent)
        return lambda: self.record(token, address, count, context)

    def record(self, token: str, address: str, count: int, context: RequestContext) -> None:
        """Write the record: the named tenant's activity, else the server log; never raises."""
        address = address[:64]
        try:
            with self.database.connect(write=False) as connection:
                key = find_presented_key(connection, token)
            if key is not None:
                with self.database.connect(write=True) as connection:
                    append(
                        connection,
                        key.tenant_id,
                        context,
                        operation="authenticate",
                        status=401,
                        detail=redact_keys(_detail(key, address, count)),
                    )
                return
        except Exception:  # a record must never change the answer (a 401)
            log.exception("could not record a failed authentication")
            return
        log.warning(
            "authentication refused from %r: unknown key %s "
            "(%d refusals from this address since the last report)",
            address,
            shown(token),
            count,
        )


def _detail(key: PresentedKey, address: str, count: int) -> str:
    state = (
        f"revoked key {key.prefix}… ({key.label!r})"
        if key.revoked
        else f"unknown key that starts like key {key.prefix}… ({key.label!r})"
    )
    times = "1 refusal" if count == 1 else f"{count} refusals"
    return (
        f"Authentication refused: {state} presented from {address}; "
        f"{times} from this address since the last such entry"
    )


def shown(token: str) -> str:
    """What may be logged of a refused token: a key's shown prefix, else its length."""
    if token.startswith(KEY_PREFIX):
        return redact_keys(token[:_SHOWN]) + "…"
    return f"<a {len(token)}-character token that is not a hostsync key>"
