"""Schema URNs and attribute definitions (RFC 7643 §2.2, §4, §7).

The definitions here drive everything else in the protocol layer: wire normalisation
(canonical attribute names, boolean coercion), PATCH, filters (caseExact, types), projection
(``returned``) and the ``/Schemas`` discovery documents. Built once at import as immutable
values; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
SERVICE_PROVIDER_CONFIG_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"


class AttrType(StrEnum):
    """RFC 7643 §2.3 data types."""

    STRING = "string"
    BOOLEAN = "boolean"
    DECIMAL = "decimal"
    INTEGER = "integer"
    DATETIME = "dateTime"
    BINARY = "binary"
    REFERENCE = "reference"
    COMPLEX = "complex"


class Mutability(StrEnum):
    """RFC 7643 §7 ``mutability``."""

    READ_ONLY = "readOnly"
    READ_WRITE = "readWrite"
    IMMUTABLE = "immutable"
    WRITE_ONLY = "writeOnly"


class Returned(StrEnum):
    """RFC 7643 §7 ``returned``."""

    ALWAYS = "always"
    NEVER = "never"
    DEFAULT = "default"
    REQUEST = "request"


class Uniqueness(StrEnum):
    """RFC 7643 §7 ``uniqueness``."""

    NONE = "none"
    SERVER = "server"
    GLOBAL = "global"


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute definition (RFC 7643 §7 "attributes")."""

    name: str
    type: AttrType = AttrType.STRING
    multi_valued: bool = False
    description: str = ""
    required: bool = False
    case_exact: bool = False
    mutability: Mutability = Mutability.READ_WRITE
    returned: Returned = Returned.DEFAULT
    uniqueness: Uniqueness = Uniqueness.NONE
    sub_attributes: tuple[Attribute, ...] = ()
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    _by_key: Mapping[str, Attribute] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_key", {a.name.lower(): a for a in self.sub_attributes})

    def sub(self, name: str) -> Attribute | None:
        """Find a sub-attribute by name, case-insensitively (RFC 7643 §2.1)."""
        return self._by_key.get(name.lower())


@dataclass(frozen=True, slots=True)
class Schema:
    """A schema: its URN, name and top-level attributes."""

    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]
    declared: bool = False
    """Declared by a tenant (hostsync.scim.extensions), not built in: its attributes are
    reached only through its URN, never un-prefixed."""
    _by_key: Mapping[str, Attribute] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_key", {a.name.lower(): a for a in self.attributes})

    def attribute(self, name: str) -> Attribute | None:
        """Find a top-level attribute by name, case-insensitively (RFC 7643 §2.1)."""
        return self._by_key.get(name.lower())


def _s(name: str, description: str = "", **kw: object) -> Attribute:
    return Attribute(name=name, description=description, **kw)  # type: ignore[arg-type]


def _multi(
    name: str,
    description: str,
    *,
    types: tuple[str, ...],
    value_type: AttrType = AttrType.STRING,
    value_ref: tuple[str, ...] = (),
    extra: tuple[Attribute, ...] = (),
) -> Attribute:
    """A multi-valued complex attribute with the RFC 7643 §2.4 default sub-attributes."""
    subs: list[Attribute] = [
        _s("value", f"The value of the {name} entry.", type=value_type, reference_types=value_ref),
        _s("display", "A human-readable name, primarily used for display purposes."),
        _s("type", "A label indicating the attribute's function.", canonical_values=types),
        _s(
            "primary",
            "A Boolean value indicating the 'primary' or preferred attribute value.",
            type=AttrType.BOOLEAN,
        ),
    ]
    subs.extend(extra)
    return Attribute(
        name=name,
        type=AttrType.COMPLEX,
        multi_valued=True,
        description=description,
        sub_attributes=tuple(subs),
    )


_READ_ONLY = Mutability.READ_ONLY

