"""``attributes`` and ``excludedAttributes`` (RFC 7644 §3.4.2.5, §3.9) applied to wire documents.

``id`` and ``schemas`` are ``returned: always``; everything else is ``default``. Names are
matched case-insensitively and resolved against the resource type; a name that resolves to no
attribute is ignored, as RFC 7644 leaves unknown names undefined and clients such as
Microsoft's Postman suite send value filters here (``attributes=emails[type eq "work"]``), of
which we honour the attribute part.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hostsync.scim.errors import InvalidPathError
from hostsync.scim.paths import parse_attr_path, resolve
from hostsync.scim.schema import ResourceType, Returned

_ALWAYS = frozenset({"id", "schemas"})
# (container, attribute, sub-attribute): container is "" for core or the extension URN.
_Key = tuple[str, str, str | None]


@dataclass(frozen=True, slots=True)
class Projection:
    """Which attributes a response carries; the empty projection keeps the defaults."""

    include: frozenset[_Key] | None = None
    exclude: frozenset[_Key] = frozenset()

    def wants(self, container: str, attribute: str) -> bool:
        """Whether the response would carry (some of) this attribute; lets callers skip work."""
        if self.include is not None:
            return any(c == container and a == attribute for c, a, _ in self.include)
        return (container, attribute, None) not in self.exclude

    def apply(self, document: dict[str, Any]) -> dict[str, Any]:
        """Return ``document`` reduced to what the projection asks for."""
        if self.include is None and not self.exclude:
            return document
        if self.include is not None:
            return _keep(document, self.include)
        return _drop(document, self.exclude)


DEFAULT_PROJECTION = Projection()


def parse_projection(
    attributes: Iterable[str], excluded: Iterable[str], resource_type: ResourceType
) -> Projection:
    """Build a projection from the raw names of ``attributes`` and ``excludedAttributes``."""
    include = _keys(attributes, resource_type)
    if include:
        return Projection(include=frozenset(include))
    exclude = _keys(excluded, resource_type)
    return Projection(exclude=frozenset(exclude)) if exclude else DEFAULT_PROJECTION


def split_names(raw: str | None) -> list[str]:
    """Split a comma-separated query parameter, ignoring commas inside ``[...]`` filters."""
    if not raw:
        return []
    names: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(raw):
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            names.append(raw[start:index])
            start = index + 1
    names.append(raw[start:])
    return [name.strip() for name in names if name.strip()]


def _keys(names: Iterable[str], resource_type: ResourceType) -> set[_Key]:
    keys: set[_Key] = set()
    for raw in names:
        name = _strip_filter(raw)
        extension = resource_type.extension(name)
        if extension is not None:
            keys.update((extension.id, a.name, None) for a in extension.attributes)
            continue
        try:
            resolved = resolve(parse_attr_path(name), resource_type)
        except InvalidPathError:
            continue
        if resolved.attribute.returned is Returned.ALWAYS:
            continue
        container = resolved.schema.id if resolved.is_extension else ""
        sub = resolved.sub_attribute.name if resolved.sub_attribute is not None else None
        keys.add((container, resolved.attribute.name, sub))
    return keys


def _strip_filter(name: str) -> str:
    """``emails[type eq "work"].value`` → ``emails.value``."""
    if "[" not in name:
        return name
    head, _, rest = name.partition("[")
    _, _, tail = rest.rpartition("]")
    return head + tail


def _keep(document: dict[str, Any], include: frozenset[_Key]) -> dict[str, Any]:
    wanted: dict[tuple[str, str], set[str] | None] = {}
    for container, attribute, sub in include:
        subs = wanted.get((container, attribute), set())
        wanted[(container, attribute)] = None if sub is None or subs is None else subs | {sub}
    out: dict[str, Any] = {k: v for k, v in document.items() if k in _ALWAYS}
    for (container, attribute), subs in wanted.items():
        source = document if not container else document.get(container)
        if not isinstance(source, dict) or attribute not in source:
            continue
        value = _pick(source[attribute], subs)
        if value is not None:
            target = out if not container else out.setdefault(container, {})
            target[attribute] = value
    if "schemas" in out:
        first = out["schemas"][:1]
        out["schemas"] = first + [s for s in out["schemas"][1:] if s in out]
    return out


def _pick(value: Any, subs: set[str] | None) -> Any:
    if subs is None:
        return value
    if isinstance(value, list):
        items = [
            {k: v for k, v in item.items() if k in subs} for item in value if isinstance(item, dict)
        ]
        items = [item for item in items if item]
        return items or None
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k in subs} or None
    return None


def _drop(document: dict[str, Any], exclude: frozenset[_Key]) -> dict[str, Any]:
    out = dict(document)
    for container, attribute, sub in exclude:
        found = out if not container else out.get(container)
        if not isinstance(found, dict) or attribute not in found:
            continue
        target: dict[str, Any] = found
        if container and found is document.get(container):
            target = dict(target)
            out[container] = target
        if sub is None:
            del target[attribute]
        else:
            value = target[attribute]
            if isinstance(value, list):
                target[attribute] = [{k: v for k, v in item.items() if k != sub} for item in value]
            elif isinstance(value, dict):
                target[attribute] = {k: v for k, v in value.items() if k != sub}
        if container and not target:
            del out[container]
    return out
