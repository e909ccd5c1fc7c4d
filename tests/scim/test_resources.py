"""Bodies → canonical documents: a key's place is found once, and the same on every body."""

from __future__ import annotations

from typing import Any

from hostsync.scim import resources
from hostsync.scim.resources import normalize_resource
from hostsync.scim.schema import ENTERPRISE_USER_SCHEMA, GROUP_RESOURCE, USER_RESOURCE

ENTRA_BODY: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER_SCHEMA],
    "ExternalId": "e-1",
    "userName": "ada@contoso.example",
    "active": "True",
    "name": {"GivenName": "Ada", "familyName": "L"},
    "emails": [{"primary": "true", "type": "work", "value": "ada@contoso.example"}],
    "id": "ignored",
    ENTERPRISE_USER_SCHEMA: {"department": "Reception", "manager": "m-1"},
    f"{ENTERPRISE_USER_SCHEMA}:costCenter": "42",
    "unknownAttribute": "ignored",
}
EXPECTED = {
    "externalId": "e-1",
    "userName": "ada@contoso.example",
    "active": True,
    "name": {"givenName": "Ada", "familyName": "L"},
    "emails": [{"primary": True, "type": "work", "value": "ada@contoso.example"}],
    ENTERPRISE_USER_SCHEMA: {
        "department": "Reception",
        "manager": {"value": "m-1"},
        "costCenter": "42",
    },
}


def test_a_body_normalizes_the_same_the_first_time_and_after() -> None:
    resources._PLACES.clear()
    assert normalize_resource(ENTRA_BODY, USER_RESOURCE) == EXPECTED  # places found
    assert normalize_resource(ENTRA_BODY, USER_RESOURCE) == EXPECTED  # places kept
    # The same key means other things on another resource type: kept apart.
    group = normalize_resource(
        {"displayName": "Lobby", "members": [{"value": "x"}]}, GROUP_RESOURCE
    )
    user = normalize_resource({"displayName": "Lobby", "members": [{"value": "x"}]}, USER_RESOURCE)
    assert group == user == {"displayName": "Lobby"}


def test_clients_keys_do_not_fill_the_memory() -> None:
    resources._PLACES.clear()
    for number in range(resources._PLACES_KEPT + 100):
        assert normalize_resource({f"k{number}": 1, "userName": "a"}, USER_RESOURCE) == {
            "userName": "a"
        }
    long_key = "u" * 300
    assert normalize_resource({long_key: "x"}, USER_RESOURCE) == {}
    (_, places), *_ = resources._PLACES.values()
    assert len(places) == resources._PLACES_KEPT
    assert long_key not in places
