"""Declared extensions in the store: their rows, and filters on their attributes.

Run on SQLite, and on PostgreSQL when ``HOSTSYNC_TEST_POSTGRES_URL`` is set (the
``database`` fixture): a filter on a declared attribute compiles to the dialect's JSON
path, as the enterprise extension's does, and never reads another tenant's rows.
"""

from __future__ import annotations

from typing import Any

import pytest

from hostsync.scim.errors import InvalidFilterError
from hostsync.scim.extensions import (
    Declaration,
    DeclarationError,
    DeclaredAttribute,
    registry_for,
)
from hostsync.scim.query import build_list_query
from hostsync.scim.schema import USER_RESOURCE, AttrType, ResourceType
from hostsync.store.database import Database
from hostsync.store.extensions import (
    declarations,
    declare,
    remove_declaration,
    tenant_registry,
)
from hostsync.store.tenants import TenantError, authenticate, create_key, create_tenant

VISITLY = "urn:ietf:params:scim:schemas:extension:Visitly:2.0:User"
OTHER = "urn:ietf:params:scim:schemas:extension:Other:2.0:User"
ATTRIBUTES = [
    DeclaredAttribute("site"),
    DeclaredAttribute("code", case_exact=True),
    DeclaredAttribute("floor", AttrType.INTEGER),
    DeclaredAttribute("weight", AttrType.DECIMAL),
    DeclaredAttribute("badge", AttrType.BOOLEAN),
    DeclaredAttribute("since", AttrType.DATETIME),
]


def _tenant(database: Database, name: str) -> str:
    with database.connect(write=True) as connection:
        return create_tenant(connection, name).id


def _version(database: Database, tenant_id: str) -> int:
    with database.connect(write=False) as connection:
        return tenant_registry(connection, tenant_id)[0]


def test_declarations_are_kept_per_tenant_and_bump_the_version(database: Database) -> None:
    a, b = _tenant(database, "A"), _tenant(database, "B")
    with database.connect(write=True) as connection:
        key = create_key(connection, a, "k")[1]
    assert _version(database, a) == 0
    with database.connect(write=True) as connection:
        declare(connection, a, VISITLY.lower(), ATTRIBUTES[:1], "Sites")
        declare(connection, a, VISITLY, ATTRIBUTES[1:3])
        declare(connection, a, OTHER, [DeclaredAttribute("x")])
    assert _version(database, a) == 3
    with database.connect(write=False) as connection:
        found = declarations(connection, a)
        credential = authenticate(connection, key)
        version, registry = tenant_registry(connection, a)
    assert [d.urn for d in found] == [VISITLY.replace("Visitly", "visitly"), OTHER]
    assert [a.name for a in found[0].attributes] == ["site", "code", "floor"]
    assert found[0].attributes[1].case_exact and found[0].description == "Sites"
    assert credential is not None and credential.extensions_version == 3
    assert [s.id for s in registry.declared] == [d.urn for d in found]
    assert version == 3
    with database.connect(write=False) as connection:
        assert declarations(connection, b) == []
        assert tenant_registry(connection, b)[1].users is USER_RESOURCE


def test_refused_declarations_write_nothing(database: Database) -> None:
    tenant = _tenant(database, "Refused")
    with database.connect(write=True) as connection:
        declare(connection, tenant, VISITLY, ATTRIBUTES[:1])
    for urn, attributes in (
        (VISITLY, [DeclaredAttribute("SITE")]),
        (VISITLY, [DeclaredAttribute("ok"), DeclaredAttribute("1bad")]),
        ("urn:nope", [DeclaredAttribute("x")]),
    ):
        with pytest.raises(DeclarationError), database.connect(write=True) as connection:
            declare(connection, tenant, urn, attributes)
    with pytest.raises(TenantError), database.connect(write=True) as connection:
        declare(connection, "no-such-tenant", VISITLY, ATTRIBUTES[:1])
    with pytest.raises(DeclarationError), database.connect(write=True) as connection:
        remove_declaration(connection, tenant, OTHER)
    with database.connect(write=False) as connection:
        (kept,) = declarations(connection, tenant)
    assert [a.name for a in kept.attributes] == ["site"]
    assert _version(database, tenant) == 1


