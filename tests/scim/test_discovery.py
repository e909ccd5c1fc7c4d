"""Tests for the RFC 7643 discovery documents."""

from __future__ import annotations

from typing import Any

import pytest

from hostsync.scim.discovery import (
    Capabilities,
    resource_type_document,
    resource_type_documents,
    schema_document,
    schema_documents,
    service_provider_config,
)
from hostsync.scim.schema import (
    ENTERPRISE_USER_SCHEMA,
    GROUP_SCHEMA,
    RESOURCE_TYPE_SCHEMA,
    SCHEMA_SCHEMA,
    SERVICE_PROVIDER_CONFIG_SCHEMA,
    USER_SCHEMA,
)

BASE = "https://example.test/scim/v2"


def _attr(doc: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [a for a in doc["attributes"] if a["name"] == name]
    assert len(matches) == 1, name
    return matches[0]


def _sub(attr: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [a for a in attr["subAttributes"] if a["name"] == name]
    assert len(matches) == 1, name
    return matches[0]


def _nulls(value: object, path: str = "$") -> list[str]:
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _nulls(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _nulls(v, f"{path}[{i}]")]
    return []


def _schema(urn: str) -> dict[str, Any]:
    doc = schema_document(urn, BASE)
    assert doc is not None
    return doc


def test_spc_advertises_given_capabilities() -> None:
    """The SPC advertises exactly the capabilities passed in."""
    caps = Capabilities(
        max_results=250,
        bulk_max_operations=42,
        bulk_max_payload_size=2048,
        documentation_uri="https://docs.example.test/scim",
    )
    doc = service_provider_config(caps, BASE)
    assert doc["schemas"] == [SERVICE_PROVIDER_CONFIG_SCHEMA]
    assert doc["documentationUri"] == "https://docs.example.test/scim"
    assert doc["patch"] == {"supported": True}
    assert doc["bulk"] == {"supported": True, "maxOperations": 42, "maxPayloadSize": 2048}
    assert doc["filter"] == {"supported": True, "maxResults": 250}
    assert doc["changePassword"] == {"supported": False}
    assert doc["sort"] == {"supported": True}
    assert doc["etag"] == {"supported": True}
    [scheme] = doc["authenticationSchemes"]
    assert scheme["type"] == "oauthbearertoken"
    assert scheme["primary"] is True
    assert "Authorization: Bearer <key>" in scheme["description"]
    assert doc["meta"] == {
        "resourceType": "ServiceProviderConfig",
        "location": f"{BASE}/ServiceProviderConfig",
    }


def test_spc_defaults_and_no_documentation_uri() -> None:
    """Default capabilities are advertised and a missing documentationUri is omitted, not null."""
    doc = service_provider_config(Capabilities(), BASE)
    assert "documentationUri" not in doc
    assert doc["filter"]["maxResults"] == 1000
    assert doc["bulk"]["maxOperations"] == 1000
    assert doc["bulk"]["maxPayloadSize"] == 1_048_576
    assert _nulls(doc) == []


def test_resource_types_user_first_with_enterprise_extension() -> None:
    """The resource types list has User first, carrying the enterprise extension."""
    docs = resource_type_documents(BASE)
    assert [d["id"] for d in docs] == ["User", "Group"]
    user, group = docs
    assert user["schemas"] == [RESOURCE_TYPE_SCHEMA]
    assert user["endpoint"] == "/Users"
    assert user["schema"] == USER_SCHEMA
    assert user["schemaExtensions"] == [{"schema": ENTERPRISE_USER_SCHEMA, "required": False}]
    assert group["endpoint"] == "/Groups"
    assert group["schema"] == GROUP_SCHEMA
    assert "schemaExtensions" not in group
    assert _nulls(docs) == []


def test_resource_type_lookup() -> None:
    """A single resource type is found by its exact id and matches the list entry."""
    assert resource_type_document("Group", BASE) == resource_type_documents(BASE)[1]


@pytest.mark.parametrize("type_id", ["Widget", "user", ""])
def test_unknown_resource_type_is_none(type_id: str) -> None:
    """An unknown (or differently cased) resource type id gives None."""
    assert resource_type_document(type_id, BASE) is None


def test_schemas_have_no_null_values() -> None:
    """No schema document contains a None value anywhere."""
    docs = schema_documents(BASE)
    assert [d["id"] for d in docs] == [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA]
    assert _nulls(docs) == []


def test_schema_shape_and_no_common_attributes() -> None:
    """Schemas follow RFC 7643 §7 and omit the §3.1 common attributes."""
    for doc in schema_documents(BASE):
        assert doc["schemas"] == [SCHEMA_SCHEMA]
        names = {a["name"] for a in doc["attributes"]}
        assert names.isdisjoint({"id", "externalId", "meta"})
        for attr in doc["attributes"]:
            assert attr["mutability"] in {"readOnly", "readWrite", "immutable", "writeOnly"}
            assert attr.keys() >= {"name", "type", "multiValued", "required", "caseExact"}
            assert attr.get("canonicalValues", ["x"]) != []


def test_user_name_characteristics() -> None:
    """The User schema's userName is required, server-unique and not case-exact."""
    user_name = _attr(_schema(USER_SCHEMA), "userName")
    assert user_name["type"] == "string"
    assert user_name["multiValued"] is False
    assert user_name["required"] is True
    assert user_name["caseExact"] is False
    assert user_name["uniqueness"] == "server"
    assert user_name["mutability"] == "readWrite"
    assert user_name["returned"] == "default"


def test_emails_type_canonical_values() -> None:
    """Emails has a type sub-attribute whose canonicalValues include "work"."""
    emails = _attr(_schema(USER_SCHEMA), "emails")
    assert emails["type"] == "complex"
    assert emails["multiValued"] is True
    assert "work" in _sub(emails, "type")["canonicalValues"]


def test_enterprise_manager_is_complex_with_value() -> None:
    """The enterprise manager attribute is complex with a value sub-attribute."""
    manager = _attr(_schema(ENTERPRISE_USER_SCHEMA), "manager")
    assert manager["type"] == "complex"
    assert manager["multiValued"] is False
    assert _sub(manager, "value")["type"] == "string"
    assert _sub(manager, "$ref")["referenceTypes"] == ["User"]


def test_group_members_sub_attributes() -> None:
    """The Group schema's members lists value, $ref, display and type."""
    members = _attr(_schema(GROUP_SCHEMA), "members")
    assert members["multiValued"] is True
    assert [s["name"] for s in members["subAttributes"]] == ["value", "$ref", "display", "type"]
    assert _sub(members, "$ref")["type"] == "reference"


def test_schema_lookup_case_insensitive() -> None:
    """Schema lookup by URN ignores case; unknown URNs give None."""
    doc = schema_document(ENTERPRISE_USER_SCHEMA.upper(), BASE)
    assert doc is not None
    assert doc["id"] == ENTERPRISE_USER_SCHEMA
    assert schema_document("urn:example:nope", BASE) is None


def test_meta_location_uses_base_url() -> None:
    """meta.location is built from the base URL on every document kind."""
    other = "https://other.test/tenant-7/scim/v2"
    user = _schema(USER_SCHEMA)
    assert user["meta"] == {"resourceType": "Schema", "location": f"{BASE}/Schemas/{USER_SCHEMA}"}
    moved = schema_document(USER_SCHEMA, other)
    assert moved is not None
    assert moved["meta"]["location"] == f"{other}/Schemas/{USER_SCHEMA}"
    rt = resource_type_document("User", other)
    assert rt is not None
    assert rt["meta"] == {"resourceType": "ResourceType", "location": f"{other}/ResourceTypes/User"}
    assert service_provider_config(Capabilities(), other + "/")["meta"]["location"] == (
        f"{other}/ServiceProviderConfig"
    )


def test_returned_documents_do_not_share_state() -> None:
    """Mutating a returned schema document does not affect later documents."""
    first = _schema(USER_SCHEMA)
    first["attributes"].clear()
    _sub(_attr(_schema(USER_SCHEMA), "emails"), "type")["canonicalValues"].append("bogus")
    again = _schema(USER_SCHEMA)
    assert again["attributes"]
    assert "bogus" not in _sub(_attr(again, "emails"), "type")["canonicalValues"]
