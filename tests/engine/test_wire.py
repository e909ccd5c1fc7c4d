"""Mapped values → SCIM bodies in both dialects.

See docs/reference/entra-wire.md#wire-users, docs/reference/entra-wire.md#wire-groups and
docs/reference/entra-wire.md#dialect-flag.
"""

from __future__ import annotations

from hostsync.engine.ports import Kind
from hostsync.engine.wire import (
    Dialect,
    build_resource,
    disable_operations,
    member_operations,
    patch_operations,
    read_values,
)

EXT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
VALUES = {
    "userName": "ana@contoso.com",
    "active": True,
    'emails[type eq "work"].value': "ana@contoso.com",
    "name.givenName": "Ana",
    'phoneNumbers[type eq "mobile"].value': "+1 555",
    f"{EXT}:department": "Front Desk",
}


def test_create_body_nests_paths_like_entra() -> None:
    """Dotted, filtered and extension paths become nested SCIM attributes."""
    body = build_resource(Kind.USER, VALUES, Dialect.COMPLIANT)
    assert body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User", EXT]
    assert body["emails"] == [{"type": "work", "value": "ana@contoso.com", "primary": True}]
    assert body["name"] == {"givenName": "Ana"}
    assert body[EXT] == {"department": "Front Desk"}
    assert body["active"] is True
    assert body["meta"] == {"resourceType": "User"}


def test_values_read_back_from_the_document_they_built() -> None:
    """read_values inverts build_resource for every mapped path."""
    body = build_resource(Kind.USER, VALUES, Dialect.COMPLIANT)
    assert read_values(body, VALUES) == VALUES


def test_legacy_group_create_carries_the_microsoft_schema() -> None:
    """entra-legacy sends the ADSCIM Group URN; compliant does not."""
    legacy = build_resource(Kind.GROUP, {"displayName": "Hosts"}, Dialect.ENTRA_LEGACY)
    compliant = build_resource(Kind.GROUP, {"displayName": "Hosts"}, Dialect.COMPLIANT)
    assert len(legacy["schemas"]) == 2
    assert len(compliant["schemas"]) == 1


def test_update_operations_per_dialect() -> None:
    """Legacy: one capitalised op per attribute; compliant: filtered ops + one path-less replace."""
    changes = [
        ("title", "Receptionist", "Head"),
        (f"{EXT}:department", None, "Reception"),
        ('phoneNumbers[type eq "mobile"].value', "1", "2"),
    ]
    assert patch_operations(changes, Dialect.ENTRA_LEGACY) == [
        {"op": "Replace", "path": "title", "value": "Head"},
        {"op": "Add", "path": f"{EXT}:department", "value": "Reception"},
        {"op": "Replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "2"},
    ]
    assert patch_operations(changes, Dialect.COMPLIANT) == [
        {"op": "replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "2"},
        {"op": "replace", "value": {"title": "Head", f"{EXT}:department": "Reception"}},
    ]
    assert patch_operations([("nickName", None, "Babs")], Dialect.COMPLIANT) == [
        {"op": "add", "path": "nickName", "value": "Babs"}
    ]


def test_disable_and_member_removal_per_dialect() -> None:
    """The two shapes of a disable and of a member removal.

    docs/reference/entra-wire.md#dialect-disable
    docs/reference/entra-wire.md#dialect-remove-member
    """
    assert disable_operations(Dialect.ENTRA_LEGACY) == [
        {"op": "Replace", "path": "active", "value": "False"}
    ]
    assert disable_operations(Dialect.COMPLIANT) == [
        {"op": "replace", "path": "active", "value": False}
    ]
    assert member_operations([], ["u1"], Dialect.ENTRA_LEGACY) == [
        {"op": "Remove", "path": "members", "value": [{"value": "u1"}]}
    ]
    assert member_operations(["u2"], ["u1"], Dialect.COMPLIANT) == [
        {"op": "add", "path": "members", "value": [{"value": "u2"}]},
        {"op": "remove", "path": 'members[value eq "u1"]'},
    ]