def test_removal_ends_the_declaration_of_one_tenant_only(database: Database) -> None:
    a, b = _tenant(database, "A"), _tenant(database, "B")
    with database.connect(write=True) as connection:
        declare(connection, a, VISITLY, ATTRIBUTES[:1])
        declare(connection, b, VISITLY, ATTRIBUTES[:2])
    with pytest.raises(DeclarationError), database.connect(write=True) as connection:
        remove_declaration(connection, a, "urn:nope")
    with database.connect(write=True) as connection:
        removed = remove_declaration(connection, a, VISITLY.upper())
    assert removed.urn == VISITLY and [x.name for x in removed.attributes] == ["site"]
    with database.connect(write=False) as connection:
        assert declarations(connection, a) == []
        assert [len(d.attributes) for d in declarations(connection, b)] == [2]
    assert _version(database, a) == 2


# -- filters -------------------------------------------------------------------------------
USERS: ResourceType = registry_for([Declaration(VISITLY, tuple(ATTRIBUTES))]).users
PEOPLE: dict[str, dict[str, Any]] = {
    "p1": {
        "site": "Paris",
        "code": "AB",
        "floor": 1,
        "weight": 1.5,
        "badge": True,
        "since": "2026-01-01T00:00:00Z",
    },
    "p2": {
        "site": "paris",
        "code": "ab",
        "floor": 10,
        "weight": 2.25,
        "badge": False,
        "since": "2026-06-01T00:00:00Z",
    },
    "p3": {"site": "Lyon", "floor": 9},
    "p4": {"floor": "not a number", "site": ""},
    "p5": {},
}


@pytest.fixture
def filled(database: Database) -> tuple[Database, str, str]:
    """Two tenants with the same users (the other tenant's are prefixed ``other-``)."""
    mine, other = _tenant(database, "Mine"), _tenant(database, "Other")
    for tenant, prefix in ((mine, ""), (other, "other-")):
        with database.directory(tenant) as directory:
            for name, values in PEOPLE.items():
                document: dict[str, Any] = {"userName": prefix + name, "active": True}
                if values:
                    document[VISITLY] = values
                directory.create_user(document)
    return database, mine, other


def _names(filled: tuple[Database, str, str], params: dict[str, str]) -> list[str]:
    database, mine, _ = filled
    query = build_list_query(params, USERS, max_results=100)
    with database.directory(mine, write=False) as directory:
        page = directory.list_users(query.selection)
    return [str(stored.document["userName"]) for stored in page.resources]


@pytest.mark.parametrize(
    ("scim_filter", "expected"),
    [
        (f'{VISITLY}:site eq "PARIS"', ["p1", "p2"]),
        (f'{VISITLY}:site ne "paris"', ["p3", "p4", "p5"]),
        (f'{VISITLY}:code eq "AB"', ["p1"]),
        (f'{VISITLY}:site co "YO"', ["p3"]),
        (f"{VISITLY}:floor gt 1", ["p2", "p3"]),
        (f"{VISITLY}:floor le 9", ["p1", "p3"]),
        (f"{VISITLY}:floor eq 10", ["p2"]),
        (f"{VISITLY}:weight ge 2", ["p2"]),
        (f"{VISITLY}:badge eq true", ["p1"]),
        (f"{VISITLY}:badge eq false", ["p2"]),
        (f'{VISITLY}:since gt "2026-03-01T00:00:00Z"', ["p2"]),
        (f"{VISITLY}:site pr", ["p1", "p2", "p3"]),
        (f"not ({VISITLY}:floor pr)", ["p5"]),
        (f'{VISITLY}:site eq "Lyon" or {VISITLY}:code eq "ab"', ["p2", "p3"]),
        (f'userName sw "p" and {VISITLY}:floor lt 5', ["p1"]),
    ],
)
def test_filters_on_declared_attributes(
    filled: tuple[Database, str, str], scim_filter: str, expected: list[str]
) -> None:
    """Each filter finds exactly the tenant's matching users (a stored value that is not a
    number, kept from before its attribute was declared numeric, matches no number)."""
    assert _names(filled, {"filter": scim_filter}) == expected


def test_sorting_by_a_declared_number_orders_numerically(
    filled: tuple[Database, str, str],
) -> None:
    names = _names(filled, {"filter": f"{VISITLY}:site pr", "sortBy": f"{VISITLY}:floor"})
    assert names == ["p1", "p3", "p2"]
    names = _names(
        filled,
        {"filter": f"{VISITLY}:site pr", "sortBy": f"{VISITLY}:site", "sortOrder": "descending"},
    )
    assert names == ["p2", "p1", "p3"]  # case-insensitive; ties newest first


def test_a_number_filter_needs_a_number(filled: tuple[Database, str, str]) -> None:
    with pytest.raises(InvalidFilterError):
        _names(filled, {"filter": f'{VISITLY}:floor gt "1"'})
    with pytest.raises(InvalidFilterError):
        _names(filled, {"filter": f"{VISITLY}:floor co 1"})
