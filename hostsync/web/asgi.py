"""The ASGI factory uvicorn's workers call: settings from the environment, then create_app."""

from __future__ import annotations

import gc

from starlette.applications import Starlette

from hostsync.config import Settings
from hostsync.store.database import Database
from hostsync.web.app import create_app
from hostsync.web.logs import configure_logging


def app_from_environment() -> Starlette:
    """Build the application from ``HOSTSYNC_*`` environment variables."""
    configure_logging()  # after uvicorn's own set-up: its handlers get the key filter too
    settings = Settings()
    database = Database(
        settings.database_url,
        sqlite_mmap_bytes=settings.sqlite_mmap_mb << 20,
        postgres_connections=settings.postgres_connections,
    )
    app = create_app(settings, database)
    tune_garbage_collector()
    return app


def tune_garbage_collector() -> None:
    """Collect less often, and never rescan what start-up built.

    Reference counting frees nearly everything a request allocates (the collector only has
    cycles to find), so young collections can be rare; and full ones, which stall the event
    loop, never rescan the long-lived objects ``gc.freeze`` takes out of their sight.
    Measured: bench/JOURNAL.md#gc-tuning
    """
    gc.freeze()
    gc.set_threshold(50_000, 50, 50)
