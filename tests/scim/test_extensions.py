"""Declared extension schemas in the protocol core (hostsync.scim.extensions), no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from hostsync.scim.discovery import (
    resource_type_document,
    resource_type_documents,
    schema_document,
    schema_documents,
)
from hostsync.scim.errors import InvalidFilterError, InvalidPathError, InvalidValueError
from hostsync.scim.extensions import (
    DEFAULT_REGISTRY,
    Declaration,
    DeclarationError,
    DeclaredAttribute,
    attribute_type,
    canonical_urn,
    merged,
    registry_for,
)
from hostsync.scim.patch import apply_patch, parse_patch_request
from hostsync.scim.paths import parse_attr_path, resolve
from hostsync.scim.projection import parse_projection
from hostsync.scim.query import build_list_query
from hostsync.scim.resources import normalize_resource, schemas_of
from hostsync.scim.schema import (
    ENTERPRISE_USER_SCHEMA,
    GROUP_RESOURCE,
    PATCH_OP_SCHEMA,
    USER_RESOURCE,
    USER_SCHEMA,
    AttrType,
)

VISITLY = "urn:ietf:params:scim:schemas:extension:Visitly:2.0:User"
BASE = "https://example.test/scim/v2"
DECLARATION = Declaration(
    VISITLY,
    (
        DeclaredAttribute("site", description="The host's site"),
        DeclaredAttribute("floor", AttrType.INTEGER),
        DeclaredAttribute("badge", AttrType.BOOLEAN),
        DeclaredAttribute("since", AttrType.DATETIME),
        DeclaredAttribute("weight", AttrType.DECIMAL),
        DeclaredAttribute("profile", AttrType.REFERENCE, case_exact=True),
    ),
)
REGISTRY = registry_for([DECLARATION])
USERS = REGISTRY.users


# -- the rules of a declaration ------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        (VISITLY, VISITLY),
        ("  " + VISITLY.upper().replace("VISITLY", "Visitly") + " ", VISITLY),
        (
            "urn:ietf:params:scim:schemas:extension:Site_Info-2:2.0:user",
            "urn:ietf:params:scim:schemas:extension:Site_Info-2:2.0:User",
        ),
    ],
)
def test_extension_urns_take_their_canonical_case(text: str, canonical: str) -> None:
    assert canonical_urn(text) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "urn:foo",
        "urn:ietf:params:scim:schemas:extension:Visitly:2.0:Group",
        "urn:ietf:params:scim:schemas:extension:Visitly:1.0:User",
        "urn:ietf:params:scim:schemas:extension:Visit:ly:2.0:User",
        "urn:ietf:params:scim:schemas:extension:9lives:2.0:User",
        "urn:ietf:params:scim:schemas:extension::2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:" + "x" * 65 + ":2.0:User",
        ENTERPRISE_USER_SCHEMA,
        ENTERPRISE_USER_SCHEMA.upper(),
    ],
)
def test_other_urns_are_refused(text: str) -> None:
    with pytest.raises(DeclarationError):
        canonical_urn(text)


def test_types_are_named_in_any_case_and_only_simple_ones() -> None:
    assert attribute_type("DATETIME") is AttrType.DATETIME
    assert attribute_type(" integer ") is AttrType.INTEGER
    for refused in ("complex", "binary", "bool", ""):
        with pytest.raises(DeclarationError):
            attribute_type(refused)


@pytest.mark.parametrize("name", ["9x", "with space", "a.b", "$ref", "id", "META", "x" * 65, ""])
def test_bad_attribute_names_are_refused(name: str) -> None:
    with pytest.raises(DeclarationError):
        merged(None, VISITLY, [DeclaredAttribute(name)], "")


def test_merging_appends_attributes_and_refuses_duplicates() -> None:
    first = merged(None, VISITLY.lower(), [DeclaredAttribute("site")], "Sites")
    assert first.urn == "urn:ietf:params:scim:schemas:extension:visitly:2.0:User"
    grown = merged(first, first.urn, [DeclaredAttribute("floor", AttrType.INTEGER)], "")
    assert [a.name for a in grown.attributes] == ["site", "floor"]
    assert grown.description == "Sites"
    with pytest.raises(DeclarationError, match="already declared"):
        merged(grown, grown.urn, [DeclaredAttribute("SITE")], "")
    with pytest.raises(DeclarationError, match="already declared"):
        merged(None, VISITLY, [DeclaredAttribute("a"), DeclaredAttribute("A")], "")
    with pytest.raises(DeclarationError, match="at least one"):
        merged(None, VISITLY, [], "")
    with pytest.raises(DeclarationError, match="at most"):
        merged(None, VISITLY, [DeclaredAttribute(f"a{n}") for n in range(101)], "")


def test_no_declarations_give_the_built_in_objects() -> None:
    """Caches keyed by a resource type's identity keep serving tenants that declare nothing."""
    assert registry_for([]) is DEFAULT_REGISTRY
    assert DEFAULT_REGISTRY.users is USER_RESOURCE
    assert DEFAULT_REGISTRY.groups is GROUP_RESOURCE
    assert REGISTRY.groups is GROUP_RESOURCE
    assert REGISTRY.resource_type(USER_RESOURCE) is USERS
    assert REGISTRY.resource_type(GROUP_RESOURCE) is GROUP_RESOURCE
    assert [s.id for s in USERS.extensions] == [ENTERPRISE_USER_SCHEMA, VISITLY]


