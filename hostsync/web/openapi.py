"""The OpenAPI 3.0 description of the SCIM API and the kiosk API, served at ``/openapi.json``.

Hand-written from the routes in :mod:`hostsync.web.scim_routes` and
:mod:`hostsync.web.kiosk.routes`: it describes what a client may send (paths, parameters,
bodies) and the status codes and media type it gets back. The SCIM resource schemas are
deliberately open (``additionalProperties``): the authoritative schema of each resource is the
SCIM ``/Schemas`` endpoint. Each kiosk operation names the kiosk's own security schemes (its
secret as a bearer token, or the cookie its link sets), not the tenant's API key.
schemathesis runs against this document (tests/hardening/test_schemathesis.py).
"""

from __future__ import annotations

from typing import Any

from hostsync.config import SCIM_PREFIX

SCIM_JSON = "application/scim+json"

_ERROR = {"$ref": "#/components/schemas/Error"}
_ANY_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {SCIM_JSON: {"schema": schema}, "application/json": {"schema": schema}}


def _responses(success: dict[str, Any], *errors: int) -> dict[str, Any]:
    responses = dict(success)
    for status in (400, 401, 429, 503, *errors):
        responses[str(status)] = {
            "description": "SCIM error (RFC 7644 §3.12)",
            "content": {SCIM_JSON: {"schema": _ERROR}},
        }
    return responses


def _ok(description: str, schema: dict[str, Any], status: int = 200) -> dict[str, Any]:
    return {str(status): {"description": description, "content": {SCIM_JSON: {"schema": schema}}}}


_LIST_PARAMETERS: list[dict[str, Any]] = [
    {"name": "filter", "in": "query", "schema": {"type": "string", "maxLength": 4096}},
    {"name": "startIndex", "in": "query", "schema": {"type": "integer"}},
    {"name": "count", "in": "query", "schema": {"type": "integer"}},
    {"name": "sortBy", "in": "query", "schema": {"type": "string"}},
    {
        "name": "sortOrder",
        "in": "query",
        "schema": {"type": "string", "enum": ["ascending", "descending"]},
    },
    {"name": "attributes", "in": "query", "schema": {"type": "string"}},
    {"name": "excludedAttributes", "in": "query", "schema": {"type": "string"}},
]
_PROJECTION_PARAMETERS = _LIST_PARAMETERS[-2:]
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_IF_MATCH = {"name": "If-Match", "in": "header", "schema": {"type": "string"}}


