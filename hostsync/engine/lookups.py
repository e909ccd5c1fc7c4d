"""Finds the target objects a plan needs: reads by linked id, match queries, or one listing.

Step 3 of a cycle (:mod:`hostsync.engine.runner`), bounded by the job's concurrency. A look-up
that fails records its error on the object (the planner then fails that object alone); only
:class:`~hostsync.engine.errors.StopSync` stops the cycle.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hostsync.engine.client import ScimClient
from hostsync.engine.concurrency import bounded, counted
from hostsync.engine.errors import NotFoundError, StopSync, SyncError
from hostsync.engine.jobs import Job
from hostsync.engine.mappings import matching
from hostsync.engine.matching import TargetIndex, projection
from hostsync.engine.planner import Lookup, TargetLookup
from hostsync.engine.ports import Kind
from hostsync.engine.progress import ProgressSink

LISTING_MINIMUM = 100
"""Fewer look-ups of a kind than this are always per-object filter queries."""
LISTING_PAGE = 1000
"""Objects asked for per listing page (the target may clamp it: its ``maxResults``)."""
PAGE_COST = 10
"""About how many match queries one listing page costs (measured on hostsync, SQLite)."""


class Lookups:
    """Looks up one job's objects on the target through ``client``."""

    def __init__(
        self, job: Job, client: ScimClient, *, progress: ProgressSink | None = None
    ) -> None:
        self.job = job
        self.client = client
        self.progress = progress
        self.settings = job.settings

    async def look_up(self, needed: list[Lookup]) -> dict[str, TargetLookup]:
        """Every look-up in ``needed`` by key: from a listing where cheaper, else one by one."""
        results: dict[str, TargetLookup] = {}
        for kind in Kind:
            wanted = [lookup for lookup in needed if lookup.kind is kind]
            index = await self._listing(kind, len(wanted))
            if index is not None:
                results.update((lookup.key, index.resolve(lookup)) for lookup in wanted)
        queries = [lookup for lookup in needed if lookup.key not in results]
        if self.progress is not None and queries:
            self.progress.start("look-up", len(queries))
        found = await counted(queries, self.look_up_one, self.settings.concurrency, self.progress)
        if self.progress is not None and queries:
            self.progress.finish()
        results.update((lookup.key, result) for lookup, result in zip(queries, found, strict=True))
        return results

    async def _listing(self, kind: Kind, wanted: int) -> TargetIndex | None:
        """The whole target listing of ``kind`` when that is cheaper than ``wanted`` queries.

        ``settings.matching``: ``query`` never lists (Entra: one filter query per object);
        ``list`` always does; ``auto`` lists when at least :data:`LISTING_MINIMUM` objects need
        a look-up and the listing's pages cost less than their queries (a page of
        :data:`LISTING_PAGE` objects ≈ :data:`PAGE_COST` queries, measured on hostsync). An
        unusable listing (an error, pages that do not add up to ``totalResults``) falls back to
        the queries.
        """
        setting = self.settings.matching
        if wanted == 0 or setting == "query" or (setting == "auto" and wanted < LISTING_MINIMUM):
            return None
        mappings = self.job.user_mappings if kind is Kind.USER else self.job.group_mappings
        attributes = projection(mappings)
        try:
            first, total = await self.client.list_page(
                kind, attributes=attributes, start_index=1, count=LISTING_PAGE
            )
            size = len(first)
            if size == 0 and total > 0:
                return None
            pages = -(-(total - size) // size) if total > size else 0
            if setting == "auto" and (pages + 1) * PAGE_COST > wanted:
                return None
            starts = [1 + size * page for page in range(1, pages + 1)]

            async def page(start: int) -> list[dict[str, Any]]:
                found, _ = await self.client.list_page(
                    kind, attributes=attributes, start_index=start, count=size
                )
                if self.progress is not None:
                    self.progress.advance(len(found))
                return found

            if self.progress is not None and starts:
                self.progress.start(f"list {kind.value}s", total)
                self.progress.advance(size)
            rest = await bounded(starts, page, self.settings.concurrency)
            if self.progress is not None and starts:
                self.progress.finish()
        except StopSync:
            raise
        except SyncError:
            return None
        documents = {str(d.get("id")): d for chunk in (first, *rest) for d in chunk}
        if len(documents) != total:
            return None  # the target changed while it was listed, or it does not page
        paths = [mapping.name for mapping in matching(mappings)]
        return TargetIndex(documents.values(), paths)

    async def look_up_one(self, lookup: Lookup) -> TargetLookup:
        """One object: read by its linked id (a 404 falls back to matching), else matched."""
        try:
            if lookup.by_id is not None:
                try:
                    document = await self.client.get(lookup.kind, lookup.by_id)
                    return TargetLookup(document, 1, "id")
                except NotFoundError:
                    matched = await self.match(lookup.kind, lookup.matches)
                    return TargetLookup(
                        matched.document, matched.candidates, matched.matched_by, True
                    )
            return await self.match(lookup.kind, lookup.matches)
        except StopSync:
            raise
        except SyncError as exc:
            return TargetLookup(None, error=f"{exc.code}: {exc.reason}")

    async def match(self, kind: Kind, matches: Iterable[tuple[str, str]]) -> TargetLookup:
        """Matching precedence: the first attribute that finds anything decides.

        See docs/reference/entra-engine.md#matching.
        """
        for path, value in matches:
            found = await self.client.find(kind, path, value)
            if len(found) == 1:
                return TargetLookup(found[0], 1, f"{path} eq {value!r}")
            if found:
                return TargetLookup(None, len(found), f"{path} eq {value!r}")
        return TargetLookup(None)
