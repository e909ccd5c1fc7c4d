"""The RFC 7644 filter and PATCH path grammar, parsed into immutable trees.

Grammar (RFC 7644 §3.4.2.2 and §3.5.2), with ``not`` binding tighter than ``and``, which binds
tighter than ``or``::

    FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")" / "(" FILTER ")"
    valuePath = attrPath "[" valFilter "]" ["." subAttr compareOp compValue]   ; see below
    attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
    PATH      = attrPath / valuePath [subAttr]

Two tolerated extensions, both sent by Microsoft tooling
(docs/reference/entra-wire.md#wire-filter-unquoted,
docs/reference/entra-wire.md#wire-filter-value-path): a comparison value that is a bare token
(``externalId eq jyoung``, ``meta.created gt 2015-10-10T14:38:21-07:00``) is read as a string,
and ``emails[type eq "work"].value eq "x"`` is read as one value path whose element must
satisfy both conditions. Operators and keywords are case-insensitive. Parsing is bounded:
input length and nesting depth are capped, so every parse finishes quickly.

This module knows nothing of schemas; :mod:`hostsync.scim.paths` resolves names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import TypeAlias

import orjson

from hostsync.scim.errors import InvalidFilterError, InvalidPathError, ScimError
from hostsync.scim.paths import AttrPath, parse_attr_path

MAX_FILTER_LENGTH = 4096
MAX_DEPTH = 32

Value: TypeAlias = str | int | float | bool | None


class CompareOp(StrEnum):
    """RFC 7644 §3.4.2.2 comparison operators."""

    EQ = "eq"
    NE = "ne"
    CO = "co"
    SW = "sw"
    EW = "ew"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"


@dataclass(frozen=True, slots=True)
class Compare:
    """``attrPath op value``."""

    path: AttrPath
    op: CompareOp
    value: Value


@dataclass(frozen=True, slots=True)
class Present:
    """``attrPath pr``."""

    path: AttrPath


@dataclass(frozen=True, slots=True)
class And:
    """``left and right``."""

    left: Filter
    right: Filter


@dataclass(frozen=True, slots=True)
class Or:
    """``left or right``."""

    left: Filter
    right: Filter


@dataclass(frozen=True, slots=True)
class Not:
    """``not (operand)``."""

    operand: Filter


@dataclass(frozen=True, slots=True)
class ValuePath:
    """``attrPath[valFilter]``: some element of a multi-valued attribute matches ``filter``.

    Paths inside ``filter`` name sub-attributes of ``path`` (``uri`` is None, ``sub_attr`` is
    None).
    """

    path: AttrPath
    filter: Filter


Filter: TypeAlias = Compare | Present | And | Or | Not | ValuePath


@dataclass(frozen=True, slots=True)
class PatchPath:
    """A PATCH ``path`` (RFC 7644 §3.5.2): attribute, optional value filter, optional sub."""

    attr: AttrPath
    value_filter: Filter | None = None
    sub_attr: str | None = None


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<punct>[()\[\]])
  | (?P<word>[^\s()\[\]"]+)
    """,
    re.VERBOSE,
)
_NUMBER_RE = re.compile(r"^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$")
_OPS = {op.value: op for op in CompareOp}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "string" | "punct" | "word" | "end"
    text: str
    pos: int