def _resource_paths(endpoint: str, schema_ref: str) -> dict[str, Any]:
    resource = {"$ref": f"#/components/schemas/{schema_ref}"}
    listing = {"$ref": "#/components/schemas/ListResponse"}
    name = endpoint.strip("/")
    return {
        f"{SCIM_PREFIX}{endpoint}": {
            "get": {
                "operationId": f"list{name}",
                "parameters": _LIST_PARAMETERS,
                "responses": _responses(_ok("A page of resources", listing)),
            },
            "post": {
                "operationId": f"create{name}",
                "requestBody": {"required": True, "content": _json(resource)},
                "responses": _responses(_ok("Created", resource, 201), 409, 413, 415),
            },
        },
        f"{SCIM_PREFIX}{endpoint}/.search": {
            "post": {
                "operationId": f"search{name}",
                "requestBody": {
                    "required": True,
                    "content": _json({"$ref": "#/components/schemas/SearchRequest"}),
                },
                "responses": _responses(_ok("A page of resources", listing), 413, 415),
            }
        },
        f"{SCIM_PREFIX}{endpoint}/{{id}}": {
            "parameters": [_ID],
            "get": {
                "operationId": f"get{name}",
                "parameters": [
                    *_PROJECTION_PARAMETERS,
                    {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": _responses(
                    {**_ok("The resource", resource), "304": {"description": "Not modified"}},
                    404,
                ),
            },
            "put": {
                "operationId": f"replace{name}",
                "parameters": [*_PROJECTION_PARAMETERS, _IF_MATCH],
                "requestBody": {"required": True, "content": _json(resource)},
                "responses": _responses(_ok("Replaced", resource), 404, 409, 412, 413, 415),
            },
            "patch": {
                "operationId": f"patch{name}",
                "parameters": [*_PROJECTION_PARAMETERS, _IF_MATCH],
                "requestBody": {
                    "required": True,
                    "content": _json({"$ref": "#/components/schemas/PatchOp"}),
                },
                "responses": _responses(
                    {**_ok("Patched", resource), "204": {"description": "Patched"}},
                    404,
                    409,
                    412,
                    413,
                    415,
                ),
            },
            "delete": {
                "operationId": f"delete{name}",
                "parameters": [_IF_MATCH],
                "responses": _responses({"204": {"description": "Deleted (soft)"}}, 404, 412),
            },
        },
    }


KIOSK_API = "/v1/kiosk"
_KIOSK_SECURITY: list[dict[str, list[str]]] = [{"kioskSecret": []}, {"kioskCookie": []}]
_KIOSK_QUERY = {
    "name": "q",
    "in": "query",
    "required": True,
    "schema": {"type": "string", "minLength": 2, "maxLength": 200},
}


def _kiosk_json(schema_ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}


def _kiosk_responses(status: int, description: str, schema_ref: str, *errors: int) -> Any:
    responses: dict[str, Any] = {
        str(status): {"description": description, "content": _kiosk_json(schema_ref)}
    }
    for error in (401, *errors):
        responses[str(error)] = {
            "description": "Kiosk API error: {status, error, detail}",
            "content": _kiosk_json("KioskError"),
        }
    return responses


def _kiosk_paths() -> dict[str, Any]:
    """The kiosk API (web/kiosk/): a kiosk secret authenticates one kiosk of one site."""
    k = KIOSK_API
    return {
        f"{k}/settings": {
            "get": {
                "operationId": "kioskSettings",
                "summary": "The kiosk's site, privacy mode and idle time",
                "security": _KIOSK_SECURITY,
                "responses": _kiosk_responses(200, "The kiosk's settings", "KioskSettings"),
            }
        },
        f"{k}/hosts": {
            "get": {
                "operationId": "kioskSearchHosts",
                "summary": "Active hosts of the kiosk's site whose names start with q",
                "description": "Prefix match on any word of the host's names, case- and "
                "accent-insensitive, at most 10, labelled by the site's privacy mode; never "
                "an e-mail address or phone number. Rate-limited per kiosk (429).",
                "security": _KIOSK_SECURITY,
                "parameters": [_KIOSK_QUERY],
                "responses": _kiosk_responses(200, "Hosts to pick from", "HostList", 400, 409, 429),
            }
        },
        f"{k}/visits": {
            "post": {
                "operationId": "kioskCheckIn",
                "summary": "Check a visitor in at the kiosk's site; the host is notified",
                "security": _KIOSK_SECURITY,
                "requestBody": {"required": True, "content": _kiosk_json("Arrival")},
                "responses": _kiosk_responses(
                    201, "Checked in", "CheckedIn", 400, 409, 413, 415, 503
                ),
            },
            "get": {
                "operationId": "kioskFindVisitors",
                "summary": "Today's visitors on site at the kiosk's site, by full name",
                "description": "Visitors not checked out who checked in at this site since "
                "the start of the site's local day and whose full name starts with q: name "
                "and check-in time only.",
                "security": _KIOSK_SECURITY,
                "parameters": [_KIOSK_QUERY],
                "responses": _kiosk_responses(200, "Visitors", "VisitorList", 400, 503),
            },
        },
        f"{k}/visits/{{id}}/checkout": {
            "post": {
                "operationId": "kioskCheckOut",
                "summary": "Check a visitor of the kiosk's site out",
                "security": _KIOSK_SECURITY,
                "parameters": [_ID],
                "responses": _kiosk_responses(200, "Checked out", "CheckedOut", 404, 415, 503),
            }
        },
    }


def _kiosk_schemas() -> dict[str, Any]:
    text = {"type": "string"}
    when = {"type": "string", "format": "date-time"}
    return {
        "KioskError": {
            "type": "object",
            "required": ["status", "error", "detail"],
            "properties": {"status": {"type": "integer"}, "error": text, "detail": text},
        },
        "KioskSettings": {
            "type": "object",
            "properties": {
                "kiosk": {
                    "type": "object",
                    "properties": {"id": text, "label": text},
                },
                "site": {
                    "type": "object",
                    "properties": {"id": text, "name": text, "timezone": text},
                },
                "privacy": {"type": "string", "enum": ["full", "initial", "exact"]},
                "idle_seconds": {"type": "integer"},
            },
        },
        "HostList": {
            "type": "object",
            "required": ["hosts"],
            "properties": {
                "hosts": {
                    "type": "array",
                    "maxItems": 10,
                    "items": {
                        "type": "object",
                        "required": ["id", "label"],
                        "properties": {
                            "id": text,
                            "label": text,
                            "detail": {"type": "string", "nullable": True},
                        },
                    },
                }
            },
        },
        "Arrival": {
            "type": "object",
            "description": "Either host_id or front_desk: true.",
            "required": ["full_name"],
            "additionalProperties": False,
            "properties": {
                "full_name": {"type": "string", "minLength": 1, "maxLength": 200},
                "company": {"type": "string", "maxLength": 200, "nullable": True},
                "email": {"type": "string", "format": "email", "nullable": True},
                "host_id": {"type": "string", "maxLength": 64, "nullable": True},
                "front_desk": {"type": "boolean"},
            },
        },
        "CheckedIn": {
            "type": "object",
            "required": ["id", "host", "front_desk", "checked_in_at"],
            "properties": {
                "id": text,
                "host": {
                    "type": "object",
                    "nullable": True,
                    "properties": {"label": text},
                },
                "front_desk": {"type": "boolean"},
                "checked_in_at": when,
            },
        },
        "VisitorList": {
            "type": "object",
            "required": ["visits"],
            "properties": {
                "visits": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "name", "checked_in_at"],
                        "properties": {"id": text, "name": text, "checked_in_at": when},
                    },
                }
            },
        },
        "CheckedOut": {
            "type": "object",
            "required": ["id", "checked_out_at"],
            "properties": {"id": text, "checked_out_at": when},
        },
    }


