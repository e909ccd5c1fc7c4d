"""The activity log as CSV: formulas neutralised in every cell, rows read in chunks by key.

The file starts with a UTF-8 byte order mark, so that Excel reads it as UTF-8 (without one it
guesses the system's code page and shows ``ChloÃ©``). Values are written as the console's page
shows them (:mod:`hostsync.store.activity.labels`): attribute labels, ``old → new`` with
``—`` for nothing, member ids by name where the tenant has them, times in ISO 8601 UTC.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from hostsync.store.activity.labels import change_text
from hostsync.store.activity.queries import (
    ActivityFilter,
    Readable,
    entry_of,
    filter_conditions,
    readable,
    with_people,
)
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


BOM = "\ufeff"
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


def _csv_row(row: Readable) -> list[str]:
    entry = row.entry
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
            row.name,
            entry.status,
            "ok" if entry.outcome == "success" else "failed",
            "; ".join(change_text(line) for line in row.lines),
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
        buffer.write(BOM)
        writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue()


def export_csv(connection: Connection, tenant_id: str, selected: ActivityFilter) -> Iterator[str]:
    """The matching rows as CSV text: BOM, header, rows newest first (one connection)."""
    yield _csv_text([], header=True)
    selected = with_people(connection, tenant_id, selected)
    after: tuple[datetime, int] | None = None
    while True:
        rows = _export_rows(connection, tenant_id, selected, after, EXPORT_CHUNK_ROWS)
        if not rows:
            return
        entries = readable(connection, tenant_id, [entry_of(row) for row in rows])
        yield _csv_text([_csv_row(entry) for entry in entries])
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
    if selected.person:
        with database.connect(write=False) as connection:
            selected = with_people(connection, tenant_id, selected)
    after: tuple[datetime, int] | None = None
    while True:
        with database.connect(write=False) as connection:
            rows = _export_rows(connection, tenant_id, selected, after, chunk_rows)
            entries = readable(connection, tenant_id, [entry_of(row) for row in rows])
        if not rows:
            return
        yield _csv_text([_csv_row(entry) for entry in entries])
        after = (rows[-1].at, rows[-1].pk)
