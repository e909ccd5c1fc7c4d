"""The statements every SCIM request runs, built once per dialect (:func:`prebuilt`).

Building a SQLAlchemy statement costs more than SQLite takes to run it, so these are built at
first use and executed with bound parameters (``b_tenant``, ``b_id``…), each tenant-scoped.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    String,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal_column,
    select,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hostsync.scim.schema import GROUP_RESOURCE, USER_RESOURCE, AttrType
from hostsync.store.filters import Column, Target
from hostsync.store.tables import groups, memberships, resource_counts, users


@cache
def targets(dialect: str) -> tuple[Target, Target]:
    """The users' and groups' filter targets on ``dialect``: table, columns, JSON paths."""
    user_target = Target(
        table=users,
        resource_type=USER_RESOURCE,
        columns={
            ("id",): Column(users.c.id),
            ("userName",): Column(users.c.user_name_folded, folded=True),
            ("externalId",): Column(users.c.external_id),
            ("active",): Column(users.c.active, kind=AttrType.BOOLEAN),
            ("meta", "created"): Column(users.c.created_at, kind=AttrType.DATETIME),
            ("meta", "lastModified"): Column(users.c.modified_at, kind=AttrType.DATETIME),
        },
        membership="groups",
        dialect=dialect,
    )
    group_target = Target(
        table=groups,
        resource_type=GROUP_RESOURCE,
        columns={
            ("id",): Column(groups.c.id),
            ("displayName",): Column(groups.c.display_name_folded, folded=True),
            ("externalId",): Column(groups.c.external_id),
            ("meta", "created"): Column(groups.c.created_at, kind=AttrType.DATETIME),
            ("meta", "lastModified"): Column(groups.c.modified_at, kind=AttrType.DATETIME),
        },
        membership="members",
        dialect=dialect,
    )
    return user_target, group_target


def _param(name: str, column: Any = None, **options: Any) -> Any:
    """A bound parameter (``b_`` names never clash with the columns of VALUES / SET)."""
    return bindparam(f"b_{name}", type_=None if column is None else column.type, **options)


def _one_of(column: Any, pg: bool) -> Any:
    """``column`` is one of the list bound as ``b_ids``.

    PostgreSQL gets ``= ANY(array)``: one parameter, so one prepared statement whatever the
    list's length, where an expanding IN is rendered anew and planned for each length. SQLite
    keeps the expanding IN (store/sqlite/raw.py runs it over ``json_each``).
    Measured: bench/JOURNAL.md#any-array-ids
    """
    if pg:
        return column == any_(bindparam("b_ids", type_=ARRAY(String)))
    return column.in_(_param("ids", expanding=True))


def _likely(condition: Any) -> Any:
    """``condition`` as a check on rows found otherwise, never as a way to find them (SQLite).

    SQLite has no statistics here (no ANALYZE), and its planner would rather walk a tenant
    index (``tenant_id = ?``) than probe a unique ``id`` for each of a list of ids, which
    reads every user of the tenant. ``likely()`` is a no-op at run time whose argument no
    index serves, so the plan stays: the ids first, then the tenant checked on each row.
    """
    return func.likely(condition)


class TableStatements:
    """The statements on ``users`` or ``groups`` that every request runs, for one dialect."""

    def __init__(
        self, table: Table, value_columns: Sequence[str], *, pg: bool, counted: bool = False
    ) -> None:
        c = table.c
        # What a Stored is made of: reads and RETURNING fetch these columns only. The document
        # and the two moments are fetched as text on SQLite (Stored decodes them on first use;
        # pages splice the document into the response and cut the moments to the wire's
        # dateTime); PostgreSQL's driver decodes jsonb and timestamps itself.
        document = type_coerce(c.document, Text).label("document")
        created = type_coerce(c.created_at, Text).label("created_at")
        modified = type_coerce(c.modified_at, Text).label("modified_at")
        self.stored = (c.id, document, created, modified, c.version)
        # Lists (pages, lookups) fetch the document as text on PostgreSQL too, jsonb's text
        # for a CAST, which they splice into the response as on SQLite, rather than have the
        # driver decode each document for the encoder to write it again. A write decodes the
        # document anyway, so reads for writes keep the driver's dict.
        # Measured: bench/JOURNAL.md#listed-documents-as-text
        listed = cast(c.document, Text).label("document") if pg else document
        self.listed: tuple[Any, ...] = (c.id, listed, created, modified, c.version)
        if counted:  # a page of groups says how big each is (Page.sizes)
            self.listed += (c.member_count,)
        self.table = table
        # The columns a document's key attributes are copied to (all but the document).
        self.keys = tuple(name for name in value_columns if name != "document")
        self.visible = and_(c.tenant_id == _param("tenant"), c.deleted_at.is_(None))
        self.get = select(*self.stored).where(self.visible, c.id == _param("id"))
        # A write's read fetches the key columns too: a replace then sets only those that
        # change. A read-only unit of work spares them (bench/JOURNAL.md#keyed-reads).
        self.get_keyed = select(*self.stored, *(c[name] for name in self.keys)).where(
            self.visible, c.id == _param("id")
        )
        self.get_locked = self.get_keyed.with_for_update()
        self.exists = select(c.id).where(self.visible, c.id == _param("id"))
        self.guard = and_(self.visible, c.id == _param("id"), c.version == _param("expected"))
        self._replacements: dict[tuple[str, ...], Any] = {}
        # A group's member count moves in the UPDATE that bumps its version after a membership
        # change (``b_delta``, 0 when none), which returns the count: one statement, not three.
        self.counted = counted
        self.touch = self._counting(
            update(table)
            .where(self.guard)
            .values(modified_at=_param("modified_at", c.modified_at), version=c.version + 1)
            .returning(*self.stored)
        )
        self.soft_delete = (
            update(table)
            .where(self.visible, c.id == _param("id"))
            .values(
                deleted_at=_param("moment", c.deleted_at),
                modified_at=_param("moment", c.modified_at),
                version=c.version + 1,
            )
        )
        self.insert = insert(table)
        page_of_pks = (
            select(c.pk)
            .where(self.visible)
            .order_by(c.pk)
            .limit(_param("limit"))
            .offset(_param("offset"))
        )
        self.page = select(*self.listed).where(c.pk.in_(page_of_pks)).order_by(c.pk)
        # Deep pages from an anchor (store/paging.py): skip from a known pk, not from the start.
        anchored_pks = (
            select(c.pk)
            .where(self.visible, c.pk >= _param("from"))
            .order_by(c.pk)
            .limit(_param("limit"))
            .offset(_param("offset"))
        )
        self.anchored_page = select(*self.listed).where(c.pk.in_(anchored_pks)).order_by(c.pk)
        numbered = (
            select(c.pk, (func.row_number().over(order_by=c.pk) - 1).label("position"))
            .where(self.visible)
            .subquery()
        )
        self.anchor_pks = (
            select(numbered.c.pk)
            .where(numbered.c.position % _param("step") == 0)
            .order_by(numbered.c.pk)
        )

    def replacing(self, keys: tuple[str, ...]) -> Any:
        """The UPDATE that stores a new document and sets these key columns (built once).

        SQLite rewrites the entries of every index on a column an UPDATE sets, even to the
        value it had, so the columns set are those whose value changed.
        Measured: bench/JOURNAL.md#replace-sets-changed-keys
        """
        statement = self._replacements.get(keys)
        if statement is None:
            c = self.table.c
            statement = self._replacements[keys] = self._counting(
                update(self.table)
                .where(self.guard)
                .values(
                    {
                        **{
                            name: _param(name, c[name])
                            for name in (*keys, "document", "modified_at")
                        },
                        "version": _param("expected") + 1,
                    }
                )
                .returning(*self.stored)
            )
        return statement

    def _counting(self, statement: Any) -> Any:
        if not self.counted:
            return statement
        count = self.table.c.member_count
        return statement.values(member_count=count + _param("delta")).returning(count)


class Statements:
    """Every prebuilt statement, for one dialect."""

    def __init__(self, dialect: str) -> None:
        pg = dialect == "postgresql"
        self.users = TableStatements(
            users,
            ("user_name", "user_name_folded", "external_id", "active", "document"),
            pg=pg,
        )
        self.groups = TableStatements(
            groups,
            ("display_name", "display_name_folded", "external_id", "document"),
            pg=pg,
            counted=True,
        )
        m = memberships.c
        in_tenant = m.tenant_id == _param("tenant")
        self.user_by = {
            column: select(*self.users.listed)
            .where(self.users.visible, users.c[column] == _param("value"))
            .order_by(users.c.pk)
            .limit(_param("limit"))
            .offset(_param("offset"))
            for column in ("user_name_folded", "external_id")
        }
        # Their WHERE, for a COUNT when a lookup fills its page (built on each access).
        self.user_by_condition = {
            column: statement.whereclause for column, statement in self.user_by.items()
        }
        # Users' groups, unordered: SqlDirectory.groups_of sorts each user's (most have one).
        # On SQLite a page's ids are the outer loop of a join, not an IN list, which SQLite
        # would first copy into a temporary index (bench/JOURNAL.md#groups-of-join).
        member_groups = (
            m.member_id,
            groups.c.id,
            groups.c.display_name,
            groups.c.display_name_folded,
        )
        # Each join through memberships carries the tenant: a group is read only if it is the
        # membership's tenant's too.
        same_tenant = groups.c.tenant_id == m.tenant_id
        group_of_membership = and_(
            groups.c.id == m.group_id, same_tenant if pg else _likely(same_tenant)
        )
        if pg:
            self.groups_of = (
                select(*member_groups)
                .join(groups, group_of_membership)
                .where(in_tenant, _one_of(m.member_id, pg), groups.c.deleted_at.is_(None))
            )
        else:
            ids = func.json_each(bindparam("b_ids", type_=JSON)).table_valued("value")
            self.groups_of = (
                select(*member_groups)
                .select_from(ids)
                .join(memberships, and_(m.member_id == ids.c.value, in_tenant))
                .join(groups, group_of_membership)
                .where(groups.c.deleted_at.is_(None))
            )
        # One user's (a GET, a lookup, a PATCH's answer): see SqlDirectory._run_for_ids.
        self.groups_of_one = (
            select(*member_groups)
            .join(groups, group_of_membership)
            .where(in_tenant, m.member_id == _param("id"), groups.c.deleted_at.is_(None))
        )
        self.members_of = (
            select(m.group_id, m.member_id, m.member_type, m.display)
            .where(in_tenant, _one_of(m.group_id, pg))
            .order_by(m.group_id, m.member_id)
        )
        # groups.member_count moves with every membership change, in the same transaction.
        g = groups.c
        group_in_tenant = g.tenant_id == _param("tenant")
        self.member_count = select(g.member_count).where(group_in_tenant, g.id == _param("group"))
        self.count_members = (
            update(groups)
            .where(group_in_tenant, g.id == _param("group"))
            .values(member_count=g.member_count + _param("delta"))
        )
        self.reset_member_count = (
            update(groups).where(group_in_tenant, g.id == _param("group")).values(member_count=0)
        )
        # Before a member leaves every group it is in (it was deleted): one less in each.
        self.uncount_member_everywhere = (
            update(groups)
            .where(
                group_in_tenant,
                g.id.in_(select(m.group_id).where(in_tenant, m.member_id == _param("id"))),
            )
            .values(member_count=g.member_count - 1)
        )
        # Which of the ids are live users or groups of the tenant, and which they are: an
        # add_members check and its types in one statement (each arm one probe of the id's
        # unique index). On PostgreSQL the rows found are locked FOR SHARE until the commit,
        # so a concurrent delete of a member waits and then drops the new membership too (at
        # READ COMMITTED it would otherwise miss it and leave a membership to a deleted user).
        self.member_types_one = self._member_types(pg, many=False)
        self.member_types_many = self._member_types(pg, many=True)
        dialect_insert = pg_insert if pg else sqlite_insert
        add_members = dialect_insert(memberships).on_conflict_do_nothing(
            index_elements=["group_id", "member_id"]
        )
        # PostgreSQL's executemany has no row count: the rows it returns say how many were new.
        self.add_members: Any = add_members.returning(m.member_id) if pg else add_members
        self.remove_members = delete(memberships).where(
            in_tenant,
            m.group_id == _param("group"),
            _one_of(m.member_id, pg),
        )
        self.clear_members = delete(memberships).where(in_tenant, m.group_id == _param("group"))
        self.drop_member_everywhere = delete(memberships).where(
            in_tenant, m.member_id == _param("id")
        )
        self.drop_group_memberships = delete(memberships).where(
            in_tenant, (m.group_id == _param("id")) | (m.member_id == _param("id"))
        )
        counts = resource_counts.c
        self.live = select(counts.live).where(
            counts.tenant_id == _param("tenant"), counts.resource == _param("resource")
        )
        upsert = dialect_insert(resource_counts).values(
            tenant_id=_param("tenant"), resource=_param("resource"), live=_param("delta")
        )
        self.count_change = upsert.on_conflict_do_update(
            index_elements=["tenant_id", "resource"],
            set_={"live": counts.live + upsert.excluded.live},
        )

    def _member_types(self, pg: bool, *, many: bool) -> Any:
        arms = []
        for table, kind in ((users, "User"), (groups, "Group")):
            c = table.c
            visible = self.of(table).visible
            if many and not pg:  # the id's index, not a walk of the tenant's (see _likely)
                visible = and_(_likely(c.tenant_id == _param("tenant")), c.deleted_at.is_(None))
            matches = _one_of(c.id, pg) if many else c.id == _param("id")
            arm = select(c.id.label("id"), literal_column(f"'{kind}'").label("kind")).where(
                visible, matches
            )
            if pg:
                arm = select(arm.with_for_update(read=True).cte(f"live_{table.name}"))
            arms.append(arm)
        # One id is a user or a group: once the users' arm found it, the groups' is not run.
        return (
            union_all(*arms)
            if many
            else union_all(*arms).limit(literal_column("1")).offset(literal_column("0"))
        )

    def of(self, table: Table) -> TableStatements:
        """The statements on ``table``."""
        return self.users if table is users else self.groups


@cache
def prebuilt(dialect: str) -> Statements:
    """Every prebuilt statement for ``dialect``, built at the first call."""
    return Statements(dialect)
