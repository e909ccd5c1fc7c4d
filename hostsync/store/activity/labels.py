"""What people read for an attribute path and a value: the console's pages and the CSV alike.

An attribute path as the activity log and the host page hold it (``name.givenName``,
``emails[0].value``, Entra's ``emails[type eq "work"].value``, the enterprise extension's
``urn:…:enterprise:2.0:User.department`` or ``…:User:department``) gets a label people know
("First name", "Work e-mail", "Department"); a path this module does not know is shown as it
is. A value is shown the same way everywhere: nothing as ``—``, booleans as ``true`` /
``false``, lists joined with commas, objects as JSON — never a Python ``repr``.

Member ids (``members added`` / ``members removed``) and the manager's id are shown by name
when the caller resolved them (:func:`hostsync.store.activity.queries.names_of`); an id that
was not resolved (another tenant's, or a purged host's) stays an id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

ENTERPRISE_PREFIX = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"
CORE_PREFIXES = (
    "urn:ietf:params:scim:schemas:core:2.0:user",
    "urn:ietf:params:scim:schemas:core:2.0:group",
)
MEMBER_CHANGES = {
    "members added": "Members added",
    "members removed": "Members removed",
    "members": "Members",
}
"""The activity log's own paths for membership changes (store/activity/recording.py)."""
NOTHING = "—"

_SIMPLE = {
    "username": "User name",
    "displayname": "Display name",
    "nickname": "Nickname",
    "profileurl": "Profile URL",
    "title": "Job title",
    "usertype": "User type",
    "preferredlanguage": "Preferred language",
    "locale": "Locale",
    "timezone": "Time zone",
    "active": "Active",
    "externalid": "External id",
    "id": "Id",
    "schemas": "Schemas",
}
_NAME = {
    "givenname": "First name",
    "familyname": "Last name",
    "middlename": "Middle name",
    "formatted": "Full name",
    "honorificprefix": "Name prefix",
    "honorificsuffix": "Name suffix",
}
_META = {
    "created": "Created",
    "lastmodified": "Last modified",
    "resourcetype": "Resource type",
    "location": "Location",
    "version": "Version",
}
_ENTERPRISE = {
    "employeenumber": "Employee number",
    "costcenter": "Cost center",
    "organization": "Organization",
    "division": "Division",
    "department": "Department",
    "manager": "Manager",
    "manager.value": "Manager",
    "manager.displayname": "Manager's name",
    "manager.$ref": "Manager's link",
}
_MULTI = {
    "emails": "e-mail",
    "phonenumbers": "phone",
    "addresses": "address",
    "ims": "messaging",
    "photos": "photo",
    "roles": "role",
    "entitlements": "entitlement",
    "x509certificates": "certificate",
    "groups": "group",
}
_PHONE_TYPES = {"mobile": "Mobile", "fax": "Fax", "pager": "Pager"}
_ADDRESS_PARTS = {
    "streetaddress": "street",
    "locality": "city",
    "region": "region",
    "postalcode": "postal code",
    "country": "country",
}
_MULTI_PATH = re.compile(
    r'(?P<attr>[A-Za-z][\w$-]*)(?:\[(?:(?P<index>\d{1,6})|type eq "(?P<type>[^"\]]{0,40})")\])?'
    r"(?:\.(?P<sub>[A-Za-z$][\w$-]*))?"
)


def label(path: str, siblings: Mapping[str, Any] | None = None) -> str:
    """The label of an attribute path; the path itself when it is not one this module knows.

    ``siblings`` is the flattened document (or change list) the path comes from: an indexed
    path's ``type`` is read there (``emails[0].value`` is "Work e-mail" when
    ``emails[0].type`` is ``work``).
    """
    if siblings:
        index = _MULTI_PATH.fullmatch(path)
        if index and index["index"] is not None and index["attr"].casefold() in _MULTI:
            kind = siblings.get(f"{path[: index.start('index') - 1]}[{index['index']}].type")
            if isinstance(kind, str):
                return _label(path, kind)
    return _label(path, None)


