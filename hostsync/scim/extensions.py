"""Extension schemas a tenant declares (Entra's custom extensions), and each tenant's registry.

Entra sends the attributes of a *custom extension* as
``urn:ietf:params:scim:schemas:extension:<Name>:2.0:User`` with attribute paths such as
``urn:ietf:params:scim:schemas:extension:Visitly:2.0:User:site``. A tenant declares the
extensions it uses (``hostsync extension add``, store/extensions.py); the declarations join
the core and enterprise schemas in that tenant's :class:`Registry`, and from then on their
attributes are accepted, stored, filtered, projected and published like the enterprise
extension's. Other tenants never see them.

The rules a declaration follows:

* its URN is ``urn:ietf:params:scim:schemas:extension:<Name>:2.0:User``, the form Entra's
  attribute mappings write, where ``<Name>`` is a letter followed by up to 63 letters, digits,
  ``_`` or ``-``; the prefix and the ``2.0:User`` tail are matched case-insensitively and
  stored in their canonical case. ``enterprise`` is built in and cannot be declared. Only
  User extensions: Entra maps custom attributes onto users;
* its attributes are single-valued simple attributes (``string``, ``boolean``, ``integer``,
  ``decimal``, ``dateTime``, ``reference``): no complex or multi-valued ones, which Entra's
  custom extension mappings do not send. Each is ``readWrite``, returned by default, unique
  nowhere; ``caseExact`` and a description are the declarer's;
* an attribute name follows RFC 7644's ATTRNAME (a letter, then letters, digits, ``_``,
  ``-``), at most 64 characters, unique case-insensitively in its schema, and is none of
  ``id``, ``meta``, ``schemas`` (which clients echo and PATCH skips);
* a declared attribute is reached through its URN only (``urn:…:User:site``, or the key
  ``site`` inside the ``urn:…:User`` object); un-prefixed names keep resolving to the core
  and enterprise attributes alone.

A tenant with no declarations has :data:`DEFAULT_REGISTRY`, whose resource types are
schema.py's own objects: the caches keyed by a resource type's identity (paths, PATCH plans,
body places, spliced pages) serve it as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hostsync.scim.schema import (
    ENTERPRISE_USER,
    GROUP,
    GROUP_RESOURCE,
    SCHEMAS,
    USER,
    USER_RESOURCE,
    Attribute,
    AttrType,
    ResourceType,
    Schema,
)

EXTENSION_PREFIX = "urn:ietf:params:scim:schemas:extension:"
_URN_RE = re.compile(
    r"^urn:ietf:params:scim:schemas:extension:(?P<name>[A-Za-z][A-Za-z0-9_-]{0,63}):2\.0:User$",
    re.IGNORECASE,
)
_ATTRIBUTE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_RESERVED_NAMES = frozenset({"id", "meta", "schemas"})
DECLARABLE_TYPES: tuple[AttrType, ...] = (
    AttrType.STRING,
    AttrType.BOOLEAN,
    AttrType.INTEGER,
    AttrType.DECIMAL,
    AttrType.DATETIME,
    AttrType.REFERENCE,
)
_TYPES_BY_KEY = {kind.value.lower(): kind for kind in DECLARABLE_TYPES}
MAX_ATTRIBUTES = 100
"""The most attributes one extension may declare."""
MAX_DESCRIPTION = 500


class DeclarationError(ValueError):
    """A declaration breaks a rule of the module doc; the message says which, in one line."""


@dataclass(frozen=True, slots=True)
class DeclaredAttribute:
    """One attribute of a declared extension: single-valued and simple."""

    name: str
    type: AttrType = AttrType.STRING
    case_exact: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class Declaration:
    """An extension schema a tenant declared: its URN and attributes."""

    urn: str
    attributes: tuple[DeclaredAttribute, ...]
    description: str = ""

    @property
    def name(self) -> str:
        """The ``<Name>`` of the URN, the schema's ``name`` in ``/Schemas``."""
        return self.urn[len(EXTENSION_PREFIX) :].split(":", 1)[0]

    def schema(self) -> Schema:
        """The :class:`Schema` the registry holds for it."""
        return Schema(
            id=self.urn,
            name=self.name,
            description=self.description or f"{self.name} (an extension the tenant declared)",
            attributes=tuple(
                Attribute(
                    name=attribute.name,
                    type=attribute.type,
                    case_exact=attribute.case_exact,
                    description=attribute.description,
                )
                for attribute in self.attributes
            ),
            declared=True,
        )


def canonical_urn(text: str) -> str:
    """The URN in its canonical case, or :class:`DeclarationError` (module doc)."""
    stripped = text.strip()
    match = _URN_RE.match(stripped)
    if match is None:
        raise DeclarationError(
            f"'{stripped[:120]}' is not an extension URN: write "
            f"'{EXTENSION_PREFIX}<Name>:2.0:User' (Name: a letter, then up to 63 letters, "
            "digits, '_' or '-')"
        )
    name = match["name"]
    if name.lower() == "enterprise":
        raise DeclarationError(
            "the enterprise extension is built in; declare extensions of other names"
        )
    return f"{EXTENSION_PREFIX}{name}:2.0:User"


