"""A Microsoft Graph-shaped JSON export (issue 5 §2a).

``{"users": [...], "groups": [...], "appRoles": [...], "appRoleAssignments": [...]}``: users
are Graph user objects (``"deleted": true`` marks a soft-deleted user), groups are
``{id, displayName, members: [ids]}``, roles ``{id, displayName, value}``, assignments
``{principalId, principalType: "User"|"Group", appRoleId}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from hostsync.engine.errors import SourceError
from hostsync.engine.ports import (
    DEFAULT_ACCESS_ROLE_ID,
    KIND_BY_NAME,
    AppRole,
    Assignment,
    SourceGroup,
    SourceSnapshot,
    SourceUser,
)
from hostsync.engine.sources.base import boolean, entra_attributes


class GraphJsonSource:
    """Reads a Graph-shaped JSON export from a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> SourceSnapshot:
        """Read and validate the whole export."""
        try:
            document = orjson.loads(self.path.read_bytes())
        except OSError as exc:
            raise SourceError(f"cannot read {self.path}: {exc.strerror}") from None
        except orjson.JSONDecodeError as exc:
            raise SourceError(f"{self.path} is not valid JSON: {exc}") from None
        if not isinstance(document, Mapping):
            raise SourceError(f"{self.path}: the top level must be an object")
        return parse_graph_document(document, str(self.path))


def _list(document: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    items = document.get(key, [])
    # (dict, Mapping): the exact-type check answers first for decoded JSON
    if not isinstance(items, list) or not all(isinstance(i, (dict, Mapping)) for i in items):
        raise SourceError(f"{where}: '{key}' must be a list of objects")
    return items


def _id(item: Mapping[str, Any], where: str) -> str:
    value = item.get("id")
    if not isinstance(value, str) or not value:
        raise SourceError(f"{where}: every entry needs a string 'id'")
    return value


def parse_graph_document(document: Mapping[str, Any], where: str) -> SourceSnapshot:
    """Turn a decoded Graph-shaped export into a snapshot."""
    users: dict[str, SourceUser] = {}
    for index, raw in enumerate(_list(document, "users", where)):
        user_id = raw.get("id")
        if not isinstance(user_id, str) or not user_id or user_id in users:
            place = f"{where}: users[{index}]"  # only built for an error
            _id(raw, place)
            raise SourceError(f"{place}: duplicate user id '{user_id}'")
        attributes = entra_attributes(raw)
        try:
            enabled = boolean(raw.get("accountEnabled"))
            deleted = bool(boolean(raw.get("deleted")))
        except ValueError as exc:
            raise SourceError(f"{where}: users[{index}]: {exc}") from None
        attributes["accountEnabled"] = enabled is not False
        users[user_id] = SourceUser(user_id, attributes, deleted)
    groups: dict[str, SourceGroup] = {}
    for index, raw in enumerate(_list(document, "groups", where)):
        place = f"{where}: groups[{index}]"
        group_id = _id(raw, place)
        members = raw.get("members", [])
        if not isinstance(members, list):
            raise SourceError(f"{place}: 'members' must be a list of ids")
        ids = tuple(str(m.get("id") if isinstance(m, Mapping) else m) for m in members)
        groups[group_id] = SourceGroup(group_id, entra_attributes(raw), ids)
    roles: dict[str, AppRole] = {}
    for index, raw in enumerate(_list(document, "appRoles", where)):
        role_id = _id(raw, f"{where}: appRoles[{index}]")
        name = str(raw.get("displayName") or raw.get("value") or role_id)
        value = raw.get("value")
        roles[role_id] = AppRole(role_id, name, str(value) if value else None)
    assignments: list[Assignment] = []
    for index, raw in enumerate(_list(document, "appRoleAssignments", where)):
        principal, named = raw.get("principalId"), raw.get("principalType", "User")
        kind = KIND_BY_NAME.get(named) if isinstance(named, str) else None
        if not isinstance(principal, str) or kind is None:
            place = f"{where}: appRoleAssignments[{index}]"
            raise SourceError(f"{place}: needs 'principalId' and principalType User or Group")
        role = str(raw.get("appRoleId") or DEFAULT_ACCESS_ROLE_ID)
        assignments.append(Assignment(principal, kind, role))
    return SourceSnapshot(users, groups, roles, tuple(assignments))
