"""The expression language: every documented example, and errors.

See docs/reference/entra-engine.md#expressions.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from hostsync.engine.errors import ExpressionError
from hostsync.engine.expressions import FUNCTIONS, Context, evaluate, parse, to_text
from hostsync.engine.mappings import compile_mapping
from hostsync.engine.mappings import evaluate as evaluate_mappings


def ev(text: str, **attributes: Any) -> Any:
    context = Context(
        attributes, lambda: datetime(2021, 7, 2, 15, 33, 38, tzinfo=UTC), random.Random(7)
    )
    return to_text(evaluate(parse(text), context))


ACTIVE = 'Switch([IsSoftDeleted], , "False", "True", "True", "False")'


@pytest.mark.parametrize(
    ("text", "attributes", "expected"),
    [
        (ACTIVE, {"IsSoftDeleted": False}, "True"),
        (ACTIVE, {"IsSoftDeleted": True}, "False"),
        ('Switch([c], [c], "", "Other")', {}, "Other"),
        ('Append([userPrincipalName], ".test")', {"userPrincipalName": "a@b"}, "a@b.test"),
        ("BitAnd(&HF, &HF7)", {}, "7"),
        ("CBool([a] = [b])", {"a": "x", "b": "x"}, "True"),
        ('CDate("2020-03-16-07:00")', {}, "3/16/2020 7:00:00 AM"),
        ('Coalesce([a], [b], "none")', {"b": "B"}, "B"),
        ('Coalesce([a], "")', {}, ""),
        ('ConvertToBase64("Hello world!")', {}, "SABlAGwAbABvACAAdwBvAHIAbABkACEA"),
        ('ConvertToUTF8Hex("Hello world!")', {}, "48656C6C6F20776F726C6421"),
        ("Count([p])", {"p": ["1", "2", "3"]}, "3"),
        ("CStr([n])", {"n": 42}, "42"),
        ('DateAdd("d", 7, CDate("2012-03-16-07:00"))', {}, "3/23/2012 7:00:00 AM"),
        ('DateAdd("m", 10, CDate("2012-03-16-07:00"))', {}, "1/16/2013 7:00:00 AM"),
        ('DateDiff("d", "2021-08-18+08:00", "2021-08-31+08:00")', {}, "13"),
        ('DateDiff("h", "2021-08-24", "2021-08-25")', {}, "24"),
        ('DateDiff("n", "2021-08-24", "2021-08-25")', {}, "1440"),
        ('DateDiff("s", "2021-08-24", "2021-08-25")', {}, "86400"),
        ("DateFromNum([n])", {"n": 129699324000000000}, "1/1/2012 11:00:00 PM"),
        ('NumFromDate("2012-01-01T23:00:00Z")', {}, "129699324000000000"),
        (
            'FormatDateTime([x], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")',
            {"x": "20150123105347.1Z"},
            "2015-01-23",
        ),
        ('FormatDateTime([x], "M/d/yyyy", "dd MMM yyyy")', {"x": "3/7/2024"}, "07 Mar 2024"),
        ("IgnoreFlowIfNullOrEmpty([x])", {"x": ""}, None),
        ('IIF([c] = "US", "United States", [c])', {"c": "US"}, "United States"),
        ('IIF([c] = "US", "United States", [c])', {"c": "FR"}, "FR"),
        ('IIF([n] > 10, "big", "small")', {"n": "12"}, "big"),
        ('InStr("The quick brown fox", "quick")', {}, "5"),
        ('InStr("repEated", "e", 3, vbBinaryCompare)', {}, "7"),
        ('InStr("repEated", "e", 3, vbTextCompare)', {}, "4"),
        ("IsNull([x])", {}, "True"),
        ("IsNullOrEmpty([x])", {"x": ""}, "True"),
        ("IsPresent([x])", {"x": "y"}, "True"),
        ("IsString([x])", {"x": "y"}, "True"),
        ("Item([p], 2)", {"p": ["a", "b"]}, "b"),
        ("Item([p], 0)", {"p": ["a", "b"]}, None),
        (
            'Join(" ", [givenName], [surname])',
            {"givenName": "Ana", "surname": "Lopez"},
            "Ana Lopez",
        ),
        ('Join(",", [p], "x")', {"p": ["a", "b"]}, "a,b,x"),
        ('Left("John Doe", 3)', {}, "Joh"),
        ('Left("John", 0)', {}, ""),
        ('Left("John", -1)', {}, "John"),
        ('Left("John", 10)', {}, "John"),
        ("Left([x], 2)", {}, ""),
        ('Mid("John Doe", 3, 5)', {}, "hn Do"),
        ('Mid("John Doe", 7, 5)', {}, "oe"),
        ('NormalizeDiacritics("Zoë Ærøskøbing Łódź Straße")', {}, "Zoe AEroeskoebing Lodz Strasse"),
        ('Not("True")', {}, "False"),
        ('Not("maybe")', {}, "True"),
        ("Now()", {}, "7/2/2021 3:33:38 PM"),
        ('PCase("PINTO-DE\'SILVA", " \'-")', {}, "Pinto-De'Silva"),
        ('PCase("NORMAN ROCKWELL")', {}, "Norman Rockwell"),
        ('Redact("secret")', {}, "secret"),
        ("Count(RemoveDuplicates([p]))", {"p": ["a", "a", "b"]}, "2"),
        ('Replace([x], "-", , , "", , )', {"x": "555-0100"}, "5550100"),
        ('Replace("+", "+", , , , , "(+)")', {}, "(+)"),
        (
            'Replace([m], , "(?<user>.*)@(?<domain>.*)", , "${domain}/${user}", , )',
            {"m": "ana@contoso.com"},
            "contoso.com/ana",
        ),
        (
            'Replace([m], , "(?<user>.*)@(?<domain>.*)", "domain", "fabrikam.com", , )',
            {"m": "ana@contoso.com"},
            "ana@fabrikam.com",
        ),
        ('Item(Split("a,b,c", ","), 3)', {}, "c"),
        ('StripSpaces("a b  c")', {}, "abc"),
        ('ToLower("ÀBC", "en-US")', {}, "àbc"),
        ('ToUpper("abc")', {}, "ABC"),
        ('Trim("  x ")', {}, "x"),
        ('Word("This,string!has&many separators", 3, ",!&#")', {}, "has"),
        ('Word("one two", 5, " ")', {}, ""),
        ('"just a constant"', {}, "just a constant"),
        ('"say \\"hi\\""', {}, 'say "hi"'),
    ],
)
def test_documented_examples(text: str, attributes: dict[str, Any], expected: str | None) -> None:
    """Each function gives the result Microsoft documents."""
    assert ev(text, **attributes) == expected


def test_single_app_role_assignment_returns_one_role_value() -> None:
    """SingleAppRoleAssignment picks one role's value; Complex returns every role."""
    roles = [{"id": "r1", "displayName": "Host", "value": "host"}]
    assert ev("SingleAppRoleAssignment([appRoleAssignments])", appRoleAssignments=roles) == "host"
    context = Context({"appRoleAssignments": roles})
    complex_roles = evaluate(parse("AppRoleAssignmentsComplex([appRoleAssignments])"), context)
    assert complex_roles == [
        {
            "primary": False,
            "type": "WindowsAzureActiveDirectoryRole",
            "display": "Host",
            "value": "host",
        }
    ]


