"""Host search (store/frontdesk/search.py): the index follows every write; search rules.

Every test runs on SQLite and, with ``HOSTSYNC_TEST_POSTGRES_URL``, on PostgreSQL.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from hostsync.frontdesk.names import fold, words_of
from hostsync.frontdesk.privacy import HostDetail, PrivacyMode
from hostsync.scim.extensions import DeclaredAttribute
from hostsync.scim.resources import normalize_resource
from hostsync.scim.schema import ENTERPRISE_USER_SCHEMA, USER_RESOURCE
from hostsync.store import console
from hostsync.store.activity.recording import RequestContext
from hostsync.store.database import Database
from hostsync.store.extensions import declare, tenant_registry
from hostsync.store.frontdesk import search
from hostsync.store.frontdesk.search import (
    AllHosts,
    AttributeHosts,
    GroupHosts,
    HostScope,
    search_hosts,
)
from hostsync.store.host_index import host_cards, host_names
from hostsync.store.tenants import create_tenant

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
EVERYONE = AllHosts()


def user(
    display: str | None,
    *,
    given: str | None = None,
    family: str | None = None,
    active: bool = True,
    user_name: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "userName": user_name
        or f"{fold(display or given or 'x').replace(' ', '.')}"
        f"{random.randrange(10**9)}@contoso.example",
        "active": active,
        "emails": [{"value": "secret.mail@contoso.example", "primary": True, "type": "work"}],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
        **extra,
    }
    if display is not None:
        body["displayName"] = display
    if given or family:
        body["name"] = {"givenName": given, "familyName": family}
    return normalize_resource(body, USER_RESOURCE)


class Directory:
    """One tenant's users, written through the store as the SCIM service writes them."""

    def __init__(self, database: Database, tenant_id: str) -> None:
        self.database = database
        self.tenant_id = tenant_id

    def create(self, display: str | None, **options: Any) -> str:
        with self.database.directory(self.tenant_id) as directory:
            return directory.create_user(user(display, **options)).id

    def change(self, user_id: str, **changes: Any) -> None:
        with self.database.directory(self.tenant_id) as directory:
            stored = directory.get_user(user_id)
            assert stored is not None
            document = dict(stored.document)
            for key, value in changes.items():
                if value is None:
                    document.pop(key, None)
                else:
                    document[key] = value
            directory.replace_user(user_id, document, version=stored.version)

    def delete(self, user_id: str) -> None:
        with self.database.directory(self.tenant_id) as directory:
            assert directory.delete_user(user_id)

    def group(self, name: str, members: list[str]) -> str:
        document = normalize_resource({"schemas": [GROUP_SCHEMA], "displayName": name}, _group())
        with self.database.directory(self.tenant_id) as directory:
            return directory.create_group(document, members).id

    def find(self, query: str, scope: HostScope = EVERYONE, **options: Any) -> list[str]:
        with self.database.connect(write=False) as connection:
            found = search_hosts(connection, self.tenant_id, query, scope=scope, **options)
        return [host.label for host in found]

    def found(self, query: str, scope: HostScope = EVERYONE, **options: Any) -> list[Any]:
        with self.database.connect(write=False) as connection:
            return search_hosts(connection, self.tenant_id, query, scope=scope, **options)

    def rows(self) -> tuple[int, int]:
        """The tenant's (cards, names) in the index."""
        with self.database.connect(write=False) as connection:
            cards = connection.execute(
                select(func.count())
                .select_from(host_cards)
                .where(host_cards.c.tenant_id == self.tenant_id)
            ).scalar_one()
            names = connection.execute(
                select(func.count())
                .select_from(host_names)
                .where(host_names.c.tenant_id == self.tenant_id)
            ).scalar_one()
        return int(cards), int(names)


def _group() -> Any:
    from hostsync.scim.schema import GROUP_RESOURCE

    return GROUP_RESOURCE


@pytest.fixture
def hosts(database: Database, tenant_id: str) -> Directory:
    return Directory(database, tenant_id)


@pytest.fixture
def other(database: Database) -> Directory:
    with database.connect(write=True) as connection:
        return Directory(database, create_tenant(connection, "Fabrikam").id)


