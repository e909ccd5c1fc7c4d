"""``hostsync demo``'s rules: the port check, the kept demo key and the demo administrator.

- The port is checked before the database is opened: a start that cannot listen changes
  nothing, and says so in one line with a free ``--port`` to try.
- The demo key survives restarts. Only its digest is in the database, like any key; the key
  itself is kept in ``<database file>-demo-key`` beside a SQLite database, readable by its
  owner only (mode 0600), so each start prints it again. ``--new-key`` revokes it and makes
  another. A database with no file beside it (PostgreSQL, SQLite in memory) keeps no copy: the
  key is printed when it is made, and later starts say where to get a new one.
- The demo tenant's first start creates an administrator with a generated password, printed
  once; later starts print the command that sets a new one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, make_url

from hostsync.cli.admin import cli_context
from hostsync.store.activity import audit
from hostsync.store.admins import create_admin, list_admins
from hostsync.store.tenants import authenticate, create_key, list_keys, revoke_key

DEMO_TENANT = "Demo Company"
DEMO_KEY_LABEL = "demo"
DEMO_ADMIN = "admin@demo.example"
KEY_FILE_SUFFIX = "-demo-key"
_PORTS_TRIED = 20


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (one line with a hint), or None if it can."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        return f"cannot listen on '{host[:80]}': {getattr(exc, 'strerror', None) or exc}"
    family, _, _, _, address = infos[0]
    problem = _bind(family, address)
    if problem is None:
        return None
    if problem.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine; try --host 127.0.0.1"
    if problem.errno == errno.EADDRINUSE:
        reason = f"port {port} is in use"
    elif problem.errno == errno.EACCES:
        reason = f"port {port} needs administrator rights"
    else:
        reason = f"cannot listen on {host} port {port} ({problem.strerror or problem})"
    free = next(
        (
            other
            for other in range(port + 1, min(port + 1 + _PORTS_TRIED, 65536))
            if _bind(family, (address[0], other, *address[2:])) is None
        ),
        None,
    )
    return f"{reason}; try --port {free}" if free else f"{reason}; try another --port"


def _bind(family: socket.AddressFamily, address: tuple[object, ...]) -> OSError | None:
    """Bind and listen as uvicorn does (SO_REUSEADDR: only a live listener is in the way)."""
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
            probe.listen(1)
        except OSError as exc:
            return exc
    return None


def key_file(database_url: str) -> Path | None:
    """Where the demo key is kept for this database: beside a SQLite file, else nowhere."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):
        return None
    return Path(parsed.database + KEY_FILE_SUFFIX)


@dataclass(frozen=True, slots=True)
class DemoKey:
    """The demo key of this start: the key (None: kept in no file), and whether it is new."""

    secret: str | None
    created: bool


def demo_key(connection: Connection, tenant_id: str, path: Path | None, *, new: bool) -> DemoKey:
    """Keep the tenant's live demo key (read from ``path``), or make one.

    A key is made when there is no live demo key, or when ``new`` is set (the live ones are
    revoked first). The file is written inside the caller's transaction: if it cannot be
    written, nothing is committed. A file whose key is no longer live is replaced only when a
    key is made; a live key whose file is lost is kept (``secret`` None), never revoked unasked.
    """
    live = [
        item
        for item in list_keys(connection, tenant_id)
        if item.label == DEMO_KEY_LABEL and item.revoked_at is None
    ]
    context = cli_context("demo")
    if live and not new:
        kept = _read_key(path)
        credential = authenticate(connection, kept) if kept else None
        if credential and credential.key_id in {item.id for item in live}:
            return DemoKey(kept, created=False)
        return DemoKey(None, created=False)
    for old in live:
        revoke_key(connection, tenant_id, old.id)
        audit(connection, tenant_id, context, "revoke", resource_type="ApiKey", resource_id=old.id)
    created, secret = create_key(connection, tenant_id, DEMO_KEY_LABEL)
    audit(
        connection,
        tenant_id,
        context,
        "create",
        resource_type="ApiKey",
        resource_id=created.id,
        resource_name=f"{created.label} ({created.prefix}…)",
    )
    if path is not None:
        _write_key(path, secret)
    return DemoKey(secret, created=True)


def _read_key(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)  # a copy made with looser rights is tightened
    return text or None


def _write_key(path: Path, secret: str) -> None:
    """Write the key to ``path`` (mode 0600) atomically: a crash leaves the old file or the new."""
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        os.write(descriptor, (secret + "\n").encode("ascii"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)


@dataclass(frozen=True, slots=True)
class DemoAdmin:
    """The demo tenant's administrator; ``password`` is set only when it was just created."""

    email: str
    password: str | None


def demo_admin(connection: Connection, tenant_id: str) -> DemoAdmin:
    """The demo tenant's administrator: created with a generated password if it has none."""
    existing = list_admins(connection, tenant_id)
    if existing:
        named = [item.email for item in existing if item.email.casefold() == DEMO_ADMIN]
        return DemoAdmin((named or [existing[0].email])[0], None)
    password = secrets.token_urlsafe(15)
    created = create_admin(connection, tenant_id, DEMO_ADMIN, password)
    audit(
        connection,
        tenant_id,
        cli_context("demo"),
        "create",
        resource_type="Admin",
        resource_id=created.id,
        resource_name=created.email,
    )
    return DemoAdmin(created.email, password)
