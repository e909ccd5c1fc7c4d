"""Structural bounds on request bodies (issue: hardening, input limits)."""

from __future__ import annotations

import pytest

from hostsync.scim.bounds import Bounds, check_bounds
from hostsync.scim.errors import InvalidSyntaxError, InvalidValueError


def nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth - 1):
        value = {"a": [value]} if isinstance(value, str) else {"a": value}
    return value


def test_real_bodies_pass() -> None:
    """An Entra PATCH with a manager object and a Bulk wrapper stay well inside the bounds."""
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {
                "method": "PATCH",
                "path": "/Users/1",
                "data": {
                    "Operations": [
                        {"op": "replace", "value": {"urn:x:User": {"manager": {"value": "m"}}}}
                    ]
                },
            }
        ],
    }
    check_bounds(body, Bounds())


def test_too_deep_is_invalid_syntax() -> None:
    """A body nested past max_depth is 400 invalidSyntax."""
    check_bounds(nested(5), Bounds(max_depth=5))
    with pytest.raises(InvalidSyntaxError):
        check_bounds(nested(6), Bounds(max_depth=5))
    with pytest.raises(InvalidSyntaxError):
        check_bounds([[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]], Bounds())


def test_long_strings_and_keys_are_invalid_value() -> None:
    """A string value or key longer than max_string is 400 invalidValue."""
    check_bounds({"k": "x" * 10}, Bounds(max_string=10))
    with pytest.raises(InvalidValueError):
        check_bounds({"k": ["x" * 11]}, Bounds(max_string=10))
    with pytest.raises(InvalidValueError):
        check_bounds({"k" * 11: 1}, Bounds(max_string=10))
