"""Bearer API key → tenant, with an in-process cache that a revocation empties at once.

The cache maps the key's digest (never the key) to the credential, tagged with the keys'
*generation* (store/key_signal.py) read in the same snapshot as the lookup. An entry is
trusted only while the signal still reports that generation and for at most ``ttl``
seconds: a steady stream of requests costs one lookup per key per ``ttl``, and a key revoked
anywhere (console, CLI, another worker) is refused by the first request that starts after
the revoking transaction committed (docs/hardening.md, "Revocation").

Tokens that fail to authenticate are throttled per client address before they cost a lookup
and are recorded, a bounded number of times (web/auth_failures.py). A key that this process
verified recently is *vouched for*: it is still looked up when its client address is over
its failure budget, so a tenant keeps working while someone behind the same address (a NAT,
Entra's shared egress addresses) presents bad keys.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from starlette.types import Scope

from hostsync.caching import LeastRecent, StartOver
from hostsync.scim.errors import TooManyRequestsError, UnauthorizedError
from hostsync.store.database import Database
from hostsync.store.key_signal import KeySignal, key_signal_for
from hostsync.store.tenants import Credential, authenticate, digest, mark_used
from hostsync.web.auth_failures import FailedAuthentications
from hostsync.web.ratelimit import AuthFailureLimiter, client_address

_REFUSED = "The API key is unknown or has been revoked"
CACHED_KEYS_MAX = 10_000
"""Credentials kept in the cache; it is emptied when full (a lookup each refills it)."""
VOUCHED_KEYS_MAX = 10_000
"""Digests of keys verified by this process that pass a throttled address's budget."""


class CachedRefusal(UnauthorizedError):
    """A 401 answered from the cache: the key was refused at the current generation."""


class ApiKeyAuthenticator:
    """Resolves ``Authorization: Bearer <key>`` headers to credentials."""

    def __init__(
        self,
        database: Database,
        ttl: float,
        *,
        signal: KeySignal | None = None,
        failures: AuthFailureLimiter | None = None,
    ) -> None:
        self.database = database
        self.ttl = ttl
        self.signal = signal if signal is not None else key_signal_for(database.url)
        self.failures = failures
        self.recorder = FailedAuthentications(database)
        self._cache: StartOver[str, tuple[Credential | None, float, int]] = StartOver(
            CACHED_KEYS_MAX
        )
        self._vouched: LeastRecent[str, None] = LeastRecent(VOUCHED_KEYS_MAX)
        self._lock = threading.Lock()

    def cached(self, authorization: str | None) -> Credential | None:
        """The credential if this header's key was verified at the current generation.

        No I/O but the signal's check (store/key_signal.py); lets the event loop skip a
        worker-thread hop for the usual request. None means "call :meth:`credential`" (which
        also raises the 401s).
        """
        if not authorization:
            return None
        try:
            key_digest = digest(_bearer(authorization))
        except UnauthorizedError:
            return None
        hit, credential = self._trusted(key_digest)
        return credential if hit else None

    def _trusted(self, key_digest: str) -> tuple[bool, Credential | None]:
        """(whether the cache answers, its answer: the credential or None for a refusal)."""
        with self._lock:
            entry = self._cache.get(key_digest)
        if entry is None or entry[1] <= time.monotonic():
            return False, None
        if self.signal.generation() != entry[2]:  # None (unknown) never equals
            return False, None
        return True, entry[0]

    def credential(self, authorization: str | None) -> Credential:
        """Return the credential for the header, or raise 401.

        A refusal is cached like a credential (a revoked key that a client keeps sending
        costs one lookup per ``ttl``); :class:`CachedRefusal` says no lookup was spent.
        """
        key = _bearer(authorization)
        key_digest = digest(key)
        hit, trusted = self._trusted(key_digest)
        if hit:
            if trusted is None:
                raise CachedRefusal(_REFUSED)
            return trusted
        # Read before the lookup: a change is signalled only after it committed, so a lookup
        # that starts after this read sees every change signalled up to it (key_signal.py).
        generation = self.signal.generation()
        moment = time.monotonic()
        with self.database.connect(write=False) as connection:
            credential = authenticate(connection, key)
        if credential is not None:
            with self.database.connect(write=True) as connection:
                mark_used(connection, credential.key_id, credential.last_used_at)
        with self._lock:
            if credential is None:
                self._vouched.pop(key_digest)
            else:
                self._vouched.put(key_digest, None)
            if generation is not None and self.ttl > 0:
                self._cache.put(key_digest, (credential, moment + self.ttl, generation))
        if credential is None:
            raise UnauthorizedError(_REFUSED)
        return credential

    async def throttle(self, authorization: str | None, scope: Scope) -> None:
        """Raise 429 if the client spent its failure budget and the key is not vouched for.

        Called before a lookup; costs no database work.
        """
        if self.failures is None or not self.failures.enabled:
            return
        if authorization and self._is_vouched(authorization):
            return
        retry_after = await self.failures.retry_after(client_address(scope))
        if retry_after:
            raise TooManyRequestsError(
                "Too many failed authentications from this address; "
                f"retry after {retry_after} seconds",
                retry_after,
            )

    async def refused(
        self, refusal: Exception, authorization: str | None, scope: Scope, agent: str | None
    ) -> Callable[[], None] | None:
        """Count a failed authentication; return the recording to run if one is due.

        Only a refusal that cost a lookup counts against the client's failure budget: one
        answered from the cache (the same revoked key again) does not.
        """
        if not authorization:
            return None  # no key presented: nothing to trace, no lookup was spent
        address = client_address(scope)
        if self.failures is not None and not isinstance(refusal, CachedRefusal):
            await self.failures.failed(address)
        token = authorization.strip().partition(" ")[2].strip()
        return self.recorder.refused(token, address, scope["method"], scope["path"], agent)

    def _is_vouched(self, authorization: str) -> bool:
        try:
            key_digest = digest(_bearer(authorization))
        except UnauthorizedError:
            return False
        with self._lock:
            return key_digest in self._vouched

    def forget(self) -> None:
        """Drop every cached credential (tests; revocations need not call it)."""
        with self._lock:
            self._cache.clear()

    def close(self) -> None:
        """Release the signal's connection (on shutdown; reopened if used again)."""
        self.signal.close()


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise UnauthorizedError("Authorization header missing: send 'Bearer <API key>'")
    scheme, _, key = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise UnauthorizedError("Authorization must be 'Bearer <API key>'")
    return key.strip()
