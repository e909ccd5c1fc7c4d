"""Tenant administrators of the console and their sign-in sessions.

Passwords are hashed with argon2id (``argon2-cffi`` defaults). A session is a random token in
an HttpOnly cookie; only its SHA-256 digest is stored (like API keys: high-entropy, so a fast
digest suffices), with the CSRF token that every form of that session must carry.

A session ends :data:`SESSION_LIFETIME` after sign-in, or after an idle period with no page
view (``last_seen_at``, written at most once per :data:`SEEN_GRANULARITY` so page views rarely
write). Removing an administrator or resetting their password ends all their sessions.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hostsync.store.admin_tables import admin_sessions, admins
from hostsync.store.clock import now
from hostsync.store.tables import api_keys, tenants
from hostsync.store.tenants import get_tenant

SESSION_LIFETIME = timedelta(hours=12)
IDLE_TIMEOUT = timedelta(minutes=30)
SEEN_GRANULARITY = timedelta(minutes=1)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
MAX_EMAIL_LENGTH = 320
_HASHER = PasswordHasher()
# Verified against when the e-mail is unknown, so both paths cost one argon2 verification.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class AdminError(ValueError):
    """An administrator cannot be created as asked."""


@dataclass(frozen=True, slots=True)
class Admin:
    """A tenant administrator."""

    id: str
    tenant_id: str
    email: str


@dataclass(frozen=True, slots=True)
class AdminInfo:
    """An administrator as listed: when created, last signed in, and open sessions."""

    id: str
    email: str
    created_at: datetime
    last_sign_in_at: datetime | None
    sessions: int


@dataclass(frozen=True, slots=True)
class TenantSummary:
    """A tenant as the operator lists it: its administrators and unrevoked keys."""

    id: str
    name: str
    created_at: datetime
    admins: int
    active_keys: int


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in administrator's session."""

    admin: Admin
    csrf_token: str
    expires_at: datetime
    last_seen_at: datetime | None = None
    digest: str = ""

    def needs_touch(self, moment: datetime) -> bool:
        """Whether the last-seen time is old enough to be written again."""
        return self.last_seen_at is None or moment - self.last_seen_at >= SEEN_GRANULARITY


@dataclass(frozen=True, slots=True)
class SignIn:
    """The outcome of a password check: the administrator, or None; and who was named."""

    admin: Admin | None
    named: Admin | None


def _fold(email: str) -> str:
    return email.strip().casefold()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_admin(connection: Connection, tenant_id: str, email: str, password: str) -> Admin:
    """Create an administrator of the tenant; the e-mail is unique across tenants."""
    get_tenant(connection, tenant_id)
    email = email.strip()
    if "@" not in email or len(email) > MAX_EMAIL_LENGTH:
        raise AdminError(f"'{email[:80]}' is not an e-mail address")
    _check_password(password)
    admin = Admin(uuid.uuid4().hex, tenant_id, email)
    try:
        with connection.begin_nested():
            connection.execute(
                insert(admins).values(
                    id=admin.id,
                    tenant_id=tenant_id,
                    email=email,
                    email_folded=_fold(email),
                    password_hash=_HASHER.hash(password),
                    created_at=now(),
                )
            )
    except IntegrityError:
        raise AdminError(f"an administrator with the e-mail '{email}' exists") from None
    return admin


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AdminError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AdminError(f"the password may have at most {MAX_PASSWORD_LENGTH} characters")


def verify_password(connection: Connection, email: str, password: str) -> Admin | None:
    """Return the administrator if the password matches, else None (constant-ish time)."""
    return sign_in(connection, email, password).admin


def sign_in(connection: Connection, email: str, password: str) -> SignIn:
    """Check a password; say which administrator it signs in, and which the e-mail names.

    Over-long e-mails and passwords are refused without a verification; an unknown e-mail
    costs one verification like a known one. The console runs the same steps without
    holding a transaction during the verification: :func:`credentials`,
    :func:`password_matches`, :func:`record_sign_in`.
    """
    found = credentials(connection, email)
    matched = password_matches(found, password)
    if found is None or not matched:
        return SignIn(None, None if found is None else found[0])
    record_sign_in(connection, found, password)
    return SignIn(found[0], found[0])


def credentials(connection: Connection, email: str) -> tuple[Admin, str] | None:
    """The administrator an e-mail names and their password hash, if any."""
    if len(email) > MAX_EMAIL_LENGTH:
        return None
    row = connection.execute(select(admins).where(admins.c.email_folded == _fold(email))).first()
    return None if row is None else (Admin(row.id, row.tenant_id, row.email), row.password_hash)


def password_matches(found: tuple[Admin, str] | None, password: str) -> bool:
    """Verify a password against stored credentials (a dummy hash when there are none).

    Slow on purpose (argon2); run it outside any transaction.
    """
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        _HASHER.verify(_DUMMY_HASH if found is None else found[1], password)
    except (VerificationError, InvalidHashError):
        return False
    return found is not None


def record_sign_in(connection: Connection, found: tuple[Admin, str], password: str) -> None:
    """Note a successful sign-in (and upgrade the hash if its parameters are old)."""
    admin, stored = found
    values: dict[str, object] = {"last_sign_in_at": now()}
    if _HASHER.check_needs_rehash(stored):
        values["password_hash"] = _HASHER.hash(password)
    connection.execute(update(admins).where(admins.c.id == admin.id).values(**values))


