"""API keys never reach stored or logged text whole (store/redaction.py)."""

from __future__ import annotations

from sqlalchemy import create_engine

from hostsync.store.redaction import REDACTED, redact_keys
from hostsync.store.tables import metadata
from hostsync.store.tenants import create_key, create_tenant


def test_a_real_key_is_cut_to_the_prefix_the_console_shows() -> None:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        tenant = create_tenant(connection, "Acme")
        meta, key = create_key(connection, tenant.id, "Entra")
    text = f'Invalid filter: userName eq "{key}" (and again: {key})'
    redacted = redact_keys(text)
    assert key not in redacted
    shown = meta.prefix + REDACTED
    assert redacted == f'Invalid filter: userName eq "{shown}" (and again: {shown})'


def test_text_without_a_key_is_kept_as_it_is() -> None:
    for text in ("", 'userName eq "hsk_"', "hsk_short", "a plain detail"):
        assert redact_keys(text) == text
