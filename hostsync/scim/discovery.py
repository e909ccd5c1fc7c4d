"""Discovery documents for /ServiceProviderConfig, /ResourceTypes and /Schemas (RFC 7643 §5-7).

Pure rendering from the definitions in :mod:`hostsync.scim.schema`; no HTTP and no I/O. The web
layer wraps the lists in a ListResponse. Only ``meta.location`` depends on the request's base
URL, so everything else is built once and copied per call.

Entra (docs/reference/entra-wire.md#wire-schema-discovery): "If a value isn't present, don't
send null values" and "Property values should be camel cased (for example, readWrite)".
Optional keys are therefore left out rather than set to ``None``, and the enum values in
``schema.py`` are already camelCase.

RFC 7643 §3.1: the common attributes ``id``, ``externalId`` and ``meta`` "are not defined in any
particular schema", so the User and Group schema documents do not list them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hostsync.scim.extensions import DEFAULT_REGISTRY, Registry
from hostsync.scim.resources import copy_document
from hostsync.scim.schema import (
    RESOURCE_TYPE_SCHEMA,
    SCHEMA_SCHEMA,
    SERVICE_PROVIDER_CONFIG_SCHEMA,
    Attribute,
    ResourceType,
    Schema,
)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """The limits this deployment advertises in ``/ServiceProviderConfig``."""

    max_results: int = 1000
    """``filter.maxResults``: the most resources one query returns."""
    bulk_max_operations: int = 1000
    """``bulk.maxOperations``."""
    bulk_max_payload_size: int = 1_048_576
    """``bulk.maxPayloadSize`` in bytes."""
    documentation_uri: str | None = None
    """``documentationUri``; omitted from the document when ``None``."""
    max_operations: int = 1000
    """The most operations one PATCH request may carry (not an RFC field; in the docs)."""
    inline_members_max: int = 1000
    """Groups with more members answer PATCH without ``members`` (docs/architecture.md)."""


def _location(base_url: str, *segments: str) -> str:
    return "/".join((base_url.rstrip("/"), *segments))


def service_provider_config(capabilities: Capabilities, base_url: str) -> dict[str, Any]:
    """Render the RFC 7643 §5 service provider configuration.

    Args:
        capabilities: The limits to advertise.
        base_url: The SCIM base URL (e.g. ``https://host/scim/v2``), used for ``meta.location``.

    Returns:
        The ``ServiceProviderConfig`` resource as a JSON-ready dict.
    """
    doc: dict[str, Any] = {"schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA]}
    if capabilities.documentation_uri is not None:
        doc["documentationUri"] = capabilities.documentation_uri
    doc.update(
        {
            "patch": {"supported": True},
            "bulk": {
                "supported": True,
                "maxOperations": capabilities.bulk_max_operations,
                "maxPayloadSize": capabilities.bulk_max_payload_size,
            },
            "filter": {"supported": True, "maxResults": capabilities.max_results},
            "changePassword": {"supported": False},
            "sort": {"supported": True},
            "etag": {"supported": True},
            "authenticationSchemes": [
                {
                    "type": "oauthbearertoken",
                    "name": "OAuth Bearer Token",
                    "description": (
                        "Authentication with the tenant's API key, sent as "
                        "'Authorization: Bearer <key>'."
                    ),
                    "primary": True,
                }
            ],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": _location(base_url, "ServiceProviderConfig"),
            },
        }
    )
    return doc


def _resource_type_body(rt: ResourceType) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": rt.id,
        "name": rt.name,
        "endpoint": rt.endpoint,
        "description": rt.description,
        "schema": rt.schema.id,
    }
    if rt.extensions:
        doc["schemaExtensions"] = [{"schema": ext.id, "required": False} for ext in rt.extensions]
    return doc


def _with_meta(body: dict[str, Any], resource_type: str, location: str) -> dict[str, Any]:
    body["meta"] = {"resourceType": resource_type, "location": location}
    return body


def _render_resource_type(rt: ResourceType, base_url: str) -> dict[str, Any]:
    # Built afresh for each call, so nothing to copy. (It was deep-copied as well: a third of
    # the instructions of GET /ResourceTypes/User, the benchmark's `floor`.)
    return _with_meta(
        _resource_type_body(rt), "ResourceType", _location(base_url, "ResourceTypes", rt.id)
    )


def resource_type_documents(
    base_url: str, registry: Registry = DEFAULT_REGISTRY
) -> list[dict[str, Any]]:
    """Render every RFC 7643 §6 resource type, User first.

    Args:
        base_url: The SCIM base URL, used for each ``meta.location``.
        registry: The tenant's schemas: its declared extensions are among the User's
            ``schemaExtensions`` (``required: false``).

    Returns:
        One ``ResourceType`` resource per type; the Microsoft Postman collection expects
        ``Resources[0].endpoint == "/Users"``.
    """
    return [_render_resource_type(rt, base_url) for rt in registry.resource_types]


def resource_type_document(
    type_id: str, base_url: str, registry: Registry = DEFAULT_REGISTRY
) -> dict[str, Any] | None:
    """Render one resource type by its id.

    Args:
        type_id: The resource type id, matched case-sensitively (``"User"``, ``"Group"``).
        base_url: The SCIM base URL, used for ``meta.location``.
        registry: The tenant's schemas.

    Returns:
        The ``ResourceType`` resource, or ``None`` if no type has that id.
    """
    for rt in registry.resource_types:
        if rt.id == type_id:
            return _render_resource_type(rt, base_url)
    return None


def _attribute_doc(attr: Attribute) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": attr.name,
        "type": attr.type.value,
        "multiValued": attr.multi_valued,
        "description": attr.description,
        "required": attr.required,
        "caseExact": attr.case_exact,
        "mutability": attr.mutability.value,
        "returned": attr.returned.value,
        "uniqueness": attr.uniqueness.value,
    }
    if attr.sub_attributes:
        doc["subAttributes"] = [_attribute_doc(sub) for sub in attr.sub_attributes]
    if attr.canonical_values:
        doc["canonicalValues"] = list(attr.canonical_values)
    if attr.reference_types:
        doc["referenceTypes"] = list(attr.reference_types)
    return doc


def _schema_body(schema: Schema) -> dict[str, Any]:
    return {
        "schemas": [SCHEMA_SCHEMA],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": [_attribute_doc(attr) for attr in schema.attributes],
    }


@lru_cache(maxsize=1)
def _default_bodies() -> dict[str, dict[str, Any]]:
    # Built once, keyed by lowercased URN in SCHEMAS order; callers get deep copies.
    return {schema.id.lower(): _schema_body(schema) for schema in DEFAULT_REGISTRY.schemas}


def _schema_bodies(registry: Registry) -> dict[str, dict[str, Any]]:
    """The bodies of ``registry``'s schemas by lowercased URN, in its order.

    A tenant's declared schemas are rendered per call: discovery is read rarely (Entra reads
    it when an administrator sets the mapping up).
    """
    if registry is DEFAULT_REGISTRY:
        return _default_bodies()
    bodies = dict(_default_bodies())
    bodies.update((schema.id.lower(), _schema_body(schema)) for schema in registry.declared)
    return bodies


def _render_schema(body: dict[str, Any], base_url: str) -> dict[str, Any]:
    # A copy: the cached bodies must never be reachable from a caller's document.
    return _with_meta(copy_document(body), "Schema", _location(base_url, "Schemas", body["id"]))


def schema_documents(base_url: str, registry: Registry = DEFAULT_REGISTRY) -> list[dict[str, Any]]:
    """Render every RFC 7643 §7 schema resource (User, EnterpriseUser, Group, declared ones).

    Args:
        base_url: The SCIM base URL, used for each ``meta.location``.
        registry: The tenant's schemas: its declared extensions come after the built-in ones.

    Returns:
        One ``Schema`` resource per schema, with no ``null`` values anywhere.
    """
    return [_render_schema(body, base_url) for body in _schema_bodies(registry).values()]


def schema_document(
    schema_id: str, base_url: str, registry: Registry = DEFAULT_REGISTRY
) -> dict[str, Any] | None:
    """Render one schema by its URN.

    Args:
        schema_id: The schema URN, matched case-insensitively.
        base_url: The SCIM base URL, used for ``meta.location``.
        registry: The tenant's schemas.

    Returns:
        The ``Schema`` resource, or ``None`` if no schema has that URN.
    """
    body = _schema_bodies(registry).get(schema_id.lower())
    return None if body is None else _render_schema(body, base_url)