# -- paths ---------------------------------------------------------------------------------
def test_declared_attributes_resolve_through_their_urn_only() -> None:
    resolved = resolve(parse_attr_path(f"{VISITLY.lower()}:SITE"), USERS)
    assert resolved.key == (VISITLY, "site")
    with pytest.raises(InvalidPathError):
        resolve(parse_attr_path("site"), USERS)  # un-prefixed: core and enterprise only
    assert resolve(parse_attr_path("department"), USERS).key == (
        ENTERPRISE_USER_SCHEMA,
        "department",
    )
    with pytest.raises(InvalidPathError):
        resolve(parse_attr_path(f"{VISITLY}:site"), USER_RESOURCE)  # another tenant's type


# -- bodies --------------------------------------------------------------------------------
def test_bodies_normalise_declared_values_by_type() -> None:
    body = {
        "schemas": [USER_SCHEMA, VISITLY],
        "userName": "ada",
        VISITLY.upper().replace("VISITLY", "Visitly"): {
            "Site": "Paris",
            "floor": 3,
            "badge": "true",
            "weight": 1.5,
            "since": "2026-01-02T03:04:05Z",
            "unknown": "dropped",
        },
        f"{VISITLY}:profile": "https://example.test/p",
    }
    document = normalize_resource(body, USERS)
    assert document[VISITLY] == {
        "site": "Paris",
        "floor": 3,
        "badge": True,
        "weight": 1.5,
        "since": "2026-01-02T03:04:05Z",
        "profile": "https://example.test/p",
    }
    assert schemas_of(document, USERS) == [USER_SCHEMA, VISITLY]
    assert VISITLY not in normalize_resource(body, USER_RESOURCE)  # undeclared: ignored


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("floor", "3"),
        ("floor", 2.5),
        ("floor", True),
        ("badge", "yes"),
        ("weight", "1"),
        ("site", 1),
    ],
)
def test_values_of_the_wrong_type_are_refused(attribute: str, value: Any) -> None:
    with pytest.raises(InvalidValueError):
        normalize_resource({"userName": "ada", VISITLY: {attribute: value}}, USERS)


# -- PATCH ---------------------------------------------------------------------------------
def _patch(document: dict[str, Any], *operations: dict[str, Any]) -> dict[str, Any]:
    parsed = parse_patch_request(
        {"schemas": [PATCH_OP_SCHEMA], "Operations": list(operations)}, max_operations=10
    )
    return apply_patch(document, parsed, USERS).document


