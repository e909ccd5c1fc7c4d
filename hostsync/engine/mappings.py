"""Attribute mappings: direct, constant or expression; matching precedence; Entra's defaults.

Entra's rules: docs/reference/entra-engine.md#mapping-types and
docs/reference/entra-engine.md#matching; its defaults:
docs/reference/entra-wire.md#wire-default-user-mappings. A mapping sends one source value (or a
constant, or an expression's result) to one target attribute path such as
``emails[type eq "work"].value`` or
``urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department``. NULL results are not
provisioned; *Default value if null* applies only on create; *Only during object creation*
mappings are left out of updates. Mappings flagged ``match`` find existing target objects, in
ascending precedence, one attribute at a time.

Reference mappings (``manager``, group ``members``) carry source ids; the planner turns them
into target ids once the referenced objects exist. Expression errors name the mapping.

Pure: no I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from hostsync.engine import expressions
from hostsync.engine.errors import ExpressionError
from hostsync.engine.expressions import Context, Expression, Value, to_text

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MANAGER_PATH = f"{ENTERPRISE}:manager"
ACTIVE_PATH = "active"
MEMBERS_PATH = "members"
DEFAULT_ACTIVE_EXPRESSION = 'Switch([IsSoftDeleted], , "False", "True", "True", "False")'

_PATH = re.compile(
    r"^(?:(?P<uri>urn:[^\[\]\s]+):)?(?P<attr>[A-Za-z][\w-]*)"
    r'(?:\[(?P<fattr>[A-Za-z][\w-]*) eq "(?P<fval>[^"]*)"\])?'
    r"(?:\.(?P<sub>[A-Za-z$][\w-]*))?$"
)


@dataclass(frozen=True, slots=True)
class TargetPath:
    """A target attribute path: ``[urn:]attr[[type eq "x"]][.sub]``."""

    text: str
    uri: str | None
    attr: str
    filter_attr: str | None = None
    filter_value: str | None = None
    sub: str | None = None

    @property
    def filtered(self) -> bool:
        """Whether the path selects an element of a multi-valued attribute."""
        return self.filter_attr is not None


@functools.lru_cache(maxsize=1024)
def parse_path(text: str) -> TargetPath:
    """Parse a target path; raise ValueError when it is not one the engine can write.

    Cached: a cycle parses the same few paths for every object it builds or reads.
    """
    match = _PATH.match(text.strip())
    if match is None:
        raise ValueError(f"'{text}' is not a target attribute path")
    return TargetPath(
        text.strip(), match["uri"], match["attr"], match["fattr"], match["fval"], match["sub"]
    )


class MappingType(StrEnum):
    """Entra's mapping types (``none`` leaves the target attribute alone).

    See docs/reference/entra-engine.md#mapping-types.
    """

    DIRECT = "direct"
    CONSTANT = "constant"
    EXPRESSION = "expression"
    NONE = "none"


class Apply(StrEnum):
    """*Apply this mapping*: always, or only when the object is created."""

    ALWAYS = "always"
    CREATE = "create"


@dataclass(frozen=True, slots=True)
class AttributeMapping:
    """One mapping, compiled: its expression is parsed once."""

    target: TargetPath
    type: MappingType
    source: str | None = None
    constant: str | None = None
    expression: Expression | None = None
    default: str | None = None
    match: int | None = None
    apply: Apply = Apply.ALWAYS

    @property
    def name(self) -> str:
        """How errors and logs name the mapping: its target attribute."""
        return self.target.text

    @property
    def reference(self) -> bool:
        """A manager or members mapping: its values are source ids."""
        return self.target.attr.lower() in {"manager", "members"} and self.target.sub is None

    def evaluate(self, context: Context) -> Value:
        """The mapped value for one object (NULL when nothing flows)."""
        try:
            if self.type is MappingType.DIRECT:
                return context.attribute(self.source or "")
            if self.type is MappingType.CONSTANT:
                return self.constant
            if self.type is MappingType.EXPRESSION and self.expression is not None:
                return expressions.evaluate(self.expression, context)
        except ExpressionError as exc:
            raise exc.for_mapping(self.name) from None
        return None


def compile_mapping(
    target: str,
    *,
    source: str | None = None,
    constant: str | None = None,
    expression: str | None = None,
    default: str | None = None,
    match: int | None = None,
    apply: Apply = Apply.ALWAYS,
) -> AttributeMapping:
    """Build a mapping from its parts; exactly one of source, constant, expression (or none)."""
    path = parse_path(target)
    given = [name for name, v in (("source", source), ("constant", constant)) if v is not None]
    if expression is not None:
        given.append("expression")
    if len(given) > 1:
        raise ValueError(f"mapping '{target}': give one of {', '.join(given)}, not several")
    parsed: Expression | None = None
    if expression is not None:
        try:
            parsed = expressions.parse(expression)
        except ExpressionError as exc:
            raise exc.for_mapping(target) from None
        kind = MappingType.EXPRESSION
    elif constant is not None:
        kind = MappingType.CONSTANT
    elif source is not None:
        kind = MappingType.DIRECT
    else:
        kind = MappingType.NONE
    return AttributeMapping(path, kind, source, constant, parsed, default, match, apply)


def _m(target: str, source: str | None = None, **kwargs: Any) -> AttributeMapping:
    return compile_mapping(target, source=source, **kwargs)


def default_user_mappings() -> tuple[AttributeMapping, ...]:
    """Entra's default user mappings for a non-gallery SCIM app.

    See docs/reference/entra-wire.md#wire-default-user-mappings.
    """
    work = 'addresses[type eq "work"]'
    return (
        _m("userName", "userPrincipalName", match=1),
        _m(ACTIVE_PATH, expression=DEFAULT_ACTIVE_EXPRESSION),
        _m("displayName", "displayName"),
        _m("title", "jobTitle"),
        _m('emails[type eq "work"].value', "mail"),
        _m("preferredLanguage", "preferredLanguage"),
        _m("name.givenName", "givenName"),
        _m("name.familyName", "surname"),
        _m("name.formatted", expression='Join(" ", [givenName], [surname])'),
        _m(f"{work}.formatted", "physicalDeliveryOfficeName"),
        _m(f"{work}.streetAddress", "streetAddress"),
        _m(f"{work}.locality", "city"),
        _m(f"{work}.region", "state"),
        _m(f"{work}.postalCode", "postalCode"),
        _m(f"{work}.country", "country"),
        _m('phoneNumbers[type eq "work"].value', "telephoneNumber"),
        _m('phoneNumbers[type eq "mobile"].value', "mobile"),
        _m('phoneNumbers[type eq "fax"].value', "facsimileTelephoneNumber"),
        _m("externalId", "mailNickname"),
        _m(f"{ENTERPRISE}:employeeNumber", "employeeId"),
        _m(f"{ENTERPRISE}:department", "department"),
        _m(MANAGER_PATH, "manager"),
    )


def default_group_mappings() -> tuple[AttributeMapping, ...]:
    """Entra's default group mappings (docs/reference/entra-wire.md#wire-default-group-mappings)."""
    return (
        _m("displayName", "displayName", match=1),
        _m("externalId", "objectId"),
        _m(MEMBERS_PATH, "members"),
    )


