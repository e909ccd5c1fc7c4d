"""List responses spliced from the stored JSON text are the documents render() gives, byte for
byte, and fall back to render() whenever the text cannot speak for the resource."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostsync.scim.discovery import Capabilities
from hostsync.scim.encoding import SplicedPage, has_member, spliced
from hostsync.scim.encoding import wire_time as timestamp
from hostsync.scim.ports import GroupRef, Member, Page, Stored
from hostsync.scim.projection import DEFAULT_PROJECTION, parse_projection
from hostsync.scim.query import build_list_query
from hostsync.scim.schema import ENTERPRISE_USER_SCHEMA, GROUP_RESOURCE, USER_RESOURCE
from hostsync.scim.service import ScimService
from hostsync.scim.versions import etag

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
        # g2 on two users: a page encodes its item once and gives it to both.
        lobby = GroupRef("g2", "Lobby")
        return {"id0": [lobby], "id1": [GroupRef("g1", 'Front "desk"'), lobby]}

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


_names = st.sampled_from(["userName", "title", "urn:x:ext", ENTERPRISE_USER_SCHEMA, 'a"b'])
_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(_names, inner, max_size=2),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(
    resource_id=st.one_of(
        st.from_regex(r"[0-9a-f]{32}", fullmatch=True), st.text(min_size=1, max_size=6)
    ),
    document=st.dictionaries(_names, _values, max_size=4),
    spaced=st.sampled_from(["", "outside", "inside"]),
    extra=st.none()
    | st.just({})
    | st.fixed_dictionaries({"groups": st.lists(st.fixed_dictionaries({"value": st.text()}))}),
    version=st.integers(0, 2**53),
    prefix=st.text(max_size=12),
    moments=st.tuples(
        st.datetimes(min_value=datetime(1, 1, 1)), st.datetimes(min_value=datetime(1, 1, 1))
    ),
)
def test_a_spliced_page_gives_the_bytes_of_the_generic_splice(
    resource_id: str,
    document: dict[str, Any],
    spaced: str,
    extra: dict[str, Any] | None,
    version: int,
    prefix: str,
    moments: tuple[datetime, datetime],
) -> None:
    """Any id (plain or not), document, computed member, version and location prefix."""
    text = orjson.dumps(document).decode()
    if spaced == "outside":
        text = f"  {text} "
    elif spaced == "inside":
        text = "{ " + text[1:-1] + "\n}"
    extensions = [ENTERPRISE_USER_SCHEMA, "urn:x:ext"]
    page = SplicedPage("urn:core", extensions, "User", prefix)
    created, modified = (timestamp(moment) for moment in moments)
    fast = page.resource(resource_id, text, created, modified, version, extra)
    schemas = ["urn:core", *(name for name in extensions if has_member(text, name))]
    tail: dict[str, Any] = dict(extra) if extra else {}
    tail["meta"] = {
        "resourceType": "User",
        "created": created,
        "lastModified": modified,
        "location": f"{prefix}{resource_id}",
        "version": etag(version),
    }
    generic = spliced({"schemas": schemas, "id": resource_id}, text, tail)
    assert orjson.dumps(fast) == orjson.dumps(generic)
    assert orjson.loads(orjson.dumps(fast))["meta"]["location"] == f"{prefix}{resource_id}"


_moment_texts = st.datetimes(
    min_value=datetime(1, 1, 1)
).flatmap(
    lambda moment: st.sampled_from(
        [
            moment,  # a datetime (PostgreSQL's driver)
            moment.isoformat(" ", "microseconds"),  # SQLite's text, as the store keeps it
            moment.isoformat("T", "microseconds"),
            moment.isoformat(" ", "seconds"),
            moment.isoformat(" ", "microseconds")[:25],  # not the store's: the general path
        ]
    )
)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(
                st.from_regex(r"[0-9a-f]{32}", fullmatch=True), st.text(min_size=1, max_size=6)
            ),
            st.dictionaries(_names, _values, max_size=4),
            st.sampled_from(["", "outside", "inside"]),
            _moment_texts,
            _moment_texts,
            st.integers(0, 2**53),
            st.one_of(st.none(), st.just('"groups":[{"value":"g\\"1"}]')),
        ),
        max_size=5,
        unique_by=lambda row: row[0],  # one page, one resource an id
    ),
    single=st.booleans(),
)
def test_a_page_of_stored_resources_gives_each_ones_encoding(
    rows: list[tuple[str, dict[str, Any], str, Any, Any, int, str | None]], single: bool
) -> None:
    """SplicedPage.stored (a page's loop, the common case inlined) == encoded, one by one."""
    extensions = [ENTERPRISE_USER_SCHEMA] if single else [ENTERPRISE_USER_SCHEMA, "urn:x:ext"]
    page = SplicedPage("urn:core", extensions, "User", "https://h.example/Users/")
    resources, members, expected = [], {}, []
    for resource_id, document, spaced, created, modified, version, computed in rows:
        text = orjson.dumps(document).decode()
        if spaced == "outside":
            text = f" {text}\n"
        elif spaced == "inside":
            text = "{ " + text[1:-1] + " }"
        resources.append(Stored(resource_id, None, created, modified, version, json=text))
        if computed:
            members[resource_id] = computed
        times = timestamp(created), timestamp(modified)
        expected.append(
            page.encoded(resource_id, text, *times, version, members.get(resource_id, ""))
        )
    handed_out = Stored("h", {"userName": "x"}, CREATED, CREATED, 1)  # no text: None
    got = page.stored([*resources, handed_out], members)
    assert got[-1] is None
    assert [orjson.dumps(fragment) for fragment in got[:-1]] == [
        orjson.dumps(fragment) for fragment in expected
    ]
