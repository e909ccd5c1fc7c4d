"""Tenant administrators of the console and their sign-in sessions.

Passwords are hashed with argon2id (``argon2-cffi`` defaults). A session is a random token in
an HttpOnly cookie; only its SHA-256 digest is stored (like API keys: high-entropy, so a fast
digest suffices), with the CSRF token that every form of that session must carry.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hostsync.store.admin_tables import admin_sessions, admins
from hostsync.store.directory import now
from hostsync.store.tenants import get_tenant

SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 12
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
class Session:
    """A signed-in administrator's session."""

    admin: Admin
    csrf_token: str
    expires_at: datetime


def _fold(email: str) -> str:
    return email.strip().casefold()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_admin(connection: Connection, tenant_id: str, email: str, password: str) -> Admin:
    """Create an administrator of the tenant; the e-mail is unique across tenants."""
    get_tenant(connection, tenant_id)
    email = email.strip()
    if "@" not in email or len(email) > 320:
        raise AdminError(f"'{email}' is not an e-mail address")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AdminError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
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


def verify_password(connection: Connection, email: str, password: str) -> Admin | None:
    """Return the administrator if the password matches, else None (constant-ish time)."""
    row = connection.execute(select(admins).where(admins.c.email_folded == _fold(email))).first()
    stored = row.password_hash if row is not None else _DUMMY_HASH
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _HASHER.check_needs_rehash(stored):
        connection.execute(
            update(admins).where(admins.c.id == row.id).values(password_hash=_HASHER.hash(password))
        )
    connection.execute(update(admins).where(admins.c.id == row.id).values(last_sign_in_at=now()))
    return Admin(row.id, row.tenant_id, row.email)


def start_session(connection: Connection, admin: Admin) -> tuple[Session, str]:
    """Open a session; return it and the token for the cookie (only its digest is stored)."""
    token = secrets.token_urlsafe(32)
    moment = now()
    session = Session(admin, secrets.token_urlsafe(32), moment + SESSION_LIFETIME)
    connection.execute(
        delete(admin_sessions).where(admin_sessions.c.expires_at < moment)
    )  # housekeeping: expired sessions of anyone
    connection.execute(
        insert(admin_sessions).values(
            digest=_digest(token),
            admin_id=admin.id,
            tenant_id=admin.tenant_id,
            csrf_token=session.csrf_token,
            created_at=moment,
            expires_at=session.expires_at,
        )
    )
    return session, token


def load_session(connection: Connection, token: str) -> Session | None:
    """Return the unexpired session for a cookie token, or None."""
    if not token or len(token) > 200:
        return None
    row = connection.execute(
        select(admin_sessions, admins.c.email)
        .join(admins, admins.c.id == admin_sessions.c.admin_id)
        .where(admin_sessions.c.digest == _digest(token), admin_sessions.c.expires_at > now())
    ).first()
    if row is None:
        return None
    return Session(Admin(row.admin_id, row.tenant_id, row.email), row.csrf_token, row.expires_at)


def end_session(connection: Connection, token: str) -> None:
    """Sign out: forget the session."""
    connection.execute(delete(admin_sessions).where(admin_sessions.c.digest == _digest(token)))
