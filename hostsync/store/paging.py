"""Page anchors: deep ``startIndex`` pages without walking the whole index.

``startIndex=90001&count=100`` is an OFFSET: the database steps over 90,000 index entries
before it reads the page. :class:`PageAnchors` remembers, per tenant and resource, the
``pk`` of every :data:`STEP`-th visible row; a deep page then starts at the nearest anchor
and skips fewer than :data:`STEP` entries. Measured: bench/JOURNAL.md#page-anchors-offset-cost

Why anchors stay true: rows are listed in ``pk`` order, and a row committed later always has
a ``pk`` above every row committed before it. On SQLite that is the rowid under its single
writer; on PostgreSQL, where a sequence hands out values in the order transactions ask, not
the order they commit, every insert first takes the tenant's live-count row
(``resource_counts``) and holds its lock to the commit, so a tenant's inserts of one resource
allocate and commit one after another. A row leaves the visible set only by a soft DELETE,
which bumps the tenant's deletion counter (resource ``UserDel`` / ``GroupDel``). Anchors are
therefore valid for as long as that counter has the value they were built with, whatever any
process created since; positions past the last anchor are reached from it. After a delete
they are rebuilt (one window query) on the next deep page, at most once per
:data:`REBUILD_SECONDS`; in between, deep pages fall back to the plain OFFSET.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

STEP = 1000
"""Rows between anchors: the most a deep page skips from its anchor."""
MIN_OFFSET = 2 * STEP
"""Pages starting before this use the plain OFFSET (it is already cheap)."""
REBUILD_SECONDS = 10.0
"""Anchors invalidated by a delete are rebuilt at most this often per tenant and resource."""


@dataclass(frozen=True, slots=True)
class Anchors:
    """The ``pk`` at positions 0, STEP, 2·STEP… of one tenant's visible rows."""

    generation: int
    pks: tuple[int, ...]
    built: float


@dataclass(frozen=True, slots=True)
class Start:
    """Where a page starts: the first ``pk`` to consider and how many rows to skip from it."""

    pk: int
    skip: int


class PageAnchors:
    """Anchors of every tenant and resource this process has paged deeply (thread-safe)."""

    def __init__(self) -> None:
        self._anchors: dict[tuple[str, str], Anchors] = {}
        self._lock = threading.Lock()

    def start(self, tenant_id: str, resource: str, generation: int, offset: int) -> Start | None:
        """The anchored start of a page at ``offset``, or None (use OFFSET, or rebuild)."""
        with self._lock:
            anchors = self._anchors.get((tenant_id, resource))
        if anchors is None or anchors.generation != generation or not anchors.pks:
            return None
        index = min(offset // STEP, len(anchors.pks) - 1)
        skip = offset - index * STEP
        if skip > 4 * STEP:  # many rows created since the build: worth rebuilding
            return None
        return Start(anchors.pks[index], skip)

    def should_build(self, tenant_id: str, resource: str) -> bool:
        """Whether a rebuild may run now (not more often than REBUILD_SECONDS)."""
        with self._lock:
            anchors = self._anchors.get((tenant_id, resource))
        return anchors is None or time.monotonic() - anchors.built >= REBUILD_SECONDS

    def store(self, tenant_id: str, resource: str, generation: int, pks: list[int]) -> None:
        """Remember freshly built anchors."""
        anchors = Anchors(generation, tuple(pks), time.monotonic())
        with self._lock:
            self._anchors[(tenant_id, resource)] = anchors
