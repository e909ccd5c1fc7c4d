"""Attribute paths (RFC 7644 §3.10) and their resolution against a resource type.

``urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`` parses to
``AttrPath(uri="urn:…:User", attr="manager", sub_attr="value")``. Parsing is context-free;
:func:`resolve` then finds the schema and attribute definitions, case-insensitively
(RFC 7643 §2.1), and yields the canonical spelling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from hostsync.caching import StartOver
from hostsync.scim.errors import InvalidPathError, ScimError
from hostsync.scim.schema import COMMON_ATTRIBUTES, Attribute, AttrType, ResourceType, Schema

# RFC 7644 §3.4.2.2: ATTRNAME = ALPHA *(nameChar); nameChar = "-" / "_" / DIGIT / ALPHA.
# "$ref" is the one sub-attribute name RFC 7643 itself spells outside that grammar.
_NAME = r"(?:\$ref|[A-Za-z][\w-]*)"
_ATTR_PATH_RE = re.compile(
    rf"^(?:(?P<uri>urn:[^\[\]\s]+):)?(?P<attr>{_NAME})(?:\.(?P<sub>{_NAME}))?$"
)


@dataclass(frozen=True, slots=True)
class AttrPath:
    """``[URI ":"] ATTRNAME ["." subAttr]`` as written by the client."""

    uri: str | None
    attr: str
    sub_attr: str | None = None

    def __str__(self) -> str:
        text = self.attr if self.sub_attr is None else f"{self.attr}.{self.sub_attr}"
        return text if self.uri is None else f"{self.uri}:{text}"


@dataclass(frozen=True, slots=True)
class ResolvedPath:
    """An attribute path resolved against a resource type's schemas."""

    schema: Schema
    attribute: Attribute
    sub_attribute: Attribute | None
    is_extension: bool

    @property
    def leaf(self) -> Attribute:
        """The attribute the path finally designates."""
        return self.sub_attribute if self.sub_attribute is not None else self.attribute

    @property
    def key(self) -> tuple[str, ...]:
        """Canonical key path into a stored document: (URN?, attr, sub?)."""
        head: tuple[str, ...] = (self.schema.id,) if self.is_extension else ()
        tail: tuple[str, ...] = (self.attribute.name,)
        if self.sub_attribute is not None:
            tail += (self.sub_attribute.name,)
        return head + tail


_KEPT_TEXT = 200
"""Parses and resolutions are kept only for paths this short: a client cannot make the
caches hold much memory (1,024 and 4,096 entries) with long texts of its own."""


def parse_attr_path(text: str, *, error: type[ScimError] = InvalidPathError) -> AttrPath:
    """Parse ``[URI:]attr[.sub]``; raise ``error`` when the text is not an attribute path."""
    path = _parse_attr_path(text) if len(text) <= _KEPT_TEXT else _parse(text)
    if path is None:
        raise error(f"'{text}' is not a valid attribute path")
    return path


def _parse(text: str) -> AttrPath | None:
    match = _ATTR_PATH_RE.match(text.strip())
    if match is None:
        return None
    return AttrPath(match["uri"], match["attr"], match["sub"])


# The same few paths come over and over, and the result is immutable: parses are kept.
_parse_attr_path = lru_cache(maxsize=1024)(_parse)

_RESOLVED: StartOver[tuple[AttrPath, int], tuple[ResourceType, ResolvedPath]] = StartOver(4096)


def resolve(
    path: AttrPath,
    resource_type: ResourceType,
    *,
    error: type[ScimError] = InvalidPathError,
) -> ResolvedPath:
    """Resolve ``path`` against ``resource_type``; raise ``error`` for an unknown attribute.

    Accepts the legacy Entra ``customappsso`` spelling with a dot after the extension URN
    (``urn:…:enterprise:2.0:User.department``),
    docs/reference/entra-wire.md#patch-legacy-dotted-extension.
    Clients name the same few paths over and over, and both are immutable, so resolutions
    are kept (by the resource type's identity: hashing one hashes its whole schema).
    """
    key = (path, id(resource_type))
    kept = _RESOLVED.get(key)
    if kept is not None and kept[0] is resource_type:
        return kept[1]
    resolved = _resolve(path, resource_type, error)
    if len(path.uri or "") + len(path.attr) + len(path.sub_attr or "") <= _KEPT_TEXT:
        _RESOLVED.put(key, (resource_type, resolved))
    return resolved


def _resolve(path: AttrPath, resource_type: ResourceType, error: type[ScimError]) -> ResolvedPath:
    uri, attr, sub = path.uri, path.attr, path.sub_attr
    schema: Schema | None
    if uri is None or uri.lower() == resource_type.schema.id.lower():
        schema = resource_type.schema
    else:
        schema = resource_type.extension(uri)
        if schema is None and sub is not None:
            # Legacy "URN:User.department" parses as uri="URN" attr="User" sub="department".
            schema = resource_type.extension(f"{uri}:{attr}")
            if schema is not None:
                attr, sub = sub, None
    if schema is None:
        raise error(f"Unknown schema '{uri}' in '{path}'")
    attribute = schema.attribute(attr)
    if attribute is None and schema is resource_type.schema:
        attribute = _common_attribute(attr)
    if attribute is None and uri is None:
        # An un-prefixed extension attribute (Entra's legacy "manager",
        # docs/reference/entra-wire.md#patch-p13, and "department" in its Postman suite)
        # resolves to the built-in extension that defines it; a tenant's declared extensions
        # are reached through their URN only.
        for extension in resource_type.extensions:
            if extension.declared:
                continue
            attribute = extension.attribute(attr)
            if attribute is not None:
                schema = extension
                break
    if attribute is None:
        raise error(f"Unknown attribute '{path}'")
    sub_attribute: Attribute | None = None
    if sub is not None:
        if attribute.type is not AttrType.COMPLEX:
            raise error(f"'{attribute.name}' has no sub-attribute '{sub}'")
        sub_attribute = attribute.sub(sub)
        if sub_attribute is None:
            raise error(f"Unknown sub-attribute '{path}'")
    return ResolvedPath(schema, attribute, sub_attribute, schema is not resource_type.schema)


def resolve_sub(
    parent: Attribute, name: str, *, error: type[ScimError] = InvalidPathError
) -> Attribute:
    """Resolve a sub-attribute name of a complex attribute (inside a value filter)."""
    found = parent.sub(name)
    if found is None:
        raise error(f"'{parent.name}' has no sub-attribute '{name}'")
    return found


_COMMON_BY_KEY = {a.name.lower(): a for a in COMMON_ATTRIBUTES}


def _common_attribute(name: str) -> Attribute | None:
    """RFC 7643 §3.1 common attributes, which belong to every resource but to no schema."""
    return _COMMON_BY_KEY.get(name.lower())