def _components() -> dict[str, Any]:
    multi_valued = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "value": {"type": "string"},
                "type": {"type": "string"},
                "display": {"type": "string"},
                "primary": {"type": "boolean"},
            },
            "additionalProperties": True,
        },
    }
    return {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "A tenant's API key"},
            "kioskSecret": {
                "type": "http",
                "scheme": "bearer",
                "description": "A kiosk's secret (hsk_kiosk_…), the last part of its link",
            },
            "kioskCookie": {
                "type": "apiKey",
                "in": "cookie",
                "name": "hostsync_kiosk",
                "description": "Set by opening the kiosk's link in a browser; POST bodies "
                "must then be application/json",
            },
        },
        "schemas": {
            **_kiosk_schemas(),
            "Error": {
                "type": "object",
                "required": ["schemas", "status"],
                "properties": {
                    "schemas": {"type": "array", "items": {"type": "string"}},
                    "status": {"type": "string"},
                    "scimType": {"type": "string"},
                    "detail": {"type": "string"},
                },
            },
            "User": {
                "type": "object",
                "required": ["userName"],
                "properties": {
                    "schemas": {"type": "array", "items": {"type": "string"}},
                    "id": {"type": "string"},
                    "externalId": {"type": "string"},
                    "userName": {"type": "string"},
                    "displayName": {"type": "string"},
                    "title": {"type": "string"},
                    "active": {"type": "boolean"},
                    "name": {
                        "type": "object",
                        "properties": {
                            "givenName": {"type": "string"},
                            "familyName": {"type": "string"},
                            "formatted": {"type": "string"},
                        },
                        "additionalProperties": True,
                    },
                    "emails": multi_valued,
                    "phoneNumbers": multi_valued,
                    "meta": _ANY_OBJECT,
                },
                "additionalProperties": True,
            },
            "Group": {
                "type": "object",
                "required": ["displayName"],
                "properties": {
                    "schemas": {"type": "array", "items": {"type": "string"}},
                    "id": {"type": "string"},
                    "externalId": {"type": "string"},
                    "displayName": {"type": "string"},
                    "members": multi_valued,
                    "meta": _ANY_OBJECT,
                },
                "additionalProperties": True,
            },
            "PatchOp": {
                "type": "object",
                "required": ["schemas", "Operations"],
                "properties": {
                    "schemas": {"type": "array", "items": {"type": "string"}},
                    "Operations": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["op"],
                            "properties": {
                                "op": {"type": "string", "enum": ["add", "replace", "remove"]},
                                "path": {"type": "string"},
                                "value": {},
                            },
                        },
                    },
                },
            },
            "SearchRequest": {
                "type": "object",
                "properties": {
                    "schemas": {"type": "array", "items": {"type": "string"}},
                    "filter": {"type": "string"},
                    "startIndex": {"type": "integer"},
                    "count": {"type": "integer"},
                    "sortBy": {"type": "string"},
                    "sortOrder": {"type": "string"},
                    "attributes": {"type": "array", "items": {"type": "string"}},
                    "excludedAttributes": {"type": "array", "items": {"type": "string"}},
                },
            },
            "ListResponse": {
                "type": "object",
                "required": ["schemas", "totalResults"],
                "properties": {
                    "schemas": {"type": "array", "items": {"type": "string"}},
                    "totalResults": {"type": "integer"},
                    "startIndex": {"type": "integer"},
                    "itemsPerPage": {"type": "integer"},
                    "Resources": {"type": "array", "items": _ANY_OBJECT},
                },
            },
            "BulkRequest": {
                "type": "object",
                "required": ["schemas", "Operations"],
                "properties": {
                    "schemas": {"type": "array", "items": {"type": "string"}},
                    "failOnErrors": {"type": "integer"},
                    "Operations": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["method", "path"],
                            "properties": {
                                "method": {
                                    "type": "string",
                                    "enum": ["POST", "PUT", "PATCH", "DELETE"],
                                },
                                "path": {"type": "string"},
                                "bulkId": {"type": "string"},
                                "version": {"type": "string"},
                                "data": {},
                            },
                        },
                    },
                },
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.0.3 document of the SCIM API."""
    p = SCIM_PREFIX
    discovery = _ok("A discovery document", _ANY_OBJECT)
    paths: dict[str, Any] = {
        f"{p}/ServiceProviderConfig": {
            "get": {
                "operationId": "serviceProviderConfig",
                "security": [],
                "responses": _responses(discovery),
            }
        },
        f"{p}/ResourceTypes": {
            "get": {"operationId": "resourceTypes", "responses": _responses(discovery)}
        },
        f"{p}/ResourceTypes/{{typeId}}": {
            "get": {
                "operationId": "resourceType",
                "parameters": [
                    {"name": "typeId", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": _responses(discovery, 404),
            }
        },
        f"{p}/Schemas": {"get": {"operationId": "schemas", "responses": _responses(discovery)}},
        f"{p}/Schemas/{{schemaId}}": {
            "get": {
                "operationId": "schema",
                "parameters": [
                    {
                        "name": "schemaId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": _responses(discovery, 404),
            }
        },
        **_resource_paths("/Users", "User"),
        **_resource_paths("/Groups", "Group"),
        **_kiosk_paths(),
        f"{p}/.search": {
            "post": {
                "operationId": "searchAll",
                "requestBody": {
                    "required": True,
                    "content": _json({"$ref": "#/components/schemas/SearchRequest"}),
                },
                "responses": _responses(
                    _ok("A page of resources", {"$ref": "#/components/schemas/ListResponse"}),
                    413,
                    415,
                ),
            }
        },
        f"{p}/Bulk": {
            "post": {
                "operationId": "bulk",
                "requestBody": {
                    "required": True,
                    "content": _json({"$ref": "#/components/schemas/BulkRequest"}),
                },
                "responses": _responses(_ok("Bulk results", _ANY_OBJECT), 413, 415),
            }
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "hostsync SCIM 2.0 API and kiosk API",
            "version": "2.0",
            "description": "RFC 7643/7644 service provider for a visitor-management host "
            "directory. Authenticate with 'Authorization: Bearer <API key>'. The kiosk API "
            "(/v1/kiosk) takes a kiosk's secret instead: 'Authorization: Bearer <kiosk "
            "secret>' for a native app, or the cookie its link sets in a browser.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": _components(),
    }
