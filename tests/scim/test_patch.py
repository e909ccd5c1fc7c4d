"""PATCH request parsing and RFC 7644 §3.5.2 add/replace/remove semantics."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostsync.scim import patch as patch_module
from hostsync.scim.errors import (
    InvalidPathError,
    InvalidSyntaxError,
    InvalidValueError,
    MutabilityError,
    NoTargetError,
    ScimError,
)
from hostsync.scim.filters import parse_patch_path
from hostsync.scim.patch import (
    MemberChange,
    PatchOperation,
    PatchResult,
    apply_patch,
    parse_patch_request,
)
from hostsync.scim.schema import ENTERPRISE_USER_SCHEMA as ENTERPRISE
from hostsync.scim.schema import GROUP_RESOURCE, PATCH_OP_SCHEMA, USER_RESOURCE

USER: dict[str, Any] = {
    "userName": "ana@contoso.com",
    "active": True,
    "displayName": "Ana Lopez",
    "name": {"givenName": "Ana", "familyName": "Lopez", "formatted": "Ana Lopez"},
    "emails": [
        {"type": "work", "value": "ana@contoso.com", "primary": True},
        {"type": "home", "value": "ana@example.org"},
    ],
    ENTERPRISE: {"department": "Front Desk"},
}
GROUP: dict[str, Any] = {"displayName": "Reception", "externalId": "g-1"}


def request(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP_SCHEMA], "Operations": list(operations)}


def ops(*operations: dict[str, Any]) -> tuple[PatchOperation, ...]:
    return parse_patch_request(request(*operations), max_operations=100)


def patch_user(*operations: dict[str, Any], doc: dict[str, Any] | None = None) -> PatchResult:
    return apply_patch(copy.deepcopy(USER if doc is None else doc), ops(*operations), USER_RESOURCE)


def patch_group(*operations: dict[str, Any]) -> PatchResult:
    return apply_patch(copy.deepcopy(GROUP), ops(*operations), GROUP_RESOURCE)


def emails(result: PatchResult) -> list[dict[str, Any]]:
    return list(result.document.get("emails", []))


# -- parsing ---------------------------------------------------------------------------------


def test_parse_reads_op_path_and_raw_value() -> None:
    """Ops are case-insensitive, paths parsed, values kept raw, order kept."""
    parsed = ops(
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "x@y"},
        {"op": "REPLACE", "value": {"active": "False"}},
        {"op": "remove", "path": "title"},
    )
    assert parsed == (
        PatchOperation("add", parse_patch_path('emails[type eq "work"].value'), "x@y"),
        PatchOperation("replace", None, {"active": "False"}),
        PatchOperation("remove", parse_patch_path("title"), None),
    )


def test_parse_accepts_structural_keys_in_any_case() -> None:
    """``operations``, ``Op``, ``Path``, ``Value`` match case-insensitively.

    docs/reference/entra-wire.md#patch-rule-1
    """
    body = {
        "schemas": [PATCH_OP_SCHEMA.upper()],
        "operations": [{"Op": "replace", "Path": "title", "Value": "Boss"}],
    }
    assert parse_patch_request(body, max_operations=1) == (
        PatchOperation("replace", parse_patch_path("title"), "Boss"),
    )


@pytest.mark.parametrize(
    "body",
    [
        [],
        "PATCH",
        {"Operations": [{"op": "add", "path": "title", "value": "x"}]},
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": []},
        {"schemas": [PATCH_OP_SCHEMA]},
        {"schemas": [PATCH_OP_SCHEMA], "Operations": []},
        {"schemas": [PATCH_OP_SCHEMA], "Operations": {"op": "add"}},
        {"schemas": [PATCH_OP_SCHEMA], "Operations": ["add"]},
    ],
    ids=[
        "not-object",
        "string",
        "no-schemas",
        "wrong-schema",
        "no-operations",
        "empty-operations",
        "operations-not-list",
        "operation-not-object",
    ],
)
def test_parse_rejects_malformed_body(body: Any) -> None:
    """A body that is not a PatchOp message with operations is 400 invalidSyntax."""
    with pytest.raises(InvalidSyntaxError):
        parse_patch_request(body, max_operations=10)


@pytest.mark.parametrize("op", ["move", "", None, 1, "adds"])
def test_parse_rejects_unknown_op(op: Any) -> None:
    """An op other than add/replace/remove is 400 invalidSyntax."""
    with pytest.raises(InvalidSyntaxError):
        ops({"op": op, "path": "title", "value": "x"})


@pytest.mark.parametrize("path", ['emails[type eq "work"', "", "name..givenName", 42, "a b"])
def test_parse_rejects_bad_path(path: Any) -> None:
    """A path outside the RFC 7644 §3.5.2 grammar is 400 invalidPath."""
    with pytest.raises(InvalidPathError):
        ops({"op": "replace", "path": path, "value": "x"})


def test_remove_without_path_is_no_target() -> None:
    """RFC 7644 §3.5.2.2: remove without a path is 400 noTarget."""
    with pytest.raises(NoTargetError):
        ops({"op": "remove", "value": {"title": "x"}})


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": "title"},
        {"op": "replace", "value": "Boss"},
        {"op": "add", "value": [{"title": "Boss"}]},
    ],
    ids=["add-without-value", "pathless-string", "pathless-list"],
)
def test_add_or_replace_needs_a_usable_value(operation: dict[str, Any]) -> None:
    """add/replace need a value, and without a path an object of attributes."""
    with pytest.raises(InvalidValueError):
        ops(operation)


def test_max_operations_is_enforced() -> None:
    """Exactly max_operations is accepted; one more is 400 invalidSyntax naming the limit."""
    operation = {"op": "replace", "path": "title", "value": "x"}
    assert len(parse_patch_request(request(*[operation] * 3), max_operations=3)) == 3
    with pytest.raises(InvalidSyntaxError, match="at most 3 operations"):
        parse_patch_request(request(*[operation] * 4), max_operations=3)


# -- add / replace / remove on simple and complex attributes ---------------------------------


def test_add_sets_a_new_attribute_and_replaces_an_existing_one() -> None:
    """RFC 7644 §3.5.2.1: add on a single-valued attribute sets it, replacing any value."""
    result = patch_user(
        {"op": "add", "path": "nickName", "value": "Ani"},
        {"op": "add", "path": "displayName", "value": "Ana L."},
    )
    assert result.document["nickName"] == "Ani"
    assert result.document["displayName"] == "Ana L."
    assert result.changed is True


def test_replace_of_complex_with_path_merges_sub_attributes() -> None:
    """RFC 7644 §3.5.2.3: replace at ``name`` replaces the given sub-attributes only."""
    result = patch_user({"op": "replace", "path": "name", "value": {"givenName": "Anna"}})
    assert result.document["name"] == {
        "givenName": "Anna",
        "familyName": "Lopez",
        "formatted": "Ana Lopez",
    }


def test_pathless_replace_of_complex_replaces_it_whole() -> None:
    """A path-less replace sets each named attribute whole; a path-less add merges."""
    replaced = patch_user({"op": "replace", "value": {"name": {"GivenName": "Anna"}}})
    assert replaced.document["name"] == {"givenName": "Anna"}
    added = patch_user({"op": "add", "value": {"name": {"middleName": "M"}}})
    assert added.document["name"] == {**USER["name"], "middleName": "M"}


def test_pathless_value_keys_are_attribute_paths() -> None:
    """Dotted, URN-qualified and extension-object keys resolve as paths.

    docs/reference/entra-wire.md#patch-rule-5
    """
    result = patch_user(
        {
            "op": "replace",
            "value": {
                "name.familyName": "Lopez-Diaz",
                f"{ENTERPRISE}:employeeNumber": "42",
                ENTERPRISE: {"costCenter": "CC1", "department": "Lobby"},
                'emails[type eq "home"].value': "new@example.org",
            },
        }
    )
    assert result.document["name"]["familyName"] == "Lopez-Diaz"
    assert result.document[ENTERPRISE] == {
        "department": "Lobby",
        "employeeNumber": "42",
        "costCenter": "CC1",
    }
    assert emails(result)[1] == {"type": "home", "value": "new@example.org"}
    assert "name.familyName" not in result.document


def test_empty_string_and_null_clear_and_empty_parents_vanish() -> None:
    """Empty strings and null clear; an emptied complex or extension object is dropped.

    docs/reference/entra-wire.md#patch-rule-10
    """
    doc = {**USER, "name": {"givenName": "Ana"}}
    result = patch_user(
        {"op": "replace", "path": "name.givenName", "value": ""},
        {"op": "replace", "path": f"{ENTERPRISE}:department", "value": None},
        {"op": "add", "path": "displayName", "value": ""},
        doc=doc,
    )
    assert "name" not in result.document
    assert ENTERPRISE not in result.document
    assert "displayName" not in result.document


def test_remove_single_valued_and_sub_attributes() -> None:
    """RFC 7644 §3.5.2.2: remove unassigns; removing what is absent is a no-op."""
    result = patch_user(
        {"op": "remove", "path": "displayName"},
        {"op": "remove", "path": "name.formatted"},
        {"op": "remove", "path": "title"},
        {"op": "remove", "path": f"{ENTERPRISE}:manager"},
    )
    assert "displayName" not in result.document
    assert result.document["name"] == {"givenName": "Ana", "familyName": "Lopez"}


def test_manager_sub_attribute_and_removal() -> None:
    """``manager.value`` sets the manager id; removing the manager drops it.

    docs/reference/entra-wire.md#patch-rule-9
    """
    result = patch_user({"op": "add", "path": f"{ENTERPRISE}:manager.value", "value": "boss"})
    assert result.document[ENTERPRISE]["manager"] == {"value": "boss"}
    cleared = patch_user({"op": "remove", "path": "manager"}, doc=result.document)
    assert cleared.document[ENTERPRISE] == {"department": "Front Desk"}


def test_boolean_strings_are_coerced_and_garbage_rejected() -> None:
    """The strings "TRUE"/"false" become booleans; other strings are 400 invalidValue.

    docs/reference/entra-wire.md#patch-rule-8
    """
    assert (
        patch_user({"op": "replace", "path": "active", "value": "FALSE"}).document["active"]
        is False
    )
    with pytest.raises(InvalidValueError):
        patch_user({"op": "replace", "path": "active", "value": "yes"})


def test_wrong_value_type_is_invalid_value() -> None:
    """A number for a string attribute is 400 invalidValue, not silently stringified."""
    with pytest.raises(InvalidValueError):
        patch_user({"op": "replace", "path": "userName", "value": 5})


# -- multi-valued attributes ------------------------------------------------------------------


def test_add_to_multi_valued_appends_and_skips_duplicates() -> None:
    """RFC 7644 §3.5.2.1: add appends new values; an identical value is not duplicated."""
    result = patch_user(
        {
            "op": "add",
            "path": "emails",
            "value": [
                {"type": "home", "value": "ana@example.org"},
                {"type": "other", "value": "ana@other.org"},
            ],
        }
    )
    assert [e["value"] for e in emails(result)] == [
        "ana@contoso.com",
        "ana@example.org",
        "ana@other.org",
    ]


def test_new_primary_value_demotes_the_old_primary() -> None:
    """RFC 7644 §3.5.2: a value set to primary true makes the others primary false."""
    result = patch_user(
        {
            "op": "add",
            "path": "emails",
            "value": {"type": "other", "value": "o@x", "primary": "True"},
        }
    )
    assert [e.get("primary") for e in emails(result)] == [False, None, True]


def test_replace_multi_valued_without_filter_replaces_the_list() -> None:
    """RFC 7644 §3.5.2.3: replace without a filter replaces all values."""
    result = patch_user({"op": "replace", "path": "emails", "value": [{"value": "only@x"}]})
    assert emails(result) == [{"value": "only@x"}]


def test_replace_filtered_element_keeps_the_filter_values() -> None:
    """Replacing ``emails[type eq "work"]`` replaces the element but keeps ``type: work``."""
    result = patch_user(
        {"op": "replace", "path": 'emails[type eq "work"]', "value": {"value": "n@x"}}
    )
    assert emails(result)[0] == {"type": "work", "value": "n@x"}


def test_add_filtered_element_merges_into_it() -> None:
    """add on ``emails[type eq "home"]`` merges the given sub-attributes into the match."""
    result = patch_user(
        {"op": "add", "path": 'emails[type eq "home"]', "value": [{"display": "H"}]}
    )
    assert emails(result)[1] == {"type": "home", "value": "ana@example.org", "display": "H"}


def test_filtered_sub_attribute_is_set_on_every_match() -> None:
    """RFC 7644 §3.5.2.3: the sub-attribute of all matching values is replaced."""
    result = patch_user(
        {
            "op": "replace",
            "path": 'emails[value ew ".org" or primary eq true].display',
            "value": "D",
        }
    )
    assert [e.get("display") for e in emails(result)] == ["D", "D"]


def test_unmatched_eq_filter_creates_the_described_element() -> None:
    """An unmatched ``eq``/``and`` filter creates its element (booleans coerced).

    docs/reference/entra-wire.md#patch-rule-6
    """
    result = patch_user(
        {
            "op": "replace",
            "path": 'phoneNumbers[type eq "mobile" and primary eq "True"].value',
            "value": "+1 555",
        }
    )
    assert result.document["phoneNumbers"] == [
        {"type": "mobile", "primary": True, "value": "+1 555"}
    ]


@pytest.mark.parametrize(
    "path",
    [
        'emails[type ne "work" and type ne "home"].value',
        'emails[type eq "a" or type eq "b"].value',
        'emails[type eq "a" and type eq "b"].value',
        'emails[value co "nowhere"].value',
    ],
)
def test_unmatched_other_filter_is_no_target(path: str) -> None:
    """RFC 7644 §3.5.2.3: a filter that matches nothing and pins no element is 400 noTarget."""
    with pytest.raises(NoTargetError):
        patch_user({"op": "replace", "path": path, "value": "x"})


@pytest.mark.parametrize(
    ("value_filter", "left"),
    [
        ('type eq "WORK"', ["ana@example.org"]),
        ('type ne "work"', ["ana@contoso.com"]),
        ('value co "EXAMPLE"', ["ana@contoso.com"]),
        ('value sw "ana@c"', ["ana@example.org"]),
        ('value ew ".org"', ["ana@contoso.com"]),
        ('value gt "ana@d"', ["ana@contoso.com"]),
        ("primary eq true", ["ana@example.org"]),
        ('primary eq "True"', ["ana@example.org"]),
        ('primary ne "true"', ["ana@contoso.com"]),
        ("primary pr", ["ana@example.org"]),
        ('not (type eq "home")', ["ana@example.org"]),
        ('type eq "work" and value sw "x"', ["ana@contoso.com", "ana@example.org"]),
    ],
)
def test_remove_by_value_filter(value_filter: str, left: list[str]) -> None:
    """Filter evaluation: operators, case-insensitive strings, boolean literals and strings."""
    result = patch_user({"op": "remove", "path": f"emails[{value_filter}]"})
    assert [e["value"] for e in emails(result)] == left


def test_remove_filtered_sub_attribute_and_unmatched_filter() -> None:
    """remove of ``emails[…].primary`` drops only that; an unmatched filter is a no-op."""
    result = patch_user(
        {"op": "remove", "path": 'emails[type eq "work"].primary'},
        {"op": "remove", "path": 'emails[type eq "other"]'},
    )
    assert emails(result)[0] == {"type": "work", "value": "ana@contoso.com"}
    unchanged = patch_user({"op": "remove", "path": 'emails[type eq "other"]'})
    assert unchanged.changed is False


def test_remove_multi_valued_with_and_without_value() -> None:
    """Remove with a value list drops only those; without a value, everything.

    docs/reference/entra-wire.md#patch-rule-7
    """
    some = patch_user({"op": "remove", "path": "emails", "value": [{"value": "ANA@example.org"}]})
    assert [e["value"] for e in emails(some)] == ["ana@contoso.com"]
    everything = patch_user({"op": "remove", "path": "emails"})
    assert "emails" not in everything.document


# -- groups and members -----------------------------------------------------------------------


def test_member_operations_become_member_changes() -> None:
    """Members never enter the document; each op yields a MemberChange in order."""
    result = patch_group(
        {"op": "add", "path": "members", "value": [{"value": "a"}, {"Value": "b"}, {"value": "a"}]},
        {"op": "remove", "path": 'members[value eq "a" or value eq "c"]'},
        {"op": "replace", "value": {"members": [{"value": "d"}], "displayName": "Lobby"}},
        {"op": "add", "value": {"members": {"value": "e"}}},
        {"op": "replace", "path": "members", "value": []},
    )
    assert result.member_changes == (
        MemberChange("add", ("a", "b")),
        MemberChange("remove", ("a", "c")),
        MemberChange("replace", ("d",)),
        MemberChange("add", ("e",)),
        MemberChange("clear"),
    )
    assert result.document == {"displayName": "Lobby", "externalId": "g-1"}
    assert result.changed is True


def test_member_only_patch_is_changed_with_same_document() -> None:
    """A member change alone leaves the document equal but reports ``changed``."""
    result = patch_group({"op": "add", "path": "members", "value": [{"value": "a"}]})
    assert result.document == GROUP
    assert result.changed is True


@pytest.mark.parametrize(
    ("operation", "error"),
    [
        ({"op": "remove", "path": 'members[display eq "Ana"]'}, InvalidPathError),
        ({"op": "remove", "path": 'members[value ne "a"]'}, InvalidPathError),
        ({"op": "add", "path": 'members[value eq "a"]', "value": {"value": "a"}}, InvalidPathError),
        ({"op": "remove", "path": 'members[nope eq "a"]'}, InvalidPathError),
        ({"op": "add", "path": "members", "value": [{"display": "no id"}]}, InvalidValueError),
        ({"op": "add", "path": "members", "value": [{"value": ""}]}, InvalidValueError),
        ({"op": "replace", "path": 'members[value eq "a"].display', "value": "x"}, MutabilityError),
    ],
    ids=[
        "filter-by-display",
        "filter-ne",
        "add-by-filter",
        "unknown-sub",
        "no-value",
        "empty-id",
        "read-only-display",
    ],
)
def test_unsupported_member_forms_are_rejected(
    operation: dict[str, Any], error: type[ScimError]
) -> None:
    """Members are selected only by ``value eq`` filters and need ids."""
    with pytest.raises(error):
        patch_group(operation)


def test_members_is_not_a_user_attribute() -> None:
    """On a User, ``members`` is an unknown attribute: 400 invalidPath."""
    with pytest.raises(InvalidPathError):
        patch_user({"op": "add", "path": "members", "value": [{"value": "a"}]})


# -- mutability, unknown paths, atomicity ------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "id", "value": "x"},
        {"op": "remove", "path": "id"},
        {"op": "replace", "path": "meta.lastModified", "value": "2020-01-01T00:00:00Z"},
        {"op": "add", "path": "groups", "value": [{"value": "g"}]},
        {"op": "replace", "path": f"{ENTERPRISE}:manager.displayName", "value": "Boss"},
        {"op": "replace", "value": {"groups": [{"value": "g"}]}},
    ],
)
def test_read_only_attributes_are_mutability_errors(operation: dict[str, Any]) -> None:
    """RFC 7644 §3.5.2: modifying a readOnly attribute is 400 mutability."""
    with pytest.raises(MutabilityError):
        patch_user(operation)


def test_pathless_echo_of_id_meta_schemas_and_password_is_ignored() -> None:
    """A client echoing a whole resource: id/meta/schemas ignored, password never stored."""
    result = patch_user(
        {
            "op": "replace",
            "value": {
                "id": "other",
                "meta": {"resourceType": "User"},
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "password": "hunter2",
                "userName": USER["userName"],
            },
        },
        {"op": "replace", "path": "password", "value": "hunter3"},
    )
    assert result.document == USER
    assert result.changed is False


@pytest.mark.parametrize(
    "path",
    [
        "nickname.first",
        "noSuchAttribute",
        "urn:example:unknown:2.0:User:thing",
        'name[givenName eq "Ana"].familyName',
        'emails[colour eq "red"].value',
        'emails[type eq "work"].colour',
    ],
)
def test_unknown_or_unfilterable_paths_are_invalid_path(path: str) -> None:
    """Unknown attributes, filters on single-valued attributes, unknown subs: invalidPath."""
    with pytest.raises(InvalidPathError):
        patch_user({"op": "replace", "path": path, "value": "x"})


def test_failing_operation_leaves_input_unchanged() -> None:
    """A failing second op raises and the first op's change is not visible.

    docs/reference/entra-wire.md#patch-rule-3
    """
    doc = copy.deepcopy(USER)
    operations = ops(
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {"op": "replace", "path": "noSuchAttribute", "value": "x"},
    )
    with pytest.raises(InvalidPathError):
        apply_patch(doc, operations, USER_RESOURCE)
    assert doc == USER


def test_success_does_not_mutate_input() -> None:
    """The result is a new document; the input (and nested values) stay as they were."""
    doc = copy.deepcopy(USER)
    result = apply_patch(
        doc,
        ops(
            {"op": "replace", "path": "name.givenName", "value": "Anna"},
            {"op": "remove", "path": 'emails[type eq "home"]'},
        ),
        USER_RESOURCE,
    )
    assert doc == USER
    assert result.document["name"]["givenName"] == "Anna"


def test_unchanged_result_reports_not_changed() -> None:
    """Replacing values with what they already are reports ``changed`` False."""
    result = patch_user(
        {"op": "replace", "path": "active", "value": "True"},
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "ana@contoso.com"},
        {"op": "add", "path": "emails", "value": [{"type": "home", "value": "ana@example.org"}]},
    )
    assert result.document == USER
    assert result.changed is False


def test_remove_without_path_in_apply_is_no_target() -> None:
    """apply_patch itself refuses a path-less remove (operations built by hand)."""
    with pytest.raises(NoTargetError):
        apply_patch(USER, [PatchOperation("remove", None, None)], USER_RESOURCE)


def _pruned_by_copying(value: Any) -> Any:
    """What pruning means, written plainly: every container rebuilt without the empties."""
    if isinstance(value, dict):
        out = {key: _pruned_by_copying(item) for key, item in value.items()}
        return {key: item for key, item in out.items() if item is not None} or None
    if isinstance(value, list):
        items = [_pruned_by_copying(item) for item in value]
        return [item for item in items if item is not None] or None
    return value


_json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3) | st.just({}) | st.just([]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=2), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(document=_json_like)
def test_pruning_keeps_what_the_plain_definition_keeps_and_leaves_its_input_alone(
    document: Any,
) -> None:
    before = copy.deepcopy(document)
    assert patch_module._pruned(document) == _pruned_by_copying(before)
    assert document == before


def test_a_path_is_planned_once_per_resource_type_and_errors_each_time() -> None:
    patch_module._PLANS.clear()
    department = {"op": "replace", "path": f"{ENTERPRISE}:department", "value": "Lobby"}
    work = {"op": "replace", "path": 'emails[type eq "work"].value', "value": "a@b.example"}
    first, again = patch_user(department, work), patch_user(department, work)
    assert first.document == again.document
    assert first.document[ENTERPRISE]["department"] == "Lobby"
    assert first.document["emails"][0]["value"] == "a@b.example"
    assert len(patch_module._PLANS) == 2
    # userName is a User's, not a Group's: the User's plan does not answer for the Group.
    assert patch_user({"op": "replace", "path": "userName", "value": "x"}).changed
    for _ in range(2):
        with pytest.raises(InvalidPathError):
            patch_group({"op": "replace", "path": "userName", "value": "x"})
    # Not kept: a long path, and a filter on value (it names one element: new each time).
    long_path = f'emails[type eq "{"v" * 500}"].value'
    patch_user({"op": "add", "path": long_path, "value": "x@y.example"})
    patch_group({"op": "remove", "path": 'members[value eq "u-1"]'})
    assert len(patch_module._PLANS) == 3