def attribute_type(text: str) -> AttrType:
    """The declarable type named ``text`` (case-insensitively), or :class:`DeclarationError`."""
    kind = _TYPES_BY_KEY.get(text.strip().lower())
    if kind is None:
        names = ", ".join(kind.value for kind in DECLARABLE_TYPES)
        raise DeclarationError(f"'{text[:40]}' is not a declarable type; use one of: {names}")
    return kind


def checked_attribute(attribute: DeclaredAttribute) -> DeclaredAttribute:
    """``attribute`` if its name and type follow the module doc's rules."""
    name = attribute.name
    if _ATTRIBUTE_RE.match(name) is None:
        raise DeclarationError(
            f"'{name[:80]}' is not an attribute name: a letter, then up to 63 letters, "
            "digits, '_' or '-'"
        )
    if name.lower() in _RESERVED_NAMES:
        raise DeclarationError(f"'{name}' is reserved (id, meta and schemas are SCIM's own)")
    if attribute.type not in DECLARABLE_TYPES:
        raise DeclarationError(f"'{name}': the type {attribute.type.value} cannot be declared")
    if len(attribute.description) > MAX_DESCRIPTION:
        raise DeclarationError(f"'{name}': a description has at most {MAX_DESCRIPTION} characters")
    return attribute


def merged(
    existing: Declaration | None, urn: str, added: Sequence[DeclaredAttribute], description: str
) -> Declaration:
    """The declaration ``existing`` (None: a new one) with ``added`` attributes appended.

    Refuses a declaration without attributes, a name declared twice (case-insensitively,
    in ``added`` or already), and more than :data:`MAX_ATTRIBUTES` attributes.
    """
    canonical = canonical_urn(urn)
    if not added:
        raise DeclarationError("declare at least one attribute")
    if len(description) > MAX_DESCRIPTION:
        raise DeclarationError(f"a description has at most {MAX_DESCRIPTION} characters")
    attributes = list(existing.attributes) if existing is not None else []
    taken = {attribute.name.lower() for attribute in attributes}
    for attribute in added:
        checked_attribute(attribute)
        if attribute.name.lower() in taken:
            raise DeclarationError(f"'{attribute.name}' is already declared in {canonical}")
        taken.add(attribute.name.lower())
        attributes.append(attribute)
    if len(attributes) > MAX_ATTRIBUTES:
        raise DeclarationError(f"an extension declares at most {MAX_ATTRIBUTES} attributes")
    kept_description = description or (existing.description if existing is not None else "")
    return Declaration(canonical, tuple(attributes), kept_description)


@dataclass(frozen=True, slots=True, eq=False)
class Registry:
    """The schemas one tenant's requests resolve against, and publishes in discovery.

    ``users`` is the User resource type with the enterprise extension and the tenant's
    declared ones (in declaration order); ``groups`` is the built-in Group type. ``schemas``
    lists what ``/Schemas`` publishes: User, EnterpriseUser, Group, then the declared ones.
    Compared by identity: a registry is built once per tenant and version and then shared.
    """

    users: ResourceType
    groups: ResourceType
    schemas: tuple[Schema, ...]

    @property
    def resource_types(self) -> tuple[ResourceType, ResourceType]:
        """Users first (Microsoft's Postman suite expects ``/Users`` first), then Groups."""
        return self.users, self.groups

    def resource_type(self, route: ResourceType) -> ResourceType:
        """The tenant's version of a built-in resource type (``route``, the endpoint's)."""
        return self.users if route is USER_RESOURCE else self.groups

    @property
    def declared(self) -> tuple[Schema, ...]:
        """The tenant's declared extension schemas."""
        return tuple(schema for schema in self.users.extensions if schema.declared)


DEFAULT_REGISTRY = Registry(USER_RESOURCE, GROUP_RESOURCE, SCHEMAS)
"""The registry of every tenant that declares nothing: schema.py's own objects."""


def registry_for(declarations: Iterable[Declaration]) -> Registry:
    """The registry with ``declarations`` added; :data:`DEFAULT_REGISTRY` when there are none."""
    declared = tuple(declaration.schema() for declaration in declarations)
    if not declared:
        return DEFAULT_REGISTRY
    users = ResourceType(
        id=USER_RESOURCE.id,
        name=USER_RESOURCE.name,
        endpoint=USER_RESOURCE.endpoint,
        description=USER_RESOURCE.description,
        schema=USER,
        extensions=(ENTERPRISE_USER, *declared),
    )
    return Registry(users, GROUP_RESOURCE, (USER, ENTERPRISE_USER, GROUP, *declared))