def start_session(
    connection: Connection,
    admin: Admin,
    *,
    lifetime: timedelta = SESSION_LIFETIME,
    idle: timedelta = IDLE_TIMEOUT,
) -> tuple[Session, str]:
    """Open a session; return it and the token for the cookie (only its digest is stored)."""
    token = secrets.token_urlsafe(32)
    moment = now()
    session = Session(admin, secrets.token_urlsafe(32), moment + lifetime, moment, _digest(token))
    connection.execute(
        delete(admin_sessions).where(
            (admin_sessions.c.expires_at < moment)
            | (
                func.coalesce(admin_sessions.c.last_seen_at, admin_sessions.c.created_at)
                <= moment - idle
            )
        )
    )  # housekeeping: expired and idle sessions of anyone
    connection.execute(
        insert(admin_sessions).values(
            digest=_digest(token),
            admin_id=admin.id,
            tenant_id=admin.tenant_id,
            csrf_token=session.csrf_token,
            created_at=moment,
            expires_at=session.expires_at,
            last_seen_at=moment,
        )
    )
    return session, token


def load_session(
    connection: Connection, token: str, *, idle: timedelta = IDLE_TIMEOUT
) -> Session | None:
    """Return the session for a cookie token, unless it expired or sat idle ``idle``."""
    if not token or len(token) > 200:
        return None
    moment = now()
    seen = func.coalesce(admin_sessions.c.last_seen_at, admin_sessions.c.created_at)
    row = connection.execute(
        select(admin_sessions, admins.c.email, seen.label("seen"))
        .join(admins, admins.c.id == admin_sessions.c.admin_id)
        .where(
            admin_sessions.c.digest == _digest(token),
            admin_sessions.c.expires_at > moment,
            seen > moment - idle,
        )
    ).first()
    if row is None:
        return None
    return Session(
        Admin(row.admin_id, row.tenant_id, row.email),
        row.csrf_token,
        row.expires_at,
        row.seen,
        row.digest,
    )


def touch_session(connection: Connection, session: Session) -> None:
    """Note a page view of the session now (call when :meth:`Session.needs_touch`)."""
    connection.execute(
        update(admin_sessions)
        .where(admin_sessions.c.digest == session.digest)
        .values(last_seen_at=now())
    )


def end_session(connection: Connection, token: str) -> None:
    """Sign out: forget the session."""
    connection.execute(delete(admin_sessions).where(admin_sessions.c.digest == _digest(token)))


def end_sessions(connection: Connection, admin_id: str) -> int:
    """End every session of an administrator; return how many there were."""
    result = connection.execute(delete(admin_sessions).where(admin_sessions.c.admin_id == admin_id))
    return int(result.rowcount or 0)


def list_admins(connection: Connection, tenant_id: str) -> list[AdminInfo]:
    """The tenant's administrators by e-mail, with their open sessions."""
    get_tenant(connection, tenant_id)
    moment = now()
    open_sessions = (
        select(func.count())
        .select_from(admin_sessions)
        .where(admin_sessions.c.admin_id == admins.c.id, admin_sessions.c.expires_at > moment)
        .scalar_subquery()
    )
    rows = connection.execute(
        select(admins, open_sessions.label("sessions"))
        .where(admins.c.tenant_id == tenant_id)
        .order_by(admins.c.email_folded)
    )
    return [
        AdminInfo(r.id, r.email, r.created_at, r.last_sign_in_at, int(r.sessions)) for r in rows
    ]


def find_admin(connection: Connection, tenant_id: str, email: str) -> Admin:
    """The tenant's administrator with this e-mail; :class:`AdminError` if there is none."""
    get_tenant(connection, tenant_id)
    row = connection.execute(
        select(admins).where(
            admins.c.tenant_id == tenant_id, admins.c.email_folded == _fold(email[:400])
        )
    ).first()
    if row is None:
        raise AdminError(f"tenant {tenant_id} has no administrator '{email.strip()[:80]}'")
    return Admin(row.id, row.tenant_id, row.email)


def remove_admin(connection: Connection, tenant_id: str, email: str) -> tuple[Admin, int]:
    """Remove the tenant's administrator and end their sessions; return them and how many."""
    admin = find_admin(connection, tenant_id, email)
    ended = end_sessions(connection, admin.id)
    connection.execute(delete(admins).where(admins.c.id == admin.id))
    return admin, ended


def reset_password(
    connection: Connection, tenant_id: str, email: str, password: str
) -> tuple[Admin, int]:
    """Set a new password and end the administrator's sessions; return them and how many."""
    _check_password(password)
    admin = find_admin(connection, tenant_id, email)
    connection.execute(
        update(admins).where(admins.c.id == admin.id).values(password_hash=_HASHER.hash(password))
    )
    return admin, end_sessions(connection, admin.id)


def tenant_summaries(connection: Connection) -> list[TenantSummary]:
    """Every tenant, oldest first, with how many administrators and unrevoked keys it has."""
    admin_count = (
        select(func.count())
        .select_from(admins)
        .where(admins.c.tenant_id == tenants.c.id)
        .scalar_subquery()
    )
    key_count = (
        select(func.count())
        .select_from(api_keys)
        .where(api_keys.c.tenant_id == tenants.c.id, api_keys.c.revoked_at.is_(None))
        .scalar_subquery()
    )
    rows = connection.execute(
        select(tenants, admin_count.label("admins"), key_count.label("keys")).order_by(
            tenants.c.created_at, tenants.c.id
        )
    )
    return [TenantSummary(r.id, r.name, r.created_at, int(r.admins), int(r.keys)) for r in rows]


def any_admin(connection: Connection) -> bool:
    """Whether any tenant has an administrator (the sign-in page says how to create the first)."""
    return connection.execute(select(admins.c.id).limit(1)).first() is not None
