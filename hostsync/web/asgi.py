"""The ASGI factory uvicorn's workers call: settings from the environment, then create_app."""

from __future__ import annotations

import logging

from starlette.applications import Starlette

from hostsync.config import Settings
from hostsync.store.database import Database
from hostsync.web.app import create_app


def app_from_environment() -> Starlette:
    """Build the application from ``HOSTSYNC_*`` environment variables."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings()
    return create_app(settings, Database(settings.database_url))
