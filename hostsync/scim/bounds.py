"""Structural bounds on request bodies: nesting depth and the size of any one value.

A SCIM resource nests three levels at most (``urn:…:User`` → ``manager`` → ``value``); a
PatchOp or BulkRequest adds two or three. Anything deeper, or a single string longer than any
attribute needs, is refused with 400 before it reaches the PATCH engine or the store, so a
hostile body cannot cost deep recursion or bloat a stored document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hostsync.scim.errors import InvalidSyntaxError, InvalidValueError


@dataclass(frozen=True, slots=True)
class Bounds:
    """The limits :func:`check_bounds` enforces."""

    max_depth: int = 16
    """Deepest nesting of objects and arrays in a body."""
    max_string: int = 65_536
    """Longest string value or object key, in characters."""


def within_bounds(raw: bytes, bounds: Bounds) -> bool:
    """Whether a JSON text is too small to break ``bounds``, whatever it holds.

    No string decodes to more characters than the text has bytes, and no value nests deeper
    than the text has ``{`` and ``[`` bytes (those inside strings only raise the count). Most
    requests (an Entra PATCH, a POST /Users) pass here in two C-level scans, so
    :func:`check_bounds` need not walk their decoded bodies value by value.
    """
    return len(raw) <= bounds.max_string and raw.count(b"{") + raw.count(b"[") <= bounds.max_depth


def check_bounds(value: Any, bounds: Bounds) -> None:
    """Raise 400 when ``value`` nests deeper or holds a longer string than ``bounds`` allow."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if len(item) > bounds.max_string:
                raise InvalidValueError(
                    f"A value is {len(item)} characters long; the limit is {bounds.max_string}"
                )
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > bounds.max_depth:
            raise InvalidSyntaxError(f"The body nests deeper than {bounds.max_depth} levels")
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        else:
            stack.extend((child, depth + 1) for child in item)
