"""SqlDirectory: one tenant's users and groups over one SQLAlchemy connection.

Implements :class:`hostsync.scim.ports.Directory`. Every statement is scoped by ``tenant_id``
(tenancy is structural: there is no query without it) and excludes soft-deleted rows. Soft
delete lives only here: DELETE stamps ``deleted_at`` and keeps the row and its document.

A :class:`UniquenessError` (a taken userName, externalId or displayName) ends the unit of
work: it is rolled back. On PostgreSQL the failed statement has aborted the transaction, and
no savepoint is taken around each statement that might fail so (that cost every write two
round trips, for a case that ends the unit anyway). A caller that goes on after one, as
``/Bulk`` does, runs the operation in :meth:`SqlDirectory.savepoint`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, Table, and_, func, select
from sqlalchemy.exc import IntegrityError

from hostsync.scim.errors import (
    InvalidValueError,
    NotFoundError,
    PreconditionFailedError,
    ScimError,
    UniquenessError,
)
from hostsync.scim.filters import Compare, CompareOp
from hostsync.scim.paths import resolve
from hostsync.scim.ports import (
    GroupRef,
    Member,
    Page,
    Selection,
    SortOrder,
    Stored,
    UnknownMembersError,
)
from hostsync.scim.resources import Document, copy_document
from hostsync.scim.schema import USER_RESOURCE, AttrType
from hostsync.store.clock import new_id, now
from hostsync.store.filters import FilterCompiler, Target, fold
from hostsync.store.paging import MIN_OFFSET, STEP, PageAnchors, Start
from hostsync.store.sqlite.raw import prebuilt_runner, run_prebuilt
from hostsync.store.statements import prebuilt, targets
from hostsync.store.tables import groups, users

_CHUNK = 500


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def leave_every_group(connection: Connection, tenant_id: str, member_id: str) -> None:
    """Take a (deleted) member out of every group it is in, one less in each group's count."""
    sql = prebuilt(connection.dialect.name)
    params = {"b_tenant": tenant_id, "b_id": member_id}
    run_prebuilt(connection, sql.uncount_member_everywhere, params)
    run_prebuilt(connection, sql.drop_member_everywhere, params)


_MAX_OFFSET = 2**63 - 1
_RESOURCE = {"users": "User", "groups": "Group"}
_DELETIONS = {"users": "UserDel", "groups": "GroupDel"}  # resource_counts rows (paging.py)


