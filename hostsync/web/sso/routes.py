"""The SAML route table: ``saml_routes(database, settings)`` returns the routes to add.

``storage`` is the application's rate-limit counter store (its starts are counted there);
without it the routes count in memory of their own.
"""

from __future__ import annotations

from limits.aio.storage import Storage
from starlette.routing import BaseRoute, Route

from hostsync.config import Settings
from hostsync.sso.providers import SAML_PATH
from hostsync.store.database import Database
from hostsync.web.sso.saml import SamlEndpoints
from hostsync.web.sso.starts import StartLimiter


def saml_routes(
    database: Database, settings: Settings, storage: Storage | None = None
) -> list[BaseRoute]:
    """Metadata, SP-initiated start and the ACS of every tenant."""
    endpoints = SamlEndpoints(database, settings, StartLimiter(settings, storage))
    tenant = f"{SAML_PATH}/{{tenant_id}}"
    return [
        Route(f"{tenant}/metadata", endpoints.metadata, methods=["GET"]),
        Route(f"{tenant}/login", endpoints.login, methods=["GET"]),
        Route(f"{tenant}/acs", endpoints.acs, methods=["POST"]),
    ]
