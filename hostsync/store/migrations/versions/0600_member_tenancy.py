"""members belong to their tenant: foreign and dangling memberships removed and recorded

Before 0600 a member id was stored whatever it named: another tenant's user or group, a
deleted one, or nothing at all (docs/hardening.md, "Members belong to their tenant"). This
step removes every membership whose member is not a live user or group of the membership's
tenant, and every one whose group is not a live group of that tenant, records each removal
in the group's tenant's activity log (operation ``remove-member``, actor ``migration 0600``),
recounts ``groups.member_count`` of the groups it touched, and sets each remaining member's
type to what the member is. The detail says why without saying whether an id exists in
another tenant (the same rule as the API's error). Downgrade restores nothing: the rows
removed named no member.

Revision ID: 0600
Revises: 0500
"""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from hostsync.store.redaction import redact_keys

revision = "0600"
down_revision = "0500"
branch_labels = None
depends_on = None

ACTOR = "migration 0600"
_BATCH = 500

_memberships = sa.table(
    "memberships",
    sa.column("group_id", sa.String),
    sa.column("member_id", sa.String),
    sa.column("tenant_id", sa.String),
    sa.column("member_type", sa.String),
)
_users = sa.table(
    "users",
    sa.column("id", sa.String),
    sa.column("tenant_id", sa.String),
    sa.column("deleted_at", sa.DateTime),
)
_groups = sa.table(
    "groups",
    sa.column("id", sa.String),
    sa.column("tenant_id", sa.String),
    sa.column("display_name", sa.Text),
    sa.column("deleted_at", sa.DateTime),
    sa.column("member_count", sa.BigInteger),
)
_activity = sa.table(
    "activity",
    sa.column("tenant_id", sa.String),
    sa.column("at", sa.DateTime),
    sa.column("client", sa.String),
    sa.column("actor", sa.String),
    sa.column("method", sa.String),
    sa.column("path", sa.Text),
    sa.column("operation", sa.String),
    sa.column("resource_type", sa.String),
    sa.column("resource_id", sa.String),
    sa.column("resource_name", sa.Text),
    sa.column("status", sa.Integer),
    sa.column("changes", sa.JSON().with_variant(JSONB(), "postgresql")),
    sa.column("detail", sa.Text),
)


def _of_tenant(table: Any, m: Any, *, live: bool) -> Any:
    """A row of ``table`` (users or groups) that is the member, in the membership's tenant."""
    deleted = table.c.deleted_at.is_(None) if live else table.c.deleted_at.is_not(None)
    return sa.exists().where(table.c.id == m.member_id, table.c.tenant_id == m.tenant_id, deleted)


def _shown(member_id: str) -> str:
    """An id as the log shows it: keys redacted, at most 64 characters (a stored id has 32)."""
    shown = redact_keys(member_id)
    return shown if len(shown) <= 64 else shown[:64] + "…"


def _why(row: Any) -> str:
    if row.group_tenant is None:
        return f"group {_shown(row.group_id)} does not exist"
    if row.group_tenant != row.tenant_id:
        return "the membership was filed under another tenant than its group's"
    if row.group_deleted:
        return "the group was deleted"
    if row.member_deleted:
        return f"member {_shown(row.member_id)} was deleted"
    return f"member {_shown(row.member_id)} is not a user or group of this tenant"


def upgrade() -> None:
    connection = op.get_bind()
    m, g = _memberships.c, _groups.c
    group = _groups.alias("owner")
    owner = group.c
    live_member = sa.or_(_of_tenant(_users, m, live=True), _of_tenant(_groups, m, live=True))
    rows = connection.execute(
        sa.select(
            m.group_id,
            m.member_id,
            m.tenant_id,
            owner.tenant_id.label("group_tenant"),
            owner.deleted_at.is_not(None).label("group_deleted"),
            owner.display_name,
            sa.or_(_of_tenant(_users, m, live=False), _of_tenant(_groups, m, live=False)).label(
                "member_deleted"
            ),
        )
        .select_from(_memberships.outerjoin(group, owner.id == m.group_id))
        .where(
            sa.or_(
                owner.id.is_(None),
                owner.tenant_id != m.tenant_id,
                owner.deleted_at.is_not(None),
                sa.not_(live_member),
            )
        )
        .order_by(m.group_id, m.member_id)
    ).all()
    moment = datetime.now(UTC).replace(tzinfo=None)
    for start in range(0, len(rows), _BATCH):
        batch = rows[start : start + _BATCH]
        connection.execute(
            sa.delete(_memberships).where(
                m.group_id == sa.bindparam("b_group"), m.member_id == sa.bindparam("b_member")
            ),
            [{"b_group": row.group_id, "b_member": row.member_id} for row in batch],
        )
        connection.execute(
            sa.insert(_activity),
            [
                {
                    "tenant_id": row.group_tenant or row.tenant_id,
                    "at": moment,
                    "client": None,
                    "actor": ACTOR,
                    "method": "MIGRATE",
                    "path": "0600_member_tenancy",
                    "operation": "remove-member",
                    "resource_type": "Group",
                    "resource_id": row.group_id,
                    "resource_name": row.display_name,
                    "status": 200,
                    "changes": [
                        {"path": "members removed", "old": None, "new": [_shown(row.member_id)]}
                    ],
                    "detail": f"Removed by {ACTOR}: {_why(row)}",
                }
                for row in batch
            ],
        )
    touched = sorted({row.group_id for row in rows if row.group_tenant is not None})
    for start in range(0, len(touched), _BATCH):
        counted = (
            sa.select(sa.func.count())
            .select_from(_memberships)
            .where(m.group_id == g.id, m.tenant_id == g.tenant_id)
            .scalar_subquery()
        )
        connection.execute(
            sa.update(_groups)
            .where(g.id.in_(touched[start : start + _BATCH]))
            .values(member_count=counted)
        )
    # What is left names live members of the tenant: each gets the type it has (an id added
    # before its user or group existed was stored as a User).
    for table, kind in ((_users, "User"), (_groups, "Group")):
        connection.execute(
            sa.update(_memberships)
            .where(m.member_type != kind, _of_tenant(table, m, live=True))
            .values(member_type=kind)
        )


def downgrade() -> None:
    """Nothing to restore: the memberships removed named no member of their tenant."""
