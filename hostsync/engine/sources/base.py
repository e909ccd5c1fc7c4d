"""What every adapter shares: Graph → Entra source attribute names, empty → NULL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GRAPH_ALIASES = {
    "mobilePhone": "mobile",
    "officeLocation": "physicalDeliveryOfficeName",
    "faxNumber": "facsimileTelephoneNumber",
}
"""Graph property → the name Entra's mapping editor uses for the same source attribute."""
_NOT_ATTRIBUTES = frozenset({"manager", "deleted"})


def entra_attributes(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A Graph user's properties, plus the Entra source attribute names mappings use.

    ``objectId`` is the id; ``manager`` is the manager's id; ``telephoneNumber`` is the first of
    ``businessPhones``; empty strings are NULL (Entra has no empty attribute values). A B2B
    guest's ``#EXT#`` UPN is shortened to ``alias@theirdomain`` and kept whole in
    ``originalUserPrincipalName`` (docs/reference/entra-engine.md#guest-upn).
    """
    # Called once per user per cycle: one comprehension; (dict, Mapping) checks answer for a
    # dict before the slow abc-based Mapping check.
    attributes = {
        key: value
        for key, value in raw.items()
        if value is not None and value != "" and key not in _NOT_ATTRIBUTES
    }
    for graph, entra in GRAPH_ALIASES.items():
        if graph in attributes:
            attributes[entra] = attributes[graph]
    if "id" in attributes:
        attributes["objectId"] = attributes["id"]
    manager = raw.get("manager")
    manager_id = manager.get("id") if isinstance(manager, (dict, Mapping)) else manager
    if manager_id:
        attributes["manager"] = str(manager_id)
    phones = attributes.get("businessPhones")
    if isinstance(phones, list) and phones:
        attributes.setdefault("telephoneNumber", phones[0])
    upn = attributes.get("userPrincipalName")
    if isinstance(upn, str) and "#EXT#" in upn:
        attributes["originalUserPrincipalName"] = upn
        alias = upn.split("#EXT#", 1)[0]
        head, _, domain = alias.rpartition("_")
        attributes["userPrincipalName"] = f"{head}@{domain}" if head else alias
    return attributes


def boolean(value: Any) -> bool | None:
    """``true``/``false`` in any spelling (JSON or CSV); None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no"}:
        return False
    raise ValueError(f"not a boolean: {value!r}")
