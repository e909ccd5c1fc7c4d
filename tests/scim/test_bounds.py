"""Structural bounds on request bodies (issue: hardening, input limits)."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostsync.scim.bounds import Bounds, check_bounds, within_bounds
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


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(json_values, st.integers(2, 8), st.integers(4, 40))
def test_a_text_within_bounds_never_breaks_them(value: object, depth: int, size: int) -> None:
    """within_bounds is a shortcut: when it says a text cannot break the bounds, the walk
    agrees (small limits, so both outcomes of the walk occur)."""
    bounds = Bounds(max_depth=depth, max_string=size)
    raw = orjson.dumps(value)
    if within_bounds(raw, bounds):
        check_bounds(value, bounds)


def test_within_bounds_leaves_deep_or_long_texts_to_the_walk() -> None:
    bounds = Bounds(max_depth=3, max_string=50)
    assert within_bounds(b'{"a":[{"b":"c"}]}', bounds)
    assert not within_bounds(orjson.dumps(nested(5)), bounds)
    assert not within_bounds(orjson.dumps({"a": "x" * 60}), bounds)
