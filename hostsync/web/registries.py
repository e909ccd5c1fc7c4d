"""Each tenant's schema registry (hostsync.scim.extensions), kept in the process.

A credential carries the version of its tenant's declared extensions (store/tenants.py). A
tenant at version 0 never declared one and is served :data:`DEFAULT_REGISTRY` with no lookup
and nothing kept. For the others, the registry built at the credential's version is kept
(one per tenant, at most :data:`TENANTS_KEPT`); a credential of another version reads the
declarations again (store/extensions.py), in a unit of the scheduler. Every change to the
declarations voids the cached credentials of every process (the key signal), so a registry is
stale at most as long as a credential can be (docs/hardening.md, "Revocation").
"""

from __future__ import annotations

import threading

from hostsync.caching import StartOver
from hostsync.scim.extensions import DEFAULT_REGISTRY, Registry
from hostsync.store.database import Database
from hostsync.store.extensions import tenant_registry
from hostsync.store.tenants import Credential

TENANTS_KEPT = 1024
"""Registries kept; past it the cache starts over (each is rebuilt by one read)."""


class TenantRegistries:
    """The registry of a credential's tenant: kept per version, read when it moved."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._kept: StartOver[str, tuple[int, Registry]] = StartOver(TENANTS_KEPT)
        self._lock = threading.Lock()

    def cached(self, credential: Credential) -> Registry | None:
        """The registry at the credential's version without I/O; None: call :meth:`load`."""
        version = credential.extensions_version
        if not version:
            return DEFAULT_REGISTRY
        kept = self._kept.get(credential.tenant_id)
        if kept is not None and kept[0] == version:
            return kept[1]
        return None

    def load(self, tenant_id: str) -> Registry:
        """Read the tenant's declarations and keep the registry they make at their version."""
        with self.database.connect(write=False) as connection:
            version, registry = tenant_registry(connection, tenant_id)
        if version:
            with self._lock:
                self._kept.put(tenant_id, (version, registry))
        return registry
