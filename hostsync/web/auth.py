"""Bearer API key → tenant, with a short in-process cache.

The cache maps the key's digest (never the key) to the credential for ``ttl`` seconds, so a
steady stream of requests costs one lookup per key per ``ttl``; a revoked key therefore keeps
working for at most ``ttl`` seconds in each server process (docs/architecture.md).
"""

from __future__ import annotations

import threading
import time

from hostsync.scim.errors import UnauthorizedError
from hostsync.store.database import Database
from hostsync.store.tenants import Credential, authenticate, digest, mark_used


class ApiKeyAuthenticator:
    """Resolves ``Authorization: Bearer <key>`` headers to credentials."""

    def __init__(self, database: Database, ttl: float) -> None:
        self.database = database
        self.ttl = ttl
        self._cache: dict[str, tuple[Credential, float]] = {}
        self._lock = threading.Lock()

    def cached(self, authorization: str | None) -> Credential | None:
        """The credential if this header's key was verified within ``ttl``; no I/O.

        Lets the event loop skip a worker-thread hop for the usual request; None means "call
        :meth:`credential`" (which also raises the 401s).
        """
        if not authorization:
            return None
        try:
            key_digest = digest(_bearer(authorization))
        except UnauthorizedError:
            return None
        with self._lock:
            cached = self._cache.get(key_digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        return None

    def credential(self, authorization: str | None) -> Credential:
        """Return the credential for the header, or raise 401."""
        key = _bearer(authorization)
        key_digest = digest(key)
        moment = time.monotonic()
        with self._lock:
            cached = self._cache.get(key_digest)
        if cached is not None and cached[1] > moment:
            return cached[0]
        with self.database.connect(write=False) as connection:
            credential = authenticate(connection, key)
        if credential is None:
            raise UnauthorizedError("The API key is unknown or has been revoked")
        with self.database.connect(write=True) as connection:
            mark_used(connection, credential.key_id, credential.last_used_at)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key_digest] = (credential, moment + self.ttl)
        return credential

    def forget(self) -> None:
        """Drop every cached credential (after a key is revoked in this process)."""
        with self._lock:
            self._cache.clear()


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise UnauthorizedError("Authorization header missing: send 'Bearer <API key>'")
    scheme, _, key = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise UnauthorizedError("Authorization must be 'Bearer <API key>'")
    return key.strip()
