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

    A page of 100 users allocates tens of thousands of short-lived objects; with CPython's
    default thresholds (700, 10, 10) that triggers full collections which rescan every
    long-lived object of the process (modules, schemas, SQLAlchemy's statement caches) and
    stall the event loop. Measured on 100-user pages at 100,000 users: 717 → 912 pages/s and
    p99 85 → 35 ms. ``gc.freeze`` moves what exists now out of the collector's sight; the
    higher first threshold makes young collections rarer (reference counting frees nearly
    everything a request allocates; the collector only has cycles to find).
    """
    gc.freeze()
    gc.set_threshold(50_000, 50, 50)
