"""Matching against a listing of the target: one paged read instead of one query per object.

Entra matches each unlinked object with its own query, ``GET /Users?filter=userName eq "…"``
(docs/reference/entra-engine.md#matching). On a first cycle of 100,000 users that is
100,000 round trips before anything is created. When many objects need a match, the runner
instead pages through ``/Users`` (or ``/Groups``) once, projected to the mapped attributes, and
this module answers each look-up from that listing with the same rules as the queries:

* matching attributes are tried in precedence order; the first one that finds anything decides;
* one object found → matched; several → ``DuplicateTargetEntries``;
* values compare as the target's ``eq`` filter does: case-insensitively, except the
  ``caseExact`` attributes of RFC 7643 (``id``, ``externalId``);
* a linked object (initial cycles) is found by its id; absent from a complete listing, its
  anchor is lost (the 404 of ``GET /Users/{id}``) and it is matched again.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hostsync.engine.mappings import AttributeMapping, parse_path
from hostsync.engine.planner import Lookup, TargetLookup
from hostsync.engine.wire import read_value

CASE_EXACT = frozenset({"id", "externalid"})
"""Core attributes whose ``eq`` compares case-sensitively (RFC 7643 §3.1)."""


def _key(path: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    parsed = parse_path(path)
    exact = parsed.uri is None and parsed.sub is None and parsed.attr.lower() in CASE_EXACT
    return value if exact else value.casefold()


def projection(mappings: Iterable[AttributeMapping]) -> list[str]:
    """The ``attributes`` a listing asks for: the roots of every mapped, non-reference path."""
    roots: dict[str, None] = {}
    for mapping in mappings:
        if mapping.reference:
            continue
        path = mapping.target
        roots[f"{path.uri}:{path.attr}" if path.uri else path.attr] = None
    return list(roots)


class TargetIndex:
    """A complete listing of one resource type, indexed by id and by each matching path."""

    def __init__(self, documents: Iterable[Mapping[str, Any]], paths: Sequence[str]) -> None:
        self.by_id: dict[str, Mapping[str, Any]] = {}
        self.by_path: dict[str, dict[str, list[Mapping[str, Any]]]] = {p: {} for p in paths}
        for document in documents:
            self.by_id[str(document.get("id", ""))] = document
            for path, index in self.by_path.items():
                key = _key(path, read_value(document, path))
                if key is not None:
                    index.setdefault(key, []).append(document)

    def match(self, matches: Iterable[tuple[str, str]]) -> TargetLookup:
        """Matching precedence: the first attribute that finds anything decides.

        See docs/reference/entra-engine.md#matching.
        """
        for path, value in matches:
            key = _key(path, value)
            index = self.by_path.get(path)
            found = index.get(key, []) if index is not None and key is not None else []
            if len(found) == 1:
                return TargetLookup(found[0], 1, f"{path} eq {value!r}")
            if found:
                return TargetLookup(None, len(found), f"{path} eq {value!r}")
        return TargetLookup(None)

    def resolve(self, lookup: Lookup) -> TargetLookup:
        """What a :class:`Lookup` would find: by id first, then by its matching attributes."""
        if lookup.by_id is not None:
            document = self.by_id.get(lookup.by_id)
            if document is not None:
                return TargetLookup(document, 1, "id")
            matched = self.match(lookup.matches)
            return TargetLookup(matched.document, matched.candidates, matched.matched_by, True)
        return self.match(lookup.matches)
