"""The activity log as CSV: formulas neutralised in every cell, rows read in chunks by key."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from hostsync.store.activity.queries import ActivityFilter, Entry, entry_of, filter_conditions
from hostsync.store.admin_tables import activity

if TYPE_CHECKING:
    from hostsync.store.database import Database

CSV_COLUMNS = (
    "time",
    "client",
    "actor",
    "method",
    "path",
    "operation",
    "resource_type",
    "resource_id",
    "resource_name",
    "status",
    "outcome",
    "changes",
    "detail",
)


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def csv_cell(value: object) -> str:
    """A cell that a spreadsheet shows as text, never evaluates (CSV injection).

    OWASP's rule: a cell whose first character, after any leading spaces, is ``=``, ``+``,
    ``-``, ``@``, a tab or a line break (``|`` and ``%`` too, for older spreadsheets) is
    prefixed with a single quote. Applied to every cell, whatever its column.
    """
    text = "" if value is None else str(value)
    if text.lstrip(" ").startswith(_FORMULA_STARTS):
        return "'" + text
    return text


EXPORT_CHUNK_ROWS = 500


def _csv_row(entry: Entry) -> list[str]:
    return [
        csv_cell(value)
        for value in (
            entry.at.isoformat(timespec="seconds") + "Z",
            entry.client,
            entry.actor,
            entry.method,
            entry.path,
            entry.operation,
            entry.resource_type,
            entry.resource_id,
            entry.resource_name,
            entry.status,
            entry.outcome,
            "; ".join(f"{c['path']}: {c['old']!r} → {c['new']!r}" for c in entry.changes),
            entry.detail,
        )
    ]


def _export_rows(
    connection: Connection,
    tenant_id: str,
    selected: ActivityFilter,
    after: tuple[datetime, int] | None,
    limit: int | None,
) -> list[Any]:
    c = activity.c
    conditions = filter_conditions(tenant_id, selected)
    if after is not None:
        at, pk = after
        conditions.append((c.at < at) | ((c.at == at) & (c.pk < pk)))
    statement = select(activity).where(*conditions).order_by(c.at.desc(), c.pk.desc())
    if limit is not None:
        statement = statement.limit(limit)
    return list(connection.execute(statement))


def _csv_text(rows: Sequence[list[str]], header: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue()


def export_csv(connection: Connection, tenant_id: str, selected: ActivityFilter) -> Iterator[str]:
    """The matching rows as CSV text, header first, newest first, in chunks (one connection)."""
    yield _csv_text([], header=True)
    after: tuple[datetime, int] | None = None
    while True:
        rows = _export_rows(connection, tenant_id, selected, after, EXPORT_CHUNK_ROWS)
        if not rows:
            return
        yield _csv_text([_csv_row(entry_of(row)) for row in rows])
        after = (rows[-1].at, rows[-1].pk)


def stream_csv(
    database: Database,
    tenant_id: str,
    selected: ActivityFilter,
    chunk_rows: int = EXPORT_CHUNK_ROWS,
) -> Iterator[str]:
    """Like :func:`export_csv`, each chunk read in a short read transaction of its own.

    The rows are read by key (time, id) after the last one sent, so a download of any size
    holds at most one chunk in memory and no connection while the client reads.
    """
    yield _csv_text([], header=True)
    after: tuple[datetime, int] | None = None
    while True:
        with database.connect(write=False) as connection:
            rows = _export_rows(connection, tenant_id, selected, after, chunk_rows)
        if not rows:
            return
        yield _csv_text([_csv_row(entry_of(row)) for row in rows])
        after = (rows[-1].at, rows[-1].pk)
