"""Mapped values ⇄ SCIM wire bodies, in Entra's two PATCH dialects.

See docs/reference/entra-wire.md#dialect-flag.

``compliant`` is Entra with the ``aadOptscim062020`` flag: lower-case ops, JSON booleans, one
path-less ``replace`` carrying several attributes, member removal by value filter.
``entra-legacy`` is Entra's default job: capitalised ops, one op per attribute, ``active`` as the
string ``"False"``, member removal as ``Remove members`` with a value list.

Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from hostsync.engine.expressions import Value, to_text
from hostsync.engine.mappings import ENTERPRISE, TargetPath, parse_path
from hostsync.engine.ports import Kind

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
MS_GROUP_SCHEMA = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Dialect(StrEnum):
    """The PATCH style sent (docs/reference/entra-wire.md#dialect-flag)."""

    COMPLIANT = "compliant"
    ENTRA_LEGACY = "entra-legacy"


def same(old: Value, new: Value) -> bool:
    """Whether two values are equal as the target sees them (``"True"`` is ``true``)."""
    if isinstance(old, bool) or isinstance(new, bool):
        return (to_text(old) or "").lower() == (to_text(new) or "").lower()
    if isinstance(old, list | dict) or isinstance(new, list | dict):
        return json.dumps(old, sort_keys=True) == json.dumps(new, sort_keys=True)
    return bool(old == new)


def _element(items: list[Any], path: TargetPath) -> dict[str, Any]:
    for item in items:
        if isinstance(item, dict) and _matches(item, path):
            return item
    element: dict[str, Any] = {path.filter_attr or "type": path.filter_value}
    items.append(element)
    return element


def _matches(item: Mapping[str, Any], path: TargetPath) -> bool:
    wanted = (path.filter_value or "").lower()
    for key, value in item.items():
        if key.lower() == (path.filter_attr or "").lower():
            return (to_text(value) or "").lower() == wanted
    return False


def build_resource(kind: Kind, values: Mapping[str, Value], dialect: Dialect) -> dict[str, Any]:
    """The POST body for a create.

    See docs/reference/entra-wire.md#wire-create-user and
    docs/reference/entra-wire.md#wire-create-group.
    """
    body: dict[str, Any]
    if kind is Kind.USER:
        body = {"schemas": [USER_SCHEMA, ENTERPRISE]}
    else:
        schemas = [GROUP_SCHEMA] + ([MS_GROUP_SCHEMA] if dialect is Dialect.ENTRA_LEGACY else [])
        body = {"schemas": schemas}
    for text, value in values.items():
        path = parse_path(text)
        holder = body
        if path.uri is not None and path.uri.lower() != USER_SCHEMA.lower():
            holder = body.setdefault(path.uri, {})
        if path.filtered:
            items = holder.setdefault(path.attr, [])
            element = _element(items, path)
            element[path.sub or "value"] = value
            if path.attr == "emails" and len(items) == 1:
                element.setdefault("primary", True)
        elif path.sub is not None:
            holder.setdefault(path.attr, {})[path.sub] = value
        else:
            holder[path.attr] = value
    body["meta"] = {"resourceType": kind.value}
    return body


def add_manager(body: dict[str, Any], manager_id: str) -> None:
    """Put ``manager`` in a user's POST body (RFC 7643 §4.3 enterprise extension)."""
    body.setdefault(ENTERPRISE, {})["manager"] = {"value": manager_id}
    if ENTERPRISE not in body["schemas"]:
        body["schemas"].append(ENTERPRISE)


def _get(document: Mapping[str, Any], key: str) -> Any:
    if key in document:
        return document[key]
    lowered = key.lower()
    return next((v for k, v in document.items() if k.lower() == lowered), None)


def read_value(document: Mapping[str, Any], text: str) -> Value:
    """The value a target document holds at a target path (None if absent)."""
    path = parse_path(text)
    holder: Any = document
    if path.uri is not None and path.uri.lower() != USER_SCHEMA.lower():
        holder = _get(document, path.uri)
        if not isinstance(holder, Mapping):
            return None
    value = _get(holder, path.attr)
    if path.filtered:
        items = value if isinstance(value, list) else []
        element = next((i for i in items if isinstance(i, Mapping) and _matches(i, path)), None)
        return None if element is None else _get(element, path.sub or "value")
    if path.sub is not None:
        return _get(value, path.sub) if isinstance(value, Mapping) else None
    return value


def read_values(document: Mapping[str, Any], paths: Iterable[str]) -> dict[str, Value]:
    """The values of several paths of a target document (absent ones left out)."""
    found = {path: read_value(document, path) for path in paths}
    return {path: value for path, value in found.items() if value is not None}


def _wire_value(path: TargetPath, value: Value, dialect: Dialect) -> Any:
    if isinstance(value, bool) and dialect is Dialect.ENTRA_LEGACY:
        return "True" if value else "False"
    if path.attr == "roles" and dialect is Dialect.ENTRA_LEGACY and isinstance(value, list):
        return [{"value": json.dumps(role)} for role in value]  # P23: role as a JSON string
    return value


def patch_operations(
    changes: Sequence[tuple[str, Value, Value]], dialect: Dialect
) -> list[dict[str, Any]]:
    """PATCH operations for ``(path, old, new)`` changes of single values (no NULLs)."""
    if dialect is Dialect.ENTRA_LEGACY:
        ops: list[dict[str, Any]] = []
        for text, old, new in changes:
            path = parse_path(text)
            op = "Add" if old is None else "Replace"
            ops.append({"op": op, "path": text, "value": _wire_value(path, new, dialect)})
        return ops
    filtered = [c for c in changes if parse_path(c[0]).filtered]
    plain = [c for c in changes if not parse_path(c[0]).filtered]
    ops = [{"op": "replace", "path": text, "value": new} for text, _, new in filtered]
    if len(plain) == 1:
        text, old, new = plain[0]
        ops.append({"op": "add" if old is None else "replace", "path": text, "value": new})
    elif plain:
        ops.append({"op": "replace", "value": {text: new for text, _, new in plain}})
    return ops


def disable_operations(dialect: Dialect) -> list[dict[str, Any]]:
    """Disable a user (docs/reference/entra-wire.md#dialect-disable)."""
    if dialect is Dialect.ENTRA_LEGACY:
        return [{"op": "Replace", "path": "active", "value": "False"}]
    return [{"op": "replace", "path": "active", "value": False}]


def manager_operations(manager_id: str, users_url: str, dialect: Dialect) -> list[dict[str, Any]]:
    """Link a manager.

    See docs/reference/entra-wire.md#wire-manager-legacy and docs/reference/entra-wire.md#patch-p10.
    """
    if dialect is Dialect.ENTRA_LEGACY:
        ref = f"{users_url.rstrip('/')}/{manager_id}"
        return [{"op": "Add", "path": "manager", "value": [{"$ref": ref, "value": manager_id}]}]
    return [{"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": manager_id}}]


def member_operations(
    add: Sequence[str], remove: Sequence[str], dialect: Dialect
) -> list[dict[str, Any]]:
    """Add and remove group members in one PATCH.

    See docs/reference/entra-wire.md#wire-group-add-members and
    docs/reference/entra-wire.md#dialect-remove-member.
    """
    ops: list[dict[str, Any]] = []
    legacy = dialect is Dialect.ENTRA_LEGACY
    if add:
        values = [{"$ref": None, "value": i} if legacy else {"value": i} for i in add]
        ops.append({"op": "Add" if legacy else "add", "path": "members", "value": values})
    if remove and legacy:
        values = [{"value": i} for i in remove]
        ops.append({"op": "Remove", "path": "members", "value": values})
    elif remove:
        ops += [{"op": "remove", "path": f'members[value eq "{i}"]'} for i in remove]
    return ops


def patch_body(operations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A PatchOp message."""
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


def filter_literal(value: str) -> str:
    """A filter comparison value: quoted, with quotes and backslashes escaped.

    See docs/reference/entra-engine.md#ours-filter-escaping.
    """
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
