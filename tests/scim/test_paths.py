"""scim/paths.py: parses and resolutions are kept, per resource type, for short paths only."""

from __future__ import annotations

import pytest

from hostsync.scim import paths
from hostsync.scim.errors import InvalidFilterError, InvalidPathError
from hostsync.scim.paths import parse_attr_path, resolve
from hostsync.scim.schema import ENTERPRISE_USER_SCHEMA, GROUP_RESOURCE, USER_RESOURCE


def test_a_kept_resolution_belongs_to_its_resource_type() -> None:
    path = parse_attr_path("displayName")
    assert resolve(path, USER_RESOURCE).schema.id.endswith(":User")
    assert resolve(path, GROUP_RESOURCE).schema.id.endswith(":Group")
    assert resolve(path, USER_RESOURCE) is resolve(path, USER_RESOURCE)  # kept
    user_name = parse_attr_path("userName")
    resolve(user_name, USER_RESOURCE)
    with pytest.raises(InvalidFilterError):  # kept for User, unknown on Group, error as asked
        resolve(user_name, GROUP_RESOURCE, error=InvalidFilterError)


def test_errors_are_raised_each_time_in_the_kind_asked() -> None:
    for _ in range(2):
        with pytest.raises(InvalidPathError):
            parse_attr_path("1bad")
        with pytest.raises(InvalidFilterError):
            parse_attr_path("1bad", error=InvalidFilterError)


def test_long_paths_parse_and_resolve_alike_but_are_not_kept() -> None:
    """A client's long texts (valid or not) do not fill the caches."""
    parse_attr_path("userName")
    kept_parses = paths._parse_attr_path.cache_info().currsize
    kept_resolutions = len(paths._RESOLVED)
    urn = ENTERPRISE_USER_SCHEMA
    for number in range(300):
        long_urn = f"urn:{'x' * 250}:{number}"
        with pytest.raises(InvalidPathError):
            resolve(parse_attr_path(f"{long_urn}:department"), USER_RESOURCE)
        with pytest.raises(InvalidPathError):
            parse_attr_path(f"{'(' * 250}{number}")
        long_name = f"a{'b' * 250}{number}"
        with pytest.raises(InvalidPathError):
            resolve(parse_attr_path(long_name), USER_RESOURCE)
    assert paths._parse_attr_path.cache_info().currsize == kept_parses
    assert len(paths._RESOLVED) == kept_resolutions
    spaced = " " * 300 + f"{urn}:department"  # long only for its spaces: parsed all the same
    assert resolve(parse_attr_path(spaced), USER_RESOURCE).key == (urn, "department")
