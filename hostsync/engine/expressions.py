r"""Entra's attribute-mapping expression language: parsed once into a tree, never ``eval``.

docs/reference/entra-engine.md#expressions: an expression is a function call such as
``Join(" ", [givenName], [surname])``; arguments are attributes in square brackets, string
constants in double quotes (``\\`` escapes ``"`` and ``\\``), numbers, ``&H`` hex numbers,
bare constants (``vbTextCompare``) or other calls; an argument may be left empty
(``Switch([IsSoftDeleted], , "False", "True", "True", "False")``). Function names are
case-sensitive. ``IIF`` conditions use ``= <> > >= < <=``. Expressions are at most 10,000
characters.

Values are ``None`` (NULL), ``str``, ``int``, ``bool``, :class:`~datetime.datetime` (UTC) or
lists of them. NULL flows nowhere: a mapping whose expression yields NULL is skipped
(docs/reference/entra-engine.md#mapping-nulls). Dates render as ``M/d/yyyy h:mm:ss tt``.

Every function in the reference's table is implemented except ``SelectUniqueValue``, which Entra
supports only for HR → Active Directory and which needs target look-ups; it is refused at
parse time. ``Trim`` is an extension (OURS, not Entra).
"""

from __future__ import annotations

import base64
import random
import re
import string
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hostsync.engine.errors import ExpressionError

MAX_LENGTH = 10_000
"""Entra's limit (docs/reference/entra-engine.md#expr-syntax)."""

Value = Any
"""None, str, int, bool, datetime, or a list of those (plus role dicts)."""


# --------------------------------------------------------------------------- tree


@dataclass(frozen=True, slots=True)
class Literal:
    """A string or number constant, or a bare constant such as ``vbTextCompare``."""

    value: Value


@dataclass(frozen=True, slots=True)
class Attribute:
    """``[name]``: a source attribute."""

    name: str


@dataclass(frozen=True, slots=True)
class Empty:
    """An argument left empty (``Switch([a], , …)``); evaluates to NULL."""


@dataclass(frozen=True, slots=True)
class Call:
    """``Name(arg, …)``."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Compare:
    """``left op right`` inside ``IIF``/``CBool``."""

    op: str
    left: Node
    right: Node


Node = Literal | Attribute | Empty | Call | Compare


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed expression: its text and its tree."""

    text: str
    tree: Node

    def attributes(self) -> frozenset[str]:
        """Every source attribute the expression reads."""
        found: set[str] = set()
        _collect(self.tree, found)
        return frozenset(found)


def _collect(node: Node, found: set[str]) -> None:
    if isinstance(node, Attribute):
        found.add(node.name)
    elif isinstance(node, Call):
        for arg in node.args:
            _collect(arg, found)
    elif isinstance(node, Compare):
        _collect(node.left, found)
        _collect(node.right, found)