def matching(mappings: Sequence[AttributeMapping]) -> list[AttributeMapping]:
    """The matching mappings in precedence order (lowest number first)."""
    flagged = [m for m in mappings if m.match is not None]
    return sorted(flagged, key=lambda m: m.match or 0)


@dataclass(frozen=True, slots=True)
class Mapped:
    """An object's mapped target values.

    ``values`` maps a target path to its value for an update (NULLs left out);
    ``create_values`` is what a create sends (adds create-only mappings and defaults);
    ``references`` holds reference mappings' source ids (``manager``).
    """

    values: Mapping[str, Value]
    create_values: Mapping[str, Value]
    references: Mapping[str, Value] = field(default_factory=dict)


def normalize(path: TargetPath, value: Value) -> Value:
    """A mapped value as the target should hold it.

    Booleans stay booleans and ``active`` accepts Entra's ``"True"``/``"False"`` strings
    (docs/reference/entra-wire.md#wire-default-user-mappings); dates render as text; other
    scalars become strings.
    """
    if value is None:
        return None
    if path.attr.lower() in {"active", "primary"} and path.sub is None:
        text = to_text(value)
        if text is not None and text.lower() in {"true", "false"}:
            return text.lower() == "true"
    if isinstance(value, bool | str):
        return value
    if isinstance(value, datetime):
        return to_text(value)
    if isinstance(value, list | tuple):
        items = [dict(item) if isinstance(item, Mapping) else item for item in value]
        return items or None
    return to_text(value)


def evaluate(mappings: Sequence[AttributeMapping], context: Context) -> Mapped:
    """Evaluate every mapping against one object."""
    values: dict[str, Value] = {}
    create: dict[str, Value] = {}
    references: dict[str, Value] = {}
    for mapping in mappings:
        if mapping.type is MappingType.NONE and mapping.default is None:
            continue
        raw = mapping.evaluate(context)
        if mapping.reference:
            if raw is not None and raw != "":
                references[mapping.name] = raw
            continue
        value = normalize(mapping.target, raw)
        if value is None or value == "":
            if mapping.default is not None:
                create[mapping.name] = normalize(mapping.target, mapping.default)
            continue
        create[mapping.name] = value
        if mapping.apply is Apply.ALWAYS:
            values[mapping.name] = value
    return Mapped(values, create, references)