def test_patch_paths_and_value_objects_reach_declared_attributes() -> None:
    document: dict[str, Any] = {"userName": "ada", VISITLY: {"site": "Paris"}}
    document = _patch(document, {"op": "replace", "path": f"{VISITLY}:site", "value": "Lyon"})
    assert document[VISITLY] == {"site": "Lyon"}
    document = _patch(document, {"op": "add", "value": {VISITLY: {"floor": 2, "badge": "False"}}})
    assert document[VISITLY] == {"site": "Lyon", "floor": 2, "badge": False}
    document = _patch(document, {"op": "replace", "value": {f"{VISITLY}:site": "Nice"}})
    assert document[VISITLY]["site"] == "Nice"
    document = _patch(document, {"op": "remove", "path": f"{VISITLY}:site"})
    assert document[VISITLY] == {"floor": 2, "badge": False}
    document = _patch(document, {"op": "replace", "path": f"{VISITLY}:floor", "value": ""})
    assert document[VISITLY] == {"badge": False}
    with pytest.raises(InvalidValueError):
        _patch(document, {"op": "replace", "path": f"{VISITLY}:floor", "value": "two"})


def test_patch_of_an_undeclared_urn_is_an_invalid_path() -> None:
    parsed = parse_patch_request(
        {
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [{"op": "replace", "path": f"{VISITLY}:site", "value": "x"}],
        },
        max_operations=10,
    )
    with pytest.raises(InvalidPathError):
        apply_patch({"userName": "ada"}, parsed, USER_RESOURCE)


# -- queries and projections ---------------------------------------------------------------
def test_list_queries_resolve_against_the_tenants_type() -> None:
    query = build_list_query(
        {"filter": f'{VISITLY}:site eq "Paris"', "sortBy": f"{VISITLY}:floor"},
        USERS,
        max_results=100,
    )
    assert query.selection.resource_type is USERS
    with pytest.raises(InvalidFilterError):
        build_list_query({"filter": f'{VISITLY}:site eq "Paris"'}, USER_RESOURCE, max_results=9)


def test_projections_name_declared_attributes() -> None:
    document = {
        "schemas": [USER_SCHEMA, VISITLY],
        "id": "1",
        "userName": "ada",
        VISITLY: {"site": "Paris", "floor": 2},
    }
    only = parse_projection([f"{VISITLY}:site"], [], USERS).apply(document)
    assert only == {"schemas": [USER_SCHEMA, VISITLY], "id": "1", VISITLY: {"site": "Paris"}}
    whole = parse_projection([VISITLY], [], USERS).apply(document)
    assert whole[VISITLY] == {"site": "Paris", "floor": 2}
    dropped = parse_projection([], [f"{VISITLY}:floor"], USERS).apply(document)
    assert dropped[VISITLY] == {"site": "Paris"} and dropped["userName"] == "ada"


# -- discovery -----------------------------------------------------------------------------
def test_discovery_lists_declared_schemas_after_the_built_in_ones() -> None:
    built_in = [doc["id"] for doc in schema_documents(BASE)]
    declared = [doc["id"] for doc in schema_documents(BASE, REGISTRY)]
    assert declared == [*built_in, VISITLY]
    document = schema_document(VISITLY.lower(), BASE, REGISTRY)
    assert document is not None
    assert document["name"] == "Visitly"
    assert document["meta"]["location"] == f"{BASE}/Schemas/{VISITLY}"
    site = document["attributes"][0]
    assert site == {
        "name": "site",
        "type": "string",
        "multiValued": False,
        "description": "The host's site",
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    }
    assert document["attributes"][-1]["caseExact"] is True
    assert schema_document(VISITLY, BASE) is None


def test_resource_types_list_declared_extensions_as_optional() -> None:
    user = resource_type_document("User", BASE, REGISTRY)
    assert user is not None
    assert user["schemaExtensions"] == [
        {"schema": ENTERPRISE_USER_SCHEMA, "required": False},
        {"schema": VISITLY, "required": False},
    ]
    assert [doc["endpoint"] for doc in resource_type_documents(BASE, REGISTRY)] == [
        "/Users",
        "/Groups",
    ]
    plain = resource_type_document("User", BASE)
    assert plain is not None
    assert plain["schemaExtensions"] == [{"schema": ENTERPRISE_USER_SCHEMA, "required": False}]
