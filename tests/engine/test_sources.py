"""Source adapters: the Graph-shaped export and the CSV HR export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hostsync.engine.errors import SourceError
from hostsync.engine.ports import DEFAULT_ACCESS_ROLE_ID, Kind
from hostsync.engine.sources import CsvSource, GraphJsonSource, open_source

FIXTURES = Path(__file__).parent.parent / "fixtures" / "engine"


def test_graph_export_reads_users_groups_roles_and_assignments() -> None:
    """Graph properties are kept and aliased to Entra's names; manager is an id."""
    snapshot = GraphJsonSource(FIXTURES / "directory.json").read()
    ana = snapshot.users["u-ana"].attributes
    assert ana["objectId"] == "u-ana"
    assert ana["mobile"] == "+1 512 555 0101"
    assert ana["telephoneNumber"] == "+1 512 555 0100"
    assert ana["manager"] == "u-bob"
    assert not snapshot.users["u-eve"].enabled
    assert snapshot.groups["g-hosts"].members == ("u-ana", "u-cy")
    assert snapshot.app_roles["7a2e1c90-0000-4000-8000-000000000001"].value == "host"
    assert snapshot.assignments is not None
    default = [a for a in snapshot.assignments if a.app_role_id == DEFAULT_ACCESS_ROLE_ID]
    assert [(a.principal_id, a.principal_type) for a in default] == [("u-dee", Kind.USER)]


def test_guest_upn_is_shortened_like_entra(tmp_path: Path) -> None:
    """alias_theirdomain#EXT#@ours becomes alias@theirdomain; the raw UPN is kept."""
    path = tmp_path / "d.json"
    upn = "ann_fabrikam.com#EXT#@contoso.onmicrosoft.com"
    path.write_text(json.dumps({"users": [{"id": "g", "userPrincipalName": upn}]}))
    attributes = GraphJsonSource(path).read().users["g"].attributes
    assert attributes["userPrincipalName"] == "ann@fabrikam.com"
    assert attributes["originalUserPrincipalName"] == upn


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "top level must be an object"),
        ('{"users": [{"userPrincipalName": "x"}]}', r"users\[0\]: every entry needs a string 'id'"),
        ('{"users": [{"id": "a"}, {"id": "a"}]}', "duplicate user id 'a'"),
        ('{"users": [{"id": "a", "accountEnabled": "perhaps"}]}', "not a boolean"),
        (
            '{"appRoleAssignments": [{"principalId": "a", "principalType": "Robot"}]}',
            "principalType",
        ),
    ],
)
def test_bad_graph_export_is_a_source_error(tmp_path: Path, content: str, message: str) -> None:
    """A broken export stops the read with a message that says where."""
    path = tmp_path / "d.json"
    path.write_text(content)
    with pytest.raises(SourceError, match=message):
        GraphJsonSource(path).read()


def test_missing_file_is_a_source_error(tmp_path: Path) -> None:
    """An absent source file is reported, not treated as an empty directory."""
    with pytest.raises(SourceError, match="cannot read"):
        open_source("graph-json", tmp_path / "absent.json").read()


def test_csv_rows_become_assigned_users_and_named_groups() -> None:
    """CSV: every row is assigned; booleans parse; groups come from the groups column."""
    snapshot = CsvSource(FIXTURES / "hr-export.csv").read()
    assert snapshot.assignments is None
    assert set(snapshot.users) == {"e1", "e2", "e3"}
    ana = snapshot.users["e1"].attributes
    assert ana["telephoneNumber"] == "+1 512 555 0100"
    assert ana["manager"] == "e2"
    assert "mail" not in snapshot.users["e2"].attributes  # empty cell is NULL
    assert not snapshot.users["e3"].enabled
    assert snapshot.groups["Hosts"].members == ("e1", "e2")
    assert snapshot.groups["Lobby"].attributes["displayName"] == "Lobby"


def test_csv_without_id_names_the_line(tmp_path: Path) -> None:
    """A row without an id is refused with its line number."""
    path = tmp_path / "hr.csv"
    path.write_text("id,userPrincipalName\n,ana@contoso.com\n")
    with pytest.raises(SourceError, match="line 2: the 'id' column"):
        CsvSource(path).read()
