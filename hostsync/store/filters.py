"""Compile a parsed SCIM filter (``hostsync.scim.filters``) to a SQLAlchemy expression.

Attributes that have their own column (``id``, ``userName``, ``externalId``, ``active``,
``displayName`` of groups, ``meta.created``, ``meta.lastModified``) compare on it, so an index
serves Entra's lookups; every other attribute is read from the JSON document with the
dialect's JSON functions, and a value path on a multi-valued attribute becomes an ``EXISTS``
over the array's elements. Membership (``members``, ``groups``) is an ``EXISTS`` over the
membership table. Nothing is ever filtered in Python, and nothing is silently dropped: an
attribute or operator that cannot be compiled raises 400 ``invalidFilter``.

Every leaf compiles to an expression that is never SQL NULL, so ``not (…)`` keeps the
two-valued meaning RFC 7644 §3.4.2.2 gives it. Values are always bound parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Table,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy import String as SqlString
from sqlalchemy.dialects.postgresql import ARRAY

from hostsync.scim.errors import InvalidFilterError, ScimError
from hostsync.scim.filters import (
    And,
    Compare,
    CompareOp,
    Filter,
    Not,
    Or,
    Present,
    Value,
    ValuePath,
)
from hostsync.scim.paths import AttrPath, ResolvedPath, resolve
from hostsync.scim.resources import coerce_boolean
from hostsync.scim.schema import Attribute, AttrType, ResourceType
from hostsync.store.tables import memberships

Expr = ColumnElement[Any]
_TEXT_ARRAY = ARRAY(SqlString())


@dataclass(frozen=True, slots=True)
class Column:
    """A column that stores an attribute: its expression and whether it is case-folded."""

    expr: Expr
    folded: bool = False
    kind: AttrType = AttrType.STRING


@dataclass(frozen=True, slots=True)
class Target:
    """What a filter compiles against: a table, its resource type and column map."""

    table: Table
    resource_type: ResourceType
    columns: dict[tuple[str, ...], Column]
    membership: str  # "members" for groups, "groups" for users
    dialect: str


def fold(value: str) -> str:
    """The case-folding applied to case-insensitive indexed columns on write and on query."""
    return value.casefold()


class _Json:
    """Dialect-specific JSON access (SQLite JSON1 or PostgreSQL jsonb)."""

    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"

    @staticmethod
    def _sqlite_path(keys: tuple[str, ...]) -> str:
        return "$" + "".join('."' + key.replace('"', '""') + '"' for key in keys)

    def text(self, document: Expr, keys: tuple[str, ...]) -> Expr:
        if self.pg:
            return document.op("#>>")(literal(list(keys), _TEXT_ARRAY))
        return func.json_extract(document, self._sqlite_path(keys))

    def json_type(self, document: Expr, keys: tuple[str, ...]) -> Expr:
        if self.pg:
            return func.jsonb_typeof(document.op("#>")(literal(list(keys), _TEXT_ARRAY)))
        return func.json_type(document, self._sqlite_path(keys))

    def number(self, document: Expr, keys: tuple[str, ...]) -> Expr:
        """The value at ``keys`` as a float when it is a JSON number, else NULL.

        A value of another JSON type (stored before its attribute was declared numeric) is
        no number: PostgreSQL would fail the whole query casting it.
        """
        if self.pg:
            return case(
                (
                    self.json_type(document, keys) == "number",
                    cast(self.text(document, keys), Float()),
                ),
                else_=None,
            )
        return case(
            (
                self.json_type(document, keys).in_(("integer", "real")),
                cast(self.text(document, keys), Float()),
            ),
            else_=None,
        )

    def boolean_is(self, document: Expr, keys: tuple[str, ...], value: bool) -> Expr:
        if self.pg:
            return func.coalesce(self.text(document, keys) == ("true" if value else "false"), False)
        # json_extract gives 1/0 for JSON true/false; json_type tells booleans from numbers.
        return func.coalesce(
            self.json_type(document, keys) == ("true" if value else "false"), False
        )

    def elements(self, document: Expr, keys: tuple[str, ...]) -> tuple[Any, Expr]:
        """A table-valued source of the array's elements and the element expression."""
        if self.pg:
            arr = document.op("#>")(literal(list(keys), _TEXT_ARRAY))
            only_arrays = case(
                (func.jsonb_typeof(arr) == "array", arr), else_=func.jsonb_build_array()
            )
            pg_source = func.jsonb_array_elements(only_arrays).table_valued("value")
            return pg_source, pg_source.c.value
        source = func.json_each(document, self._sqlite_path(keys)).table_valued("value", "type")
        return source, source.c.value

    def element_text(self, element: Expr, key: str | None) -> Expr:
        if self.pg:
            if key is None:
                return element.op("#>>")(literal([], _TEXT_ARRAY))
            return element.op("->>")(literal(key))
        if key is None:
            return element
        return func.json_extract(element, self._sqlite_path((key,)))

    def element_type(self, element: Expr, key: str) -> Expr:
        if self.pg:
            return func.jsonb_typeof(element.op("->")(literal(key)))
        return func.json_type(element, self._sqlite_path((key,)))