# -- the index follows every write ----------------------------------------------------------
def test_create_patch_deactivate_reactivate_delete(hosts: Directory) -> None:
    jose = hosts.create("José Núñez", given="José", family="Núñez")
    assert hosts.find("jose") == ["José Núñez"]
    assert hosts.rows() == (1, 2)

    hosts.change(jose, displayName="Pepe Núñez")
    assert hosts.find("jose") == ["Pepe Núñez"]  # still his given name
    assert hosts.find("pep") == ["Pepe Núñez"]
    hosts.change(jose, displayName="Pedro Núñez", name={"givenName": "Pedro"})
    assert hosts.find("jose") == []
    assert hosts.find("pepe") == []
    assert hosts.find("pedro") == ["Pedro Núñez"]
    assert hosts.rows() == (1, 2)

    hosts.change(jose, title="CTO")  # a detail only: the card changes, the words stay
    assert [h.detail for h in hosts.found("pedro", detail=HostDetail.TITLE)] == ["CTO"]

    hosts.change(jose, active=False)
    assert hosts.find("pedro") == []
    assert hosts.rows() == (0, 0)
    hosts.change(jose, title="CEO")  # inactive stays out
    assert hosts.find("pedro") == []

    hosts.change(jose, active=True)
    assert hosts.find("pedro") == ["Pedro Núñez"]
    assert [h.detail for h in hosts.found("pedro", detail=HostDetail.TITLE)] == ["CEO"]

    hosts.delete(jose)
    assert hosts.find("pedro") == []
    assert hosts.rows() == (0, 0)


def test_a_user_without_a_name_is_not_indexed_until_it_has_one(hosts: Directory) -> None:
    nameless = hosts.create(None, user_name="jnameless@contoso.example")
    assert hosts.rows() == (0, 0)
    assert hosts.find("jnameless") == []
    hosts.change(nameless, displayName="Named Now")
    assert hosts.find("named") == ["Named Now"]
    hosts.change(nameless, displayName=None)
    assert hosts.rows() == (0, 0)


def test_a_user_created_inactive_is_not_found(hosts: Directory) -> None:
    hosts.create("Ingrid Bergman", active=False)
    assert hosts.find("ingrid") == []
    assert hosts.rows() == (0, 0)


def test_bulk_import_indexes_active_users_only(database: Database, hosts: Directory) -> None:
    documents = [user(f"Imported Person{i}", active=i % 3 != 0) for i in range(30)]
    with database.directory(hosts.tenant_id) as directory:
        directory.import_users(documents)
    assert hosts.rows() == (20, 40)
    assert len(hosts.find("imported", limit=50)) == 10
    assert hosts.find("person3") == []  # inactive
    assert hosts.find("imp person4") == ["Imported Person4"]


def test_purge_leaves_nothing(database: Database, hosts: Directory) -> None:
    gone = hosts.create("Purged Person")
    hosts.delete(gone)
    with database.connect(write=True) as connection:
        context = RequestContext("POST", "/admin/hosts", actor="admin")
        assert console.purge_host(connection, hosts.tenant_id, gone, context)
    assert hosts.rows() == (0, 0)


def test_a_rolled_back_write_leaves_the_index_as_it_was(
    database: Database, hosts: Directory
) -> None:
    kept = hosts.create("Kept Person")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), database.directory(hosts.tenant_id) as directory:
        directory.create_user(user("Phantom Person"))
        directory.delete_user(kept)
        raise Boom
    assert hosts.find("person") == ["Kept Person"]
    assert hosts.rows() == (1, 2)


