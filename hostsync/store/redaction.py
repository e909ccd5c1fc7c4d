"""Secrets taken out of text before it is stored or logged.

An API key (``hsk_`` and 43 URL-safe characters, :mod:`hostsync.store.tenants`) can reach a
stored or logged text by mistake: pasted into a filter, a ``userName`` or a header that an
error message quotes back. Every such text passes through :func:`redact_keys` first, which
keeps the key's shown prefix (the one the console lists beside each key, so an operator can
tell which key leaked) and replaces the rest.
"""

from __future__ import annotations

import re

_KEY = re.compile(r"(hsk_[A-Za-z0-9_-]{8})[A-Za-z0-9_-]+")
REDACTED = "…[redacted]"


def redact_keys(text: str) -> str:
    """``text`` with every API key cut to its shown prefix and :data:`REDACTED`."""
    if "hsk_" not in text:
        return text
    return _KEY.sub(lambda match: match.group(1) + REDACTED, text)
