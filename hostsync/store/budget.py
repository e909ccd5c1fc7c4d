"""The query cost budget: which list queries are costly, and a time limit on their SQL.

A list query is **costly** when no index bounds the rows it reads: a filter with a term
that no index answers in some branch (``title co "…"``, ``emails[…]``, ``not (…)``,
``userName co "…"``) or a ``sortBy`` over more than a few rows. Such a query reads every
row of the tenant, so its cost grows with the directory. It is told apart from the tree alone
(:func:`query_cost`), so the cheap requests (an indexed ``userName eq`` lookup, a GET by id, a
page, a write) pay nothing for it.

A costly query is held to a budget of database time (:class:`QueryBudget`, around the unit
of work: :meth:`~hostsync.store.database.Database.costly_directory`):

* On SQLite a progress handler on the unit's connection (:mod:`hostsync.store.sqlite.progress`)
  looks at the clock every :data:`PROGRESS_STEPS` virtual-machine steps and interrupts the
  statement past the deadline; the deadline covers every statement of the unit (the page and
  its count).
* On PostgreSQL each statement of the unit is sent after ``SET statement_timeout`` to what
  is left of the budget, and the setting is reset before the connection goes back to the pool.

A query that runs past its budget answers 400 ``tooMany`` (RFC 7644 §3.12: more than the
server is willing to calculate); nothing it read is kept. docs/hardening.md, "Query cost
budget and fair share", describes the whole design.

Measured: bench/JOURNAL.md#query-cost-budget
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, event

from hostsync.scim.errors import InvalidFilterError, TooManyError
from hostsync.scim.ports import Selection
from hostsync.scim.schema import USER_RESOURCE, ResourceType
from hostsync.store.directory import SqlDirectory
from hostsync.store.filters import filter_cost, indexed_equality
from hostsync.store.sqlite.progress import watch_progress
from hostsync.store.statements import targets

PROGRESS_STEPS = 2000
"""SQLite virtual-machine steps between two looks at the clock (a small slice of a scan)."""
_QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement past statement_timeout


@dataclass(frozen=True, slots=True)
class QueryCost:
    """A list query's cost class: its terms no index answers, and whether it is costly."""

    scan_terms: int
    costly: bool


CHEAP = QueryCost(0, costly=False)
_SORTED = QueryCost(0, costly=True)


def query_cost(selection: Selection, resource_type: ResourceType, dialect: str) -> QueryCost:
    """How costly the list query ``selection`` of ``resource_type`` is (module doc)."""
    node = selection.filter
    if node is None:
        # Pages walk the (tenant, pk) index from an anchor; a sort reads every row.
        return CHEAP if selection.sort_by is None else _SORTED
    user_target, group_target = targets(dialect)
    # A tenant's own User type (its declared extensions) costs as the built-in one: its
    # extension attributes have no column, and the targets' paths resolve without them.
    target = user_target if resource_type.id == USER_RESOURCE.id else group_target
    if indexed_equality(node, target):  # Entra's lookups: no cost of their own
        return CHEAP
    cost = filter_cost(node, target)
    return QueryCost(cost.scan_terms, costly=not cost.bounded)


def check_scan_terms(cost: QueryCost, limit: int) -> None:
    """Refuse a filter with more than ``limit`` terms that no index answers (400)."""
    if cost.scan_terms > limit:
        raise InvalidFilterError(
            f"The filter has {cost.scan_terms} terms that no index answers (each compares "
            f"every user's or group's stored attributes); at most {limit} are allowed. "
            "Narrow it with an 'eq' on id, userName, externalId or displayName"
        )


class QueryBudget:
    """A time limit on the SQL of one unit of work (module doc); one per unit."""

    __slots__ = ("_connection", "_unwatch", "deadline", "overran", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = 0.0
        self.overran = False
        self._connection: Connection | None = None
        self._unwatch: Callable[[], None] | None = None  # lifts SQLite's progress handler

    def start(self, connection: Connection) -> None:
        """Hold the statements run on ``connection`` from now on to the budget."""
        self.deadline = time.monotonic() + self.seconds
        self._connection = connection
        self._unwatch = watch_progress(connection, self._past_deadline, PROGRESS_STEPS)
        if self._unwatch is None:
            event.listen(connection, "before_cursor_execute", self._statement_timeout)

    def stop(self) -> None:
        """Lift the limit (before the connection serves anything else)."""
        connection, unwatch = self._connection, self._unwatch
        self._connection = self._unwatch = None
        if unwatch is not None:
            unwatch()
        elif connection is not None:
            event.remove(connection, "before_cursor_execute", self._statement_timeout)
            if not connection.closed and not connection.invalidated:
                try:
                    connection.exec_driver_sql("RESET statement_timeout")
                except Exception:  # a connection that cannot reset must not serve again
                    connection.invalidate()

    def _past_deadline(self) -> int:
        if time.monotonic() > self.deadline:
            self.overran = True
            return 1  # SQLite interrupts the statement: "interrupted"
        return 0

    def _statement_timeout(self, _conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        left_ms = int((self.deadline - time.monotonic()) * 1000)
        if left_ms < 1:
            self.overran = True
            raise self.error()
        cursor.execute(f"SET statement_timeout = {left_ms}")

    def caused(self, exc: BaseException | None) -> bool:
        """Whether ``exc`` is the budget's doing."""
        if exc is None:
            return False
        if self.overran:
            return True
        cause: Any = getattr(exc, "orig", None)
        if getattr(cause, "sqlstate", None) == _QUERY_CANCELED:
            self.overran = True
        return self.overran

    def error(self) -> TooManyError:
        """What a query past its budget answers."""
        return TooManyError(
            f"The query needs more than its budget of {self.seconds:g} s of database time; "
            "narrow the filter with an 'eq' on id, userName, externalId or displayName, "
            "or leave out sortBy"
        )


class BudgetedUnit:
    """A read unit of work whose SQL is held to a :class:`QueryBudget`."""

    __slots__ = ("budget", "unit")

    def __init__(self, unit: AbstractContextManager[SqlDirectory], budget: QueryBudget) -> None:
        self.unit = unit
        self.budget = budget

    def __enter__(self) -> SqlDirectory:
        directory = self.unit.__enter__()
        try:
            self.budget.start(directory.connection)
        except BaseException as exc:
            self.unit.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return directory

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        budget = self.budget
        budget.stop()
        if not budget.caused(exc):
            return self.unit.__exit__(exc_type, exc, traceback)
        error = budget.error()
        with suppress(Exception):  # the budget's error is the answer, not the rollback's
            self.unit.__exit__(exc_type, exc, traceback)
        raise error from exc
