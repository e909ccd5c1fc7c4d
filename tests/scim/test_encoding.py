"""List responses spliced from the stored JSON text are the documents render() gives, byte for
byte, and fall back to render() whenever the text cannot speak for the resource."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest

from hostsync.scim.discovery import Capabilities
from hostsync.scim.encoding import has_member, spliced
from hostsync.scim.ports import GroupRef, Member, Page, Stored
from hostsync.scim.projection import DEFAULT_PROJECTION, parse_projection
from hostsync.scim.query import build_list_query
from hostsync.scim.resources import ENTERPRISE_USER_SCHEMA
from hostsync.scim.schema import GROUP_RESOURCE, USER_RESOURCE
from hostsync.scim.service import ScimService

BASE = "https://hosts.example/v1/usersync/SCIM"
CREATED = datetime(2026, 11, 29, 6, 30, 1, 123456)
MODIFIED = datetime(2026, 11, 29, 7, 0, 0)
USERS: list[dict[str, Any]] = [
    {"userName": "ada@contoso.example", "active": True},
    {
        "externalId": "e-1",
        "userName": 'quote"d\\back@contoso.example',
        "active": False,
        "displayName": 'He said "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":',
        "emails": [{"type": "work", "value": "q@contoso.example", "primary": True}],
        ENTERPRISE_USER_SCHEMA: {"department": "Reception", "manager": {"value": "m1"}},
    },
    {"userName": "ünï@contoso.example", "name": {"givenName": "Ünï", "familyName": "日本"}},
]


def _stored(index: int, document: dict[str, Any], *, text: bool) -> Stored:
    json = orjson.dumps(document).decode() if text else None
    return Stored(
        f"id{index}", None if text else dict(document), CREATED, MODIFIED, index + 1, json=json
    )


class _Directory:
    """Just what user_documents/group_documents ask of a directory."""

    def groups_of(self, ids: list[str]) -> dict[str, list[GroupRef]]:
        return {"id1": [GroupRef("g1", 'Front "desk"'), GroupRef("g2", "Lobby")]}

    def members_of(self, ids: list[str]) -> dict[str, list[Member]]:
        return {ids[0]: [Member("id0", "User", "Ada")]}


@pytest.mark.parametrize(
    ("excluded", "attributes"),
    [([], []), (["groups"], []), (["title"], []), ([], ["userName"])],
)
def test_spliced_users_encode_exactly_as_rendered_users(
    excluded: list[str], attributes: list[str]
) -> None:
    service = ScimService(Capabilities())
    projection = parse_projection(attributes, excluded, USER_RESOURCE)
    from_text = [_stored(i, doc, text=True) for i, doc in enumerate(USERS)]
    from_dicts = [_stored(i, doc, text=False) for i, doc in enumerate(USERS)]
    directory: Any = _Directory()
    fast = service.user_documents(directory, from_text, BASE, projection, fragments=True)
    plain = service.user_documents(directory, from_dicts, BASE, projection)
    assert orjson.dumps(fast) == orjson.dumps(plain)
    assert all(isinstance(doc, dict) for doc in plain)
    spliceable = not attributes and set(excluded) <= {"groups"}
    assert all(isinstance(doc, orjson.Fragment) for doc in fast) is spliceable


def test_spliced_groups_encode_exactly_as_rendered_groups() -> None:
    service = ScimService(Capabilities())
    document = {"displayName": "Front desk", "externalId": "x"}
    directory: Any = _Directory()
    for projection in (DEFAULT_PROJECTION, parse_projection([], ["members"], GROUP_RESOURCE)):
        fast = service.group_documents(
            directory, [_stored(0, document, text=True)], BASE, projection, fragments=True
        )
        plain = service.group_documents(
            directory, [_stored(0, document, text=False)], BASE, projection
        )
        assert isinstance(fast[0], orjson.Fragment)
        assert orjson.dumps(fast) == orjson.dumps(plain)


def test_list_users_answers_with_fragments_that_decode_to_the_documents() -> None:
    service = ScimService(Capabilities())

    class Listing(_Directory):
        def list_users(self, selection: Any) -> Page:
            return Page(total=3, resources=[_stored(i, d, text=True) for i, d in enumerate(USERS)])

    query = build_list_query({}, USER_RESOURCE, max_results=100)
    result = service.list_users(Listing(), query, BASE)  # type: ignore[arg-type]
    body = orjson.loads(orjson.dumps(result.body))
    assert [r["userName"] for r in body["Resources"]] == [u["userName"] for u in USERS]
    assert body["Resources"][1]["schemas"] == [USER_RESOURCE.schema.id, ENTERPRISE_USER_SCHEMA]
    assert body["Resources"][0]["schemas"] == [USER_RESOURCE.schema.id]
    assert body["Resources"][1]["groups"][0]["display"] == 'Front "desk"'


def test_a_decoded_document_retires_the_text() -> None:
    stored = _stored(0, USERS[0], text=True)
    assert stored.json is not None
    stored.document["userName"] = "changed@contoso.example"  # its holder may change it
    assert stored.json is None  # so the text no longer speaks for it
    assert stored.document["userName"] == "changed@contoso.example"


def test_stored_needs_a_document_or_its_text() -> None:
    with pytest.raises(ValueError, match="needs its document"):
        Stored("x", None, CREATED, CREATED, 1)
    assert _stored(0, USERS[1], text=True) == _stored(0, USERS[1], text=False)


def test_splice_and_member_test_on_edge_texts() -> None:
    assert orjson.loads(orjson.dumps(spliced({"id": "a"}, " { } ", {"meta": {}}))) == {
        "id": "a",
        "meta": {},
    }
    assert orjson.loads(orjson.dumps(spliced({"id": "a"}, '{"b": 1}', {"c": 2}))) == {
        "id": "a",
        "b": 1,
        "c": 2,
    }
    urn = ENTERPRISE_USER_SCHEMA
    assert has_member(orjson.dumps({urn: {}}).decode(), urn)
    assert not has_member(orjson.dumps({"title": f'"{urn}":'}).decode(), urn)
