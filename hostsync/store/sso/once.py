"""One-time identifiers on the shared ``saml_once`` table: the :class:`OneTimeIds` port.

An assertion ID is accepted by inserting it: the primary key refuses the second insert
(``ON CONFLICT DO NOTHING`` on both dialects, no savepoint), in whichever worker process it
arrives. An AuthnRequest ID is used up by deleting it: only one DELETE can remove the row.
Both say what they did with ``RETURNING`` (the PostgreSQL driver's row count is not kept).
Rows past their expiry are removed, the tenant's own, whenever the tenant remembers a new one.
A tenant keeps at most ``outstanding`` AuthnRequest IDs: issuing one more removes that
tenant's oldest (by expiry), so a flood of sign-in starts never grows the table without bound
and never touches another tenant's rows.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hostsync.store.clock import now
from hostsync.store.sso.tables import saml_once

ASSERTION = "assertion"
REQUEST = "request"
MAX_ID_LENGTH = 256


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


class StoredOneTimeIds:
    """One tenant's one-time identifiers, on the caller's connection and transaction."""

    def __init__(
        self, connection: Connection, tenant_id: str, *, outstanding: int | None = None
    ) -> None:
        self.connection = connection
        self.tenant_id = tenant_id
        self.outstanding = outstanding

    def first_use(self, assertion_id: str, until: datetime) -> bool:
        """Remember an assertion ID until ``until``; False if it was remembered already."""
        return self._remember(ASSERTION, assertion_id, until)

    def issue_request(self, request_id: str, until: datetime) -> None:
        """Remember an AuthnRequest ID this tenant sent, answerable until ``until``.

        With ``outstanding`` set, the tenant's oldest requests go first so that at most that
        many remain (concurrent starts may briefly leave a few more; the next start trims).
        """
        if self.outstanding is not None:
            self._make_room(self.outstanding)
        self._remember(REQUEST, request_id, until)

    def _make_room(self, keep: int) -> None:
        """Remove the tenant's requests older than its ``keep - 1`` newest."""
        cutoff = self.connection.execute(
            select(saml_once.c.expires_at)
            .where(saml_once.c.tenant_id == self.tenant_id, saml_once.c.kind == REQUEST)
            .order_by(saml_once.c.expires_at.desc())
            .offset(max(keep - 1, 0))
            .limit(1)
        ).scalar()
        if cutoff is not None:
            self.connection.execute(
                delete(saml_once).where(
                    saml_once.c.tenant_id == self.tenant_id,
                    saml_once.c.kind == REQUEST,
                    saml_once.c.expires_at <= cutoff,
                )
            )

    def redeem_request(self, request_id: str, moment: datetime) -> bool:
        """Use up an AuthnRequest ID issued and unexpired at ``moment``; False otherwise."""
        if not request_id or len(request_id) > MAX_ID_LENGTH:
            return False
        removed = self.connection.execute(
            delete(saml_once)
            .where(
                saml_once.c.tenant_id == self.tenant_id,
                saml_once.c.kind == REQUEST,
                saml_once.c.value == request_id,
                saml_once.c.expires_at > _naive(moment),
            )
            .returning(saml_once.c.value)
        ).first()
        return removed is not None

    def _remember(self, kind: str, value: str, until: datetime) -> bool:
        if not value or len(value) > MAX_ID_LENGTH:
            return False
        self.connection.execute(
            delete(saml_once).where(
                saml_once.c.tenant_id == self.tenant_id, saml_once.c.expires_at <= now()
            )
        )
        dialect = self.connection.dialect.name
        make = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            make(saml_once)
            .values(tenant_id=self.tenant_id, kind=kind, value=value, expires_at=_naive(until))
            .on_conflict_do_nothing()
            .returning(saml_once.c.value)
        )
        return self.connection.execute(statement).first() is not None
