"""Issue 18 (logs): no line a serving process writes holds an API key (``hsk_…``): not in a
message, its arguments, an exception's text, nor uvicorn's access line (which carries the query
string, where a key pasted into a filter would be). The key's shown prefix is kept. Database
errors, which are logged, carry no bound values.
"""

from __future__ import annotations

import gc
import io
import logging
import logging.config
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn.config
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hostsync.store.database import Database
from hostsync.web.asgi import app_from_environment
from hostsync.web.logs import RedactKeys, configure_logging

KEY = "hsk_" + secrets.token_urlsafe(32)
SHOWN = KEY[:12]


@pytest.fixture
def uvicorn_logging() -> Iterator[io.StringIO]:
    """uvicorn's own logging set-up (as ``hostsync serve`` gets it), writing to one buffer."""
    stream = io.StringIO()
    config = uvicorn.config.LOGGING_CONFIG
    handlers = {name: {**handler, "stream": stream} for name, handler in config["handlers"].items()}
    logging.config.dictConfig({**config, "handlers": handlers})
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [logging.StreamHandler(stream)]
    yield stream
    root.handlers = saved
    for name in ("uvicorn", "uvicorn.access"):
        logging.getLogger(name).handlers = []


def _emit_everything() -> None:
    logging.getLogger("hostsync.web").warning("filter was %s", f'userName eq "{KEY}"')
    logging.getLogger("hostsync.web").warning(f"bearer {KEY} refused")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        f"/v1/usersync/SCIM/Users?filter=userName%20eq%20%22{KEY}%22",
        "1.1",
        200,
    )
    try:
        raise ValueError(f"a driver quoted {KEY}")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("request failed")


def test_a_serving_process_writes_no_key(
    uvicorn_logging: io.StringIO, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the ASGI factory sets up in each worker redacts every handler's lines."""
    monkeypatch.setenv("HOSTSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'logs.db'}")
    thresholds = gc.get_threshold()
    try:
        app_from_environment().state.database.dispose()
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    _emit_everything()
    written = uvicorn_logging.getvalue()
    assert KEY not in written
    assert written.count(SHOWN + "…[redacted]") == 4, written
    assert '"GET /v1/usersync/SCIM/Users?filter=' in written  # the access line still formats
    assert "ValueError: a driver quoted" in written


def test_configuring_twice_adds_one_filter(uvicorn_logging: io.StringIO) -> None:
    """Each handler gets the filter once, however often workers configure logging."""
    configure_logging()
    configure_logging()
    for name in ("", "uvicorn", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            assert sum(isinstance(f, RedactKeys) for f in handler.filters) == 1


def test_a_non_string_argument_holding_a_key_is_redacted() -> None:
    """An argument whose text holds a key (an exception object) is caught in the message."""
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed: %s", (OSError(KEY),), None)
    assert RedactKeys().filter(record)
    assert KEY not in record.getMessage()
    assert SHOWN in record.getMessage()


def test_database_errors_carry_no_bound_values(database: Database) -> None:
    """An error from the driver names the statement but not its values (``hide_parameters``):
    those are users' personal data, and such errors are logged."""
    value = "alice.secret@example.com"
    with pytest.raises(DBAPIError) as caught, database.engine.connect() as connection:
        connection.execute(text("INSERT INTO no_such_table VALUES (:value)"), {"value": value})
    assert value not in str(caught.value)
    assert "parameters hidden" in str(caught.value)
