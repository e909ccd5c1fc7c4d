"""Scoping filters: every operator, null handling, AND within and OR across filters."""

from __future__ import annotations

from typing import Any

import pytest

from hostsync.engine.scoping import Clause, ScopingFilter, canonical_operator, in_scope


@pytest.mark.parametrize(
    ("operator", "value", "attribute", "expected"),
    [
        ("EQUALS", "Sales", "Sales", True),
        ("EQUALS", "Sales", "sales", False),  # case sensitive
        ("NOT EQUALS", "Sales", "HR", True),
        ("NOT EQUALS", "Sales", None, False),  # null → false
        ("IS TRUE", "", True, True),
        ("IS TRUE", "", "False", False),
        ("IS FALSE", "", False, True),
        ("IS NULL", "", None, True),
        ("IS NULL", "", "", True),
        ("IS NULL", "", "x", False),
        ("IS NOT NULL", "", "x", True),
        ("IS NOT NULL", "", None, False),
        ("REGEX MATCH", "([1-9][0-9])", "42", True),
        ("REGEX MATCH", "^(?<n>[A-Z])", "abc", False),
        ("NOT REGEX MATCH", "([1-9][0-9])", "7", True),
        ("NOT REGEX MATCH", "x", None, False),  # null → false
        ("Greater_Than", "10", "11", True),
        ("Greater_Than", "10", "10", False),
        ("Greater_Than", "10", "eleven", False),
        ("Greater_Than_OR_EQUALS", "10", "10", True),
        ("Less_Than", "10", "9", True),
        ("Less_Than_OR_EQUALS", "10", "11", False),
        ("Includes", "Desk", "Front Desk", True),
        ("Includes", "desk", "Front Desk", False),
        ("NOT INCLUDES", "Desk", "Sales", True),
        ("ENDS_WITH", "@contoso.com", "ana@contoso.com", True),
        ("STARTS_WITH", "ana", "ana@contoso.com", True),
        ("&", "Sales,HR,Legal", "HR", True),
        ("!&", "Sales,HR,Legal", "IT", True),
        ("IN", "Sales, HR", "HR", True),
        ("IN", "Sales, HR", "H", False),
    ],
)
def test_operator(operator: str, value: str, attribute: Any, expected: bool) -> None:
    """Each operator decides as documented (Less_Than etc. are marked extensions)."""
    clause = Clause("a", operator, value)
    assert clause.holds({"a": attribute} if attribute is not None else {}) is expected


def test_multi_valued_attributes_never_match() -> None:
    """Filtering on multi-valued attributes is unsupported: the clause is false."""
    assert not Clause("phones", "IS NOT NULL").holds({"phones": ["1"]})


def test_clauses_are_anded_and_filters_ored() -> None:
    """An object is in scope when all clauses of any one filter hold."""
    sales_in_austin = ScopingFilter(
        "sales", (Clause("dept", "EQUALS", "Sales"), Clause("city", "EQUALS", "Austin"))
    )
    hr = ScopingFilter("hr", (Clause("dept", "EQUALS", "HR"),))
    filters = [sales_in_austin, hr]
    assert in_scope(filters, {"dept": "Sales", "city": "Austin"})
    assert not in_scope(filters, {"dept": "Sales", "city": "Paris"})
    assert in_scope(filters, {"dept": "HR", "city": "Paris"})
    assert in_scope([], {"dept": "anything"})


def test_unknown_operator_names_the_known_ones() -> None:
    """A misspelt operator is refused with the list of known ones."""
    with pytest.raises(ValueError, match="unknown scoping operator 'EQUAL'"):
        canonical_operator("EQUAL")