# --------------------------------------------------------------------------- lexer + parser

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<attr>\[[^\]]*\])
  | (?P<string>"(?:\\.|[^"\\])*")
  | (?P<hex>&H[0-9A-Fa-f]+)
  | (?P<number>-?\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><>|>=|<=|=|>|<)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExpressionError(f"unexpected character {text[pos]!r} at position {pos + 1}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            found = token.text or "end of expression"
            raise ExpressionError(f"expected '{text}' at position {token.pos + 1}, found {found!r}")

    def parse(self) -> Node:
        node = self.comparison()
        if self.current.kind != "end":
            token = self.current
            raise ExpressionError(f"unexpected {token.text!r} at position {token.pos + 1}")
        return node

    def comparison(self) -> Node:
        left = self.operand()
        if self.current.kind == "op":
            op = self.take().text
            return Compare(op, left, self.operand())
        return left

    def operand(self) -> Node:
        token = self.take()
        if token.kind == "attr":
            name = token.text[1:-1].strip()
            if not name:
                raise ExpressionError(f"empty attribute name at position {token.pos + 1}")
            return Attribute(name)
        if token.kind == "string":
            return Literal(re.sub(r"\\(.)", r"\1", token.text[1:-1]))
        if token.kind == "number":
            return Literal(int(token.text))
        if token.kind == "hex":
            return Literal(int(token.text[2:], 16))
        if token.kind == "ident":
            if self.current.text == "(":
                return self.call(token)
            return Literal(token.text)
        found = token.text or "end of expression"
        raise ExpressionError(f"expected a value at position {token.pos + 1}, found {found!r}")

    def call(self, name: _Token) -> Call:
        spec = FUNCTIONS.get(name.text)
        if spec is None:
            raise ExpressionError(_unknown_function(name.text))
        if spec.refusal:
            raise ExpressionError(f"{name.text} is not supported: {spec.refusal}")
        self.expect("(")
        args: list[Node] = []
        if self.current.text == ")":
            self.take()
        else:
            while True:
                if self.current.text in {",", ")"}:
                    args.append(Empty())
                else:
                    args.append(self.comparison())
                token = self.take()
                if token.text == ")":
                    break
                if token.text != ",":
                    found = token.text or "end of expression"
                    raise ExpressionError(
                        f"expected ',' or ')' at position {token.pos + 1}, found {found!r}"
                    )
        spec.check_arity(name.text, len(args))
        return Call(name.text, tuple(args))


def _unknown_function(name: str) -> str:
    folded = {known.lower(): known for known in FUNCTIONS}
    hint = folded.get(name.lower())
    suffix = f" (function names are case-sensitive: did you mean {hint}?)" if hint else ""
    return f"unknown function '{name}'{suffix}"


def parse(text: str) -> Expression:
    """Parse an expression; raise :class:`ExpressionError` with the position of the fault."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise ExpressionError("empty expression")
    return Expression(text, _Parser(text).parse())


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True, slots=True)
class Context:
    """What an evaluation may read: the object's attributes, a clock and a random source."""

    attributes: Mapping[str, Value]
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    rng: random.Random = field(default_factory=random.SystemRandom)

    def attribute(self, name: str) -> Value:
        """An attribute's value (exact name first, then case-insensitively); NULL if absent."""
        if name in self.attributes:
            return self.attributes[name]
        lowered = name.lower()
        for key, value in self.attributes.items():
            if key.lower() == lowered:
                return value
        return None


def evaluate(expression: Expression, context: Context) -> Value:
    """Evaluate a parsed expression against one object."""
    return _eval(expression.tree, context)


def _eval(node: Node, context: Context) -> Value:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Attribute):
        return context.attribute(node.name)
    if isinstance(node, Empty):
        return None
    if isinstance(node, Compare):
        return _compare(node, context)
    spec = FUNCTIONS[node.name]
    if spec.lazy:
        return spec.function(context, *node.args)
    args = [_eval(arg, context) for arg in node.args]
    try:
        return spec.function(context, *args)
    except (ValueError, TypeError, OverflowError, re.error) as exc:
        raise ExpressionError(f"{node.name}: {exc}") from None


def _compare(node: Compare, context: Context) -> bool:
    """``IIF`` comparison: false when either side is NULL or empty.

    See docs/reference/entra-engine.md#expr-iif.
    """
    left, right = _eval(node.left, context), _eval(node.right, context)
    if _null_or_empty(left) or _null_or_empty(right):
        return False
    lnum, rnum = _number(left), _number(right)
    if lnum is not None and rnum is not None:
        a: Any = lnum
        b: Any = rnum
    else:
        a, b = to_text(left), to_text(right)
    match node.op:
        case "=":
            return bool(a == b)
        case "<>":
            return bool(a != b)
        case ">":
            return bool(a > b)
        case ">=":
            return bool(a >= b)
        case "<":
            return bool(a < b)
        case _:
            return bool(a <= b)


# --------------------------------------------------------------------------- conversions