@lru_cache(maxsize=2048)  # paths come from a small vocabulary (the SCIM schema's attributes)
def _label(path: str, kind: str | None) -> str:
    folded = path.casefold()
    if folded in MEMBER_CHANGES:
        return MEMBER_CHANGES[folded]
    if folded.startswith(ENTERPRISE_PREFIX):
        rest = folded[len(ENTERPRISE_PREFIX) :]
        if rest[:1] in (".", ":") and rest[1:] in _ENTERPRISE:
            return _ENTERPRISE[rest[1:]]
        return path
    for prefix in CORE_PREFIXES:
        if folded.startswith(prefix) and folded[len(prefix) : len(prefix) + 1] in (".", ":"):
            inner = path[len(prefix) + 1 :]
            known = _label(inner, kind)
            return path if known == inner else known
    if folded in _SIMPLE:
        return _SIMPLE[folded]
    head, _, tail = folded.partition(".")
    if head == "name" and tail in _NAME:
        return _NAME[tail]
    if head == "meta" and tail in _META:
        return _META[tail]
    return _multi_valued(path, kind)


def _multi_valued(path: str, kind: str | None) -> str:
    found = _MULTI_PATH.fullmatch(path)
    if not found or found["attr"].casefold() not in _MULTI:
        return path
    attr = found["attr"].casefold()
    noun = _MULTI[attr]
    kind = found["type"] if found["type"] is not None else kind
    if kind:
        folded_kind = kind.casefold()
        if attr == "phonenumbers" and folded_kind in _PHONE_TYPES:
            base = _PHONE_TYPES[folded_kind]
        else:
            base = f"{kind[:1].upper()}{kind[1:].lower()} {noun}"
    elif found["index"] not in (None, "0"):
        base = f"{noun[:1].upper()}{noun[1:]} {int(found['index']) + 1}"
    else:
        base = f"{noun[:1].upper()}{noun[1:]}"
    sub = (found["sub"] or "").casefold()
    if not sub or sub == "value":
        return base
    if sub == "primary":
        return f"{base} (primary)"
    if sub == "type":
        return f"{base} type"
    if sub == "display":
        return f"{base} (shown as)"
    if attr == "addresses" and sub in _ADDRESS_PARTS:
        return f"{base}: {_ADDRESS_PARTS[sub]}"
    if attr == "addresses" and sub == "formatted":
        return base
    return f"{base}: {found['sub']}"


def value_text(value: Any) -> str:
    """A value as the page and the CSV show it (never a Python ``repr``)."""
    if value is None:
        return NOTHING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(value_text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


@dataclass(frozen=True, slots=True)
class ChangeLine:
    """One change as people read it: the label, the stored path, old and new as text."""

    label: str
    path: str
    old: str
    new: str


def is_member_change(path: str) -> bool:
    """Whether a change lists member ids (``members added`` / ``members removed``)."""
    return path.casefold() in ("members added", "members removed")


def _is_manager(path: str) -> bool:
    return _label(path, None) == "Manager" and path.casefold() != "manager"


def ids_to_name(changes: Iterable[Mapping[str, Any]]) -> set[str]:
    """The ids in these changes that :func:`change_lines` shows by name when it can."""
    ids: set[str] = set()
    for change in changes:
        path = str(change.get("path", ""))
        if is_member_change(path):
            new = change.get("new")
            if isinstance(new, list):
                ids.update(item for item in new if isinstance(item, str))
        elif _is_manager(path):
            ids.update(v for v in (change.get("old"), change.get("new")) if isinstance(v, str))
    return ids


def change_lines(
    changes: Iterable[Mapping[str, Any]], names: Mapping[str, str] | None = None
) -> list[ChangeLine]:
    """The changes of one activity row as people read them, ids shown by name when known."""
    rows = list(changes)
    names = names or {}
    siblings: dict[str, Any] = {}
    for change in rows:
        path = str(change.get("path", ""))
        if path.endswith(".type"):
            kind = change.get("new")
            siblings[path] = kind if kind is not None else change.get("old")
    lines = []
    for change in rows:
        path = str(change.get("path", ""))
        old, new = change.get("old"), change.get("new")
        if is_member_change(path) and isinstance(new, list):
            new = [names.get(item, item) if isinstance(item, str) else item for item in new]
        elif _is_manager(path):
            old = names.get(old, old) if isinstance(old, str) else old
            new = names.get(new, new) if isinstance(new, str) else new
        lines.append(ChangeLine(label(path, siblings), path, value_text(old), value_text(new)))
    return lines


def change_text(line: ChangeLine) -> str:
    """One change on one line (the CSV's ``changes`` cell joins these with ``; ``)."""
    if is_member_change(line.path):
        return f"{line.label}: {line.new}"
    return f"{line.label}: {line.old} → {line.new}"