async def test_the_scim_api_keeps_the_index(client: httpx.AsyncClient, hosts: Directory) -> None:
    """Entra's requests: POST, PATCH (name, then active "False" / "True"), DELETE."""
    body = {
        "schemas": [USER_SCHEMA],
        "userName": "zoe@contoso.example",
        "displayName": "Zoë Saldaña",
        "active": "True",
        "emails": [{"value": "zoe@contoso.example", "primary": True}],
    }
    created = await client.post("/Users", json=body)
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    assert hosts.find("zoe") == ["Zoë Saldaña"]

    def patch(path: str, value: Any) -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": path, "value": value}],
        }

    answer = await client.patch(f"/Users/{user_id}", json=patch("displayName", "Zoe Smith"))
    assert answer.status_code == 200, answer.text
    assert hosts.find("salda") == []
    assert hosts.find("zoe sm") == ["Zoe Smith"]
    answer = await client.patch(f"/Users/{user_id}", json=patch("active", "False"))
    assert answer.status_code == 200, answer.text
    assert hosts.find("zoe") == []
    answer = await client.patch(f"/Users/{user_id}", json=patch("active", "True"))
    assert answer.status_code == 200, answer.text
    assert hosts.find("zoe") == ["Zoe Smith"]
    assert (await client.delete(f"/Users/{user_id}")).status_code == 204
    assert hosts.find("zoe") == []


# -- search rules ---------------------------------------------------------------------------
def test_accents_case_and_any_word(hosts: Directory) -> None:
    hosts.create("José Núñez", given="José", family="Núñez")
    hosts.create("Siobhán O'Brien")
    hosts.create("Jean-Luc Ødegård")
    hosts.create("Łukasz Straße")
    assert hosts.find("JOSE") == hosts.find("josé") == hosts.find("nunez") == ["José Núñez"]
    assert hosts.find("NÚÑ") == ["José Núñez"]
    assert hosts.find("brien") == hosts.find("o'bri") == hosts.find("obr") == ["Siobhán O'Brien"]
    assert hosts.find("luc") == hosts.find("jeanl") == hosts.find("ode") == ["Jean-Luc Ødegård"]
    assert hosts.find("lukasz strass") == hosts.find("straß") == ["Łukasz Straße"]
    assert hosts.find("uñez") == []  # a prefix of a word, not any substring


def test_every_query_word_must_begin_some_word(hosts: Directory) -> None:
    hosts.create("Anna Maria Schmidt")
    hosts.create("Anna Weber")
    hosts.create("Maria Weber")
    assert sorted(hosts.find("anna")) == ["Anna Maria Schmidt", "Anna Weber"]
    assert hosts.find("ann mar") == hosts.find("mar ann") == ["Anna Maria Schmidt"]
    assert hosts.find("we ma") == ["Maria Weber"]
    assert hosts.find("anna weber schmidt") == []


def test_two_characters_at_least(hosts: Directory) -> None:
    hosts.create("Al Capone")
    assert hosts.find("a") == []
    assert hosts.find(" a. ") == []
    assert hosts.find("al") == ["Al Capone"]
    assert hosts.find("a c") == ["Al Capone"]


def test_ranking_exact_word_first_then_word_then_full_name(hosts: Directory) -> None:
    for display in ("Joanna Zed", "Jo Young", "John Adams", "Alice Jones", "John Abbott", "Jo Ann"):
        hosts.create(display)
    assert hosts.find("jo") == [
        "Jo Ann",
        "Jo Young",
        "Joanna Zed",
        "John Abbott",
        "John Adams",
        "Alice Jones",
    ]


def test_several_words_as_written_come_first(hosts: Directory) -> None:
    for display in ("Anna Weber", "Weber Anna", "Annabel Webster", "Anna Maria Weber"):
        hosts.create(display)
    # The full names that begin with the query, then the others by the rarer word's names.
    assert hosts.find("anna we") == [
        "Anna Weber",
        "Anna Maria Weber",
        "Weber Anna",
        "Annabel Webster",
    ]
    assert hosts.find("weber an") == ["Weber Anna", "Anna Maria Weber", "Anna Weber"]
    assert hosts.find("anna we", limit=1) == ["Anna Weber"]


def test_a_host_matching_by_two_words_is_listed_once(hosts: Directory) -> None:
    hosts.create("Jo Jones")
    hosts.create("Johanna Joplin")
    assert hosts.find("jo") == ["Jo Jones", "Johanna Joplin"]


def test_at_most_ten_results(hosts: Directory) -> None:
    for i in range(25):
        hosts.create(f"Karl Number{i:02d}")
    assert hosts.find("karl") == [f"Karl Number{i:02d}" for i in range(10)]
    assert len(hosts.find("karl", limit=3)) == 3
    assert len(hosts.find("karl", limit=500)) == 10


