"""Prebuilt statements run straight on SQLite's DB-API connection.

SQLAlchemy Core's ``Connection.execute`` (events, the compiled cache, parameter and result
processing) costs more than SQLite's own answer to an indexed lookup, and a SCIM request runs
two to five such statements. :class:`RawSqlite` compiles each of the store's *prebuilt*
statements once, with SQLAlchemy's own SQLite compiler (so the SQL is the same text SQLAlchemy
would send), and then executes it on the transaction's ``sqlite3`` connection, converting
parameters and rows for the few column types the tables use: text, integers, booleans (0/1),
datetimes (SQLAlchemy's ``YYYY-MM-DD HH:MM:SS.ffffff`` text) and JSON (text).

Statements built per request (compiled filters, sorts) keep going through SQLAlchemy; so does
everything on PostgreSQL. Expanding ``IN`` parameters become ``IN (SELECT value FROM
json_each(:ids))`` with the list bound as one JSON array, so one SQL text serves any length.
``sqlite3`` errors are re-raised as SQLAlchemy's (``IntegrityError``, ``OperationalError``…),
so callers handle one family of exceptions whichever way a statement ran.

Measured: bench/JOURNAL.md#raw-sqlite
"""

from __future__ import annotations

import re
import sqlite3
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import JSON, Boolean, Connection, DateTime
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Convert = Callable[[Any], Any]
_DIALECT = SQLiteDialect_pysqlite(paramstyle="named")
_POSTCOMPILE = re.compile(r"\(__\[POSTCOMPILE_(\w+)\]\)")


