"""``hostsync demo``'s rules: the port check, the kept demo key and the demo administrator.

- The port is checked before the database is opened: a start that cannot listen changes
  nothing, and says so in one line with a free ``--port`` to try.
- The demo key survives restarts: a start never revokes it unasked. Only its digest is stored,
  like any key's (a secret is never kept in clear, not even in a file beside the database), so
  the key is printed when it is made; later starts name it by its shown prefix and say that
  ``--new-key`` revokes it and prints another.
- The demo tenant's first start creates an administrator with a generated password, printed
  once; later starts print the command that sets a new one.
- The demo tenant has a site, *Head office* (made at the first start, in this machine's time
  zone, and kept), and one live kiosk for it. A kiosk's secret is stored only as a digest, so
  its link cannot be printed again: each start revokes the previous demo kiosk and prints the
  link of a new one (a tablet paired by an earlier start opens the new link to pair again).
"""

from __future__ import annotations

import errno
import os
import secrets
import socket
from dataclasses import dataclass

from sqlalchemy import Connection

from hostsync.cli.admin import cli_context
from hostsync.frontdesk.sites import DEFAULT_TIMEZONE, SiteSettingError, timezone_name
from hostsync.store.activity.records import audit
from hostsync.store.admins import create_admin, list_admins
from hostsync.store.frontdesk.sites import (
    create_kiosk,
    create_site,
    list_kiosks,
    list_sites,
    revoke_kiosk,
)
from hostsync.store.tenants import create_key, list_keys, revoke_key

DEMO_TENANT = "Demo Company"
DEMO_KEY_LABEL = "demo"
DEMO_ADMIN = "admin@demo.example"
DEMO_SITE = "Head office"
DEMO_KIOSK_LABEL = "Demo kiosk"
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


@dataclass(frozen=True, slots=True)
class DemoKey:
    """The demo key of this start: the key itself (only when made now), its shown prefix."""

    secret: str | None
    prefix: str
    created: bool


def demo_key(connection: Connection, tenant_id: str, *, new: bool) -> DemoKey:
    """Keep the tenant's live demo key, or make one.

    A key is made when there is no live demo key, or when ``new`` is set (the live ones are
    revoked first); a live key is never revoked unasked.
    """
    live = [
        item
        for item in list_keys(connection, tenant_id)
        if item.label == DEMO_KEY_LABEL and item.revoked_at is None
    ]
    context = cli_context("demo")
    if live and not new:
        return DemoKey(None, live[0].prefix, created=False)
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
    return DemoKey(secret, created.prefix, created=True)


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


@dataclass(frozen=True, slots=True)
class DemoKiosk:
    """The demo site and the secret of the kiosk made for this start (its link's last part)."""

    site_id: str
    site_created: bool
    secret: str


def demo_kiosk(connection: Connection, tenant_id: str) -> DemoKiosk:
    """The demo site (made if absent) and a new kiosk for it; earlier demo kiosks revoked."""
    context = cli_context("demo")
    site = next((s for s in list_sites(connection, tenant_id) if s.name == DEMO_SITE), None)
    created = site is None
    if site is None:
        site = create_site(connection, tenant_id, DEMO_SITE, timezone=local_timezone())
        audit(
            connection,
            tenant_id,
            context,
            "create",
            resource_type="Site",
            resource_id=site.id,
            resource_name=site.name,
            detail=f"time zone {site.timezone}, end of day none",
        )
    for old in list_kiosks(connection, tenant_id, site.id):
        if old.label == DEMO_KIOSK_LABEL and old.revoked_at is None:
            revoke_kiosk(connection, tenant_id, old.id)
            audit(
                connection, tenant_id, context, "revoke", resource_type="Kiosk", resource_id=old.id
            )
    kiosk, secret = create_kiosk(connection, tenant_id, site.id, DEMO_KIOSK_LABEL)
    audit(
        connection,
        tenant_id,
        context,
        "create",
        resource_type="Kiosk",
        resource_id=kiosk.id,
        resource_name=kiosk.label,
        detail=f"for site {site.id}",
    )
    return DemoKiosk(site.id, created, secret)


def local_timezone() -> str:
    """This machine's IANA time zone (``$TZ``, else ``/etc/localtime``'s), else UTC."""
    candidates = []
    named = os.environ.get("TZ", "").lstrip(":")
    if named:
        candidates.append(named)
    target = os.path.realpath("/etc/localtime")
    if "zoneinfo/" in target:
        candidates.append(target.split("zoneinfo/", 1)[1])
    for candidate in candidates:
        try:
            return timezone_name(candidate)
        except SiteSettingError:
            continue
    return DEFAULT_TIMEZONE