def to_text(value: Value) -> str | None:
    """A value as Entra renders it into a string (``True``/``False``, dates, first of a list)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, datetime):
        return format_entra_date(value)
    if isinstance(value, list | tuple):
        return to_text(value[0]) if value else None
    return str(value)


def _null_or_empty(value: Value) -> bool:
    return value is None or value == "" or (isinstance(value, list | tuple) and not value)


def _number(value: Value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _integer(value: Value, what: str) -> int:
    number = _number(value)
    if number is None:
        raise ValueError(f"{what} must be an integer, got {value!r}")
    return number


def _truth(value: Value) -> bool:
    if isinstance(value, bool):
        return value
    number = _number(value)
    if number is not None:
        return number != 0
    return isinstance(value, str) and value.strip().lower() == "true"


def _values(value: Value) -> list[Value]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [item for item in value if item is not None]
    return [value]


def format_entra_date(moment: datetime) -> str:
    """``M/d/yyyy h:mm:ss tt`` in UTC, the .NET invariant format Entra returns."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    hour = utc.hour % 12 or 12
    half = "AM" if utc.hour < 12 else "PM"
    return f"{utc.month}/{utc.day}/{utc.year} {hour}:{utc.minute:02}:{utc.second:02} {half}"


_ISO_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?: (\d{1,2}):(\d{2}):(\d{2}) ?(AM|PM)?)?$")


