"""PATCH (RFC 7644 §3.5.2) over canonical documents, accepting every shape Entra ID sends.

Pure: no I/O. :func:`parse_patch_request` checks a PatchOp body and parses each ``path``;
:func:`apply_patch` applies the operations, in order and all-or-nothing, to a copy of a
canonical document (:mod:`hostsync.scim.resources`) and reports group membership changes
separately, because members are not part of the stored document.

The normative contract is docs/reference/entra-wire.md#patch-rules ("rule N" below is
#patch-rule-N there) with the request shapes of that page, its dialects and its patterns
("PN" below is #patch-pN). Where Entra differs from RFC 7644, Entra wins:

* a filtered path that matches nothing, under ``add`` or ``replace``, creates the element the
  filter describes (rule 6, P6, P21) instead of failing with ``noTarget``;
* ``remove`` of ``members`` (or any multi-valued attribute) *with* a ``value`` list removes only
  the listed values (rule 7, Entra's documented member removal), not the whole attribute;
* ``""`` and ``null`` clear a value (rule 10, P26), and ``"True"``/``"False"`` are booleans
  (rule 8, P1-P4);
* ``manager`` is also reachable un-prefixed and takes a bare id (rule 9, P9-P14).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from hostsync.caching import StartOver
from hostsync.scim.errors import (
    InvalidPathError,
    InvalidSyntaxError,
    InvalidValueError,
    MutabilityError,
    NoTargetError,
)
from hostsync.scim.filters import (
    And,
    Compare,
    CompareOp,
    Filter,
    Not,
    Or,
    PatchPath,
    Present,
    Value,
    parse_patch_path,
)
from hostsync.scim.paths import AttrPath, resolve, resolve_sub
from hostsync.scim.resources import (
    Document,
    coerce_boolean,
    copy_document,
    is_empty,
    member_values,
    normalize_single,
    normalize_value,
)
from hostsync.scim.schema import (
    ENTERPRISE_USER_SCHEMA,
    GROUP_SCHEMA,
    PATCH_OP_SCHEMA,
    Attribute,
    AttrType,
    Mutability,
    ResourceType,
)

OpKind: TypeAlias = Literal["add", "replace", "remove"]
MemberChangeKind: TypeAlias = Literal["add", "remove", "replace", "clear"]

_OP_KINDS: dict[str, OpKind] = {"add": "add", "replace": "replace", "remove": "remove"}
# Keys a client echoes from a fetched resource; a path-less add/replace ignores them.
_ECHOED_KEYS = frozenset({"id", "meta", "schemas"})
_TEXT_TYPES = frozenset({AttrType.STRING, AttrType.REFERENCE, AttrType.DATETIME, AttrType.BINARY})
_ORDERINGS: dict[CompareOp, Callable[[Any, Any], Any]] = {
    CompareOp.GT: operator.gt,
    CompareOp.GE: operator.ge,
    CompareOp.LT: operator.lt,
    CompareOp.LE: operator.le,
}
_MISSING = object()


@dataclass(frozen=True, slots=True)
class PatchOperation:
    """One parsed PATCH operation; ``value`` is the raw JSON value as sent (None if absent)."""

    op: OpKind
    path: PatchPath | None
    value: Any


@dataclass(frozen=True, slots=True)
class MemberChange:
    """A change to a group's member set, applied by the caller in order.

    ``add``: add ``ids`` (no-op for members already present); ``remove``: remove ``ids``
    (no-op for non-members); ``replace``: membership becomes exactly ``ids``; ``clear``:
    remove every member.
    """

    kind: MemberChangeKind
    ids: tuple[str, ...] = ()
    displays: Mapping[str, str] = field(default_factory=dict)
    """Display names the client sent with added members, by id (stored as sent)."""


@dataclass(frozen=True, slots=True)
class PatchResult:
    """The outcome of :func:`apply_patch`."""

    document: Document
    member_changes: tuple[MemberChange, ...]
    changed: bool


# -- parsing -------------------------------------------------------------------------------


def parse_patch_request(body: Any, *, max_operations: int) -> tuple[PatchOperation, ...]:
    """Check a PatchOp request body (RFC 7644 §3.5.2) and parse its operations.

    Structural names are matched case-insensitively (``Operations``, ``op``; rules 1-2,
    docs/reference/entra-wire.md#wire-op-case), and so are the op values
    ``Add``/``replace``/``REMOVE`` (P27).

    Args:
        body: The decoded JSON request body.
        max_operations: The most operations one request may carry.

    Returns:
        The operations in request order.

    Raises:
        InvalidSyntaxError: The body is not a PatchOp message, ``Operations`` is missing, empty
            or longer than ``max_operations``, or an operation has no valid ``op``.
        InvalidPathError: A ``path`` is not a valid PATCH path.
        NoTargetError: A ``remove`` has no ``path``.
        InvalidValueError: An ``add``/``replace`` lacks a ``value``, or has no ``path`` and a
            ``value`` that is not an object.
    """
    if not isinstance(body, Mapping):
        raise InvalidSyntaxError("The PATCH request body must be a JSON object")
    _require_patch_schema(_lookup(body, "schemas", None))
    raw_operations = _lookup(body, "Operations", None)
    if not isinstance(raw_operations, list) or not raw_operations:
        raise InvalidSyntaxError("'Operations' must be a non-empty array of PATCH operations")
    if len(raw_operations) > max_operations:
        raise InvalidSyntaxError(
            f"A PATCH request may carry at most {max_operations} operations, "
            f"got {len(raw_operations)}"
        )
    return tuple(_parse_operation(n, raw) for n, raw in enumerate(raw_operations, start=1))


def _lookup(mapping: Mapping[Any, Any], name: str, default: Any) -> Any:
    """``mapping[name]``, falling back to a case-insensitive match of the key."""
    if name in mapping:
        return mapping[name]
    lowered = name.lower()
    for key, value in mapping.items():
        if isinstance(key, str) and key.lower() == lowered:
            return value
    return default


def _require_patch_schema(schemas: Any) -> None:
    """``schemas`` must list the PatchOp message URN (docs/reference/entra-wire.md#patch-rule-1)."""
    listed = [schemas] if isinstance(schemas, str) else schemas
    if not isinstance(listed, list) or not any(
        isinstance(urn, str) and urn.lower() == PATCH_OP_SCHEMA.lower() for urn in listed
    ):
        raise InvalidSyntaxError(f"A PATCH request's 'schemas' must contain '{PATCH_OP_SCHEMA}'")


def _parse_operation(number: int, raw: Any) -> PatchOperation:
    # "Operation N" is written only into an error: building it for every operation cost
    # more than the rest of the check.
    if not (raw.__class__ is dict or isinstance(raw, Mapping)):
        raise InvalidSyntaxError(f"Operation {number} must be a JSON object")
    op_text = _lookup(raw, "op", None)
    kind = _OP_KINDS.get(op_text.strip().lower()) if op_text.__class__ is str else None
    if kind is None:
        raise InvalidSyntaxError(
            f"Operation {number}: 'op' must be add, replace or remove, got {op_text!r}"
        )
    raw_path = _lookup(raw, "path", None)
    path = None if raw_path is None else _parse_path(number, raw_path)
    value = _lookup(raw, "value", _MISSING)
    if kind == "remove":
        if path is None:
            # RFC 7644 §3.5.2.2: a remove without a path fails with noTarget.
            raise NoTargetError(f"Operation {number}: 'remove' needs a 'path'")
        return PatchOperation(kind, path, None if value is _MISSING else value)
    if value is _MISSING:
        raise InvalidValueError(f"Operation {number}: '{kind}' needs a 'value'")
    if path is None and not isinstance(value, Mapping):
        raise InvalidValueError(
            f"Operation {number}: '{kind}' without a 'path' needs an object of attributes as "
            "its 'value'"
        )
    return PatchOperation(kind, path, value)


def _parse_path(number: int, raw: Any) -> PatchPath:
    if raw.__class__ is not str and not isinstance(raw, str):
        raise InvalidPathError(f"Operation {number}: 'path' must be a string, got {raw!r}")
    return parse_patch_path(raw)


# -- applying ------------------------------------------------------------------------------


def apply_patch(
    document: Document, operations: Sequence[PatchOperation], resource_type: ResourceType
) -> PatchResult:
    """Apply ``operations`` in order to a copy of ``document`` (rule 3).

    The input is never mutated. Group ``members`` are not part of a canonical document, so
    operations on them become :class:`MemberChange` entries instead.

    Args:
        document: The canonical document of the resource.
        operations: The parsed operations, as returned by :func:`parse_patch_request`.
        resource_type: The resource type the document belongs to.

    Returns:
        The new canonical document, the member changes in operation order, and whether
        anything changed.

    Raises:
        ScimError: Any operation fails (``invalidPath``, ``mutability``, ``invalidValue``,
            ``noTarget``); then no result exists, so nothing is partially applied.
    """
    patcher = _Patcher(copy_document(document), resource_type)
    for operation in operations:
        patcher.apply(operation)
    new_document = _pruned(patcher.document) or {}
    changes = tuple(patcher.member_changes)
    return PatchResult(new_document, changes, new_document != document or bool(changes))


@dataclass(frozen=True, slots=True)
class _Target:
    """A resolved PATCH path.

    ``sub`` is the sub-attribute: ``name.givenName`` on a single-valued complex attribute, or
    the per-element sub-attribute of a multi-valued one (``emails[type eq "work"].value``,
    ``emails.value``).
    """

    attribute: Attribute
    extension: str | None
    sub: Attribute | None
    value_filter: Filter | None
    label: str


# Each parsed path's plan per resource type (the extension it names whole, or its target).
# Parsed paths are kept by their text (filters.parse_patch_path), so a client's usual few
# paths are planned once, not on every PATCH. Keyed by identity (hashing a path or a
# resource type hashes all of it) and checked against the objects kept. Only paths that
# recur are kept (_recurs), so that clients' texts cannot fill the memory.
_PLANS: StartOver[tuple[int, int], tuple[PatchPath, ResourceType, str | None, _Target | None]] = (
    StartOver(4096)
)
_KEPT_PATH_CHARS = 200


def _recurs(path: PatchPath) -> bool:
    """Whether ``path`` is one of a client's usual few, worth keeping a plan of.

    An attribute path of up to 200 characters, bare or with a ``type eq "…"`` filter of up to
    200 (Entra's ``emails[type eq "work"].value``). A filter on ``value`` names one member or
    element (``members[value eq "<id>"]``): a new path on each request.
    """
    attr, value_filter = path.attr, path.value_filter
    size = (
        len(attr.uri or "") + len(attr.attr) + len(attr.sub_attr or "") + len(path.sub_attr or "")
    )
    if value_filter is None:
        return size <= _KEPT_PATH_CHARS
    return (
        isinstance(value_filter, Compare)
        and value_filter.path.uri is None
        and value_filter.path.sub_attr is None
        and value_filter.path.attr.lower() == "type"
        and isinstance(value_filter.value, str)
        and size + len(value_filter.value) <= _KEPT_PATH_CHARS
    )


class _Patcher:
    """Applies operations to a (private, deep-copied) working document."""

    def __init__(self, document: Document, resource_type: ResourceType) -> None:
        self.document = document
        self.resource_type = resource_type
        self.member_changes: list[MemberChange] = []

    def apply(self, operation: PatchOperation) -> None:
        if operation.path is None:
            if operation.op == "remove":
                raise NoTargetError("'remove' needs a 'path'")
            self.apply_pathless(operation.op, operation.value)
            return
        extension, target = self.plan(operation.path)
        if extension is not None:
            self.apply_whole_extension(operation.op, extension, operation.value)
        elif target is not None:
            self.apply_to(operation.op, target, operation.value, merge=True)

    def plan(self, path: PatchPath) -> tuple[str | None, _Target | None]:
        """The whole extension ``path`` names, or else its target (kept, see _PLANS)."""
        resource_type = self.resource_type
        key = (id(path), id(resource_type))
        kept = _PLANS.get(key)
        if kept is not None and kept[0] is path and kept[1] is resource_type:
            return kept[2], kept[3]
        extension = self.whole_extension(path)
        target = None if extension is not None else self.target(path)  # raises when invalid
        if _recurs(path):
            _PLANS.put(key, (path, resource_type, extension, target))
        return extension, target

    def whole_extension(self, path: PatchPath | None) -> str | None:
        """The URN when the path names a whole extension (``urn:…:enterprise:2.0:User``)."""
        if path is None or path.value_filter is not None or path.sub_attr is not None:
            return None
        if path.attr.sub_attr is not None:
            return None
        extension = self.resource_type.extension(str(path.attr))
        return None if extension is None else extension.id

    def apply_whole_extension(self, kind: OpKind, urn: str, value: Any) -> None:
        """Apply RFC 7644 §3.5.2 to a whole extension object.

        ``remove`` drops it, ``replace`` sets it whole, ``add`` merges into it.
        """
        if kind == "remove":
            self.document.pop(urn, None)
            return
        if kind == "replace":
            self.document.pop(urn, None)
        self.apply_extension_object("add" if kind == "replace" else kind, urn, value)

    # -- paths ----------------------------------------------------------------------------
    def target(self, path: PatchPath) -> _Target:
        attr_path = self.alias(path.attr)
        resolved = resolve(attr_path, self.resource_type, error=InvalidPathError)
        attribute = resolved.attribute
        extension = resolved.schema.id if resolved.is_extension else None
        label = str(attr_path)
        if path.value_filter is None:
            return _Target(attribute, extension, resolved.sub_attribute, None, label)
        if not attribute.multi_valued or attribute.type is not AttrType.COMPLEX:
            raise InvalidPathError(f"'{label}' is not multi-valued, so it takes no value filter")
        _check_filter(attribute, path.value_filter)
        sub = None
        if path.sub_attr is not None:
            sub = resolve_sub(attribute, path.sub_attr, error=InvalidPathError)
            label = f"{label}[…].{sub.name}"
        return _Target(attribute, extension, sub, path.value_filter, label)

    def alias(self, path: AttrPath) -> AttrPath:
        """Map the un-prefixed ``manager`` to the enterprise extension's manager.

        docs/reference/entra-wire.md#wire-manager-legacy and
        docs/reference/entra-wire.md#patch-p13: Entra's documented manager update uses
        ``"path": "manager"``, which is not a core User attribute.
        """
        if (
            path.uri is None
            and path.attr.lower() == "manager"
            and self.resource_type.schema.attribute("manager") is None
            and self.resource_type.extension(ENTERPRISE_USER_SCHEMA) is not None
        ):
            return AttrPath(ENTERPRISE_USER_SCHEMA, path.attr, path.sub_attr)
        return path

    def container(self, extension: str | None, *, create: bool) -> Document | None:
        """The object holding the target: the document, or an extension's object in it."""
        if extension is None:
            return self.document
        inner = self.document.get(extension)
        if not isinstance(inner, dict):
            if not create:
                return None
            inner = self.document[extension] = {}
        return inner

    # -- dispatch -------------------------------------------------------------------------
    def apply_to(self, kind: OpKind, target: _Target, value: Any, *, merge: bool) -> None:
        """Apply one operation to one target; ``merge`` merges a complex value into the old.

        ``merge`` is True for ``add`` and for ``replace`` with a path (RFC 7644 §3.5.2.3: the
        named sub-attributes replace theirs, others are left unchanged); a path-less
        ``replace`` sets each named attribute whole.
        """
        if target.attribute.mutability is Mutability.WRITE_ONLY:
            return  # password: write-only and never stored (resources.py), so silently ignored
        _check_writable(target)
        if self.is_members(target):
            self.members(kind, target, value)
        elif target.attribute.multi_valued:
            self.multi_valued(kind, target, value)
        else:
            self.single_valued(kind, target, value, merge=merge)

    def apply_pathless(self, kind: OpKind, value: Any) -> None:
        """Rule 5: the value's keys are attribute paths (``name.givenName``, URNs…).

        Also nested objects (``{"name": {"givenName": …}}``) and an extension object keyed by
        its URN, whose attributes are applied one by one (P4, P17, P18, and the flagged dialect of
        docs/reference/entra-wire.md#dialect-replace-many).
        """
        if not isinstance(value, Mapping):
            raise InvalidValueError(f"'{kind}' without a 'path' needs an object as its 'value'")
        for key, raw in value.items():
            name = str(key)
            if name.lower() in _ECHOED_KEYS:
                continue  # clients echo whole resources; id, meta and schemas are not patchable
            extension = self.resource_type.extension(name)
            if extension is not None:
                self.apply_extension_object(kind, extension.id, raw)
            else:
                self.apply_to(kind, self.target(parse_patch_path(name)), raw, merge=kind == "add")

    def apply_extension_object(self, kind: OpKind, urn: str, raw: Any) -> None:
        """A path-less ``{"urn:…:User": {"department": …}}``: each attribute in turn."""
        if _is_blank(raw):
            if kind == "replace":
                self.document.pop(urn, None)  # rule 10: null clears
            return
        if not isinstance(raw, Mapping):
            raise InvalidValueError(f"'{urn}' must be an object of its attributes")
        for key, sub_raw in raw.items():
            if str(key).lower() in _ECHOED_KEYS:
                continue  # an echoed extension object carries its own "schemas"
            path = parse_patch_path(str(key))
            if path.attr.uri is not None:
                raise InvalidPathError(f"'{key}' inside '{urn}' must be an attribute name")
            scoped = PatchPath(
                AttrPath(urn, path.attr.attr, path.attr.sub_attr), path.value_filter, path.sub_attr
            )
            self.apply_to(kind, self.target(scoped), sub_raw, merge=kind == "add")

    # -- single-valued attributes ---------------------------------------------------------
    def single_valued(self, kind: OpKind, target: _Target, value: Any, *, merge: bool) -> None:
        """``userName``, ``active``, ``name``, ``name.givenName``, ``manager``, extension attrs.

        ``add`` on an attribute with a value replaces it (RFC 7644 §3.5.2.1); ``""``/``null``
        clear it (rule 10, P11, P26); ``remove`` deletes it (P22).
        """
        container = self.container(target.extension, create=kind != "remove")
        if container is None:
            return
        attribute = target.attribute
        if target.sub is not None:
            _set_sub_attribute(kind, container, attribute, target.sub, value, target.label)
        elif kind == "remove" or _is_blank(value):
            container.pop(attribute.name, None)
        elif merge and attribute.type is AttrType.COMPLEX and not _is_manager(attribute):
            old = container.get(attribute.name)
            container[attribute.name] = _merged(attribute, old, value, target.label)
        else:
            container[attribute.name] = normalize_value(attribute, value, target.label)
        if _is_manager(attribute):
            _drop_manager_without_id(container, attribute)

    # -- multi-valued attributes ----------------------------------------------------------
    def multi_valued(self, kind: OpKind, target: _Target, value: Any) -> None:
        """``emails``, ``roles``, ``addresses``…, whole or through a value filter (rule 6)."""
        container = self.container(target.extension, create=kind != "remove")
        if container is None:
            return
        elements: list[Document] = list(container.get(target.attribute.name) or [])
        if target.value_filter is None and target.sub is None:
            elements = _whole_list(kind, target, elements, value)
        else:
            elements = _selected(kind, target, elements, value)
        container[target.attribute.name] = [element for element in elements if element]

    # -- group members --------------------------------------------------------------------
    def is_members(self, target: _Target) -> bool:
        return (
            target.attribute.name == "members"
            and target.extension is None
            and self.resource_type.schema.id == GROUP_SCHEMA
        )

    def members(self, kind: OpKind, target: _Target, value: Any) -> None:
        """Group membership, reported as :class:`MemberChange` (rule 7).

        ``add`` adds (P15), ``replace`` sets exactly (P16), ``remove`` with a value list removes
        those ids (docs/reference/entra-wire.md#wire-group-remove-members), ``remove`` of
        ``members[value eq "id"]`` removes that id
        (docs/reference/entra-wire.md#dialect-remove-member),
        and ``remove`` with no value removes every member (RFC 7644 §3.5.2.2).
        """
        if target.sub is not None:
            raise InvalidPathError(
                f"'{target.label}': members are added or removed whole, not by sub-attribute"
            )
        if target.value_filter is not None:
            if kind != "remove":
                raise InvalidPathError(
                    f"'{kind}' of 'members' takes the path 'members' and a list of "
                    '{"value": id} objects, not a value filter'
                )
            self.change_members("remove", _filter_member_ids(target.value_filter))
        elif value is None and kind != "add":
            self.change_members("clear", ())
        else:
            ids, displays = member_values(value)
            if kind == "replace":
                self.change_members("replace" if ids else "clear", ids, displays)
            elif ids:
                self.change_members(kind, ids, displays)

    def change_members(
        self,
        kind: MemberChangeKind,
        ids: tuple[str, ...],
        displays: Mapping[str, str] | None = None,
    ) -> None:
        self.member_changes.append(MemberChange(kind, ids, dict(displays or {})))


# -- helpers: mutability and values ---------------------------------------------------------


def _check_writable(target: _Target) -> None:
    """RFC 7644 §3.5.2: read-only attributes (``id``, ``meta``, ``groups``…) → mutability."""
    for attribute in (target.attribute, target.sub):
        if attribute is not None and attribute.mutability is Mutability.READ_ONLY:
            raise MutabilityError(f"'{target.label}' is read-only and cannot be modified")


def _is_manager(attribute: Attribute) -> bool:
    return attribute.name == "manager" and attribute.type is AttrType.COMPLEX


def _drop_manager_without_id(container: Document, attribute: Attribute) -> None:
    """Rule 9: a manager without an id (``{"value": ""}``, no ``value``) is no manager."""
    manager = container.get(attribute.name)
    if manager is not None and not (isinstance(manager, dict) and manager.get("value")):
        container.pop(attribute.name)


def _set_sub_attribute(
    kind: OpKind,
    container: Document,
    attribute: Attribute,
    sub: Attribute,
    value: Any,
    where: str,
) -> None:
    """``name.givenName`` / ``manager.value``: set, or clear on remove, ``""`` or ``null``."""
    parent = container.get(attribute.name)
    if kind == "remove" or _is_blank(value):
        if isinstance(parent, dict):
            parent.pop(sub.name, None)
        return
    if not isinstance(parent, dict):
        parent = container[attribute.name] = {}
    parent[sub.name] = normalize_single(sub, value, where)


def _merged(attribute: Attribute, old: Any, value: Any, where: str) -> Document:
    """Merge a complex value's sub-attributes into ``old``; empty ones clear (rule 10)."""
    if not isinstance(value, Mapping):
        raise InvalidValueError(f"'{where}' must be an object, got {type(value).__name__}")
    out: Document = dict(old) if isinstance(old, dict) else {}
    for key, sub_value in value.items():
        sub = attribute.sub(str(key))
        if sub is None or sub.mutability is Mutability.READ_ONLY:
            continue  # as resources.normalize_complex: unknown and read-only ones are ignored
        if _is_blank(sub_value):
            out.pop(sub.name, None)
        else:
            out[sub.name] = normalize_single(sub, sub_value, f"{where}.{sub.name}")
    return out


def _one_object(value: Any, where: str) -> Any:
    """A filtered element's new value: an object, or a list holding one object."""
    if isinstance(value, list):
        if len(value) != 1:
            raise InvalidValueError(f"'{where}' selects values; give one object, not {len(value)}")
        return value[0]
    return value


def _is_blank(value: Any) -> bool:
    """Rule 10, P11, P26: ``""`` and ``null`` mean "clear this value"."""
    return value is None or value == ""


_SCALARS = frozenset({str, bool, int, float})


def _pruned(value: Any) -> Any:
    """Drop what clearing leaves behind: ``None``, ``{}``, ``[]`` (canonical form has none).

    A container with nothing to drop comes back as it is (the working document is a private
    copy); one with something to drop, as a new container. Scalars are passed over without a
    call each: a PATCH's result is mostly scalars, and pruning it had been a whole copy.
    """
    if isinstance(value, dict):
        out: dict[Any, Any] | None = None
        for key, item in value.items():
            if item.__class__ in _SCALARS:
                continue
            kept = None if item is None else _pruned(item)
            if kept is not item or item is None:
                if out is None:
                    out = dict(value)
                if kept is None:
                    del out[key]
                else:
                    out[key] = kept
        result = value if out is None else out
        return result or None
    if isinstance(value, list):
        items: list[Any] | None = None
        for index, item in enumerate(value):
            kept = item if item.__class__ in _SCALARS else None if item is None else _pruned(item)
            if items is None:
                if kept is item and item is not None:
                    continue
                items = value[:index]  # all kept as they were
            if kept is not None:
                items.append(kept)
        kept_list = value if items is None else items
        return kept_list or None
    return value


# -- helpers: multi-valued attributes ---------------------------------------------------------


def _whole_list(
    kind: OpKind, target: _Target, elements: list[Document], value: Any
) -> list[Document]:
    """An unfiltered multi-valued path (RFC 7644 §3.5.2.1-3, plus rule 7 for remove).

    ``add`` appends the new values (exact duplicates skipped), ``replace`` replaces the list,
    ``remove`` without a value removes the attribute and with a value list removes only the
    elements matching each listed value (Entra's legacy form,
    docs/reference/entra-wire.md#wire-group-remove-members).
    """
    attribute, where = target.attribute, target.label
    if kind == "replace":
        return [] if is_empty(value) else list(normalize_value(attribute, value, where) or [])
    if kind == "remove":
        if value is None:
            return []
        patterns = [_removal_pattern(attribute, item, where) for item in _as_list(value)]
        return [e for e in elements if not any(_has_all(attribute, e, p) for p in patterns)]
    if is_empty(value):
        return elements
    fresh: list[Document] = []
    for item in normalize_value(attribute, value, where) or []:
        if item not in elements and item not in fresh:
            fresh.append(item)
    _demote_other_primaries(elements, fresh)
    return elements + fresh


def _selected(
    kind: OpKind, target: _Target, elements: list[Document], value: Any
) -> list[Document]:
    """A filtered (``emails[type eq "work"].value``) or per-element (``emails.value``) path.

    ``remove``, or a ``""``/``null`` value (P26), drops the matching elements, or only their
    sub-attribute; no match is a no-op. ``add``/``replace`` write every match; with no match
    they create the element the filter describes (rule 6, P6, P7, P21).
    """
    attribute, value_filter = target.attribute, target.value_filter
    matches = [
        element
        for element in elements
        if value_filter is None or _matches(attribute, element, value_filter)
    ]
    if kind == "remove" or _is_blank(value):
        if target.sub is None:
            return [element for element in elements if not _is_one_of(element, matches)]
        for element in matches:
            element.pop(target.sub.name, None)
        return elements
    pinned = {} if value_filter is None else _pinned(attribute, value_filter)
    if not matches:
        if pinned is None:
            raise NoTargetError(
                f"No value of '{target.label}' matches the filter, and only a filter of 'eq' "
                "comparisons joined by 'and' describes a value to create"
            )
        created = dict(pinned)
        elements = [*elements, created]
        matches = [created]
    for element in matches:
        _write_element(kind, target, element, value, pinned or {})
    _demote_other_primaries(elements, matches)
    return elements


def _write_element(
    kind: OpKind, target: _Target, element: Document, value: Any, pinned: Document
) -> None:
    """Set the sub-attribute of one selected element, or merge/replace the element itself.

    A replaced element keeps the values its filter pinned (``type: "work"``), so it still
    matches the path that selected it.
    """
    if target.sub is not None:
        element[target.sub.name] = normalize_single(target.sub, value, target.label)
        return
    new_value = _one_object(value, target.label)
    if kind == "add":
        new = _merged(target.attribute, element, new_value, target.label)
    else:
        new = {**pinned, **(normalize_single(target.attribute, new_value, target.label) or {})}
    element.clear()
    element.update(new)


def _demote_other_primaries(elements: list[Document], touched: list[Document]) -> None:
    """RFC 7644 §3.5.2: setting one value's ``primary`` to true sets the others' to false."""
    if not any(element.get("primary") is True for element in touched):
        return
    for element in elements:
        if element.get("primary") is True and not _is_one_of(element, touched):
            element["primary"] = False


def _is_one_of(element: Document, items: list[Document]) -> bool:
    return any(element is item for item in items)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _removal_pattern(attribute: Attribute, item: Any, where: str) -> Document:
    """One listed value of a ``remove`` with a value (a bare string means its ``value``)."""
    pattern = normalize_single(attribute, {"value": item} if isinstance(item, str) else item, where)
    if not pattern or pattern.get("value") == "":
        raise InvalidValueError(f"'{where}': each value to remove must identify it, got {item!r}")
    return dict(pattern)


def _has_all(attribute: Attribute, element: Document, pattern: Document) -> bool:
    """True when ``element`` equals ``pattern`` on every sub-attribute the pattern names."""
    for name, expected in pattern.items():
        sub = attribute.sub(name)
        if sub is None or not _compare(sub, element.get(name), CompareOp.EQ, expected):
            return False
    return True


# -- helpers: group members -------------------------------------------------------------------


def _filter_member_ids(node: Filter) -> tuple[str, ...]:
    """``members[value eq "a"]`` or ``members[value eq "a" or value eq "b"]`` → ids.

    See docs/reference/entra-wire.md#dialect-remove-member.
    """
    if isinstance(node, Or):
        ids = _filter_member_ids(node.left) + _filter_member_ids(node.right)
        return tuple(dict.fromkeys(ids))
    if (
        isinstance(node, Compare)
        and node.op is CompareOp.EQ
        and node.path.attr.lower() == "value"
        and isinstance(node.value, str)
        and node.value
    ):
        return (node.value,)
    raise InvalidPathError(
        'Members are selected only by value: members[value eq "id"], optionally joined by "or"'
    )


# -- helpers: value filters -------------------------------------------------------------------


def _check_filter(attribute: Attribute, node: Filter) -> None:
    """Every name in a value filter must be a sub-attribute of the filtered attribute."""
    if isinstance(node, And | Or):
        _check_filter(attribute, node.left)
        _check_filter(attribute, node.right)
    elif isinstance(node, Not):
        _check_filter(attribute, node.operand)
    elif isinstance(node, Compare | Present):
        resolve_sub(attribute, node.path.attr, error=InvalidPathError)
    else:
        raise InvalidPathError("Value filters cannot be nested")


def _matches(attribute: Attribute, element: Document, node: Filter) -> bool:
    """Evaluate a value filter against one element of a multi-valued complex attribute."""
    if isinstance(node, And):
        return _matches(attribute, element, node.left) and _matches(attribute, element, node.right)
    if isinstance(node, Or):
        return _matches(attribute, element, node.left) or _matches(attribute, element, node.right)
    if isinstance(node, Not):
        return not _matches(attribute, element, node.operand)
    if isinstance(node, Present):
        sub = resolve_sub(attribute, node.path.attr, error=InvalidPathError)
        return not is_empty(element.get(sub.name))
    if isinstance(node, Compare):
        sub = resolve_sub(attribute, node.path.attr, error=InvalidPathError)
        return _compare(sub, element.get(sub.name), node.op, node.value)
    raise InvalidPathError("Value filters cannot be nested")


def _compare(sub: Attribute, actual: Any, op: CompareOp, expected: Value) -> bool:
    """RFC 7644 §3.4.2.2 comparison; strings ignore case unless ``caseExact``.

    Boolean sub-attributes compare with JSON booleans and "True"/"False" strings alike
    (``roles[primary eq "True"]``, rule 4).
    """
    if actual is None or expected is None:
        both_missing = actual is None and expected is None
        return {CompareOp.EQ: both_missing, CompareOp.NE: not both_missing}.get(op, False)
    if sub.type is AttrType.BOOLEAN:
        return _compare_booleans(_as_boolean(actual), op, _as_boolean(expected))
    if isinstance(actual, str):
        return _compare_text(actual, op, _as_text(expected), case_exact=sub.case_exact)
    if _is_number(actual) and _is_number(expected):
        return _ordered(op, actual, expected)
    return False


def _compare_booleans(actual: bool | None, op: CompareOp, expected: bool | None) -> bool:
    if actual is None or expected is None or op not in (CompareOp.EQ, CompareOp.NE):
        return False
    return (actual == expected) == (op is CompareOp.EQ)


def _compare_text(actual: str, op: CompareOp, expected: str, *, case_exact: bool) -> bool:
    if not case_exact:
        actual, expected = actual.casefold(), expected.casefold()
    if op is CompareOp.CO:
        return expected in actual
    if op is CompareOp.SW:
        return actual.startswith(expected)
    if op is CompareOp.EW:
        return actual.endswith(expected)
    return _ordered(op, actual, expected)


def _ordered(op: CompareOp, actual: Any, expected: Any) -> bool:
    if op is CompareOp.EQ:
        return bool(actual == expected)
    if op is CompareOp.NE:
        return bool(actual != expected)
    ordering = _ORDERINGS.get(op)
    return bool(ordering(actual, expected)) if ordering is not None else False


def _as_boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _as_text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _pinned(attribute: Attribute, node: Filter) -> Document | None:
    """The values an ``eq``/``and`` filter pins, as a new element holds them (rule 6).

    ``type eq "work"`` → ``{"type": "work"}``; ``primary eq "True"`` → ``{"primary": True}``;
    any other filter (``or``, ``ne``, ``co``…) describes no single element → None.
    """
    if isinstance(node, And):
        left, right = _pinned(attribute, node.left), _pinned(attribute, node.right)
        if left is None or right is None:
            return None
        if any(key in left and left[key] != item for key, item in right.items()):
            return None  # type eq "work" and type eq "home": nothing can match
        return {**left, **right}
    if isinstance(node, Compare) and node.op is CompareOp.EQ and node.value is not None:
        sub = resolve_sub(attribute, node.path.attr, error=InvalidPathError)
        return {sub.name: _literal(sub, node.value)}
    return None


def _literal(sub: Attribute, value: Value) -> Any:
    """A filter literal as a stored value of ``sub`` (booleans coerced, rule 8)."""
    if sub.type is AttrType.BOOLEAN:
        return coerce_boolean(value, sub.name)
    if sub.type in _TEXT_TYPES:
        return _as_text(value)
    return normalize_single(sub, value, sub.name)