class SqlDirectory:
    """The :class:`~hostsync.scim.ports.Directory` of one tenant inside one transaction."""

    def __init__(
        self,
        connection: Connection,
        tenant_id: str,
        *,
        dialect: str,
        lock: bool,
        anchors: PageAnchors | None = None,
    ) -> None:
        self.connection = connection
        self.anchors = anchors
        self.tenant_id = tenant_id
        self.dialect = dialect
        self.lock = lock
        self.user_target, self.group_target = targets(dialect)
        self.sql = prebuilt(dialect)
        # Executes a prebuilt statement: on SQLite straight on the driver (store/sqlite/raw.py).
        self._run = prebuilt_runner(connection)
        # (table, id) -> (version, key column values) as last read or written in this write
        # unit of work: a replace at that version sets only the key columns whose value changes.
        self._keys_seen: dict[tuple[str, str], tuple[int, tuple[Any, ...]]] = {}
        # Member count changes not yet written, per group: the UPDATE that bumps the group's
        # version writes them (``_replace``), :meth:`flush` the rest before the commit.
        self._member_deltas: dict[str, int] = {}
        # Member counts as that UPDATE returned them (plus the deltas pending since).
        self._member_counts: dict[str, int] = {}

    def _run_for_ids(self, ids: Sequence[str], one: Any, many: Any) -> Any:
        """``one`` (``= b_id``) for a single id, else ``many`` (the list bound as ``b_ids``).

        On SQLite a list is joined through ``json_each``, which costs more than ``=`` for the
        single id a GET, a lookup or a member add asks about.
        Measured: bench/JOURNAL.md#single-id-equals
        """
        if len(ids) == 1:
            return self._run(one, {"b_tenant": self.tenant_id, "b_id": ids[0]})
        return self._run(many, {"b_tenant": self.tenant_id, "b_ids": list(ids)})

    def flush(self) -> None:
        """Write what the unit of work has kept back (member counts); run before the commit."""
        deltas, self._member_deltas = self._member_deltas, {}
        for group_id, delta in deltas.items():
            if delta:
                self._run(
                    self.sql.count_members,
                    {"b_tenant": self.tenant_id, "b_group": group_id, "b_delta": delta},
                )

    @contextmanager
    def savepoint(self) -> Iterator[object]:
        """A nested transaction (SAVEPOINT) on the unit of work's connection.

        What this directory kept back inside it is dropped with it if it rolls back.
        """
        deltas, counts = dict(self._member_deltas), dict(self._member_counts)
        with self.connection.begin_nested() as nested:
            try:
                yield nested
            except BaseException:
                self._member_deltas, self._member_counts = deltas, counts
                raise

    # -- shared helpers ------------------------------------------------------------------
    def _visible(self, table: Table) -> Any:
        return and_(table.c.tenant_id == self.tenant_id, table.c.deleted_at.is_(None))

    def _stored(self, row: Any) -> Stored:
        # The row's document is its JSON text (SQLite) or was just decoded (PostgreSQL): in
        # either case no one else holds it.
        # By position: the columns of _TableStatements.stored lead every such row.
        document = row[1]
        if document.__class__ is str:
            return Stored(row[0], None, row[2], row[3], row[4], json=document)
        return Stored(row[0], document, row[2], row[3], row[4])

    def _get(self, table: Table, resource_id: str) -> Stored | None:
        statements = self.sql.of(table)
        statement = statements.get
        if self.lock:  # a write unit of work
            statement = (
                statements.get_locked if self.dialect == "postgresql" else statements.get_keyed
            )
        row = self._run(statement, {"b_tenant": self.tenant_id, "b_id": resource_id}).first()
        if row is None:
            return None
        if self.lock:
            keys = tuple(row[len(statements.stored) :])
            self._keys_seen[(table.name, resource_id)] = (row.version, keys)
        return self._stored(row)

    def _count(self, table: Table, delta: int) -> None:
        """Keep the tenant's live count of users or groups (same transaction as the write)."""
        self._run(
            self.sql.count_change,
            {"b_tenant": self.tenant_id, "b_resource": _RESOURCE[table.name], "b_delta": delta},
        )

    def _insert(self, table: Table, values: dict[str, Any], conflict: str) -> None:
        # Counted first: the counter's row lock then covers the insert, so a tenant's new
        # rows get their pk in commit order on PostgreSQL too (page anchors rely on it).
        self._count(table, 1)
        try:
            self._run(self.sql.of(table).insert, values)
        except IntegrityError:
            if self.dialect != "postgresql":  # there the transaction is lost (module doc)
                self._count(table, -1)
            raise UniquenessError(conflict) from None

    def _replace(
        self, table: Table, resource_id: str, values: dict[str, Any], version: int, conflict: str
    ) -> Stored:
        statements = self.sql.of(table)
        params = {
            "b_tenant": self.tenant_id,
            "b_id": resource_id,
            "b_expected": version,
            "b_modified_at": now(),
        }
        statement = statements.touch
        seen = self._keys_seen.get((table.name, resource_id))
        if seen is not None and seen[0] != version:
            seen = None
        keys = None if seen is None else seen[1]
        if values:
            keys = tuple(values[name] for name in statements.keys)
            changed = statements.keys
            if seen is not None:  # read at ``version``, which the guard checks is current
                changed = tuple(
                    name
                    for name, new, old in zip(statements.keys, keys, seen[1], strict=True)
                    if new != old
                )
            statement = statements.replacing(changed)
            params["b_document"] = values["document"]
            params.update((f"b_{name}", values[name]) for name in changed)
        if statements.counted:
            params["b_delta"] = self._member_deltas.get(resource_id, 0)
        try:
            row = self._run(statement, params).first()
        except IntegrityError:
            raise UniquenessError(conflict) from None
        if row is None:
            if self._get(table, resource_id) is None:
                raise NotFoundError(f"{resource_id} not found")
            raise PreconditionFailedError(f"{resource_id} was changed by another request")
        if keys is not None:
            self._keys_seen[(table.name, resource_id)] = (row.version, keys)
        if statements.counted:
            self._member_deltas.pop(resource_id, None)
            self._member_counts[resource_id] = int(row.member_count)
        return self._stored(row)

    def _soft_delete(self, table: Table, resource_id: str) -> bool:
        result = self._run(
            self.sql.of(table).soft_delete,
            {"b_tenant": self.tenant_id, "b_id": resource_id, "b_moment": now()},
        )
        deleted = bool(result.rowcount)
        if deleted:
            self._count(table, -1)
            self._count_deletion(table)
        return deleted

    def _count_deletion(self, table: Table) -> None:
        """Bump the tenant's deletion counter, which dates page anchors (store/paging.py)."""
        self._run(
            self.sql.count_change,
            {"b_tenant": self.tenant_id, "b_resource": _DELETIONS[table.name], "b_delta": 1},
        )

    def _anchored(self, table: Table, offset: int) -> Start | None:
        """Where a deep unfiltered page starts, from the page anchors; None: plain OFFSET."""
        if self.anchors is None or offset < MIN_OFFSET:
            return None
        resource = _RESOURCE[table.name]
        generation = self._run(
            self.sql.live, {"b_tenant": self.tenant_id, "b_resource": _DELETIONS[table.name]}
        ).scalar()
        generation = int(generation or 0)
        start = self.anchors.start(self.tenant_id, resource, generation, offset)
        if start is None and self.anchors.should_build(self.tenant_id, resource):
            rows = self._run(
                self.sql.of(table).anchor_pks, {"b_tenant": self.tenant_id, "b_step": STEP}
            )
            self.anchors.store(self.tenant_id, resource, generation, [pk for (pk,) in rows])
            start = self.anchors.start(self.tenant_id, resource, generation, offset)
        return start

    def _total(self, target: Target, condition: Any, params: dict[str, Any]) -> int:
        """How many resources match: the live counter when unfiltered, else COUNT(*)."""
        if condition is None:
            live = self._run(
                self.sql.live,
                {"b_tenant": self.tenant_id, "b_resource": target.resource_type.name},
            ).scalar()
            return int(live or 0)
        count = select(func.count()).select_from(target.table).where(condition)
        return int(self.connection.execute(count, params).scalar_one())

    def _list(self, target: Target, selection: Selection) -> Page:
        table = target.table
        if selection.resource_type is not None and selection.resource_type is not (
            target.resource_type
        ):
            # The tenant's own type: its declared extensions' paths compile to JSON paths.
            target = replace(target, resource_type=selection.resource_type)
        # Past 2^63 - 1 rows, more than any table holds and than a SQL integer can (a larger
        # offset overflowed the driver's parameter): every such offset is past the end.
        offset = min(selection.start_index - 1, _MAX_OFFSET)
        params: dict[str, Any] = {
            "b_tenant": self.tenant_id,
            "b_limit": selection.count,
            "b_offset": offset,
        }
        # ``condition`` is None for "every visible resource" (counted by the live counter).
        condition: Any = None
        prebuilt = True
        simple = None if selection.sort_by is not None else self._simple_lookup(target, selection)
        if simple is not None:
            statement, params["b_value"], condition = simple
        elif selection.filter is not None:
            prebuilt = False
            compiled = FilterCompiler(target).compile(selection.filter)
            condition = and_(self._visible(table), compiled)
            columns = self.sql.of(table).listed
            statement = self._order(select(*columns).where(condition), target, selection)
            statement = statement.offset(offset).limit(selection.count)
        elif selection.sort_by is not None:
            prebuilt = False
            columns = self.sql.of(table).listed
            statement = self._order(select(*columns).where(self._visible(table)), target, selection)
            statement = statement.offset(offset).limit(selection.count)
        else:
            # OFFSET walks the (tenant, pk) index only, then the rows are read; deep pages
            # start from an anchor (store/paging.py) when there is one.
            statement = self.sql.of(table).page
            start = self._anchored(table, offset) if selection.count else None
            if start is not None:
                statement = self.sql.of(table).anchored_page
                params["b_from"], params["b_offset"] = start.pk, start.skip
        if selection.count == 0:
            return Page(total=self._total(target, condition, params), resources=[])
        run = self._run if prebuilt else self.connection.execute
        rows = run(statement, params).all()
        if (rows and len(rows) < selection.count) or (not rows and offset == 0):
            # A partial page is the last one: the total needs no COUNT.
            total = offset + len(rows)
        else:
            total = self._total(target, condition, params)
        sizes = {row[0]: int(row[5]) for row in rows} if table is groups else {}
        return Page(total=total, resources=[self._stored(row) for row in rows], sizes=sizes)

    def _simple_lookup(self, target: Target, selection: Selection) -> tuple[Any, str, Any] | None:
        """The prebuilt statement and value for Entra's ``userName eq`` / ``externalId eq``.

        Compiles to what :class:`FilterCompiler` would give (``column = value`` on the same
        column, folded for userName), without building the statement per request.
        """
        node = selection.filter
        if (
            target.table is not users
            or not isinstance(node, Compare)
            or node.op is not CompareOp.EQ
            or not isinstance(node.value, str)
        ):
            return None
        try:
            key = resolve(node.path, USER_RESOURCE).key
        except ScimError:
            return None  # FilterCompiler reports it
        if key == ("userName",):
            column, value = "user_name_folded", fold(node.value)
        elif key == ("externalId",):
            column, value = "external_id", node.value
        else:
            return None
        return self.sql.user_by[column], value, self.sql.user_by_condition[column]

    def _order(self, statement: Select[Any], target: Target, selection: Selection) -> Select[Any]:
        table = target.table
        if selection.sort_by is None:
            return statement.order_by(table.c.pk)
        resolved = resolve(selection.sort_by, target.resource_type)
        column = target.columns.get(resolved.key)
        compiler = FilterCompiler(target)
        if column is not None:
            key: Any = column.expr
        elif resolved.attribute.multi_valued:
            sub = resolved.sub_attribute.name if resolved.sub_attribute else "value"
            key = compiler.json.text(table.c.document, (*resolved.key[:1], "0", sub))
            if self.dialect == "sqlite":
                path = "$" + "".join(f'."{k}"' for k in resolved.key[:1]) + f'[0]."{sub}"'
                key = func.json_extract(table.c.document, path)
        elif resolved.leaf.type in (AttrType.INTEGER, AttrType.DECIMAL):
            key = compiler.json.number(table.c.document, resolved.key)  # 9 before 10
        else:
            key = compiler.json.text(table.c.document, resolved.key)
            if not resolved.leaf.case_exact and resolved.leaf.type is AttrType.STRING:
                key = func.lower(key)
        if selection.sort_order is SortOrder.DESCENDING:
            return statement.order_by(key.desc().nulls_first(), table.c.pk.desc())
        return statement.order_by(key.asc().nulls_last(), table.c.pk)

    # -- users ---------------------------------------------------------------------------
    def _user_values(self, document: Document) -> dict[str, Any]:
        user_name = document["userName"]
        return {
            "user_name": user_name,
            "user_name_folded": fold(user_name),
            "external_id": document.get("externalId"),
            "active": bool(document.get("active", True)),
            "document": document,
        }

    def _new_row(self, resource_id: str, moment: datetime) -> dict[str, Any]:
        return {
            "id": resource_id,
            "tenant_id": self.tenant_id,
            "created_at": moment,
            "modified_at": moment,
            "version": 1,
        }

    def create_user(self, document: Document) -> Stored:
        """Insert a user (see the port)."""
        moment = now()
        user_id = new_id()
        self._insert(
            users,
            {**self._new_row(user_id, moment), **self._user_values(document)},
            f"userName '{document['userName']}' is already taken",
        )
        return Stored(user_id, copy_document(document), moment, moment, 1)

    def import_users(self, documents: Sequence[Document]) -> list[str]:
        """Insert many canonical user documents at once; return their new ids, in order.

        For loading a directory (the benchmark's seeder): one multi-row INSERT per chunk
        instead of one statement per user. A taken userName fails the whole unit of work.
        """
        moment = now()
        ids = [new_id() for _ in documents]
        rows = [
            {**self._new_row(user_id, moment), **self._user_values(document)}
            for user_id, document in zip(ids, documents, strict=True)
        ]
        if not rows:
            return ids
        self._count(users, len(rows))  # first, as in _insert: pks in commit order
        try:
            for start in range(0, len(rows), _CHUNK):
                self._run(self.sql.users.insert, rows[start : start + _CHUNK])
        except IntegrityError:
            raise UniquenessError("a userName in the batch is already taken") from None
        return ids

    def get_user(self, user_id: str) -> Stored | None:
        """Return the user or None (see the port)."""
        return self._get(users, user_id)

    def replace_user(self, user_id: str, document: Document, *, version: int) -> Stored:
        """Store a new document for the user (see the port)."""
        return self._replace(
            users,
            user_id,
            self._user_values(document),
            version,
            f"userName '{document['userName']}' is already taken",
        )

    def delete_user(self, user_id: str) -> bool:
        """Soft-delete the user and drop its memberships (see the port)."""
        deleted = self._soft_delete(users, user_id)
        if deleted:
            leave_every_group(self.connection, self.tenant_id, user_id)
            self._member_counts.clear()  # the groups it was a member of count one less
        return deleted

    def list_users(self, selection: Selection) -> Page:
        """Return a page of users (see the port)."""
        return self._list(self.user_target, selection)

    def groups_of(self, user_ids: Sequence[str]) -> dict[str, list[GroupRef]]:
        """Return each user's direct groups (see the port)."""
        found: dict[str, list[GroupRef]] = {}
        folded: dict[str, str] = {}  # group id -> its folded name, to order by
        for chunk in _chunks(user_ids):
            rows = self._run_for_ids(chunk, self.sql.groups_of_one, self.sql.groups_of)
            for member_id, group_id, display, folded_name in rows:
                found.setdefault(member_id, []).append(GroupRef(group_id, display))
                folded[group_id] = folded_name
        for refs in found.values():
            if len(refs) > 1:  # display names are unique in a tenant
                refs.sort(key=lambda ref: folded[ref.value])
        return found

    # -- groups --------------------------------------------------------------------------
    def _group_values(self, document: Document) -> dict[str, Any]:
        display_name = document["displayName"]
        return {
            "display_name": display_name,
            "display_name_folded": fold(display_name),
            "external_id": document.get("externalId"),
            "document": document,
        }

    def create_group(
        self,
        document: Document,
        members: Sequence[str],
        displays: Mapping[str, str] | None = None,
    ) -> Stored:
        """Insert a group with members (see the port); the members are checked first."""
        unique = list(dict.fromkeys(members))
        types = self._member_types(unique) if unique else {}
        moment = now()
        group_id = new_id()
        self._insert(
            groups,
            {**self._new_row(group_id, moment), **self._group_values(document)},
            f"displayName '{document['displayName']}' is already taken",
        )
        self._insert_members(group_id, unique, types, displays)
        return Stored(group_id, copy_document(document), moment, moment, 1)

    def get_group(self, group_id: str) -> Stored | None:
        """Return the group or None (see the port)."""
        return self._get(groups, group_id)

    def replace_group(self, group_id: str, document: Document, *, version: int) -> Stored:
        """Store a new document for the group (see the port)."""
        return self._replace(
            groups,
            group_id,
            self._group_values(document),
            version,
            f"displayName '{document['displayName']}' is already taken",
        )

    def touch_group(self, group_id: str, *, version: int) -> Stored:
        """Bump version and lastModified after a membership change (see the port)."""
        return self._replace(groups, group_id, {}, version, "")

    def delete_group(self, group_id: str) -> bool:
        """Soft-delete the group and drop its memberships (see the port)."""
        deleted = self._soft_delete(groups, group_id)
        if deleted:
            params = {"b_tenant": self.tenant_id, "b_id": group_id}
            self._run(self.sql.uncount_member_everywhere, params)  # as a member of others
            self._run(self.sql.drop_group_memberships, params)
            self._set_member_count(group_id, None)
            self._member_counts.clear()  # the groups it was a member of count one less
        return deleted

    def list_groups(self, selection: Selection) -> Page:
        """Return a page of groups (see the port)."""
        return self._list(self.group_target, selection)

    def members_of(self, group_ids: Sequence[str]) -> dict[str, list[Member]]:
        """Return the members of each group (see the port)."""
        found: dict[str, list[Member]] = {group_id: [] for group_id in group_ids}
        for chunk in _chunks(group_ids):
            rows = self._run(
                self.sql.members_of, {"b_tenant": self.tenant_id, "b_ids": list(chunk)}
            )
            for group_id, member_id, member_type, display in rows:
                found[group_id].append(Member(member_id, member_type, display))
        return found

    def has_more_members_than(self, group_id: str, limit: int) -> bool:
        """Whether the group has more than ``limit`` members (see the port): its count."""
        pending = self._member_deltas.get(group_id, 0)
        known = self._member_counts.get(group_id)
        if known is None:
            count = self._run(
                self.sql.member_count, {"b_tenant": self.tenant_id, "b_group": group_id}
            ).scalar()
            known = int(count or 0)
        return known + pending > limit

    def _set_member_count(self, group_id: str, delta: int | None) -> None:
        """Move the group's member count by ``delta``; None sets it to zero.

        A delta is kept back (``_member_deltas``); a reset is written at once.
        """
        if delta is None:
            self._member_deltas.pop(group_id, None)
            self._member_counts[group_id] = 0
            self._run(
                self.sql.reset_member_count, {"b_tenant": self.tenant_id, "b_group": group_id}
            )
        elif delta:
            self._member_deltas[group_id] = self._member_deltas.get(group_id, 0) + delta

    def _member_types(self, member_ids: Sequence[str]) -> dict[str, str]:
        """Each id's type (``User`` or ``Group``); UnknownMembersError for any that has none.

        Only live users and groups of this tenant count: an id of another tenant, a deleted
        one and one that exists nowhere are refused alike, with the same detail.
        """
        types: dict[str, str] = {}
        sql = self.sql
        for chunk in _chunks(member_ids):  # Entra adds one member a request
            rows = self._run_for_ids(chunk, sql.member_types_one, sql.member_types_many)
            types.update((row_id, kind) for row_id, kind in rows)
        if len(types) < len(member_ids):
            raise UnknownMembersError(
                [member_id for member_id in member_ids if member_id not in types]
            )
        return types

    def add_members(
        self,
        group_id: str,
        member_ids: Sequence[str],
        displays: Mapping[str, str] | None = None,
    ) -> None:
        """Add members, ignoring those present (see the port)."""
        if not member_ids:
            return
        unique = list(dict.fromkeys(member_ids))
        if group_id in unique:
            raise InvalidValueError("A group cannot be a member of itself")
        self._insert_members(group_id, unique, self._member_types(unique), displays)

    def _insert_members(
        self,
        group_id: str,
        unique: Sequence[str],
        types: Mapping[str, str],
        displays: Mapping[str, str] | None,
    ) -> None:
        """Insert checked members (``types`` from :meth:`_member_types`), counting the new."""
        if not unique:
            return
        rows = [
            {
                "group_id": group_id,
                "member_id": member_id,
                "tenant_id": self.tenant_id,
                "member_type": types[member_id],
                "display": (displays or {}).get(member_id),
            }
            for member_id in unique
        ]
        added = 0
        for start in range(0, len(rows), _CHUNK):
            result = self._run(self.sql.add_members, rows[start : start + _CHUNK])
            added += len(result.all()) if self.dialect == "postgresql" else result.rowcount
        self._set_member_count(group_id, added)

    def remove_members(self, group_id: str, member_ids: Sequence[str]) -> None:
        """Remove members, ignoring those absent (see the port)."""
        removed = 0
        for chunk in _chunks(list(dict.fromkeys(member_ids))):
            result = self._run(
                self.sql.remove_members,
                {"b_tenant": self.tenant_id, "b_group": group_id, "b_ids": list(chunk)},
            )
            removed += result.rowcount
        self._set_member_count(group_id, -removed)

    def clear_members(self, group_id: str) -> None:
        """Remove every member (see the port)."""
        self._run(self.sql.clear_members, {"b_tenant": self.tenant_id, "b_group": group_id})
        self._set_member_count(group_id, None)