class FilterCompiler:
    """Compiles filters for one :class:`Target`."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.json = _Json(target.dialect)
        self.document = target.table.c.document

    def compile(self, node: Filter) -> Expr:
        """Compile ``node`` to a boolean SQL expression that is never NULL."""
        if isinstance(node, And):
            return and_(self.compile(node.left), self.compile(node.right))
        if isinstance(node, Or):
            return or_(self.compile(node.left), self.compile(node.right))
        if isinstance(node, Not):
            return not_(self.compile(node.operand))
        if isinstance(node, ValuePath):
            return self._value_path(node)
        return self._leaf(node)

    # -- leaves on the resource ----------------------------------------------------------
    def _resolve(self, path: AttrPath) -> ResolvedPath:
        return resolve(path, self.target.resource_type, error=InvalidFilterError)

    def _leaf(self, node: Compare | Present) -> Expr:
        resolved = self._resolve(node.path)
        attribute = resolved.attribute
        if attribute.name == self.target.membership:
            return self._membership(node, resolved)
        key = resolved.key
        column = self.target.columns.get(key)
        if column is not None:
            return self._on_column(node, column, resolved.leaf)
        if attribute.name == "meta":
            if resolved.sub_attribute is not None and resolved.sub_attribute.name == "resourceType":
                return self._constant(node, self.target.resource_type.name)
            raise InvalidFilterError(f"'{node.path}' is not filterable")
        if attribute.multi_valued:
            sub = resolved.sub_attribute or attribute.sub("value")
            if sub is None:
                raise InvalidFilterError(f"'{node.path}' needs a sub-attribute")
            inner: Compare | Present = (
                Compare(AttrPath(None, sub.name), node.op, node.value)
                if isinstance(node, Compare)
                else Present(AttrPath(None, sub.name))
            )
            attribute_key = key[:-1] if resolved.sub_attribute is not None else key
            return self._exists(attribute_key, attribute, inner)
        if resolved.leaf.type is AttrType.COMPLEX:
            if attribute.name == "manager" and resolved.sub_attribute is None:
                # Legacy Entra "manager eq <id>"
                # (docs/reference/entra-wire.md#wire-legacy-manager-filter).
                value_attr = attribute.sub("value")
                assert value_attr is not None  # noqa: S101 - defined in schema.py
                return self._on_json(node, (*key, "value"), value_attr)
            if isinstance(node, Present):
                return func.coalesce(self.json.json_type(self.document, key) == "object", False)
            raise InvalidFilterError(f"'{node.path}' is complex; compare a sub-attribute")
        return self._on_json(node, key, resolved.leaf)

    def _constant(self, node: Compare | Present, actual: str) -> Expr:
        if isinstance(node, Present):
            return true()
        return true() if _compare_python(actual, node.op, node.value) else false()

    def _on_column(self, node: Compare | Present, column: Column, attribute: Attribute) -> Expr:
        expr = column.expr
        if isinstance(node, Present):
            return (
                and_(expr.is_not(None), expr != "")
                if column.kind is AttrType.STRING
                else (expr.is_not(None))
            )
        if column.kind is AttrType.BOOLEAN:
            return self._boolean(expr == literal(True), expr == literal(False), node)
        if column.kind is AttrType.DATETIME:
            return _ordered(expr, node.op, _datetime_value(node))
        value = _string_value(node, attribute)
        if column.folded:
            return _string_compare(expr, node.op, fold(value), self.target.dialect)
        if not attribute.case_exact:
            return _string_compare(func.lower(expr), node.op, value.lower(), self.target.dialect)
        return _string_compare(expr, node.op, value, self.target.dialect)

    def _boolean(self, is_true: Expr, is_false: Expr, node: Compare) -> Expr:
        try:
            wanted = coerce_boolean(node.value, str(node.path))
        except Exception:
            raise InvalidFilterError(
                f"'{node.path}' is boolean; compare it with true or false"
            ) from None
        if node.op is CompareOp.EQ:
            return is_true if wanted else is_false
        if node.op is CompareOp.NE:
            return not_(is_true if wanted else is_false)
        raise InvalidFilterError(f"'{node.op}' does not apply to the boolean '{node.path}'")

    def _on_json(
        self, node: Compare | Present, keys: tuple[str, ...], attribute: Attribute
    ) -> Expr:
        if isinstance(node, Present):
            return func.coalesce(
                and_(
                    self.json.json_type(self.document, keys).is_not(None),
                    self.json.json_type(self.document, keys) != "null",
                    func.coalesce(self.json.text(self.document, keys), "x") != "",
                ),
                False,
            )
        if attribute.type is AttrType.BOOLEAN:
            return self._boolean(
                self.json.boolean_is(self.document, keys, True),
                self.json.boolean_is(self.document, keys, False),
                node,
            )
        if attribute.type in _NUMERIC:
            number = self.json.number(self.document, keys)
            return func.coalesce(_ordered(number, node.op, _number_value(node)), False)
        text_expr = self.json.text(self.document, keys)
        return self._text_compare(text_expr, node, attribute)

    def _text_compare(self, expr: Expr, node: Compare, attribute: Attribute) -> Expr:
        if attribute.type in _NUMERIC:
            return func.coalesce(_ordered(cast(expr, Float()), node.op, _number_value(node)), False)
        value = _string_value(node, attribute)
        if attribute.case_exact:
            return func.coalesce(_string_compare(expr, node.op, value, self.target.dialect), False)
        return func.coalesce(
            _string_compare(func.lower(expr), node.op, value.lower(), self.target.dialect), False
        )

    # -- multi-valued attributes ---------------------------------------------------------
    def _value_path(self, node: ValuePath) -> Expr:
        resolved = self._resolve(node.path)
        attribute = resolved.attribute
        if attribute.name == self.target.membership:
            return self._membership_value_path(node, resolved)
        if not attribute.multi_valued or attribute.type is not AttrType.COMPLEX:
            raise InvalidFilterError(f"'{node.path}' is not a multi-valued complex attribute")
        return self._exists(resolved.key, attribute, node.filter)

    def _exists(self, keys: tuple[str, ...], attribute: Attribute, inner: Filter) -> Expr:
        source, element = self.json.elements(self.document, keys)
        condition = self._element(inner, attribute, element)
        return exists(select(literal(1)).select_from(source).where(condition))

    def _element(self, node: Filter, parent: Attribute, element: Expr) -> Expr:
        if isinstance(node, And):
            return and_(
                self._element(node.left, parent, element),
                self._element(node.right, parent, element),
            )
        if isinstance(node, Or):
            return or_(
                self._element(node.left, parent, element),
                self._element(node.right, parent, element),
            )
        if isinstance(node, Not):
            return not_(self._element(node.operand, parent, element))
        if isinstance(node, ValuePath):
            raise InvalidFilterError("Value filters cannot be nested")
        sub = parent.sub(node.path.attr)
        if sub is None or node.path.sub_attr is not None or node.path.uri is not None:
            raise InvalidFilterError(f"'{parent.name}' has no sub-attribute '{node.path}'")
        if isinstance(node, Present):
            return func.coalesce(
                and_(
                    self.json.element_type(element, sub.name).is_not(None),
                    self.json.element_type(element, sub.name) != "null",
                ),
                False,
            )
        if sub.type is AttrType.BOOLEAN:
            kind = self.json.element_type(element, sub.name)
            return self._boolean(
                func.coalesce(kind == "true", False), func.coalesce(kind == "false", False), node
            )
        return self._text_compare(self.json.element_text(element, sub.name), node, sub)

    # -- membership ----------------------------------------------------------------------
    def _membership(self, node: Compare | Present, resolved: ResolvedPath) -> Expr:
        sub = resolved.sub_attribute.name if resolved.sub_attribute is not None else "value"
        if isinstance(node, Present):
            return self._membership_exists(None)
        if sub != "value" or node.op not in (CompareOp.EQ, CompareOp.NE):
            raise InvalidFilterError(
                f"'{node.path}' supports only 'eq', 'ne' and 'pr' on the member id"
            )
        if not isinstance(node.value, str):
            raise InvalidFilterError(f"'{node.path}' compares with a string id")
        found = self._membership_exists(node.value)
        return found if node.op is CompareOp.EQ else not_(found)

    def _membership_value_path(self, node: ValuePath, resolved: ResolvedPath) -> Expr:
        inner = node.filter
        if (
            isinstance(inner, Compare)
            and inner.path.attr.lower() == "value"
            and inner.op is CompareOp.EQ
            and isinstance(inner.value, str)
        ):
            return self._membership_exists(inner.value)
        raise InvalidFilterError(f"'{node.path}[…]' supports only 'value eq \"id\"'")

    def _membership_exists(self, member_id: str | None) -> Expr:
        table = self.target.table
        same_tenant = memberships.c.tenant_id == table.c.tenant_id  # joins carry the tenant
        if self.target.membership == "members":
            condition = and_(memberships.c.group_id == table.c.id, same_tenant)
            if member_id is not None:
                condition = and_(condition, memberships.c.member_id == member_id)
        else:
            condition = and_(memberships.c.member_id == table.c.id, same_tenant)
            if member_id is not None:
                condition = and_(condition, memberships.c.group_id == member_id)
        return exists(select(literal(1)).select_from(memberships).where(condition))


@dataclass(frozen=True, slots=True)
class FilterCost:
    """What a filter costs the database, told from its tree before any SQL runs.

    ``scan_terms``: the terms that no index answers; each is evaluated on every row the
    indexed terms leave (reading the stored document for an attribute without a column).
    ``bounded``: an index narrows the rows to a few whatever the tenant's size (an ``eq`` on
    ``id``, ``userName``, ``externalId`` or a group's ``displayName``, in every branch of an
    ``or`` and in some operand of an ``and``).
    """

    scan_terms: int
    bounded: bool


@cache
def _indexed_columns(table: Table) -> frozenset[str]:
    """Columns an index leads with (after the tenant): an ``eq`` on them reads a few rows."""
    names = {column.name for column in table.columns if column.unique}
    for index in table.indexes:
        columns = list(index.columns)
        if columns and columns[0].name == "tenant_id" and len(columns) > 1:
            names.add(columns[1].name)
        elif columns and index.unique:
            names.add(columns[0].name)
    return frozenset(names)


_INDEXED_TERM = FilterCost(0, bounded=True)
_SCAN_TERM = FilterCost(1, bounded=False)
_KEPT_PATHS = 1024
_indexed_paths: dict[tuple[str, AttrPath], bool] = {}


def indexed_equality(node: Filter, target: Target) -> bool:
    """Whether ``node`` is an ``eq`` with a string on a column an index leads with.

    Looked up once per (table, path): at most :data:`_KEPT_PATHS` answers are kept, so a
    client's made-up paths cannot grow it.
    """
    if type(node) is not Compare or node.op is not CompareOp.EQ or type(node.value) is not str:
        return False
    key = (target.table.name, node.path)
    indexed = _indexed_paths.get(key)
    if indexed is None:
        try:
            column = target.columns.get(resolve(node.path, target.resource_type).key)
        except ScimError:
            column = None
        indexed = column is not None and column.expr.name in _indexed_columns(target.table)
        if len(_indexed_paths) < _KEPT_PATHS:
            _indexed_paths[key] = indexed
    return indexed


def filter_cost(node: Filter, target: Target) -> FilterCost:
    """The :class:`FilterCost` of ``node`` against ``target``, without SQL.

    A term that fails to resolve counts as a scan term; compiling it reports the error.
    """
    if isinstance(node, And):
        left, right = filter_cost(node.left, target), filter_cost(node.right, target)
        return FilterCost(left.scan_terms + right.scan_terms, left.bounded or right.bounded)
    if isinstance(node, Or):
        left, right = filter_cost(node.left, target), filter_cost(node.right, target)
        return FilterCost(left.scan_terms + right.scan_terms, left.bounded and right.bounded)
    if isinstance(node, Not):
        return FilterCost(filter_cost(node.operand, target).scan_terms, bounded=False)
    if isinstance(node, ValuePath):
        return FilterCost(max(1, _leaves(node.filter)), bounded=False)
    return _INDEXED_TERM if indexed_equality(node, target) else _SCAN_TERM


def _leaves(node: Filter) -> int:
    if isinstance(node, And | Or):
        return _leaves(node.left) + _leaves(node.right)
    if isinstance(node, Not):
        return _leaves(node.operand)
    if isinstance(node, ValuePath):
        return _leaves(node.filter)
    return 1


_NUMERIC = (AttrType.INTEGER, AttrType.DECIMAL)


def _number_value(node: Compare) -> int | float:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidFilterError(f"'{node.path}' is numeric; compare it with a number")
    return value


def _string_value(node: Compare, attribute: Attribute) -> str:
    value = node.value
    if isinstance(value, str):
        return value
    if value is None:
        raise InvalidFilterError(f"Use 'not ({node.path} pr)' rather than comparing with null")
    raise InvalidFilterError(f"'{node.path}' is a {attribute.type}; compare it with a string")


def _datetime_value(node: Compare) -> datetime:
    if not isinstance(node.value, str):
        raise InvalidFilterError(f"'{node.path}' is a dateTime; compare it with a string")
    try:
        moment = datetime.fromisoformat(node.value.replace("Z", "+00:00"))
    except ValueError:
        moment = _lenient_datetime(node.value, str(node.path))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _lenient_datetime(raw: str, where: str) -> datetime:
    """Accept more than six fractional digits (.NET sends seven: 14:38:21.8617979-07:00)."""
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", raw)
    if match is None:
        raise InvalidFilterError(f"'{where}' needs an RFC 3339 dateTime, got '{raw}'")
    fraction = (match.group(2) or "")[:7]
    zone = (match.group(3) or "").replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(match.group(1) + fraction + zone)
    except ValueError:
        raise InvalidFilterError(f"'{where}' needs an RFC 3339 dateTime, got '{raw}'") from None


_ORDERED: dict[CompareOp, Callable[[Expr, Any], Expr]] = {
    CompareOp.EQ: lambda e, v: e == v,
    CompareOp.NE: lambda e, v: e != v,
    CompareOp.GT: lambda e, v: e > v,
    CompareOp.GE: lambda e, v: e >= v,
    CompareOp.LT: lambda e, v: e < v,
    CompareOp.LE: lambda e, v: e <= v,
}


def _ordered(expr: Expr, op: CompareOp, value: Any) -> Expr:
    compare = _ORDERED.get(op)
    if compare is None:
        raise InvalidFilterError(f"'{op}' does not apply to this attribute's type")
    if op is CompareOp.NE:
        return or_(expr.is_(None), expr != value)
    return and_(expr.is_not(None), compare(expr, value))


def _string_compare(expr: Expr, op: CompareOp, value: str, dialect: str) -> Expr:
    if op is CompareOp.CO:
        found = func.strpos(expr, value) if dialect == "postgresql" else func.instr(expr, value)
        return and_(expr.is_not(None), found > 0)
    if op is CompareOp.SW:
        return and_(expr.is_not(None), func.substr(expr, 1, len(value)) == value)
    if op is CompareOp.EW:
        start = func.length(expr) - len(value) + 1
        return and_(
            expr.is_not(None), func.length(expr) >= len(value), func.substr(expr, start) == value
        )
    return _ordered(expr, op, value)


def _compare_python(actual: str, op: CompareOp, value: Value) -> bool:
    if not isinstance(value, str):
        return False
    a, v = actual.lower(), value.lower()
    return {
        CompareOp.EQ: a == v,
        CompareOp.NE: a != v,
        CompareOp.CO: v in a,
        CompareOp.SW: a.startswith(v),
        CompareOp.EW: a.endswith(v),
        CompareOp.GT: a > v,
        CompareOp.GE: a >= v,
        CompareOp.LT: a < v,
        CompareOp.LE: a <= v,
    }[op]
