"""List queries (RFC 7644 §3.4.2, §3.4.3): from query parameters or a SearchRequest body.

Parameter names are matched case-insensitively; unknown parameters (such as Entra's
``aadOptscim062020`` feature flag, docs/reference/entra-wire.md#wire-base-url) are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hostsync.scim.errors import InvalidFilterError, InvalidSyntaxError, InvalidValueError
from hostsync.scim.filters import And, Filter, Not, Or, ValuePath, parse_filter
from hostsync.scim.paths import AttrPath, parse_attr_path, resolve, resolve_sub
from hostsync.scim.ports import Selection, SortOrder
from hostsync.scim.projection import Projection, parse_projection, split_names
from hostsync.scim.schema import SEARCH_REQUEST_SCHEMA, AttrType, ResourceType


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A parsed list request: which resources, which window, which attributes."""

    selection: Selection
    projection: Projection


def _int_param(name: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise InvalidValueError(f"'{name}' must be an integer, got {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            pass
    raise InvalidValueError(f"'{name}' must be an integer, got {raw!r}")


def _sort_by(raw: Any, resource_type: ResourceType) -> AttrPath | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise InvalidValueError("'sortBy' must be an attribute path")
    path = parse_attr_path(raw, error=InvalidValueError)
    resolved = resolve(path, resource_type, error=InvalidValueError)
    if resolved.leaf.type is AttrType.COMPLEX:
        raise InvalidValueError(f"'sortBy' must name a simple attribute, not '{raw}'")
    return path


def _sort_order(raw: Any) -> SortOrder:
    if raw is None or raw == "":
        return SortOrder.ASCENDING
    lowered = str(raw).lower()
    if lowered == "ascending":
        return SortOrder.ASCENDING
    if lowered == "descending":
        return SortOrder.DESCENDING
    raise InvalidValueError(f"'sortOrder' must be 'ascending' or 'descending', got {raw!r}")


def _names(raw: Any, key: str) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return split_names(raw)
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return [item for item in raw if item.strip()]
    raise InvalidValueError(f"'{key}' must be a list of attribute names")


def check_filter(node: Filter, resource_type: ResourceType) -> None:
    """Raise 400 ``invalidFilter`` unless every attribute the filter names exists."""
    if isinstance(node, And | Or):
        check_filter(node.left, resource_type)
        check_filter(node.right, resource_type)
    elif isinstance(node, Not):
        check_filter(node.operand, resource_type)
    elif isinstance(node, ValuePath):
        parent = resolve(node.path, resource_type, error=InvalidFilterError).attribute
        for path in _inner_paths(node.filter):
            resolve_sub(parent, path.attr, error=InvalidFilterError)
    else:
        resolve(node.path, resource_type, error=InvalidFilterError)


def _inner_paths(node: Filter) -> list[AttrPath]:
    if isinstance(node, And | Or):
        return _inner_paths(node.left) + _inner_paths(node.right)
    if isinstance(node, Not):
        return _inner_paths(node.operand)
    if isinstance(node, ValuePath):
        return [node.path]
    return [node.path]


MAX_START_INDEX = 2**63
"""The largest ``startIndex`` (its offset, 2^63 - 1, is the largest SQL integer)."""


def build_list_query(
    params: Mapping[str, Any],
    resource_type: ResourceType,
    *,
    max_results: int,
) -> ListQuery:
    """Build a :class:`ListQuery` from case-insensitively keyed parameters.

    RFC 7644 §3.4.2.4: ``startIndex`` below 1 is taken as 1; a negative ``count`` as 0; a
    ``count`` above ``max_results`` is clamped to it; no ``count`` means ``max_results``.
    A ``startIndex`` above :data:`MAX_START_INDEX` is taken as it: both are past the end of
    any list, and the response's ``startIndex`` must fit a JSON encoder's 64-bit integer.
    """
    lowered = {key.lower(): value for key, value in params.items()}
    raw_filter = lowered.get("filter")
    if raw_filter is not None and not isinstance(raw_filter, str):
        raise InvalidFilterError("'filter' must be a string")
    start_index = min(
        MAX_START_INDEX, max(1, _int_param("startIndex", lowered.get("startindex", 1)))
    )
    raw_count = lowered.get("count")
    count = max_results if raw_count is None else _int_param("count", raw_count)
    parsed = parse_filter(raw_filter) if raw_filter else None
    if parsed is not None:
        check_filter(parsed, resource_type)
    selection = Selection(
        filter=parsed,
        sort_by=_sort_by(lowered.get("sortby"), resource_type),
        sort_order=_sort_order(lowered.get("sortorder")),
        start_index=start_index,
        count=min(max(0, count), max_results),
        resource_type=resource_type,
    )
    projection = parse_projection(
        _names(lowered.get("attributes"), "attributes"),
        _names(lowered.get("excludedattributes"), "excludedAttributes"),
        resource_type,
    )
    return ListQuery(selection, projection)


def search_request_params(body: Any) -> dict[str, Any]:
    """Validate a POST ``/.search`` body (RFC 7644 §3.4.3) and return its parameters."""
    if not isinstance(body, dict):
        raise InvalidSyntaxError("A SearchRequest must be a JSON object")
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or SEARCH_REQUEST_SCHEMA not in schemas:
        raise InvalidSyntaxError(f"A SearchRequest must list the schema '{SEARCH_REQUEST_SCHEMA}'")
    return {key: value for key, value in body.items() if key != "schemas"}
