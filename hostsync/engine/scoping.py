"""Scoping filters: clauses ANDed inside a filter, filters ORed.

See docs/reference/entra-engine.md#scoping-filters.

Operator names follow Entra (``EQUALS``, ``NOT EQUALS``, ``IS TRUE``, ``Greater_Than``, ``&`` …)
and are matched case-insensitively with spaces and underscores treated alike. "Scoping filters
will return false if the value is null / empty" except ``IS NULL``. ``Less_Than``,
``Less_Than_OR_EQUALS``, ``NOT INCLUDES``, ``STARTS_WITH`` and ``IN`` are extensions (OURS,
not in any Microsoft doc). Regular expressions are .NET-flavoured; named groups are translated.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hostsync.engine.expressions import to_text

_Test = Callable[[str, str], bool]


def _integers(attribute: str, value: str) -> tuple[int, int] | None:
    try:
        return int(attribute), int(value)
    except ValueError:
        return None


def _compare(check: Callable[[int, int], bool]) -> _Test:
    def test(attribute: str, value: str) -> bool:
        pair = _integers(attribute, value)
        return pair is not None and check(*pair)

    return test


def _regex(attribute: str, value: str) -> bool:
    return re.search(re.sub(r"\(\?<(?![=!])", "(?P<", value), attribute) is not None


def _in_list(attribute: str, value: str) -> bool:
    return attribute in [item.strip() for item in value.split(",")]


_BINARY: dict[str, _Test] = {
    "EQUALS": lambda a, v: a == v,
    "NOT EQUALS": lambda a, v: a != v,
    "REGEX MATCH": _regex,
    "NOT REGEX MATCH": lambda a, v: not _regex(a, v),
    "GREATER THAN": _compare(lambda a, v: a > v),
    "GREATER THAN OR EQUALS": _compare(lambda a, v: a >= v),
    "LESS THAN": _compare(lambda a, v: a < v),
    "LESS THAN OR EQUALS": _compare(lambda a, v: a <= v),
    "INCLUDES": lambda a, v: v in a,
    "NOT INCLUDES": lambda a, v: v not in a,
    "ENDS WITH": lambda a, v: a.endswith(v),
    "STARTS WITH": lambda a, v: a.startswith(v),
    "&": lambda a, v: a in v,
    "!&": lambda a, v: a not in v,
    "IN": _in_list,
}
_UNARY = {"IS TRUE", "IS FALSE", "IS NULL", "IS NOT NULL"}
OPERATORS = frozenset({*_BINARY, *_UNARY})
"""Canonical operator names (upper case, single spaces)."""


def canonical_operator(name: str) -> str:
    """``Greater_Than_OR_EQUALS`` → ``GREATER THAN OR EQUALS``; raise ValueError if unknown."""
    canonical = " ".join(name.replace("_", " ").upper().split())
    if canonical not in OPERATORS:
        known = ", ".join(sorted(OPERATORS))
        raise ValueError(f"unknown scoping operator '{name}' (known: {known})")
    return canonical


@dataclass(frozen=True, slots=True)
class Clause:
    """``(source attribute, operator, value)``."""

    attribute: str
    operator: str
    value: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "operator", canonical_operator(self.operator))
        if self.operator in {"REGEX MATCH", "NOT REGEX MATCH"}:
            re.compile(re.sub(r"\(\?<(?![=!])", "(?P<", self.value))

    def holds(self, attributes: Mapping[str, Any]) -> bool:
        """Whether the clause is true of an object's attributes."""
        raw = attributes.get(self.attribute)
        if isinstance(raw, list | tuple):
            # Multi-valued attributes are unsupported:
            # docs/reference/entra-engine.md#scoping-unsupported.
            return False
        text = to_text(raw)
        empty = text is None or text == ""
        if self.operator == "IS NULL":
            return empty
        if self.operator == "IS NOT NULL":
            return not empty
        if empty or text is None:
            return False
        if self.operator == "IS TRUE":
            return text.lower() == "true"
        if self.operator == "IS FALSE":
            return text.lower() == "false"
        return _BINARY[self.operator](text, self.value)

    def describe(self) -> str:
        """``department EQUALS "Sales"`` for logs."""
        if self.operator in _UNARY:
            return f"{self.attribute} {self.operator}"
        return f'{self.attribute} {self.operator} "{self.value}"'


@dataclass(frozen=True, slots=True)
class ScopingFilter:
    """A named list of clauses, all of which must hold."""

    title: str
    clauses: tuple[Clause, ...]

    def holds(self, attributes: Mapping[str, Any]) -> bool:
        """Whether every clause holds."""
        return all(clause.holds(attributes) for clause in self.clauses)


def in_scope(filters: Sequence[ScopingFilter], attributes: Mapping[str, Any]) -> bool:
    """True when there are no filters or any filter holds."""
    return not filters or any(item.holds(attributes) for item in filters)