ID_ATTRIBUTE = _s(
    "id",
    "Unique identifier for the SCIM resource as defined by the Service Provider.",
    case_exact=True,
    mutability=_READ_ONLY,
    returned=Returned.ALWAYS,
    uniqueness=Uniqueness.SERVER,
)
EXTERNAL_ID_ATTRIBUTE = _s(
    "externalId",
    "Identifier for the resource as defined by the provisioning client.",
    case_exact=True,
)
META_ATTRIBUTE = Attribute(
    name="meta",
    type=AttrType.COMPLEX,
    description="Resource metadata.",
    mutability=_READ_ONLY,
    sub_attributes=(
        _s(
            "resourceType", "The name of the resource type.", case_exact=True, mutability=_READ_ONLY
        ),
        _s(
            "created", "When the resource was added.", type=AttrType.DATETIME, mutability=_READ_ONLY
        ),
        _s(
            "lastModified",
            "When the resource was last modified.",
            type=AttrType.DATETIME,
            mutability=_READ_ONLY,
        ),
        _s(
            "location",
            "The URI of the resource.",
            type=AttrType.REFERENCE,
            case_exact=True,
            mutability=_READ_ONLY,
            reference_types=("uri",),
        ),
        _s(
            "version", "The version (ETag) of the resource.", case_exact=True, mutability=_READ_ONLY
        ),
    ),
)
COMMON_ATTRIBUTES: tuple[Attribute, ...] = (ID_ATTRIBUTE, EXTERNAL_ID_ATTRIBUTE, META_ATTRIBUTE)

_GROUP_REF = _multi(
    "groups",
    "A list of groups to which the user belongs (read-only; managed through Group resources).",
    types=("direct", "indirect"),
    extra=(
        _s(
            "$ref",
            "The URI of the corresponding Group resource.",
            type=AttrType.REFERENCE,
            reference_types=("User", "Group"),
            mutability=_READ_ONLY,
        ),
    ),
)
_GROUPS = Attribute(
    name="groups",
    type=AttrType.COMPLEX,
    multi_valued=True,
    description=_GROUP_REF.description,
    mutability=_READ_ONLY,
    sub_attributes=tuple(
        Attribute(
            name=a.name,
            type=a.type,
            description=a.description,
            case_exact=a.case_exact,
            mutability=_READ_ONLY,
            canonical_values=a.canonical_values,
            reference_types=a.reference_types,
        )
        for a in _GROUP_REF.sub_attributes
        if a.name != "primary"
    ),
)

