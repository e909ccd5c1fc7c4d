"""Every Entra PATCH shape of shared/spec/entra-scim-wire.md, replayed from JSON fixtures.

Each ``tests/fixtures/entra/wire-*.json`` holds one request shape from the spec (§3.5-3.17,
§4.2 a-d in both dialects, §4.3 P1-P27, §4.4, §6.1, §8.4) with the canonical document before
and after, and the group member changes the request must produce.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from hostsync.scim.patch import MemberChange, apply_patch, parse_patch_request
from hostsync.scim.resources import normalize_resource
from hostsync.scim.schema import GROUP_RESOURCE, USER_RESOURCE, ResourceType

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "entra"
FILES = sorted(FIXTURES.glob("wire-*.json"))
RESOURCE_TYPES: dict[str, ResourceType] = {"User": USER_RESOURCE, "Group": GROUP_RESOURCE}
MAX_OPERATIONS = 1000


def load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def member_changes(data: dict[str, Any]) -> tuple[MemberChange, ...]:
    return tuple(
        MemberChange(c["kind"], tuple(c["ids"]), c.get("displays", {}))
        for c in data["member_changes"]
    )


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_entra_shape(path: Path) -> None:
    """The request turns ``before`` into ``after`` with the listed member changes."""
    data = load(path)
    before = data["before"]
    pristine = copy.deepcopy(before)
    operations = parse_patch_request(data["request"], max_operations=MAX_OPERATIONS)
    result = apply_patch(before, operations, RESOURCE_TYPES[data["resource_type"]])
    assert result.document == data["after"]
    assert result.member_changes == member_changes(data)
    assert result.changed is (data["after"] != pristine or bool(data["member_changes"]))
    assert before == pristine


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_fixture_is_well_formed(path: Path) -> None:
    """Fixtures cite the spec and their documents are in canonical form."""
    data = load(path)
    assert data["source"].startswith("shared/spec/entra-scim-wire.md §")
    resource_type = RESOURCE_TYPES[data["resource_type"]]
    for key in ("before", "after"):
        assert normalize_resource(data[key], resource_type) == data[key], key


def test_fixtures_cover_every_patch_shape() -> None:
    """There is a fixture for each of §3.5-3.17's PATCHes, §4.2 a-d both ways, and P1-P27."""
    names = [p.stem for p in FILES]
    wanted = [rf"wire-3\.{n}-" for n in (5, 6, 7, 12, 13, 14, 17)]
    wanted += [rf"wire-4\.2{c}-.*-{d}-flag$" for c in "abcd" for d in ("with", "without")]
    wanted += [rf"wire-4\.3-P{n}-" for n in range(1, 28)]
    missing = [w for w in wanted if not any(re.match(w, name) for name in names)]
    assert missing == []