def test_never_found_by_or_showing_addresses_or_phones(hosts: Directory) -> None:
    hosts.create("Mallory Quiet", user_name="bob.sender@contoso.example")
    for query in ("bob", "sender", "contoso", "secret", "555", "0100"):
        assert hosts.find(query) == []
    (found,) = hosts.found("mallory", detail=HostDetail.DEPARTMENT)
    assert "@" not in repr(found)
    assert "555" not in repr(found)


def test_privacy_modes(hosts: Directory) -> None:
    hosts.create("José Núñez", given="José", family="Núñez", title="CTO")
    hosts.create("José Pérez", given="José", family="Pérez")
    assert hosts.find("jose", privacy=PrivacyMode.INITIAL) == ["José N.", "José P."]
    assert hosts.find("jose", privacy=PrivacyMode.EXACT) == []
    assert hosts.find("jose n", privacy=PrivacyMode.EXACT) == []
    assert hosts.find("JOSÉ   nuñez", privacy=PrivacyMode.EXACT) == ["José Núñez"]
    (found,) = hosts.found("jose nunez", privacy=PrivacyMode.EXACT, detail=HostDetail.TITLE)
    assert (found.label, found.detail) == ("José Núñez", "CTO")
    (found,) = hosts.found("nunez", privacy=PrivacyMode.INITIAL, detail=HostDetail.TITLE)
    assert (found.label, found.detail) == ("José N.", None)


# -- scopes ---------------------------------------------------------------------------------
def test_group_scope(hosts: Directory) -> None:
    paris = [hosts.create(f"Paris Host{i}") for i in range(3)]
    lyon = [hosts.create(f"Lyon Host{i}") for i in range(2)]
    hosts.create("Nowhere Host")
    paris_group = hosts.group("Paris", paris)
    lyon_group = hosts.group("Lyon", lyon)
    hosts.group("Empty", [])
    assert hosts.find("host", GroupHosts((paris_group,))) == [f"Paris Host{i}" for i in range(3)]
    both = hosts.find("host", GroupHosts((paris_group, lyon_group)))
    # By the word found ("host0" before "host1"), then by full name.
    assert both == ["Lyon Host0", "Paris Host0", "Lyon Host1", "Paris Host1", "Paris Host2"]
    assert hosts.find("host", GroupHosts(())) == []
    assert hosts.find("host", GroupHosts(("no-such-group",))) == []
    hosts.change(paris[0], active=False)
    assert hosts.find("host", GroupHosts((paris_group,))) == ["Paris Host1", "Paris Host2"]


@pytest.mark.parametrize("member_by_member", [True, False])
def test_group_scope_both_ways_agree(
    hosts: Directory, monkeypatch: pytest.MonkeyPatch, member_by_member: bool
) -> None:
    """Small groups are read member by member, big ones name by name: the same answers."""
    monkeypatch.setattr(search, "SCOPE_FIRST", 10**9 if member_by_member else -1)
    members = [hosts.create(display) for display in ("Jo Jones", "Joan Baez", "Ann Jolie")]
    hosts.create("Jo Outsider")
    group = hosts.group("Site", [*members, hosts.group("Nested", [])])
    scope = GroupHosts((group,))
    assert hosts.find("jo", scope) == ["Jo Jones", "Joan Baez", "Ann Jolie"]
    assert hosts.find("jo jon", scope) == ["Jo Jones"]
    assert hosts.find("jo jo", scope) == ["Jo Jones", "Joan Baez", "Ann Jolie"]
    assert hosts.find("jo", scope, limit=2) == ["Jo Jones", "Joan Baez"]
    assert hosts.find("joan baez", scope, privacy=PrivacyMode.EXACT) == ["Joan Baez"]
    assert hosts.find("joan", scope, privacy=PrivacyMode.EXACT) == []


