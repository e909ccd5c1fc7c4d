"""SqlDirectory: one tenant's users and groups over one SQLAlchemy connection.

Implements :class:`hostsync.scim.ports.Directory`. Every statement is scoped by ``tenant_id``
(tenancy is structural: there is no query without it) and excludes soft-deleted rows. Soft
delete lives only here: DELETE stamps ``deleted_at`` and keeps the row and its document.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, Table, and_, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from hostsync.scim.errors import (
    InvalidValueError,
    NotFoundError,
    PreconditionFailedError,
    UniquenessError,
)
from hostsync.scim.paths import resolve
from hostsync.scim.ports import GroupRef, Member, Page, Selection, SortOrder, Stored
from hostsync.scim.resources import Document
from hostsync.scim.schema import GROUP_RESOURCE, USER_RESOURCE, AttrType
from hostsync.store.filters import Column, FilterCompiler, Target, fold
from hostsync.store.tables import groups, memberships, users

_CHUNK = 500


def now() -> datetime:
    """The current UTC time, naive (every timestamp column holds UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> str:
    """A new resource id: 32 hex digits of a random UUID."""
    return uuid.uuid4().hex


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def _targets(dialect: str) -> tuple[Target, Target]:
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


class SqlDirectory:
    """The :class:`~hostsync.scim.ports.Directory` of one tenant inside one transaction."""

    def __init__(self, connection: Connection, tenant_id: str, *, dialect: str, lock: bool) -> None:
        self.connection = connection
        self.tenant_id = tenant_id
        self.dialect = dialect
        self.lock = lock
        self.user_target, self.group_target = _targets(dialect)

    def savepoint(self) -> AbstractContextManager[object]:
        """A nested transaction (SAVEPOINT) on the unit of work's connection."""
        return self.connection.begin_nested()

    # -- shared helpers ------------------------------------------------------------------
    def _visible(self, table: Table) -> Any:
        return and_(table.c.tenant_id == self.tenant_id, table.c.deleted_at.is_(None))

    def _stored(self, row: Any) -> Stored:
        return Stored(
            id=row.id,
            document=copy.deepcopy(row.document),
            created=row.created_at,
            last_modified=row.modified_at,
            version=row.version,
        )

    def _get(self, table: Table, resource_id: str) -> Stored | None:
        statement = select(table).where(self._visible(table), table.c.id == resource_id)
        if self.lock and self.dialect == "postgresql":
            statement = statement.with_for_update()
        row = self.connection.execute(statement).first()
        return None if row is None else self._stored(row)

    def _savepoint_insert(self, statement: Any, conflict: str) -> None:
        try:
            with self.connection.begin_nested():
                self.connection.execute(statement)
        except IntegrityError:
            raise UniquenessError(conflict) from None

    def _replace(
        self, table: Table, resource_id: str, values: dict[str, Any], version: int, conflict: str
    ) -> Stored:
        moment = now()
        statement = (
            update(table)
            .where(self._visible(table), table.c.id == resource_id, table.c.version == version)
            .values(**values, modified_at=moment, version=version + 1)
            .returning(table)
        )
        try:
            with self.connection.begin_nested():
                row = self.connection.execute(statement).first()
        except IntegrityError:
            raise UniquenessError(conflict) from None
        if row is None:
            if self._get(table, resource_id) is None:
                raise NotFoundError(f"{resource_id} not found")
            raise PreconditionFailedError(f"{resource_id} was changed by another request")
        return self._stored(row)

    def _soft_delete(self, table: Table, resource_id: str) -> bool:
        moment = now()
        result = self.connection.execute(
            update(table)
            .where(self._visible(table), table.c.id == resource_id)
            .values(deleted_at=moment, modified_at=moment, version=table.c.version + 1)
        )
        return bool(result.rowcount)

    def _list(self, target: Target, selection: Selection) -> Page:
        table = target.table
        condition = self._visible(table)
        if selection.filter is not None:
            condition = and_(condition, FilterCompiler(target).compile(selection.filter))
        total = self.connection.execute(
            select(func.count()).select_from(table).where(condition)
        ).scalar_one()
        if selection.count == 0 or total < selection.start_index:
            return Page(total=total, resources=[])
        statement: Select[Any] = select(table).where(condition)
        statement = self._order(statement, target, selection)
        statement = statement.offset(selection.start_index - 1).limit(selection.count)
        rows = self.connection.execute(statement).all()
        return Page(total=total, resources=[self._stored(row) for row in rows])

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

    def create_user(self, document: Document) -> Stored:
        """Insert a user (see the port)."""
        moment = now()
        user_id = new_id()
        values = self._user_values(document)
        self._savepoint_insert(
            insert(users).values(
                id=user_id,
                tenant_id=self.tenant_id,
                created_at=moment,
                modified_at=moment,
                version=1,
                **values,
            ),
            f"userName '{document['userName']}' is already taken",
        )
        return Stored(user_id, copy.deepcopy(document), moment, moment, 1)

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
            self.connection.execute(
                delete(memberships).where(
                    memberships.c.tenant_id == self.tenant_id,
                    memberships.c.member_id == user_id,
                )
            )
        return deleted

    def list_users(self, selection: Selection) -> Page:
        """Return a page of users (see the port)."""
        return self._list(self.user_target, selection)

    def groups_of(self, user_ids: Sequence[str]) -> dict[str, list[GroupRef]]:
        """Return each user's direct groups (see the port)."""
        found: dict[str, list[GroupRef]] = {}
        for chunk in _chunks(user_ids):
            rows = self.connection.execute(
                select(memberships.c.member_id, groups.c.id, groups.c.display_name)
                .join(groups, groups.c.id == memberships.c.group_id)
                .where(
                    memberships.c.tenant_id == self.tenant_id,
                    memberships.c.member_id.in_(chunk),
                    groups.c.deleted_at.is_(None),
                )
                .order_by(groups.c.display_name_folded)
            )
            for member_id, group_id, display in rows:
                found.setdefault(member_id, []).append(GroupRef(group_id, display))
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
        """Insert a group with members (see the port)."""
        moment = now()
        group_id = new_id()
        self._savepoint_insert(
            insert(groups).values(
                id=group_id,
                tenant_id=self.tenant_id,
                created_at=moment,
                modified_at=moment,
                version=1,
                **self._group_values(document),
            ),
            f"displayName '{document['displayName']}' is already taken",
        )
        self.add_members(group_id, members, displays)
        return Stored(group_id, copy.deepcopy(document), moment, moment, 1)

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
            self.connection.execute(
                delete(memberships).where(
                    memberships.c.tenant_id == self.tenant_id,
                    (memberships.c.group_id == group_id) | (memberships.c.member_id == group_id),
                )
            )
        return deleted

    def list_groups(self, selection: Selection) -> Page:
        """Return a page of groups (see the port)."""
        return self._list(self.group_target, selection)

    def members_of(self, group_ids: Sequence[str]) -> dict[str, list[Member]]:
        """Return the members of each group (see the port)."""
        found: dict[str, list[Member]] = {group_id: [] for group_id in group_ids}
        for chunk in _chunks(group_ids):
            rows = self.connection.execute(
                select(
                    memberships.c.group_id,
                    memberships.c.member_id,
                    memberships.c.member_type,
                    memberships.c.display,
                )
                .where(memberships.c.tenant_id == self.tenant_id, memberships.c.group_id.in_(chunk))
                .order_by(memberships.c.group_id, memberships.c.member_id)
            )
            for group_id, member_id, member_type, display in rows:
                found[group_id].append(Member(member_id, member_type, display))
        return found

    def has_more_members_than(self, group_id: str, limit: int) -> bool:
        """Count at most ``limit + 1`` membership rows (see the port)."""
        window = (
            select(memberships.c.member_id)
            .where(memberships.c.tenant_id == self.tenant_id, memberships.c.group_id == group_id)
            .limit(limit + 1)
            .subquery()
        )
        count = self.connection.execute(select(func.count()).select_from(window)).scalar_one()
        return bool(count > limit)

    def _member_types(self, member_ids: Sequence[str]) -> dict[str, str]:
        types: dict[str, str] = {}
        for chunk in _chunks(member_ids):
            rows = self.connection.execute(
                select(groups.c.id).where(self._visible(groups), groups.c.id.in_(chunk))
            )
            types.update((row_id, "Group") for (row_id,) in rows)
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
        types = self._member_types(unique)
        rows = [
            {
                "group_id": group_id,
                "member_id": member_id,
                "tenant_id": self.tenant_id,
                "member_type": types.get(member_id, "User"),
                "display": (displays or {}).get(member_id),
            }
            for member_id in unique
        ]
        dialect_insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        statement = dialect_insert(memberships).on_conflict_do_nothing(
            index_elements=["group_id", "member_id"]
        )
        for start in range(0, len(rows), _CHUNK):
            self.connection.execute(statement, rows[start : start + _CHUNK])

    def remove_members(self, group_id: str, member_ids: Sequence[str]) -> None:
        """Remove members, ignoring those absent (see the port)."""
        for chunk in _chunks(list(member_ids)):
            self.connection.execute(
                delete(memberships).where(
                    memberships.c.tenant_id == self.tenant_id,
                    memberships.c.group_id == group_id,
                    memberships.c.member_id.in_(chunk),
                )
            )

    def clear_members(self, group_id: str) -> None:
        """Remove every member (see the port)."""
        self.connection.execute(
            delete(memberships).where(
                memberships.c.tenant_id == self.tenant_id, memberships.c.group_id == group_id
            )
        )