def _tokenize(text: str, error: type[ScimError]) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:  # only an unterminated string can fail to match
            raise error(f"Unterminated string at position {pos + 1}")
        kind = match.lastgroup or "ws"
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    """Recursive descent over the token list; ``error`` is the ScimError raised on failure."""

    def __init__(self, text: str, error: type[ScimError]) -> None:
        if len(text) > MAX_FILTER_LENGTH:
            raise error(f"Filter longer than {MAX_FILTER_LENGTH} characters")
        if "\x00" in text:
            raise error("Filters cannot contain the NUL character (U+0000)")
        self.text = text
        self.error = error
        self.tokens = _tokenize(text, error)
        self.index = 0
        self.depth = 0

    # -- token helpers -------------------------------------------------------------------
    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text.lower() in words

    def expect_punct(self, char: str) -> None:
        token = self.advance()
        if token.kind != "punct" or token.text != char:
            raise self.fail(f"expected '{char}'", token)

    def fail(self, message: str, token: _Token) -> ScimError:
        found = "end of input" if token.kind == "end" else f"'{token.text}'"
        return self.error(f"Invalid filter: {message} at position {token.pos + 1}, found {found}")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"Filter nested deeper than {MAX_DEPTH} levels")

    # -- grammar -------------------------------------------------------------------------
    def parse_filter(self) -> Filter:
        result = self.parse_or(in_brackets=False)
        if self.peek().kind != "end":
            raise self.fail("unexpected token", self.peek())
        return result

    def parse_or(self, *, in_brackets: bool) -> Filter:
        self.enter()
        left = self.parse_and(in_brackets=in_brackets)
        while self.at_keyword("or"):
            self.advance()
            left = Or(left, self.parse_and(in_brackets=in_brackets))
        self.depth -= 1
        return left

    def parse_and(self, *, in_brackets: bool) -> Filter:
        left = self.parse_unary(in_brackets=in_brackets)
        while self.at_keyword("and"):
            self.advance()
            left = And(left, self.parse_unary(in_brackets=in_brackets))
        return left

    def parse_unary(self, *, in_brackets: bool) -> Filter:
        token = self.peek()
        if token.kind == "punct" and token.text == "(":
            self.advance()
            inner = self.parse_or(in_brackets=in_brackets)
            self.expect_punct(")")
            return inner
        if self.at_keyword("not") and self._next_is_paren():
            self.advance()
            self.expect_punct("(")
            inner = self.parse_or(in_brackets=in_brackets)
            self.expect_punct(")")
            return Not(inner)
        return self.parse_attr_expression(in_brackets=in_brackets)

    def _next_is_paren(self) -> bool:
        nxt = self.tokens[self.index + 1]
        return nxt.kind == "punct" and nxt.text == "("

    def parse_attr_expression(self, *, in_brackets: bool) -> Filter:
        token = self.advance()
        if token.kind != "word":
            raise self.fail("expected an attribute path", token)
        if self.peek().kind == "punct" and self.peek().text == "[":
            if in_brackets:
                raise self.fail("value filters cannot be nested", self.peek())
            return self.parse_value_path(token)
        path = self.attr_path(token.text, token)
        if in_brackets and (path.uri is not None or path.sub_attr is not None):
            raise self.fail("a value filter names sub-attributes only", token)
        return self.parse_comparison(path)

    def parse_value_path(self, token: _Token) -> Filter:
        path = self.attr_path(token.text, token)
        if path.sub_attr is not None:
            raise self.fail("a value path names a multi-valued attribute", token)
        self.expect_punct("[")
        inner = self.parse_or(in_brackets=True)
        self.expect_punct("]")
        nxt = self.peek()
        if nxt.kind == "word" and nxt.text.startswith("."):
            # Extension: emails[type eq "work"].value eq "x" — both apply to one element.
            self.advance()
            sub = nxt.text[1:]
            sub_path = self.attr_path(sub, nxt)
            if sub_path.uri is not None or sub_path.sub_attr is not None:
                raise self.fail("expected a sub-attribute name", nxt)
            inner = And(inner, self.parse_comparison(sub_path))
        return ValuePath(path, inner)

    def parse_comparison(self, path: AttrPath) -> Filter:
        op_token = self.advance()
        if op_token.kind != "word":
            raise self.fail("expected an operator", op_token)
        op_text = op_token.text.lower()
        if op_text == "pr":
            return Present(path)
        op = _OPS.get(op_text)
        if op is None:
            raise self.fail(f"unknown operator '{op_token.text}'", op_token)
        return Compare(path, op, self.parse_value())

    def parse_value(self) -> Value:
        token = self.advance()
        if token.kind == "string":
            try:
                decoded = orjson.loads(token.text)
            except orjson.JSONDecodeError:
                raise self.fail("invalid string literal", token) from None
            assert isinstance(decoded, str)  # noqa: S101 - the token regex only matches strings
            if "\x00" in decoded:
                raise self.fail("a string cannot contain U+0000", token)
            return decoded
        if token.kind != "word":
            raise self.fail("expected a comparison value", token)
        lowered = token.text.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        if lowered == "null":
            return None
        if _NUMBER_RE.match(token.text):
            number = float(token.text)
            return int(number) if number.is_integer() and "." not in token.text else number
        if lowered in _OPS or lowered in ("and", "or", "not", "pr"):
            raise self.fail("expected a comparison value", token)
        # Entra legacy: an unquoted single-token value is a string
        # (docs/reference/entra-wire.md#wire-filter-unquoted).
        return token.text

    def attr_path(self, text: str, token: _Token) -> AttrPath:
        try:
            return parse_attr_path(text, error=self.error)
        except ScimError:
            raise self.fail("invalid attribute path", token) from None