USER = Schema(
    id=USER_SCHEMA,
    name="User",
    description="User Account",
    attributes=(
        _s(
            "userName",
            "Unique identifier for the User, typically used to authenticate.",
            required=True,
            uniqueness=Uniqueness.SERVER,
        ),
        Attribute(
            name="name",
            type=AttrType.COMPLEX,
            description="The components of the user's real name.",
            sub_attributes=(
                _s("formatted", "The full name, formatted for display."),
                _s("familyName", "The family name of the User."),
                _s("givenName", "The given name of the User."),
                _s("middleName", "The middle name(s) of the User."),
                _s("honorificPrefix", "The honorific prefix(es) of the User."),
                _s("honorificSuffix", "The honorific suffix(es) of the User."),
            ),
        ),
        _s("displayName", "The name of the User, suitable for display to end-users."),
        _s("nickName", "The casual way to address the user."),
        _s(
            "profileUrl",
            "A fully qualified URL pointing to a page representing the User's online profile.",
            type=AttrType.REFERENCE,
            reference_types=("external",),
        ),
        _s("title", "The user's title, such as 'Vice President'."),
        _s("userType", "Identifies the relationship between the organization and the user."),
        _s("preferredLanguage", "Indicates the User's preferred written or spoken language."),
        _s("locale", "Used to indicate the User's default location."),
        _s("timezone", "The User's time zone in the 'Olson' time zone database format."),
        _s(
            "active",
            "A Boolean value indicating the User's administrative status.",
            type=AttrType.BOOLEAN,
        ),
        _s(
            "password",
            "The User's cleartext password; never stored or returned by this server.",
            mutability=Mutability.WRITE_ONLY,
            returned=Returned.NEVER,
        ),
        _multi(
            "emails",
            "Email addresses for the user.",
            types=("work", "home", "other"),
        ),
        _multi(
            "phoneNumbers",
            "Phone numbers for the User.",
            types=("work", "home", "mobile", "fax", "pager", "other"),
        ),
        _multi(
            "ims",
            "Instant messaging addresses for the User.",
            types=("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
        ),
        _multi(
            "photos",
            "URLs of photos of the User.",
            types=("photo", "thumbnail"),
            value_type=AttrType.REFERENCE,
            value_ref=("external",),
        ),
        Attribute(
            name="addresses",
            type=AttrType.COMPLEX,
            multi_valued=True,
            description="A physical mailing address for this User.",
            sub_attributes=(
                _s("formatted", "The full mailing address, formatted for display."),
                _s("streetAddress", "The full street address component."),
                _s("locality", "The city or locality component."),
                _s("region", "The state or region component."),
                _s("postalCode", "The zip code or postal code component."),
                _s("country", "The country name component."),
                _s(
                    "type",
                    "A label indicating the attribute's function.",
                    canonical_values=("work", "home", "other"),
                ),
                _s(
                    "primary",
                    "A Boolean value indicating the 'primary' or preferred address.",
                    type=AttrType.BOOLEAN,
                ),
            ),
        ),
        _GROUPS,
        _multi("entitlements", "A list of entitlements for the User.", types=()),
        _multi("roles", "A list of roles for the User.", types=()),
        _multi(
            "x509Certificates",
            "A list of certificates issued to the User.",
            types=(),
            value_type=AttrType.BINARY,
        ),
    ),
)

ENTERPRISE_USER = Schema(
    id=ENTERPRISE_USER_SCHEMA,
    name="EnterpriseUser",
    description="Enterprise User",
    attributes=(
        _s("employeeNumber", "Numeric or alphanumeric identifier assigned to a person."),
        _s("costCenter", "Identifies the name of a cost center."),
        _s("organization", "Identifies the name of an organization."),
        _s("division", "Identifies the name of a division."),
        _s("department", "Identifies the name of a department."),
        Attribute(
            name="manager",
            type=AttrType.COMPLEX,
            description="The User's manager.",
            sub_attributes=(
                _s(
                    "value",
                    "The id of the SCIM resource representing the User's manager.",
                    case_exact=True,
                ),
                _s(
                    "$ref",
                    "The URI of the SCIM resource representing the User's manager.",
                    type=AttrType.REFERENCE,
                    reference_types=("User",),
                ),
                _s(
                    "displayName",
                    "The displayName of the User's manager.",
                    mutability=_READ_ONLY,
                ),
            ),
        ),
    ),
)

GROUP = Schema(
    id=GROUP_SCHEMA,
    name="Group",
    description="Group",
    attributes=(
        _s(
            "displayName",
            "A human-readable name for the Group.",
            required=True,
            uniqueness=Uniqueness.SERVER,
        ),
        Attribute(
            name="members",
            type=AttrType.COMPLEX,
            multi_valued=True,
            description="A list of members of the Group.",
            sub_attributes=(
                _s(
                    "value",
                    "Identifier of the member of this Group.",
                    case_exact=True,
                    mutability=Mutability.IMMUTABLE,
                ),
                _s(
                    "$ref",
                    "The URI of the member resource.",
                    type=AttrType.REFERENCE,
                    reference_types=("User", "Group"),
                    mutability=Mutability.IMMUTABLE,
                ),
                _s("display", "A human-readable name for the member.", mutability=_READ_ONLY),
                _s(
                    "type",
                    "The type of the member.",
                    canonical_values=("User", "Group"),
                    mutability=Mutability.IMMUTABLE,
                ),
            ),
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class ResourceType:
    """A resource type (RFC 7643 §6): its endpoint, core schema and extensions."""

    id: str
    name: str
    endpoint: str
    description: str
    schema: Schema
    extensions: tuple[Schema, ...] = ()

    def schemas(self) -> Iterator[Schema]:
        """Yield the core schema, then each extension."""
        yield self.schema
        yield from self.extensions

    def extension(self, urn: str) -> Schema | None:
        """Find an extension schema by URN, case-insensitively."""
        for ext in self.extensions:
            if ext.id.lower() == urn.lower():
                return ext
        return None


USER_RESOURCE = ResourceType(
    id="User",
    name="User",
    endpoint="/Users",
    description="User Account (a host in the visitor-management directory)",
    schema=USER,
    extensions=(ENTERPRISE_USER,),
)
GROUP_RESOURCE = ResourceType(
    id="Group",
    name="Group",
    endpoint="/Groups",
    description="Group",
    schema=GROUP,
)
RESOURCE_TYPES: tuple[ResourceType, ...] = (USER_RESOURCE, GROUP_RESOURCE)
SCHEMAS: tuple[Schema, ...] = (USER, ENTERPRISE_USER, GROUP)
