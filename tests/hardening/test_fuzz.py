"""Item 3: random filters, attribute paths, PATCH bodies and resources → 4xx SCIM errors only.

Every request goes through the whole app in process (auth, parsing, SQL on the backend under
test). Each example has a Hypothesis deadline, so a parse that runs away fails the test; the
parser is also timed directly on adversarial input. Filter values holding quotes, ``%``, ``_``,
``;--`` and backslashes must match literally.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostsync.config import Settings
from hostsync.scim.errors import ScimError
from hostsync.scim.filters import parse_filter, parse_patch_path
from hostsync.store.database import Database
from hostsync.web.app import create_app

from .conftest import (
    GROUP_SCHEMA,
    PATCH_OP,
    USER_SCHEMA,
    SyncClient,
    assert_scim_error,
    new_tenant,
)
from .fuzzstats import record

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
FUZZ = settings(
    max_examples=60,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=False,
)

KNOWN_PATHS = [
    "userName",
    "USERNAME",
    "displayName",
    "title",
    "externalId",
    "active",
    "id",
    "name",
    "name.givenName",
    "name.familyName",
    "emails",
    "emails.value",
    "emails.type",
    "emails.primary",
    'emails[type eq "work"]',
    'emails[type eq "work"].value',
    "phoneNumbers.value",
    "addresses.locality",
    'addresses[type eq "work"].streetAddress',
    "meta.created",
    "meta.lastModified",
    "meta.resourceType",
    "groups",
    "groups.value",
    "members",
    "members.value",
    'members[value eq "x"]',
    f"{USER_SCHEMA}:userName",
    f"{USER_SCHEMA}:name.givenName",
    f"{ENTERPRISE}:employeeNumber",
    f"{ENTERPRISE}:manager",
    f"{ENTERPRISE}:manager.value",
    ENTERPRISE,
    "nonexistent",
    "a.b.c",
    "urn:foo:bar",
    "emails[",
    "emails]",
    ".",
    "",
]
OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Co", "pr", "xx"]
NASTY = [
    '"',
    "'",
    "%",
    "_",
    ";--",
    "\\",
    "' OR 1=1 --",
    '") or 1=1 --',
    "\U0001d518",
    "ß",
    "İ",
    "\x7f",
]
# NUL is left out of the random strategies (PostgreSQL cannot store it, a known failure that
# test_nul_characters_are_refused_not_500 pins down) so that it does not mask other findings.
CHARS = st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")  # UTF-8-able


def _text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=CHARS, max_size=max_size)


TEXT = _text(40)

paths = st.one_of(st.sampled_from(KNOWN_PATHS), _text(30))
text_values = st.one_of(
    TEXT,
    st.sampled_from(NASTY),
    st.lists(st.sampled_from(NASTY), min_size=1, max_size=4).map("".join),
)
json_literals = st.one_of(
    text_values.map(lambda v: orjson.dumps(v).decode()),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["true", "false", "null", "True", "2015-10-10T14:38:21-07:00", "jyoung"]),
)


def _comparison(draw_path: str, op: str, value: str) -> str:
    return f"{draw_path} pr" if op == "pr" else f"{draw_path} {op} {value}"


atoms = st.builds(_comparison, paths, st.sampled_from(OPERATORS), json_literals)
filters_ = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"{a} and {b}", inner, inner),
        st.builds(lambda a, b: f"{a} or {b}", inner, inner),
        inner.map(lambda a: f"not ({a})"),
        inner.map(lambda a: f"({a})"),
        st.builds(lambda p, a: f"{p}[{a}]", st.sampled_from(["emails", "members", "x"]), inner),
    ),
    max_leaves=8,
)


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """A generated string with a few characters deleted, inserted or swapped."""
    text = draw(base)
    for _ in range(draw(st.integers(0, 3))):
        if not text:
            break
        at = draw(st.integers(0, len(text) - 1))
        action = draw(st.sampled_from(["drop", "insert", "dup"]))
        if action == "drop":
            text = text[:at] + text[at + 1 :]
        elif action == "insert":
            text = text[:at] + draw(st.sampled_from(list('()[]"\\ .:'))) + text[at:]
        else:
            text = text[:at] + text[at:] * 2
    return text


any_filter = st.one_of(filters_, mutated(filters_), _text(80))

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63),
        st.floats(allow_nan=False, allow_infinity=False),
        text_values,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KNOWN_PATHS), _text(10)), inner, max_size=4),
    ),
    max_leaves=12,
)

patch_ops = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "replace", "remove", "Add", "Replace", "Remove", "move", ""])},
    optional={
        "path": st.one_of(paths, mutated(st.sampled_from(KNOWN_PATHS))),
        "value": json_values,
    },
)
patch_bodies = st.one_of(
    st.fixed_dictionaries(
        {"schemas": st.just([PATCH_OP]), "Operations": st.lists(patch_ops, max_size=4)}
    ),
    st.fixed_dictionaries({"schemas": st.lists(_text(20), max_size=2), "Operations": json_values}),
    json_values,
)
user_bodies = st.one_of(
    st.fixed_dictionaries(
        {"schemas": st.just([USER_SCHEMA]), "userName": text_values},
        optional={
            "name": json_values,
            "emails": json_values,
            "active": json_values,
            "externalId": json_values,
            "title": json_values,
            "phoneNumbers": json_values,
            ENTERPRISE: json_values,
            "password": text_values,
            "id": json_values,
            "meta": json_values,
        },
    ),
    json_values,
)
group_bodies = st.one_of(
    st.fixed_dictionaries(
        {"schemas": st.just([GROUP_SCHEMA]), "displayName": text_values},
        optional={"members": json_values, "externalId": json_values},
    ),
    json_values,
)


def check(response: Any) -> None:
    """Never a 5xx; every error is a SCIM error body."""
    record(response.status_code)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_scim_error(response)


class Fuzzed:
    def __init__(self, client: SyncClient, user_id: str, group_id: str) -> None:
        self.client = client
        self.user_id = user_id
        self.group_id = group_id
        self.counter = itertools.count()


@pytest.fixture
def fuzzed(database: Database) -> Iterator[Fuzzed]:
    """A tenant with a few users and a group, and a synchronous client of the app."""
    app = create_app(Settings(key_cache_seconds=60, rate_limit="none"), database)
    _, key = new_tenant(database, "Fuzz")
    client = SyncClient(app, key)
    try:
        ids = []
        for i, name in enumerate(["alice", "Bob%", 'quote"d', "semi;--colon"]):
            body = {
                "schemas": [USER_SCHEMA, ENTERPRISE],
                "userName": name,
                "externalId": f"ext-{i}",
                "title": name,
                "name": {"givenName": name, "familyName": "F"},
                "emails": [{"value": f"{i}@example.com", "type": "work", "primary": True}],
                ENTERPRISE: {"employeeNumber": str(i)},
            }
            created = client.post("Users", json=body)
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        group = client.post(
            "Groups",
            json={"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": ids[0]}]},
        )
        assert group.status_code == 201, group.text
        yield Fuzzed(client, ids[0], group.json()["id"])
    finally:
        client.close()


@FUZZ
@given(filter_=any_filter, resource=st.sampled_from(["Users", "Groups"]))
def test_random_filters_never_5xx(fuzzed: Fuzzed, filter_: str, resource: str) -> None:
    """GET ?filter= and POST /.search with random filters: 200 or a 4xx SCIM error."""
    check(fuzzed.client.get(resource, params={"filter": filter_}))
    check(fuzzed.client.post(f"{resource}/.search", json={"filter": filter_, "count": 5}))


@FUZZ
@given(
    attributes=paths,
    excluded=paths,
    sort_by=paths,
    start=st.one_of(st.integers(-5, 10**12), _text(5)),
    count=st.one_of(st.integers(-5, 10**12), _text(5)),
    resource=st.sampled_from(["Users", "Groups"]),
)
def test_random_list_parameters_never_5xx(
    fuzzed: Fuzzed,
    attributes: str,
    excluded: str,
    sort_by: str,
    start: Any,
    count: Any,
    resource: str,
) -> None:
    """attributes, excludedAttributes, sortBy, startIndex and count with random values."""
    check(
        fuzzed.client.get(
            resource,
            params={
                "attributes": attributes,
                "sortBy": sort_by,
                "startIndex": str(start),
                "count": str(count),
            },
        )
    )
    check(fuzzed.client.get(resource, params={"excludedAttributes": excluded, "sortOrder": "x"}))
    target = fuzzed.user_id if resource == "Users" else fuzzed.group_id
    check(fuzzed.client.get(f"{resource}/{target}", params={"attributes": attributes}))


@FUZZ
@given(body=patch_bodies)
def test_random_user_patches_never_5xx(fuzzed: Fuzzed, body: Any) -> None:
    """PATCH /Users/{id} with random PatchOps (and random JSON)."""
    check(fuzzed.client.patch(f"Users/{fuzzed.user_id}", json=body))


@FUZZ
@given(body=patch_bodies)
def test_random_group_patches_never_5xx(fuzzed: Fuzzed, body: Any) -> None:
    """PATCH /Groups/{id} with random PatchOps (and random JSON)."""
    check(fuzzed.client.patch(f"Groups/{fuzzed.group_id}", json=body))


@FUZZ
@given(body=user_bodies, group=group_bodies)
def test_random_resources_never_5xx(fuzzed: Fuzzed, body: Any, group: Any) -> None:
    """POST and PUT of random users and groups."""
    created = fuzzed.client.post("Users", json=body)
    check(created)
    if created.status_code == 201:
        check(fuzzed.client.put(f"Users/{created.json()['id']}", json=body))
        check(fuzzed.client.delete(f"Users/{created.json()['id']}"))
    check(fuzzed.client.post("Groups", json=group))
    check(fuzzed.client.put(f"Groups/{fuzzed.group_id}", json=group))


@FUZZ
@given(
    raw=st.one_of(st.binary(max_size=200), _text(200).map(str.encode)),
    content_type=st.sampled_from(["application/scim+json", "application/json", "text/plain", ""]),
    method=st.sampled_from(["POST", "PUT", "PATCH"]),
)
def test_random_raw_bodies_never_5xx(
    fuzzed: Fuzzed, raw: bytes, content_type: str, method: str
) -> None:
    """Arbitrary bytes as a body: 400 invalidSyntax, 415, or a result; never a 5xx."""
    path = "Users" if method == "POST" else f"Users/{fuzzed.user_id}"
    headers = {"Content-Type": content_type} if content_type else {}
    check(fuzzed.client.request(method, path, content=raw, headers=headers))


@settings(max_examples=300, deadline=timedelta(seconds=1))  # runaway: seconds; a stall: less
@given(text=st.one_of(any_filter, _text(4200)))
def test_filter_and_path_parsers_are_bounded(text: str) -> None:
    """The parsers raise ScimError or return, within the deadline, for any input."""
    for parser in (parse_filter, parse_patch_path):
        with contextlib.suppress(ScimError):
            parser(text)


@pytest.mark.parametrize(
    "text",
    [
        "(" * 10_000,
        "not (" * 5_000,
        "(" * 2_000 + 'userName eq "x"' + ")" * 2_000,
        " and ".join(['userName eq "x"'] * 200),
        " or ".join(['userName eq "x"'] * 200),
        'userName eq "' + "\\" * 4000,
        "emails[" * 1_000,
        "x" * 100_000,
        '"' * 4000,
    ],
)
def test_adversarial_filters_fail_fast(text: str) -> None:
    """Deep nesting, long chains and huge input are refused (or parsed) in well under 0.5 s."""
    for parser in (parse_filter, parse_patch_path):
        started = time.perf_counter()
        with contextlib.suppress(ScimError):
            parser(text)
        assert time.perf_counter() - started < 0.5


LITERAL = st.text(
    alphabet=st.sampled_from(list("aB%_\"';-\\*[]()?.^$ xyzß")), min_size=1, max_size=12
)


@settings(
    max_examples=40,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(value=LITERAL)
def test_filter_values_match_literally(fuzzed: Fuzzed, value: str) -> None:
    """Quotes, %, _, ;-- and backslashes in filter values are data, never syntax or SQL."""
    n = next(fuzzed.counter)
    user_name, external_id = f"{value}~{n}", f"{n}:{value}"
    created = fuzzed.client.post(
        "Users", json={"schemas": [USER_SCHEMA], "userName": user_name, "externalId": external_id}
    )
    check(created)
    assert created.status_code == 201, created.text
    listed = fuzzed.client.get(
        "Users", params={"count": "1000", "attributes": "userName,externalId"}
    )
    everyone = [(r["userName"], r.get("externalId")) for r in listed.json()["Resources"]]
    literal = orjson.dumps(value).decode()
    folded = value.casefold()
    cases = {
        f"userName sw {literal}": {u for u, _ in everyone if u.casefold().startswith(folded)},
        f"userName co {literal}": {u for u, _ in everyone if folded in u.casefold()},
        f"externalId ew {orjson.dumps(':' + value).decode()}": {
            u for u, e in everyone if e is not None and e.endswith(":" + value)
        },
        f"externalId eq {orjson.dumps(external_id).decode()}": {user_name},
    }
    for filter_, expected in cases.items():
        response = fuzzed.client.get("Users", params={"filter": filter_, "count": "1000"})
        check(response)
        assert response.status_code == 200, (filter_, response.text)
        found = {r["userName"] for r in response.json()["Resources"]}
        assert found == expected, filter_


@pytest.mark.parametrize(
    ("method", "where", "body_or_filter"),
    [
        ("POST", "Users", {"schemas": [USER_SCHEMA], "userName": "nul\x00user"}),
        ("POST", "Users", {"schemas": [USER_SCHEMA], "userName": "ok-nul", "title": "a\x00b"}),
        ("POST", "Groups", {"schemas": [GROUP_SCHEMA], "displayName": "nul\x00group"}),
        (
            "PATCH",
            "user",
            {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "title", "value": "\x00"}],
            },
        ),
        ("GET", "Users", 'userName eq "a\\u0000b"'),
        ("GET", "Users", 'title co "\\u0000"'),
    ],
)
def test_nul_characters_are_refused_not_500(
    fuzzed: Fuzzed, method: str, where: str, body_or_filter: Any
) -> None:
    """U+0000 in a value or filter is a 400 (PostgreSQL cannot store it), never a 500."""
    if method == "GET":
        response = fuzzed.client.get(where, params={"filter": body_or_filter})
    elif where == "user":
        response = fuzzed.client.patch(f"Users/{fuzzed.user_id}", json=body_or_filter)
    else:
        response = fuzzed.client.post(where, json=body_or_filter)
    check(response)
