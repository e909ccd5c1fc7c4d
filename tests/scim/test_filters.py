"""The filter and PATCH-path grammar (RFC 7644 §3.4.2.2, §3.5.2)."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostsync.scim.errors import InvalidFilterError, InvalidPathError, ScimError
from hostsync.scim.filters import (
    MAX_DEPTH,
    And,
    Compare,
    CompareOp,
    Not,
    Or,
    PatchPath,
    Present,
    ValuePath,
    _Parser,
    _simple_equality,
    parse_filter,
    parse_patch_path,
)
from hostsync.scim.paths import AttrPath

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def cmp(
    attr: str, op: str, value: object, sub: str | None = None, uri: str | None = None
) -> Compare:
    return Compare(AttrPath(uri, attr, sub), CompareOp(op), value)  # type: ignore[arg-type]


def test_rfc_examples_parse() -> None:
    """RFC 7644 §3.4.2.2 examples parse into the expected trees."""
    assert parse_filter('userName Eq "john"') == cmp("userName", "eq", "john")
    assert parse_filter('name.familyName co "O\'Malley"') == cmp(
        "name", "co", "O'Malley", "familyName"
    )
    assert parse_filter("title pr") == Present(AttrPath(None, "title"))
    assert parse_filter('meta.lastModified gt "2011-05-13T04:42:34Z"') == cmp(
        "meta", "gt", "2011-05-13T04:42:34Z", "lastModified"
    )


def test_precedence_not_and_or() -> None:
    """``and`` binds tighter than ``or``; parentheses and ``not`` group."""
    tree = parse_filter("a eq 1 or b eq 2 and not (c pr)")
    assert tree == Or(cmp("a", "eq", 1), And(cmp("b", "eq", 2), Not(Present(AttrPath(None, "c")))))
    grouped = parse_filter("(a eq 1 or b eq 2) and c eq 3")
    assert grouped == And(Or(cmp("a", "eq", 1), cmp("b", "eq", 2)), cmp("c", "eq", 3))


def test_value_path_and_entra_trailing_comparison() -> None:
    """``emails[type eq "work"].value eq "x"`` is one value path with both conditions."""
    tree = parse_filter('emails[type eq "work"].value eq "x@y"')
    assert tree == ValuePath(
        AttrPath(None, "emails"), And(cmp("type", "eq", "work"), cmp("value", "eq", "x@y"))
    )


def test_literals() -> None:
    """true/false/null/numbers and JSON string escapes; bare tokens are strings.

    docs/reference/entra-wire.md#wire-filter-unquoted
    """
    assert parse_filter("active eq TRUE") == cmp("active", "eq", True)
    assert parse_filter("x eq null") == cmp("x", "eq", None)
    assert parse_filter("x gt 1.5") == cmp("x", "gt", 1.5)
    assert parse_filter('x eq "a\\"b"') == cmp("x", "eq", 'a"b')
    assert parse_filter("externalId eq jyoung") == cmp("externalId", "eq", "jyoung")


def test_extension_urn_path() -> None:
    """A fully qualified extension attribute keeps its URN."""
    tree = parse_filter(f'{ENTERPRISE}:manager.value eq "m1"')
    assert tree == cmp("manager", "eq", "m1", "value", ENTERPRISE)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "userName",
        "userName eq",
        'userName zz "x"',
        '(userName eq "x"',
        'userName eq "x',
        "a[b eq 1",
        "a eq 1 and",
        "a[b[c eq 1]]",
        "not a eq 1",
        '"x" eq a',
        "a eq 1 b eq 2",
        "a eq and",
    ],
)
def test_invalid_filters_raise_invalid_filter(bad: str) -> None:
    """Malformed filters are 400 invalidFilter with a message, never a partial tree."""
    with pytest.raises(InvalidFilterError) as info:
        parse_filter(bad)
    assert info.value.detail


def test_depth_and_length_are_bounded() -> None:
    """Nesting beyond MAX_DEPTH and over-long input are rejected quickly."""
    deep = "(" * (MAX_DEPTH + 2) + "a eq 1" + ")" * (MAX_DEPTH + 2)
    with pytest.raises(InvalidFilterError):
        parse_filter(deep)
    with pytest.raises(InvalidFilterError):
        parse_filter("a eq " + '"' + "x" * 5000 + '"')


def test_patch_paths() -> None:
    """PATH = attrPath / valuePath [subAttr] (RFC 7644 §3.5.2)."""
    assert parse_patch_path("name.givenName") == PatchPath(AttrPath(None, "name", "givenName"))
    assert parse_patch_path('emails[type eq "work"].value') == PatchPath(
        AttrPath(None, "emails"), cmp("type", "eq", "work"), "value"
    )
    assert parse_patch_path('members[value eq "u1"]') == PatchPath(
        AttrPath(None, "members"), cmp("value", "eq", "u1")
    )
    assert parse_patch_path(f"{ENTERPRISE}:employeeNumber") == PatchPath(
        AttrPath(ENTERPRISE, "employeeNumber")
    )


@pytest.mark.parametrize(
    "bad", ["", "a b", 'emails[type eq "work"', 'emails[type eq "w"]value', "emails[]", "1abc"]
)
def test_invalid_patch_paths_raise_invalid_path(bad: str) -> None:
    """Malformed PATCH paths are 400 invalidPath."""
    with pytest.raises(InvalidPathError):
        parse_patch_path(bad)


# -- the fast path for `attribute eq "string"` gives what the grammar gives ----------------
_ATTRIBUTES = st.sampled_from(
    [
        "userName",
        "USERNAME",
        "externalId",
        "name.familyName",
        "emails.value",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        "not",
        "and",
        "or",
        "pr",
        "eq",
        "1abc",
        "a..b",
        "emails[type",
        "x)",
        "é",
    ]
)
_SPACES = st.sampled_from(["", " ", "  ", "\t", "\n", "\u00a0", " \u2003"])
_OPERATORS = st.sampled_from(["eq", "EQ", "Eq", "eQ", "ne", "co", "eq\u00a0", "eq(", "="])
_VALUES = st.one_of(
    st.text(max_size=12).map(lambda v: orjson.dumps(v).decode()),  # any string, JSON-escaped
    st.text(alphabet='ab"\\u0 /', max_size=8).map(lambda v: f'"{v}"'),  # raw, maybe broken
    st.sampled_from(['"\\u0000"', '"a\\u0000"', "true", "null", "12", '"x" and b eq "y"', '"']),
)


@settings(max_examples=500, deadline=None)
@given(_SPACES, _ATTRIBUTES, _SPACES, _OPERATORS, _SPACES, _VALUES, _SPACES)
def test_the_equality_fast_path_agrees_with_the_grammar(
    lead: str, attribute: str, gap: str, operator: str, gap2: str, value: str, trail: str
) -> None:
    text = f"{lead}{attribute}{gap or ' '}{operator}{gap2}{value}{trail}"
    if not text.strip():
        return
    try:
        expected: object = _Parser(text, InvalidFilterError).parse_filter()
    except ScimError as exc:
        expected = ("error", exc.detail)
    fast = _simple_equality(text)
    if fast is not None:
        assert fast == expected
    try:
        got: object = parse_filter(text)
    except ScimError as exc:
        got = ("error", exc.detail)
    assert got == expected


def test_entras_lookup_takes_the_fast_path() -> None:
    parsed = _simple_equality('userName eq "Alex.Wu@contoso.example"')
    assert parsed == parse_filter('userName eq "Alex.Wu@contoso.example"')
    assert parsed is not None and parsed.value == "Alex.Wu@contoso.example"
    assert _simple_equality('userName eq "a" or userName eq "b"') is None