def test_attribute_scope(hosts: Directory) -> None:
    enterprise = ENTERPRISE_USER_SCHEMA
    hosts.create("Anne Paris", **{enterprise: {"division": "Paris"}})
    hosts.create("Anne Lyon", **{enterprise: {"division": "Lyon"}})
    hosts.create(
        "Anne Work",
        addresses=[
            {"type": "home", "locality": "Lyon"},
            {"type": "work", "locality": "Paris"},
        ],
    )
    hosts.create("Anne Home", addresses=[{"type": "home", "locality": "Paris"}])
    division = AttributeHosts(f"{enterprise}:division", "paris")  # not caseExact
    assert hosts.find("anne", division) == ["Anne Paris"]
    locality = AttributeHosts('addresses[type eq "work"].locality', "Paris")
    assert hosts.find("anne", locality) == ["Anne Work"]
    assert hosts.find("anne", AttributeHosts("addresses.locality", "Lyon")) == ["Anne Work"]
    assert hosts.find("anne", AttributeHosts("title", "Paris")) == []


def test_attribute_scope_on_a_declared_extension(database: Database, hosts: Directory) -> None:
    """Entra's custom extension (``…:extension:<Name>:2.0:User:site``), once declared."""
    urn = "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User"
    with database.connect(write=True) as connection:
        declare(connection, hosts.tenant_id, urn, [DeclaredAttribute("site")])
        user_type = tenant_registry(connection, hosts.tenant_id)[1].users
    for city in ("Lyon", "Paris"):
        body = {
            "schemas": [USER_SCHEMA, urn],
            "userName": f"berta.{city}@contoso.example",
            "displayName": f"Berta {city}",
            urn: {"site": city},
        }
        with database.directory(hosts.tenant_id) as directory:
            directory.create_user(normalize_resource(body, user_type))
    assert hosts.find("berta", AttributeHosts(f"{urn}:site", "lyon")) == ["Berta Lyon"]


def test_another_tenants_hosts_are_never_found(hosts: Directory, other: Directory) -> None:
    mine = hosts.create("Shared Name")
    theirs = other.create("Shared Name")
    other.create("Only Theirs")
    group = other.group("Theirs", [theirs])
    assert [h.id for h in hosts.found("shared")] == [mine]
    assert hosts.find("only") == []
    assert hosts.find("shared", GroupHosts((group,))) == []  # their group id, my tenant
    assert [h.id for h in other.found("shared")] == [theirs]
    hosts.delete(mine)
    assert [h.id for h in other.found("shared")] == [theirs]