def datetime_text(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite text for a datetime: ``YYYY-MM-DD HH:MM:SS.ffffff``, zone dropped.

    ``isoformat`` is faster than ``strftime`` and pads the year to four digits as SQLAlchemy
    does (``strftime("%Y")`` does not, before year 1000).
    """
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


def _json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _json_list(value: Sequence[Any]) -> str:
    return orjson.dumps(list(value)).decode()


def _bool_int(value: Any) -> int | None:
    return None if value is None else int(bool(value))


def _parse_datetime(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _parse_json(value: str | bytes | None) -> Any:
    return None if value is None else orjson.loads(value)


def _parse_bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def _bind_converter(type_: Any) -> Convert | None:
    if isinstance(type_, DateTime):
        return datetime_text
    if isinstance(type_, JSON):
        return _json_text
    if isinstance(type_, Boolean):
        return _bool_int
    return None


def _result_converter(type_: Any) -> Convert | None:
    if isinstance(type_, DateTime):
        return _parse_datetime
    if isinstance(type_, JSON):
        return _parse_json
    if isinstance(type_, Boolean):
        return _parse_bool
    return None


class _Compiled:
    """One statement's SQL text, parameter converters, defaults and row shape."""

    def __init__(self, statement: ClauseElement, keys: Sequence[str] | None) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=_DIALECT, column_keys=keys))
        sql = str(compiled)
        self.converters: dict[str, Convert] = {}
        self.defaults: dict[str, Any] = {}
        expanding = set(_POSTCOMPILE.findall(sql))
        for bind, name in compiled.bind_names.items():
            if name in expanding:
                self.converters[name] = _json_list
                continue
            convert = _bind_converter(bind.type)
            if convert is not None:
                self.converters[name] = convert
            if not bind.required and bind.value is not None:
                self.defaults[name] = bind.value
        self.sql = _POSTCOMPILE.sub(r"(SELECT value FROM json_each(:\1))", sql)
        columns = list(getattr(statement, "exported_columns", []) or [])
        if getattr(statement, "is_dml", False) and not getattr(statement, "_returning", ()):
            columns = []
        self.row: Any = None
        self.row_converters: list[tuple[int, Convert]] = []
        if columns:
            names = [column.key or f"c{i}" for i, column in enumerate(columns)]
            self.row = namedtuple("Row", names, rename=True)  # type: ignore[misc]
            for index, column in enumerate(columns):
                convert = _result_converter(column.type)
                if convert is not None:
                    self.row_converters.append((index, convert))

    def params(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """``given`` with the statement's defaults, converted for sqlite3."""
        out = {**self.defaults, **given}
        for name, convert in self.converters.items():
            if name in out:
                out[name] = convert(out[name])
        return out

    def rows(self, raw: list[tuple[Any, ...]]) -> list[Any]:
        """Database rows → named tuples with Python values."""
        if self.row is None:
            return []
        # tuple.__new__ is what the named tuple's ``_make`` calls, less a Python frame a row.
        cls, new = self.row, tuple.__new__
        converters = self.row_converters
        if not converters:
            return [new(cls, row) for row in raw]
        out = []
        for row in raw:
            values = list(row)
            for index, convert in converters:
                values[index] = convert(values[index])
            out.append(new(cls, values))
        return out


class RawResult:
    """The part of SQLAlchemy's ``Result`` the store uses."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        """Every row."""
        return self._rows

    def first(self) -> Any:
        """The first row, or None."""
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        """The first column of the first row, or None."""
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        """The first column of the only row."""
        if len(self._rows) != 1:
            raise sa_exc.NoResultFound("expected exactly one row")
        return self._rows[0][0]


_COMPILED: dict[tuple[ClauseElement, tuple[str, ...] | None], _Compiled] = {}


def _compiled(statement: ClauseElement, keys: tuple[str, ...] | None) -> _Compiled:
    """The statement compiled once for these parameter keys (an INSERT's depend on them)."""
    entry = _COMPILED.get((statement, keys))
    if entry is None:
        entry = _COMPILED[(statement, keys)] = _Compiled(statement, keys)
    return entry


class RawSqlite:
    """Executes prebuilt statements on one ``sqlite3`` connection (module doc)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def execute(self, statement: ClauseElement, params: Mapping[str, Any]) -> RawResult:
        """Run the statement with one set of parameters."""
        keys = tuple(params) if getattr(statement, "is_insert", False) else None
        compiled = _compiled(statement, keys)
        try:  # not a context manager: this runs for every statement of every request
            cursor = self.connection.execute(compiled.sql, compiled.params(params))
            return RawResult(compiled.rows(cursor.fetchall()), cursor.rowcount)
        except (sqlite3.IntegrityError, sqlite3.OperationalError, sqlite3.DataError) as exc:
            raise _sqlalchemy_error(compiled.sql, exc) from exc

    def executemany(
        self, statement: ClauseElement, batch: Sequence[Mapping[str, Any]]
    ) -> RawResult:
        """Run the statement once per parameter set (rows of an INSERT)."""
        if not batch:
            return RawResult([], 0)
        compiled = _compiled(statement, tuple(batch[0]))
        try:
            cursor = self.connection.executemany(
                compiled.sql, [compiled.params(item) for item in batch]
            )
            return RawResult([], cursor.rowcount)
        except (sqlite3.IntegrityError, sqlite3.OperationalError, sqlite3.DataError) as exc:
            raise _sqlalchemy_error(compiled.sql, exc) from exc


def run_prebuilt(connection: Connection, statement: Any, params: Any) -> Any:
    """Execute a prebuilt statement on a unit of work's connection.

    Straight on sqlite3 for SQLite, through SQLAlchemy otherwise; ``params`` is a mapping, or
    a list of them for many rows.
    """
    return prebuilt_runner(connection)(statement, params)


def prebuilt_runner(connection: Connection) -> Callable[[Any, Any], Any]:
    """:func:`run_prebuilt` bound to one connection, for a unit of work's many statements.

    The dialect and the driver's connection are looked up once: SQLAlchemy's properties are
    not cheap next to a raw statement (bench/JOURNAL.md#raw-sqlite).
    """
    if connection.dialect.name != "sqlite":
        return connection.execute
    raw = RawSqlite(cast(sqlite3.Connection, connection.connection.driver_connection))
    execute, executemany = raw.execute, raw.executemany

    def run(statement: Any, params: Any) -> Any:
        if isinstance(params, list):
            return executemany(statement, params)
        return execute(statement, params)

    return run


def _sqlalchemy_error(sql: str, exc: sqlite3.Error) -> sa_exc.DBAPIError:
    """sqlite3's error as SQLAlchemy's, which the store already handles."""
    if isinstance(exc, sqlite3.IntegrityError):
        return sa_exc.IntegrityError(sql, None, exc)
    if isinstance(exc, sqlite3.DataError):
        return sa_exc.DataError(sql, None, exc)
    return sa_exc.OperationalError(sql, None, exc)