def parse_date(value: Value) -> datetime:
    """Parse an ISO 8601 or ``M/d/yyyy h:mm:ss tt`` date to UTC (``CDate``)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    text = (to_text(value) or "").strip()
    iso = _ISO_DATE.match(text)
    if iso:
        year, month, day, hour, minute, second, fraction, offset = iso.groups()
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
            tzinfo=UTC,
        )
        return moment - _offset(offset)
    us = _US_DATE.match(text)
    if us:
        month, day, year, hour, minute, second, half = us.groups()
        hours = int(hour or 0) % 12 + (12 if half == "PM" else 0) if half else int(hour or 0)
        return datetime(
            int(year), int(month), int(day), hours, int(minute or 0), int(second or 0), tzinfo=UTC
        )
    raise ValueError(f"cannot read {text!r} as a date")


def _offset(text: str | None) -> timedelta:
    if not text or text == "Z":
        return timedelta(0)
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))


# .NET custom date and time format strings (used by FormatDateTime).
_DOTNET_TOKEN = re.compile(
    r"yyyy|yy|y|MMMM|MMM|MM|M|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s|f{1,7}|F{1,7}|tt|t|zzz|zz|z|K"
    r"|'[^']*'|\"[^\"]*\"|\\.|."
)
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_PARSE_PATTERNS = {
    "yyyy": r"(?P<year>\d{4})",
    "yy": r"(?P<year2>\d{2})",
    "MMMM": r"(?P<monthname>[A-Za-z]+)",
    "MMM": r"(?P<monthabbr>[A-Za-z]{3})",
    "MM": r"(?P<month>\d{2})",
    "M": r"(?P<month>\d{1,2})",
    "dddd": r"[A-Za-z]+",
    "ddd": r"[A-Za-z]{3}",
    "dd": r"(?P<day>\d{2})",
    "d": r"(?P<day>\d{1,2})",
    "HH": r"(?P<hour>\d{2})",
    "H": r"(?P<hour>\d{1,2})",
    "hh": r"(?P<hour12>\d{2})",
    "h": r"(?P<hour12>\d{1,2})",
    "mm": r"(?P<minute>\d{2})",
    "m": r"(?P<minute>\d{1,2})",
    "ss": r"(?P<second>\d{2})",
    "s": r"(?P<second>\d{1,2})",
    "tt": r"(?P<half>AM|PM)",
    "t": r"(?P<half1>A|P)",
    "zzz": r"(?P<offset>[+-]\d{2}:\d{2})",
    "zz": r"(?P<offset>[+-]\d{2})",
    "z": r"(?P<offset>[+-]\d{1,2})",
    "K": r"(?P<offset>Z|[+-]\d{2}:\d{2})?",
}


_SPECIFIER_CHARS = frozenset("yMdHhmsftzK")


def _literal(token: str) -> str | None:
    if len(token) >= 2 and token[0] in "'\"" and token[-1] == token[0]:
        return token[1:-1]
    if token.startswith("\\") and len(token) == 2:
        return token[1]
    if len(token) == 1 and token not in _SPECIFIER_CHARS:
        return token
    return None


def _parse_dotnet(text: str, fmt: str) -> datetime:
    pattern = ""
    seen: set[str] = set()
    for token in _DOTNET_TOKEN.findall(fmt):
        literal = _literal(token)
        if literal is not None:
            pattern += re.escape(literal)
        elif token[0] in "fF":
            width = len(token)
            group = "fraction" if "fraction" not in seen else None
            quant = f"{{{width}}}" if token[0] == "f" else f"{{0,{width}}}"
            pattern += f"(?P<{group}>\\d{quant})" if group else f"\\d{quant}"
            seen.add("fraction")
        else:
            sub = _PARSE_PATTERNS[token]
            name = re.match(r"\(\?P<(\w+)>", sub)
            if name and name.group(1) in seen:
                sub = re.sub(r"\(\?P<\w+>", "(?:", sub, count=1)
            elif name:
                seen.add(name.group(1))
            pattern += sub
    match = re.fullmatch(pattern, text.strip())
    if match is None:
        raise ValueError(f"{text!r} does not match the input format {fmt!r}")
    parts = match.groupdict()
    year = int(parts.get("year") or 0) or 2000 + int(parts.get("year2") or 0)
    if parts.get("monthname") or parts.get("monthabbr"):
        written = (parts.get("monthname") or parts.get("monthabbr") or "").lower()
        month = next(i for i, m in enumerate(_MONTHS, 1) if m.lower().startswith(written))
    else:
        month = int(parts.get("month") or 1)
    hour = int(parts.get("hour") or 0)
    if parts.get("hour12"):
        half = parts.get("half") or ((parts.get("half1") or "A") + "M")
        hour = int(parts["hour12"]) % 12 + (12 if half == "PM" else 0)
    fraction = (parts.get("fraction") or "0")[:6].ljust(6, "0")
    moment = datetime(
        year,
        month,
        int(parts.get("day") or 1),
        hour,
        int(parts.get("minute") or 0),
        int(parts.get("second") or 0),
        int(fraction),
        tzinfo=UTC,
    )
    offset = parts.get("offset")
    if offset and len(offset) <= 3:
        offset = f"{offset[0]}{int(offset[1:]):02}:00"
    return moment - _offset(offset)


def _format_dotnet(moment: datetime, fmt: str) -> str:
    out: list[str] = []
    for token in _DOTNET_TOKEN.findall(fmt):
        literal = _literal(token)
        if literal is not None:
            out.append(literal)
        elif token[0] in "fF":
            digits = f"{moment.microsecond:06}0"[: len(token)]
            out.append(digits.rstrip("0") if token[0] == "F" else digits)
        else:
            out.append(_format_part(moment, token))
    return "".join(out)


def _format_part(moment: datetime, token: str) -> str:
    hour12 = moment.hour % 12 or 12
    parts = {
        "yyyy": f"{moment.year:04}",
        "yy": f"{moment.year % 100:02}",
        "y": str(moment.year % 100),
        "MMMM": _MONTHS[moment.month - 1],
        "MMM": _MONTHS[moment.month - 1][:3],
        "MM": f"{moment.month:02}",
        "M": str(moment.month),
        "dddd": _DAYS[moment.weekday()],
        "ddd": _DAYS[moment.weekday()][:3],
        "dd": f"{moment.day:02}",
        "d": str(moment.day),
        "HH": f"{moment.hour:02}",
        "H": str(moment.hour),
        "hh": f"{hour12:02}",
        "h": str(hour12),
        "mm": f"{moment.minute:02}",
        "m": str(moment.minute),
        "ss": f"{moment.second:02}",
        "s": str(moment.second),
        "tt": "AM" if moment.hour < 12 else "PM",
        "t": "A" if moment.hour < 12 else "P",
        "zzz": "+00:00",
        "zz": "+00",
        "z": "+0",
        "K": "Z",
    }
    return parts[token]


# --------------------------------------------------------------------------- functions

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def _append(_: Context, source: Value, suffix: Value) -> Value:
    text = to_text(source)
    return None if text is None else text + (to_text(suffix) or "")


def _bit_and(_: Context, left: Value, right: Value) -> Value:
    return _integer(left, "value1") & _integer(right, "value2")


def _cbool(_: Context, value: Value) -> Value:
    return _truth(value)


def _cdate(_: Context, value: Value) -> Value:
    return None if _null_or_empty(value) else parse_date(value)


def _coalesce(_: Context, *values: Value) -> Value:
    return next((value for value in values if value is not None), None)


def _base64(_: Context, value: Value) -> Value:
    text = to_text(value)
    return None if text is None else base64.b64encode(text.encode("utf-16-le")).decode("ascii")


def _utf8_hex(_: Context, value: Value) -> Value:
    text = to_text(value)
    return None if text is None else text.encode("utf-8").hex().upper()


def _count(_: Context, value: Value) -> Value:
    return len(_values(value))


def _cstr(_: Context, value: Value) -> Value:
    return to_text(value)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


_INTERVALS = {
    "d": timedelta(days=1),
    "ww": timedelta(weeks=1),
    "h": timedelta(hours=1),
    "n": timedelta(minutes=1),
    "s": timedelta(seconds=1),
}


def _interval(value: Value) -> str:
    interval = to_text(value) or ""
    if interval not in {*_INTERVALS, "yyyy", "m"}:
        raise ValueError(f"unknown interval {interval!r} (yyyy, m, d, ww, h, n, s)")
    return interval


def _date_add(_: Context, interval: Value, amount: Value, moment: Value) -> Value:
    unit = _interval(interval)
    if _null_or_empty(moment):
        return None
    count = _integer(amount, "value")
    date = parse_date(moment)
    if unit == "yyyy":
        return _add_months(date, 12 * count)
    if unit == "m":
        return _add_months(date, count)
    return date + count * _INTERVALS[unit]


def _date_diff(_: Context, interval: Value, first: Value, second: Value) -> Value:
    unit = _interval(interval)
    if _null_or_empty(first) or _null_or_empty(second):
        return None
    start, end = parse_date(first), parse_date(second)
    if unit in {"yyyy", "m"}:
        months = (end.year - start.year) * 12 + end.month - start.month
        return months // 12 if unit == "yyyy" else months
    return int((end - start) / _INTERVALS[unit])


def _date_from_num(_: Context, value: Value) -> Value:
    if _null_or_empty(value):
        return None
    return _FILETIME_EPOCH + timedelta(microseconds=_integer(value, "value") // 10)


def _num_from_date(_: Context, value: Value) -> Value:
    if _null_or_empty(value):
        return None
    delta = parse_date(value) - _FILETIME_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def _format_date_time(_: Context, source: Value, *rest: Value) -> Value:
    # FormatDateTime(source, [dateTimeStyles], inputFormat, outputFormat): styles optional.
    input_format, output_format = rest[-2], rest[-1]
    text = to_text(source)
    if text is None:
        return None
    moment = _parse_dotnet(text, to_text(input_format) or "")
    return _format_dotnet(moment, to_text(output_format) or "")


def _guid(context: Context) -> Value:
    return str(uuid.UUID(int=context.rng.getrandbits(128), version=4))


def _ignore_flow(_: Context, value: Value) -> Value:
    return None if _null_or_empty(value) else value


def _iif(context: Context, condition: Node, if_true: Node, if_false: Node) -> Value:
    chosen = if_true if _truth(_eval(condition, context)) else if_false
    return _eval(chosen, context)


def _instr(
    _: Context, value1: Value, value2: Value, start: Value = None, compare: Value = None
) -> Value:
    haystack, needle = to_text(value1), to_text(value2)
    if haystack is None or needle is None:
        return None
    begin = _integer(start, "start") if start is not None else 1
    if to_text(compare) == "vbTextCompare":
        haystack, needle = haystack.casefold(), needle.casefold()
    return haystack.find(needle, max(begin, 1) - 1) + 1


def _is_null(_: Context, value: Value) -> Value:
    return value is None


def _is_null_or_empty(_: Context, value: Value) -> Value:
    return _null_or_empty(value)


def _is_present(_: Context, value: Value) -> Value:
    return not _null_or_empty(value)


def _is_string(_: Context, value: Value) -> Value:
    return value is not None and not isinstance(value, list | tuple | dict)


def _item(_: Context, value: Value, index: Value) -> Value:
    items = _values(value)
    position = _integer(index, "index")
    return items[position - 1] if 1 <= position <= len(items) else None


def _join(_: Context, separator: Value, *sources: Value) -> Value:
    parts = [to_text(item) or "" for source in sources for item in _values(source)]
    return (to_text(separator) or "").join(parts) if parts else None


def _left(_: Context, value: Value, count: Value) -> Value:
    text = to_text(value)
    if text is None:
        return ""
    number = _integer(count, "NumChars")
    return text if number < 0 else text[:number]


def _mid(_: Context, value: Value, start: Value, length: Value) -> Value:
    text = to_text(value)
    if text is None:
        return None
    begin = max(_integer(start, "start"), 1) - 1
    return text[begin : begin + max(_integer(length, "length"), 0)]


_DIACRITICS = str.maketrans(
    {
        "æ": "ae",
        "Æ": "AE",
        "ø": "oe",
        "Ø": "OE",
        "œ": "oe",
        "Œ": "OE",
        "ß": "ss",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "TH",
        "\u0131": "i",  # dotless i
    }
)


def _normalize_diacritics(_: Context, value: Value) -> Value:
    text = to_text(value)
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFKD", text.translate(_DIACRITICS))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _not(_: Context, value: Value) -> Value:
    return not _truth(value)


def _now(context: Context) -> Value:
    return context.now()


def _pcase(_: Context, value: Value, separators: Value = None) -> Value:
    text = to_text(value)
    if text is None:
        return None
    custom = to_text(separators)

    def is_separator(char: str) -> bool:
        if custom is not None:
            return char in custom
        return char.isspace() or unicodedata.category(char)[0] in "PSZ"

    out: list[str] = []
    at_start = True
    for char in text:
        out.append(char.upper() if at_start else char.lower())
        at_start = is_separator(char)
    return "".join(out)


def _random_string(
    context: Context,
    length: Value,
    numbers: Value,
    specials: Value,
    capitals: Value,
    lowers: Value,
    avoid: Value = None,
) -> Value:
    size = _integer(length, "Length")
    if not 0 < size <= 256:
        raise ValueError("Length must be between 1 and 256")
    excluded = set(to_text(avoid) or "")
    pools = [
        ([c for c in string.digits if c not in excluded], _integer(numbers, "MinimumNumbers")),
        ([c for c in "!#$%&*+-=?@^_~" if c not in excluded], _integer(specials, "MinimumSpecial")),
        ([c for c in string.ascii_uppercase if c not in excluded], _integer(capitals, "Capital")),
        ([c for c in string.ascii_lowercase if c not in excluded], _integer(lowers, "LowerCase")),
    ]
    if sum(minimum for _, minimum in pools) > size:
        raise ValueError("the minimums add up to more than Length")
    chars = [context.rng.choice(pool) for pool, minimum in pools for _ in range(minimum)]
    everything = [c for pool, _ in pools for c in pool]
    chars += [context.rng.choice(everything) for _ in range(size - len(chars))]
    context.rng.shuffle(chars)
    return "".join(chars)


class Redacted(str):
    """A value that flows to the target but shows as ``[Redact]`` in logs."""

    __slots__ = ()


def _redact(_: Context, value: Value) -> Value:
    text = to_text(value)
    return None if text is None else Redacted(text)


def _remove_duplicates(_: Context, value: Value) -> Value:
    return list(dict.fromkeys(_values(value)))


def _dotnet_regex(pattern: str) -> str:
    """.NET named groups ``(?<name>…)`` → Python ``(?P<name>…)``."""
    return re.sub(r"\(\?<(?![=!])", "(?P<", pattern)


def _replace(
    _: Context,
    source: Value,
    old_value: Value = None,
    regex_pattern: Value = None,
    regex_group: Value = None,
    replacement: Value = None,
    replacement_attribute: Value = None,
    template: Value = None,
) -> Value:
    text = to_text(source)
    old, pattern = to_text(old_value), to_text(regex_pattern)
    if old is not None and template is not None:
        return (to_text(template) or "").replace(old, text or "")
    if old is not None:
        return None if text is None else text.replace(old, to_text(replacement) or "")
    if pattern is None:
        raise ValueError("needs oldValue or regexPattern")
    compiled = re.compile(_dotnet_regex(pattern))
    group = to_text(regex_group)
    if group is not None and replacement_attribute is not None and _null_or_empty(text):
        found = compiled.search(to_text(replacement_attribute) or "")
        return found.group(group) if found else None
    if text is None:
        return None
    new = to_text(replacement) or ""
    if group is not None:

        def swap(match: re.Match[str]) -> str:
            whole, start = match.group(0), match.start(group) - match.start(0)
            end = match.end(group) - match.start(0)
            return whole[:start] + new + whole[end:]

        return compiled.sub(swap, text)
    return compiled.sub(
        re.sub(r"\$\{(\w+)\}|\$(\d+)", r"\\g<\1\2>", new.replace("\\", "\\\\")), text
    )


def _roles(value: Value) -> list[dict[str, Any]]:
    roles = [role for role in _values(value) if isinstance(role, Mapping)]
    return sorted((dict(role) for role in roles), key=lambda role: str(role.get("displayName", "")))


def _single_app_role(_: Context, value: Value) -> Value:
    roles = _roles(value)
    if not roles:
        return None
    return roles[0].get("value") or roles[0].get("displayName")


def _app_roles_complex(_: Context, value: Value) -> Value:
    return [
        {
            "primary": False,
            "type": "WindowsAzureActiveDirectoryRole",
            "display": role.get("displayName"),
            "value": role.get("value") or role.get("displayName"),
        }
        for role in _roles(value)
    ] or None


def _split(_: Context, value: Value, delimiter: Value) -> Value:
    text = to_text(value)
    return None if text is None else text.split(to_text(delimiter) or ",")


def _strip_spaces(_: Context, value: Value) -> Value:
    text = to_text(value)
    return None if text is None else text.replace(" ", "")


def _switch(context: Context, source: Node, default: Node, *pairs: Node) -> Value:
    # Keys compare case-sensitively; a NULL source matches the key ""
    # (docs/reference/entra-engine.md#expr-switch).
    key = to_text(_eval(source, context)) or ""
    for index in range(0, len(pairs), 2):
        if to_text(_eval(pairs[index], context)) == key:
            return _eval(pairs[index + 1], context)
    return _eval(default, context)


def _to_lower(_: Context, value: Value, culture: Value = None) -> Value:
    text = to_text(value)
    return None if text is None else text.lower()


def _to_upper(_: Context, value: Value, culture: Value = None) -> Value:
    text = to_text(value)
    return None if text is None else text.upper()


def _trim(_: Context, value: Value) -> Value:
    text = to_text(value)
    return None if text is None else text.strip()


def _word(_: Context, value: Value, number: Value, delimiters: Value) -> Value:
    text = to_text(value)
    position = _integer(number, "WordNumber")
    if text is None or position < 1:
        return ""
    separators = to_text(delimiters) or " "
    words = [w for w in re.split(f"[{re.escape(separators)}]", text) if w]
    return words[position - 1] if position <= len(words) else ""


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A function's arity and implementation; ``lazy`` ones receive unevaluated nodes."""

    function: Callable[..., Value]
    min_args: int
    max_args: int | None
    lazy: bool = False
    refusal: str = ""
    even_args: bool = False

    def check_arity(self, name: str, count: int) -> None:
        """Raise when ``count`` arguments do not suit this function."""
        if count < self.min_args or (self.max_args is not None and count > self.max_args):
            expected = (
                f"{self.min_args}"
                if self.max_args == self.min_args
                else f"{self.min_args} to {self.max_args}"
                if self.max_args is not None
                else f"at least {self.min_args}"
            )
            raise ExpressionError(f"{name} takes {expected} arguments, got {count}")
        if self.even_args and count % 2:
            raise ExpressionError(f"{name} needs an even number of arguments, got {count}")


