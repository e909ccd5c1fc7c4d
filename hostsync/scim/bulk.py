"""Bulk requests (RFC 7644 §3.7) and the root search (RFC 7644 §3.4.3) over ScimService.

Bulk operations run in order, each in its own savepoint: a failed operation leaves no trace
and the others still apply (RFC 7644 §3.7 makes bulk non-atomic). ``bulkId:x`` references in
later operations' paths and data are replaced by the id the operation with ``bulkId`` x got.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hostsync.scim.errors import (
    InvalidFilterError,
    InvalidSyntaxError,
    InvalidValueError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    ScimError,
)
from hostsync.scim.extensions import DEFAULT_REGISTRY, Registry
from hostsync.scim.ports import Directory, Page
from hostsync.scim.query import build_list_query
from hostsync.scim.schema import (
    BULK_REQUEST_SCHEMA,
    BULK_RESPONSE_SCHEMA,
    GROUP_RESOURCE,
    LIST_RESPONSE_SCHEMA,
    USER_RESOURCE,
    ResourceType,
)
from hostsync.scim.service import ScimResult, ScimService

_BULK_PREFIX = "bulkId:"


def _field(operation: dict[str, Any], name: str) -> Any:
    for key, value in operation.items():
        if key.lower() == name.lower():
            return value
    return None


def _substitute(value: Any, created: dict[str, str]) -> Any:
    """Replace every ``bulkId:x`` string in ``value`` by the id created for ``x``."""
    if isinstance(value, str) and value.startswith(_BULK_PREFIX):
        bulk_id = value[len(_BULK_PREFIX) :]
        if bulk_id not in created:
            raise InvalidValueError(f"bulkId '{bulk_id}' names no earlier successful operation")
        return created[bulk_id]
    if isinstance(value, list):
        return [_substitute(item, created) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, created) for key, item in value.items()}
    return value


def _substitute_path(path: str, created: dict[str, str]) -> str:
    head, _, tail = path.rpartition("/")
    return f"{head}/{_substitute(tail, created)}" if tail.startswith(_BULK_PREFIX) else path


class BulkProcessor:
    """Runs one BulkRequest against a directory through the service's operations."""

    def __init__(self, service: ScimService, max_operations: int) -> None:
        self.service = service
        self.max_operations = max_operations

    def run(
        self,
        directory: Directory,
        body: Any,
        base_url: str,
        registry: Registry = DEFAULT_REGISTRY,
    ) -> ScimResult:
        """Process the request; 200 with one result per operation attempted.

        ``registry``: the tenant's schemas (its declared extensions, hostsync.scim.extensions).
        """
        operations, fail_on_errors = self._parse(body)
        created: dict[str, str] = {}
        results: list[dict[str, Any]] = []
        errors = 0
        for operation in operations:
            if fail_on_errors is not None and errors >= fail_on_errors:
                break
            result = self._one(directory, operation, base_url, created, registry)
            results.append(result)
            if int(result["status"]) >= 400:
                errors += 1
        return ScimResult(200, {"schemas": [BULK_RESPONSE_SCHEMA], "Operations": results})

    def _parse(self, body: Any) -> tuple[list[dict[str, Any]], int | None]:
        if not isinstance(body, dict):
            raise InvalidSyntaxError("A BulkRequest must be a JSON object")
        schemas = body.get("schemas")
        if not isinstance(schemas, list) or BULK_REQUEST_SCHEMA not in schemas:
            raise InvalidSyntaxError(f"A BulkRequest must list the schema '{BULK_REQUEST_SCHEMA}'")
        operations = _field(body, "Operations")
        if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
            raise InvalidSyntaxError("'Operations' must be a list of objects")
        if len(operations) > self.max_operations:
            raise PayloadTooLargeError(
                f"A BulkRequest may carry at most {self.max_operations} operations"
            )
        fail_on_errors = _field(body, "failOnErrors")
        if fail_on_errors is not None and (
            isinstance(fail_on_errors, bool)
            or not isinstance(fail_on_errors, int)
            or fail_on_errors < 1
        ):
            raise InvalidValueError("'failOnErrors' must be a positive integer")
        return operations, fail_on_errors

    def _one(
        self,
        directory: Directory,
        operation: dict[str, Any],
        base_url: str,
        created: dict[str, str],
        registry: Registry,
    ) -> dict[str, Any]:
        method = str(_field(operation, "method") or "").upper()
        bulk_id = _field(operation, "bulkId")
        entry: dict[str, Any] = {"method": method}
        if bulk_id is not None:
            entry["bulkId"] = bulk_id
        try:
            with directory.savepoint():
                result = self._dispatch(directory, operation, method, base_url, created, registry)
        except ScimError as error:
            entry["status"] = str(error.status)
            entry["response"] = error.to_body()
            return entry
        entry["status"] = str(result.status)
        if result.body is not None and "meta" in result.body:
            entry["location"] = result.body["meta"]["location"]
            entry["version"] = result.body["meta"]["version"]
            if method == "POST" and isinstance(bulk_id, str):
                created[bulk_id] = result.body["id"]
        return entry

    def _dispatch(
        self,
        directory: Directory,
        operation: dict[str, Any],
        method: str,
        base_url: str,
        created: dict[str, str],
        registry: Registry,
    ) -> ScimResult:
        raw_path = _field(operation, "path")
        if not isinstance(raw_path, str) or not raw_path.startswith("/"):
            raise InvalidValueError(
                "Each operation needs a 'path' such as '/Users' or '/Groups/{id}'"
            )
        path = _substitute_path(raw_path, created)
        parts = [part for part in path.split("/") if part]
        if not parts:  # "/", "//": no resource type named
            raise NotFoundError(f"No resource at {path}; a path names /Users or /Groups")
        resource_type = _resource_type(parts[0])
        data = _substitute(_field(operation, "data"), created)
        version = _field(operation, "version")
        users = resource_type is USER_RESOURCE
        service = self.service
        user_type = registry.users
        if len(parts) == 1:
            if method != "POST":
                raise MethodNotAllowedError(f"{method} is not allowed on {path} in a bulk request")
            if _field(operation, "bulkId") is None:
                raise InvalidValueError("A bulk POST needs a 'bulkId'")
            if users:
                return service.create_user(directory, data, base_url, user_type)
            return service.create_group(directory, data, base_url)
        if len(parts) != 2:
            raise NotFoundError(f"No resource at {path}")
        resource_id = parts[1]
        if method == "PUT":
            if users:
                return service.replace_user(
                    directory, resource_id, data, base_url, version, resource_type=user_type
                )
            return service.replace_group(directory, resource_id, data, base_url, version)
        if method == "PATCH":
            if users:
                return service.patch_user(
                    directory, resource_id, data, base_url, version, resource_type=user_type
                )
            return service.patch_group(directory, resource_id, data, base_url, version)
        if method == "DELETE":
            deleter = service.delete_user if users else service.delete_group
            return deleter(directory, resource_id, version)
        raise MethodNotAllowedError(
            f"Bulk operations use POST, PUT, PATCH or DELETE, not '{method}'"
        )