# -- bounded work ---------------------------------------------------------------------------
def test_a_search_reads_at_most_the_budget(
    hosts: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(40):
        hosts.create(f"Max Common{i:02d}")
    rare = hosts.create("Max Rare")
    hosts.create("Max Zulu")
    scope = GroupHosts((hosts.group("Rare", [rare]),))
    monkeypatch.setattr(search, "SCOPE_FIRST", -1)  # name by name
    monkeypatch.setattr(search, "FIRST_CHUNK", 4)
    monkeypatch.setattr(search, "NEXT_CHUNK", 8)
    assert hosts.find("max", scope) == ["Max Rare"]  # in chunks: 4 + 8 + 8 …
    monkeypatch.setattr(search, "SCAN_BUDGET", 20)
    assert hosts.find("max", scope) == []  # the first 20 names hold no member
    assert hosts.find("max ra", scope) == ["Max Rare"]  # the rarer word drives
    assert hosts.find("rare", scope) == ["Max Rare"]  # a longer word does
    monkeypatch.setattr(search, "SCOPE_FIRST", 10)
    assert hosts.find("max", scope) == ["Max Rare"]  # a small group: member by member


# -- a model: random names, random queries, the same answers as plain Python ---------------
GIVEN = ["José", "Jo", "Joanna", "Jean-Luc", "Zoë", "Ann", "Anna", "Łukasz", "Siân", "Max"]
FAMILY = ["Núñez", "O'Brien", "Jones", "Ødegård", "Anders", "Maxwell", "Joyce", "Straße"]


@pytest.fixture
def model(hosts: Directory) -> Iterator[tuple[Directory, dict[str, dict[str, Any]]]]:
    rng = random.Random(20)
    documents: dict[str, dict[str, Any]] = {}
    for _ in range(120):
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        active = rng.random() > 0.2
        user_id = hosts.create(f"{given} {family}", given=given, family=family, active=active)
        documents[user_id] = {"display": f"{given} {family}", "active": active, "given": given}
    yield hosts, documents


def _expected(documents: dict[str, dict[str, Any]], query: str) -> list[str]:
    words = fold(query).split()
    if sum(map(len, words)) < 2:
        return []
    indexed = {
        user_id: words_of({"displayName": entry["display"], "name": {"givenName": entry["given"]}})
        for user_id, entry in documents.items()
        if entry["active"]
    }
    names = [word for host_words in indexed.values() for word in host_words]
    # The driving word: the one that begins the fewest names (counted up to PROBES).
    counts = {q: min(search.PROBES[-1], sum(w.startswith(q) for w in names)) for q in words}
    driver = min(dict.fromkeys(words), key=lambda q: (counts[q], -len(q)))
    phrase = " ".join(words)
    ranked = []
    for user_id, host_words in indexed.items():
        entry = documents[user_id]
        if not all(any(w.startswith(q) for w in host_words) for q in words):
            continue
        full = fold(entry["display"])
        if len(words) > 1 and full.startswith(phrase):  # typed as written: first
            ranked.append(((0, "", full, user_id), user_id))
            continue
        matched = min(w for w in host_words if w.startswith(driver))
        ranked.append(((1, matched, full, user_id), user_id))
    return [user_id for _, user_id in sorted(ranked)[:10]]


def test_search_agrees_with_a_plain_model(
    model: tuple[Directory, dict[str, dict[str, Any]]],
) -> None:
    hosts, documents = model
    rng = random.Random(21)
    queries = ["jo", "an", "ma", "jean", "zo", "o'b", "ode", "str", "jo jo", "an ma", "luc o"]
    queries += ["jo n", "j no", "ma jo", "an ode", "zo st", "max an", "lu o"]
    queries += [fold(rng.choice(GIVEN))[:3] + " " + fold(rng.choice(FAMILY))[:2] for _ in range(8)]
    for query in queries:
        assert [h.id for h in hosts.found(query)] == _expected(documents, query), query


# -- the migration's backfill ---------------------------------------------------------------
def test_the_migration_indexes_the_active_named_users_it_finds(tmp_path: Any) -> None:
    """0810 on a database with users: cards and names for the active, named, live ones only."""
    from alembic import command

    from hostsync.store.migrate import alembic_config

    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config()
    documents = {
        "u1": (
            {"userName": "u1", "displayName": "José Núñez", "name": {"givenName": "José"}},
            1,
            None,
        ),
        "u2": ({"displayName": "Inactive Ingrid"}, 0, None),
        "u3": ({"displayName": "Deleted Dora"}, 1, "2026-01-02 00:00:00"),
        "u4": ({"userName": "nameless@contoso.example"}, 1, None),
        "u5": ({"displayName": "Zoë O'Brien"}, 1, None),
    }
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0800")
        connection.exec_driver_sql(
            "INSERT INTO tenants (id, name, created_at) VALUES ('t', 'T', '2026-01-01')"
        )
        for user_id, (document, active, deleted) in documents.items():
            connection.exec_driver_sql(
                "INSERT INTO users (id, tenant_id, user_name, user_name_folded, active, document,"
                " created_at, modified_at, version, deleted_at)"
                " VALUES (?, 't', ?, ?, ?, ?, '2026-01-01', '2026-01-01', 1, ?)",
                (user_id, user_id, user_id, active, orjson.dumps(document).decode(), deleted),
            )
    database.migrate()  # to head: 0810 fills the index
    hosts = Directory(database, "t")
    assert hosts.rows() == (2, 5)  # jose, nunez; zoe, obrien, brien
    assert [h.id for h in hosts.found("jose")] == ["u1"]
    assert [h.id for h in hosts.found("brien")] == ["u5"]
    assert hosts.find("ingrid") == hosts.find("dora") == hosts.find("nameless") == []
    hosts.change("u1", active=False)  # and the triggers keep it from then on
    assert hosts.rows() == (1, 3)
    database.dispose()
