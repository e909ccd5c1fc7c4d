"""Every Entra PATCH shape of docs/reference/entra-wire.md, replayed from JSON fixtures.

Each ``tests/fixtures/entra/*.json`` holds one request shape from that page (the documented user
and group updates, the four dialect shapes with and without the flag, patterns P1-P27, the
PATCH rules, the default update, Microsoft's Postman suite) with the canonical document before
and after, and the group member changes the request must produce. A fixture is named after the
anchor it cites in its ``source`` field.
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

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "entra"
FILES = sorted(FIXTURES.glob("*.json"))
REFERENCE = ROOT / "docs" / "reference"
SOURCE = re.compile(r"docs/reference/(?P<page>[a-z0-9-]+\.md)#(?P<anchor>[a-z0-9-]+)")
RESOURCE_TYPES: dict[str, ResourceType] = {"User": USER_RESOURCE, "Group": GROUP_RESOURCE}
MAX_OPERATIONS = 1000


def anchors(page: str) -> set[str]:
    """The explicit anchors (``<a id="…">``) of one docs/reference page."""
    return set(re.findall(r'<a id="([^"]+)"></a>', (REFERENCE / page).read_text(encoding="utf-8")))


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
    """A fixture cites an existing docs/reference anchor, is named after it, and is canonical."""
    data = load(path)
    source = SOURCE.fullmatch(data["source"])
    assert source is not None, data["source"]
    assert (REFERENCE / source["page"]).is_file(), source["page"]
    assert source["anchor"] in anchors(source["page"]), data["source"]
    assert path.stem.startswith(source["anchor"]), (path.stem, source["anchor"])
    resource_type = RESOURCE_TYPES[data["resource_type"]]
    for key in ("before", "after"):
        assert normalize_resource(data[key], resource_type) == data[key], key


def test_fixtures_cover_every_patch_shape() -> None:
    """A fixture for each documented PATCH, each dialect shape both ways, and P1-P27."""
    names = [p.stem for p in FILES]
    wanted = [
        rf"{anchor}(-|$)"
        for anchor in (
            "wire-update-user-multi",
            "wire-update-user-single",
            "wire-disable-user",
            "wire-group-rename",
            "wire-group-add-members",
            "wire-group-remove-members",
            "wire-manager-legacy",
        )
    ]
    dialects = sorted(a for a in anchors("entra-wire.md") if a.startswith("dialect-"))
    dialects.remove("dialect-flag")
    assert len(dialects) == 4, dialects
    wanted += [rf"{a}-{d}-flag$" for a in dialects for d in ("with", "without")]
    patterns = {a for a in anchors("entra-wire.md") if re.fullmatch(r"patch-p\d+", a)}
    assert patterns == {f"patch-p{n}" for n in range(1, 28)}
    wanted += [rf"{a}-" for a in sorted(patterns)]
    missing = [w for w in wanted if not any(re.match(w, name) for name in names)]
    assert missing == []