def _resource_type(segment: str) -> ResourceType:
    for resource_type in (USER_RESOURCE, GROUP_RESOURCE):
        if segment.lower() == resource_type.endpoint.strip("/").lower():
            return resource_type
    raise NotFoundError(f"No resource type at /{segment}")


def search_all(
    service: ScimService,
    directory: Directory,
    params: dict[str, Any],
    base_url: str,
    *,
    max_results: int,
    registry: Registry = DEFAULT_REGISTRY,
) -> ScimResult:
    """POST /.search at the root: users, then groups, as one paged list.

    A filter naming an attribute that one resource type lacks matches nothing of that type;
    it is an error only when it fits neither. ``registry``: the tenant's schemas.
    """
    parts: list[tuple[ResourceType, Any]] = []
    first_error: ScimError | None = None
    for resource_type in registry.resource_types:
        try:
            query = build_list_query(params, resource_type, max_results=max_results)
        except InvalidFilterError as error:
            first_error = first_error or error
            continue
        parts.append((resource_type, query))
    if not parts:
        assert first_error is not None  # noqa: S101 - every type failed with this error
        raise first_error
    start = parts[0][1].selection.start_index
    wanted = parts[0][1].selection.count
    totals: list[int] = []
    resources: list[dict[str, Any]] = []
    skip = start - 1
    for resource_type, query in parts:
        window = replace(
            query.selection, start_index=skip + 1, count=max(0, wanted - len(resources))
        )
        users = resource_type is registry.users
        lister = directory.list_users if users else directory.list_groups
        page: Page = lister(window)
        totals.append(page.total)
        skip = max(0, skip - page.total)
        if users:
            rendered = service.user_documents(
                directory, page.resources, base_url, query.projection, resource_type=resource_type
            )
        else:  # bounded as GET /Groups is (ScimService.list_groups)
            rendered = service.group_documents(
                directory, page.resources, base_url, query.projection, sizes=page.sizes
            )
        resources.extend(rendered)
    return ScimResult(
        200,
        {
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": sum(totals),
            "startIndex": start,
            "itemsPerPage": len(resources),
            "Resources": resources,
        },
    )
