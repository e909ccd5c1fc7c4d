"""Secrets the server must read back (webhook URLs, signing secrets), sealed with a server key.

A Teams, Slack or generic webhook URL authorises whoever holds it to post, and a signing
secret forges signatures: both are stored only sealed, with Fernet (AES-128-CBC and
HMAC-SHA256, from ``cryptography``), under one key per server. The key comes from
``HOSTSYNC_SECRET_KEY`` (a Fernet key: 32 bytes, URL-safe base64) or else from a key file
(``HOSTSYNC_SECRET_KEY_FILE``, default ``hostsync.key`` beside the SQLite file, else in the
working directory), which :func:`load_key` creates with mode 0600 when it is missing. Every
process of one deployment must use the same key; a lost key makes the sealed values
unreadable (enter them again in the console), it exposes nothing.

Sealed values are never logged and never shown: the console shows :func:`masked` forms.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE_NAME = "hostsync.key"


class SealingError(ValueError):
    """A key cannot be used, or a sealed value cannot be opened with it."""


class Sealer:
    """Seals and opens text with one server key."""

    __slots__ = ("_fernet",)

    def __init__(self, key: bytes | str) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise SealingError(
                "the secret key is not a Fernet key (32 bytes, URL-safe base64): "
                'make one with python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"'
            ) from None

    def __repr__(self) -> str:
        return "Sealer(<key>)"

    def seal(self, text: str) -> str:
        """``text`` sealed (ASCII, safe to store)."""
        return self._fernet.encrypt(text.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        """The text ``sealed`` holds; :class:`SealingError` when another key sealed it."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError, ValueError):
            raise SealingError("a sealed value cannot be opened with this server's key") from None


def new_key() -> bytes:
    """A fresh server key."""
    return Fernet.generate_key()


def load_key(key: str | None, key_file: Path) -> bytes:
    """The server key: ``key`` when given, else ``key_file``'s (created 0600 when missing)."""
    if key and key.strip():
        return key.strip().encode()
    try:
        return key_file.read_bytes().strip()
    except FileNotFoundError:
        pass
    key_file.parent.mkdir(parents=True, exist_ok=True)
    created = new_key()
    try:
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return key_file.read_bytes().strip()
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(created + b"\n")
    return created


def masked(url: str) -> str:
    """A webhook URL as the console shows it: scheme and host, the path's last 4 characters."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "••••"
    tail = (parts.path + ("?" + parts.query if parts.query else ""))[-4:]
    return f"{parts.scheme}://{host}/…{tail}" if host else "••••"


def masked_secret(secret: str) -> str:
    """A signing secret as the console shows it after creation: its first 8 characters."""
    return secret[:8] + "…"