FUNCTIONS: dict[str, FunctionSpec] = {
    "Append": FunctionSpec(_append, 2, 2),
    "AppRoleAssignmentsComplex": FunctionSpec(_app_roles_complex, 1, 1),
    "AssertiveAppRoleAssignmentsComplex": FunctionSpec(_app_roles_complex, 1, 1),
    "BitAnd": FunctionSpec(_bit_and, 2, 2),
    "CBool": FunctionSpec(_cbool, 1, 1),
    "CDate": FunctionSpec(_cdate, 1, 1),
    "Coalesce": FunctionSpec(_coalesce, 1, None),
    "ConvertToBase64": FunctionSpec(_base64, 1, 1),
    "ConvertToUTF8Hex": FunctionSpec(_utf8_hex, 1, 1),
    "Count": FunctionSpec(_count, 1, 1),
    "CStr": FunctionSpec(_cstr, 1, 1),
    "DateAdd": FunctionSpec(_date_add, 3, 3),
    "DateDiff": FunctionSpec(_date_diff, 3, 3),
    "DateFromNum": FunctionSpec(_date_from_num, 1, 1),
    "FormatDateTime": FunctionSpec(_format_date_time, 3, 4),
    "Guid": FunctionSpec(_guid, 0, 0),
    "IgnoreFlowIfNullOrEmpty": FunctionSpec(_ignore_flow, 1, 1),
    "IIF": FunctionSpec(_iif, 3, 3, lazy=True),
    "InStr": FunctionSpec(_instr, 2, 4),
    "IsNull": FunctionSpec(_is_null, 1, 1),
    "IsNullOrEmpty": FunctionSpec(_is_null_or_empty, 1, 1),
    "IsPresent": FunctionSpec(_is_present, 1, 1),
    "IsString": FunctionSpec(_is_string, 1, 1),
    "Item": FunctionSpec(_item, 2, 2),
    "Join": FunctionSpec(_join, 2, None),
    "Left": FunctionSpec(_left, 2, 2),
    "Mid": FunctionSpec(_mid, 3, 3),
    "NormalizeDiacritics": FunctionSpec(_normalize_diacritics, 1, 1),
    "Not": FunctionSpec(_not, 1, 1),
    "Now": FunctionSpec(_now, 0, 0),
    "NumFromDate": FunctionSpec(_num_from_date, 1, 1),
    "PCase": FunctionSpec(_pcase, 1, 2),
    "RandomString": FunctionSpec(_random_string, 5, 6),
    "Redact": FunctionSpec(_redact, 1, 1),
    "RemoveDuplicates": FunctionSpec(_remove_duplicates, 1, 1),
    "Replace": FunctionSpec(_replace, 7, 7),
    "SelectUniqueValue": FunctionSpec(
        _coalesce,
        2,
        None,
        refusal="Entra supports it only for HR → Active Directory provisioning",
    ),
    "SingleAppRoleAssignment": FunctionSpec(_single_app_role, 1, 1),
    "Split": FunctionSpec(_split, 2, 2),
    "StripSpaces": FunctionSpec(_strip_spaces, 1, 1),
    "Switch": FunctionSpec(_switch, 2, None, lazy=True, even_args=True),
    "ToLower": FunctionSpec(_to_lower, 1, 2),
    "ToUpper": FunctionSpec(_to_upper, 1, 2),
    "Trim": FunctionSpec(_trim, 1, 1),
    "Word": FunctionSpec(_word, 3, 3),
}
"""Every supported function by its (case-sensitive) name."""
