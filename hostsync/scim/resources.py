"""Wire documents ⇄ canonical documents, driven by the schema definitions.

A *canonical document* is what the store keeps for a resource:

* keys are the canonical attribute names of :mod:`hostsync.scim.schema` (clients may send any
  case: ``"UserName"``, ``"Primary"``, ``"Manager": {"Value": …}``, RFC 7643 §2.1);
* core attributes sit at the top level, each extension's attributes under its URN;
* read-only attributes (``id``, ``meta``, ``groups``), ``schemas``, and group ``members`` are
  not part of it (members live in their own table), nor is ``password`` (never stored);
* booleans are JSON booleans (Entra sends ``"True"``/``"False"`` strings,
  docs/reference/entra-wire.md#patch-p1 and docs/reference/entra-wire.md#patch-p25); absent values
  are absent, never ``None``;
* every other value is kept exactly as sent (docs/reference/entra-wire.md#wire-values-verbatim): no
  trimming, no reformatting.

Unknown attributes are ignored (RFC 7644 §3.3 lets a server ignore what it does not define;
Microsoft's Postman suite PUTs a misspelled ``adreses`` and expects 200).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import orjson

from hostsync.caching import StartOver
from hostsync.scim.errors import InvalidSyntaxError, InvalidValueError
from hostsync.scim.schema import (
    EXTERNAL_ID_ATTRIBUTE,
    GROUP_RESOURCE,
    Attribute,
    AttrType,
    Mutability,
    ResourceType,
    Schema,
)

Document = dict[str, Any]

# Attributes a client may send but that never become part of the stored document.
_NOT_STORED = frozenset({"id", "meta", "schemas", "groups", "password"})
_MANAGER = "manager"
# The types whose values are strings, kept exactly as sent.
_TEXT_TYPES = frozenset({AttrType.STRING, AttrType.DATETIME, AttrType.BINARY, AttrType.REFERENCE})


def copy_document(document: Document) -> Document:
    """A deep copy of a JSON document (an orjson round trip: several times deepcopy's speed)."""
    try:
        copied: Document = orjson.loads(orjson.dumps(document))
    except TypeError:  # a value JSON cannot hold: copy it the slow way
        return copy.deepcopy(document)
    return copied


def coerce_boolean(value: Any, where: str) -> bool:
    """Accept JSON booleans and the strings "true"/"false" in any case.

    See docs/reference/entra-wire.md#patch-rule-8.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    raise InvalidValueError(f"'{where}' must be a boolean, got {value!r}")


def is_empty(value: Any) -> bool:
    """True for the values that mean "no value": None, "" and empty containers."""
    return value is None or value == "" or value == [] or value == {}


def normalize_value(attribute: Attribute, value: Any, where: str) -> Any:
    """Normalise one attribute value; return None when it means "no value"."""
    if value is None:
        return None
    if attribute.multi_valued:
        items = value if isinstance(value, list) else [value]
        out = [normalize_single(attribute, item, where) for item in items]
        kept = [item for item in out if item is not None]
        return kept or None
    return normalize_single(attribute, value, where)


def normalize_single(attribute: Attribute, value: Any, where: str) -> Any:
    """Normalise one (non-list) value of ``attribute``."""
    kind = attribute.type
    if value.__class__ is str and kind in _TEXT_TYPES:  # most values: kept as sent
        return value
    if value is None:
        return None
    if kind is AttrType.COMPLEX and attribute.name == _MANAGER:
        return normalize_manager(attribute, value, where)
    if kind is AttrType.COMPLEX:
        if not (value.__class__ is dict or isinstance(value, Mapping)):
            raise InvalidValueError(f"'{where}' must be an object, got {type(value).__name__}")
        return normalize_complex(attribute, value, where)
    if kind is AttrType.BOOLEAN:
        return coerce_boolean(value, where)
    if kind is AttrType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidValueError(f"'{where}' must be an integer, got {value!r}")
        return value
    if kind is AttrType.DECIMAL:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValueError(f"'{where}' must be a number, got {value!r}")
        return value
    if not isinstance(value, str):
        raise InvalidValueError(f"'{where}' must be a string, got {value!r}")
    return value


def normalize_complex(
    attribute: Attribute, value: Mapping[str, Any], where: str
) -> Document | None:
    """Canonicalise the sub-attributes of a complex value; drop unknown and read-only ones."""
    out: Document = {}
    for key, sub_value in value.items():
        sub = attribute.sub(key)
        if sub is None or sub.mutability is Mutability.READ_ONLY:
            continue
        normalized = normalize_single(sub, sub_value, f"{where}.{sub.name}")
        if normalized is not None:
            out[sub.name] = normalized
    return out or None


def normalize_manager(attribute: Attribute, value: Any, where: str) -> Document | None:
    """The enterprise ``manager``: a bare id, ``{"value": id}`` or ``[{"$ref", "value"}]``.

    Entra sends all three (docs/reference/entra-wire.md#patch-p9 to
    docs/reference/entra-wire.md#patch-p14); an empty id clears it.
    """
    if isinstance(value, list):
        if not value:
            return None
        if len(value) > 1:
            raise InvalidValueError(f"'{where}' takes one manager, got {len(value)}")
        value = value[0]
    if isinstance(value, str):
        return {"value": value} if value else None
    if not isinstance(value, Mapping):
        raise InvalidValueError(f"'{where}' must be a manager id or object, got {value!r}")
    normalized = normalize_complex(attribute, value, where)
    if normalized is None or not normalized.get("value"):
        return None
    return normalized


def normalize_resource(body: Any, resource_type: ResourceType) -> Document:
    """Turn a POST or PUT body into a canonical document (members excluded for groups)."""
    if not isinstance(body, Mapping):
        raise InvalidSyntaxError("The request body must be a JSON object")
    doc: Document = {}
    kept = _PLACES.get(id(resource_type))
    if kept is None or kept[0] is not resource_type:
        kept = (resource_type, {})
        _PLACES.put(id(resource_type), kept)
    places = kept[1]
    for key, value in body.items():
        if not isinstance(key, str):
            continue
        place = places.get(key)
        if place is None:
            place = _place(key, resource_type)
            if len(key) <= _KEPT_KEY_CHARS and len(places) < _PLACES_KEPT:
                places[key] = place
        extension, attribute = place
        if extension is not None:
            _put_extension(doc, extension, value if attribute is None else {attribute.name: value})
        elif attribute is not None:
            normalized = normalize_value(attribute, value, attribute.name)
            if normalized is not None:
                doc[attribute.name] = normalized
    return doc


# Where each top-level key of a body goes, per resource type: the same few keys arrive on
# every request, and finding each one's place (case folding, the extension URNs) was most of
# normalizing a create. Kept for keys of up to 200 characters, and a few thousand keys at
# most, so that clients' own keys cannot fill the memory.
_Place = tuple[Schema | None, Attribute | None]
# By the type's identity; each tenant that declares extensions has a User type of its own
# (hostsync.scim.extensions), so at most _TYPES_KEPT types are kept.
_TYPES_KEPT = 256
_PLACES: StartOver[int, tuple[ResourceType, dict[str, _Place]]] = StartOver(_TYPES_KEPT)
_PLACES_KEPT = 4096
_KEPT_KEY_CHARS = 200
_NOWHERE: _Place = (None, None)


def _place(key: str, resource_type: ResourceType) -> _Place:
    """Where a body's top-level ``key`` goes in the canonical document.

    (extension, None): the key is an extension's object; (extension, attribute): a fully
    qualified extension attribute; (None, attribute): a core attribute; (None, None): it is
    not stored.
    """
    lowered = key.lower()
    if lowered in _NOT_STORED:
        return _NOWHERE
    extension = resource_type.extension(key)
    if extension is not None:
        return extension, None
    if lowered.startswith("urn:"):
        # A fully qualified attribute such as "urn:…:enterprise:2.0:User:department".
        schema, _, attr_name = key.rpartition(":")
        extension = resource_type.extension(schema)
        attribute = extension.attribute(attr_name) if extension is not None else None
        if extension is not None and attribute is not None:
            return extension, attribute
        return _NOWHERE
    attribute = resource_type.schema.attribute(key)
    if attribute is None and lowered == "externalid":
        attribute = EXTERNAL_ID_ATTRIBUTE
    if attribute is None or attribute.mutability is Mutability.READ_ONLY:
        return _NOWHERE
    if resource_type is GROUP_RESOURCE and attribute.name == "members":
        return _NOWHERE
    return None, attribute


def _put_extension(doc: Document, extension: Schema, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise InvalidValueError(f"'{extension.id}' must be an object")
    target: Document = doc.get(extension.id, {})
    for key, sub_value in value.items():
        attribute = extension.attribute(key)
        if attribute is None or attribute.mutability is Mutability.READ_ONLY:
            continue
        normalized = normalize_value(attribute, sub_value, f"{extension.id}:{attribute.name}")
        if normalized is None:
            target.pop(attribute.name, None)
        else:
            target[attribute.name] = normalized
    if target:
        doc[extension.id] = target
    else:
        doc.pop(extension.id, None)


def member_values(raw: Any) -> tuple[tuple[str, ...], dict[str, str]]:
    """The ids of a ``members`` value, and the display names the client gave for them.

    Accepts ``[{"value": id, "display": …}]`` (keys in any case; Microsoft's Postman suite
    sends ``displayName``), one such object, or bare id strings
    (docs/reference/entra-wire.md#postman-group-garbage).
    """
    items = [] if raw is None else raw if isinstance(raw, list) else [raw]
    ids: dict[str, None] = {}  # an ordered set: a batch of thousands stays linear
    displays: dict[str, str] = {}
    for item in items:
        fields = {str(k).lower(): v for k, v in item.items()} if isinstance(item, Mapping) else {}
        member_id = fields.get("value") if isinstance(item, Mapping) else item
        if not isinstance(member_id, str) or not member_id:
            raise InvalidValueError(f"Each member needs a 'value' holding its id, got {item!r}")
        ids[member_id] = None
        display = fields.get("display", fields.get("displayname"))
        if isinstance(display, str) and display:
            displays[member_id] = display
    return tuple(ids), displays


def require_user(doc: Document) -> None:
    """RFC 7643 §4.1: ``userName`` is required and must not be empty."""
    user_name = doc.get("userName")
    if not isinstance(user_name, str) or not user_name.strip():
        raise InvalidValueError("'userName' is required and must be a non-empty string")


def require_group(doc: Document) -> None:
    """RFC 7643 §4.2: ``displayName`` is required and must not be empty."""
    display_name = doc.get("displayName")
    if not isinstance(display_name, str) or not display_name.strip():
        raise InvalidValueError("'displayName' is required and must be a non-empty string")


def schemas_of(doc: Document, resource_type: ResourceType) -> list[str]:
    """The ``schemas`` list of a stored document: core, then each extension present."""
    schemas = [resource_type.schema.id]
    schemas.extend(ext.id for ext in resource_type.extensions if ext.id in doc)
    return schemas