def parse_filter(text: str) -> Filter:
    """Parse a ``filter`` query parameter; raise 400 ``invalidFilter`` on any error."""
    if not text.strip():
        raise InvalidFilterError("Invalid filter: the filter is empty")
    simple = _simple_equality(text)
    if simple is not None:
        return simple
    return _Parser(text, InvalidFilterError).parse_filter()


# ``attribute eq "string"``: the word and string tokens of _TOKEN_RE around an ``eq``.
# The string is matched as runs of plain characters between escapes ("unrolled"), which
# Python's regex engine walks a run at a time instead of trying an alternation per character.
_EQUALITY_RE = re.compile(r'\s*([^\s()\[\]"]+)\s+[eE][qQ]\s+("[^"\\]*(?:\\.[^"\\]*)*")\s*')


def _simple_equality(text: str) -> Compare | None:
    """The filter Entra sends before every create (``userName eq "…"``), without tokens.

    One regular expression instead of a token list and a descent through the grammar; the
    result is what :class:`_Parser` returns for the same text. None for any other filter and
    for any error, which the full parser then reports in its own words.
    """
    if len(text) > MAX_FILTER_LENGTH or "\x00" in text:
        return None
    match = _EQUALITY_RE.fullmatch(text)
    if match is None:
        return None
    try:
        path = parse_attr_path(match[1], error=InvalidFilterError)
        value = orjson.loads(match[2])
    except (ScimError, orjson.JSONDecodeError):
        return None
    if not isinstance(value, str) or "\x00" in value:
        return None
    return Compare(path, CompareOp.EQ, value)


@lru_cache(maxsize=1024)
def parse_patch_path(text: str) -> PatchPath:
    """Parse a PATCH ``path`` (RFC 7644 §3.5.2); raise 400 ``invalidPath`` on any error.

    ``emails[type eq "work"].value`` → ``PatchPath(emails, type eq "work", "value")``.
    Clients send the same few paths over and over, and the result is immutable, so parses
    are cached (errors are not).
    """
    if not text.strip():
        raise InvalidPathError("The PATCH path is empty")
    parser = _Parser(text, InvalidPathError)
    first = parser.advance()
    if first.kind != "word":
        raise parser.fail("expected an attribute path", first)
    if not (parser.peek().kind == "punct" and parser.peek().text == "["):
        if parser.peek().kind != "end":
            raise parser.fail("unexpected token", parser.peek())
        return PatchPath(parser.attr_path(first.text, first))
    attr = parser.attr_path(first.text, first)
    if attr.sub_attr is not None:
        raise parser.fail("a value filter applies to a multi-valued attribute", first)
    parser.expect_punct("[")
    value_filter = parser.parse_or(in_brackets=True)
    parser.expect_punct("]")
    sub: str | None = None
    tail = parser.peek()
    if tail.kind == "word":
        if not tail.text.startswith(".") or len(tail.text) < 2:
            raise parser.fail("expected '.subAttribute'", tail)
        parser.advance()
        sub_path = parser.attr_path(tail.text[1:], tail)
        if sub_path.uri is not None or sub_path.sub_attr is not None:
            raise parser.fail("expected a sub-attribute name", tail)
        sub = sub_path.attr
    if parser.peek().kind != "end":
        raise parser.fail("unexpected token", parser.peek())
    return PatchPath(attr, value_filter, sub)
