"""Attribute diffs for the activity log: documents flattened to paths, old → new.

Secrets (``password`` and any attribute named like one) are left out, and long values clipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hostsync.scim.resources import Document

SECRET_NAMES = frozenset({"password", "secret", "token", "apikey", "api_key", "credential"})
MAX_VALUE_CHARS = 500


@dataclass(frozen=True, slots=True)
class Change:
    """One attribute's change: its path (``emails[0].value``), old and new values."""

    path: str
    old: Any
    new: Any


@lru_cache(maxsize=4096)  # a document's attribute names come from a small vocabulary
def _is_secret(name: str) -> bool:
    return name.replace("-", "_").lower() in SECRET_NAMES


def _clip(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return value[:MAX_VALUE_CHARS] + "…"
    return value


def flatten(document: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten a document to ``{attribute path: leaf value}``; secrets are left out.

    ``{"name": {"givenName": "A"}, "emails": [{"value": "a@x"}]}`` becomes
    ``{"name.givenName": "A", "emails[0].value": "a@x"}``; empty objects and lists become
    leaves themselves so their appearance is visible.
    """
    flat: dict[str, Any] = {}
    _flatten_into(flat, document, prefix)
    return flat


_LEAVES = frozenset({str, bool, int, float, type(None)})


def _flatten_into(flat: dict[str, Any], document: Any, prefix: str) -> None:
    # By exact type first (JSON's dicts, lists and scalars): an isinstance check against
    # Mapping (an ABC) for every node cost more than the rest of the walk. A container's
    # scalar members are set here rather than in a call of their own (most nodes are leaves).
    # The two loops repeat their leaf lines on purpose: one loop over generators of (path,
    # value) pairs cost more (bench/JOURNAL.md#flatten-leaf-loops).
    kind = type(document)
    mapping = kind is dict or (
        kind is not list and kind not in _LEAVES and isinstance(document, Mapping)
    )
    if mapping and document:
        for key, value in document.items():
            name = key if key.__class__ is str else str(key)
            if _is_secret(name):
                continue
            path = f"{prefix}.{name}" if prefix else name
            if value.__class__ is str:
                flat[path] = value if len(value) <= MAX_VALUE_CHARS else _clip(value)
            elif type(value) in _LEAVES:
                flat[path] = value
            else:
                _flatten_into(flat, value, path)
        return
    if (kind is list or (kind not in _LEAVES and isinstance(document, list))) and document:
        for index, value in enumerate(document):
            path = f"{prefix}[{index}]"
            if value.__class__ is str:
                flat[path] = value if len(value) <= MAX_VALUE_CHARS else _clip(value)
            elif type(value) in _LEAVES:
                flat[path] = value
            else:
                _flatten_into(flat, value, path)
        return
    if prefix:
        flat[prefix] = _clip(document)


_ABSENT = object()


def diff(old: Document | None, new: Document | None) -> list[Change]:
    """The attribute paths whose values differ between two documents, in path order.

    The same as comparing ``flatten(old)`` with ``flatten(new)``, but only the top-level
    attributes that differ are flattened (a PATCH changes a few of a document's many).
    """
    return [Change(*change) for change in _differences(old, new)]


def change_rows(old: Document | None, new: Document | None) -> list[dict[str, Any]]:
    """:func:`diff` as the activity row's JSON holds it: ``{"path", "old", "new"}`` each."""
    return [{"path": path, "old": was, "new": now_} for path, was, now_ in _differences(old, new)]


def _differences(old: Document | None, new: Document | None) -> list[tuple[str, Any, Any]]:
    before_doc, after_doc = old or {}, new or {}
    if not before_doc or not after_doc:  # a create or a delete: every path is new or gone
        flat = flatten(after_doc or before_doc)
        if after_doc:
            return [(path, None, flat[path]) for path in sorted(flat)]
        return [(path, flat[path], None) for path in sorted(flat)]
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key in before_doc.keys() | after_doc.keys():
        was, now_ = before_doc.get(key, _ABSENT), after_doc.get(key, _ABSENT)
        if was == now_ or _is_secret(str(key)):
            continue
        if was is not _ABSENT:
            _flatten_into(before, was, str(key))
        if now_ is not _ABSENT:
            _flatten_into(after, now_, str(key))
    out = []
    for path in sorted(before.keys() | after.keys()):
        was, now_ = before.get(path, _ABSENT), after.get(path, _ABSENT)
        if was != now_:  # or present on one side only: _ABSENT equals nothing else
            out.append((path, None if was is _ABSENT else was, None if now_ is _ABSENT else now_))
    return out