def test_random_functions_use_the_context_random_source() -> None:
    """Guid and RandomString are reproducible with a seeded source and honour minimums."""
    value = ev("RandomString(8, 3, 0, 2, 3)")
    assert value is not None and len(value) == 8
    assert sum(c.isdigit() for c in value) >= 3
    assert sum(c.isupper() for c in value) >= 2
    assert ev("Guid()") == ev("Guid()")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ToLower([a]", "expected ',' or '\\)'"),
        ("tolower([a])", "did you mean ToLower"),
        ("Frobnicate([a])", "unknown function 'Frobnicate'"),
        ("Left([a])", "Left takes 2 arguments, got 1"),
        ('Switch([a], "x", "k")', "even number of arguments"),
        ("SelectUniqueValue([a], [b])", "not supported"),
        ("[a] @ [b]", "unexpected character '@'"),
        ("", "empty expression"),
        ("Join(" + '"x", ' * 3000 + '"y")', "longer than 10000"),
    ],
)
def test_bad_expressions_fail_to_parse_with_a_position_or_reason(text: str, message: str) -> None:
    """Parse errors say what is wrong."""
    with pytest.raises(ExpressionError, match=message):
        parse(text)


def test_errors_name_the_mapping() -> None:
    """A parse error and an evaluation error both name the mapping's target attribute."""
    with pytest.raises(ExpressionError, match="mapping 'displayName'"):
        compile_mapping("displayName", expression="Left([a]")
    mapping = compile_mapping("title", expression='DateAdd("q", 1, "2020-01-01")')
    with pytest.raises(ExpressionError, match="mapping 'title': DateAdd: unknown interval"):
        evaluate_mappings([mapping], Context({}))


def test_expressions_are_never_evaluated_as_python() -> None:
    """Python syntax is not an expression: no name lookup, no eval."""
    with pytest.raises(ExpressionError):
        parse("__import__('os').system('true')")


def test_every_spec_function_is_known() -> None:
    """The function table covers Entra's list (SelectUniqueValue refused on purpose).

    docs/reference/entra-engine.md#expressions
    """
    spec = {
        "Append", "AppRoleAssignmentsComplex", "BitAnd", "CBool", "CDate", "Coalesce",
        "ConvertToBase64", "ConvertToUTF8Hex", "Count", "CStr", "DateAdd", "DateDiff",
        "DateFromNum", "FormatDateTime", "Guid", "IgnoreFlowIfNullOrEmpty", "IIF", "InStr",
        "IsNull", "IsNullOrEmpty", "IsPresent", "IsString", "Item", "Join", "Left", "Mid",
        "NormalizeDiacritics", "Not", "Now", "NumFromDate", "PCase", "RandomString", "Redact",
        "RemoveDuplicates", "Replace", "SelectUniqueValue", "SingleAppRoleAssignment", "Split",
        "StripSpaces", "Switch", "ToLower", "ToUpper", "Word",
    }  # fmt: skip
    assert spec <= set(FUNCTIONS)
