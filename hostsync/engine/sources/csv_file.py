"""An HR export as CSV (issue 5 §2b): one user per row, headers are source attribute names.

Headers use Graph or Entra names (``id``, ``userPrincipalName``, ``givenName``, ``surname``,
``mail``, ``department``, ``manager`` …). ``id`` is required; ``accountEnabled`` and
``deleted`` take true/false; ``businessPhones`` and ``groups`` take ``;``-separated values. A
``groups`` column names the groups each user belongs to; each name becomes a group whose id is
the name. A CSV has no assignments: every row counts as assigned.
"""

from __future__ import annotations

import csv
from pathlib import Path

from hostsync.engine.errors import SourceError
from hostsync.engine.ports import SourceGroup, SourceSnapshot, SourceUser
from hostsync.engine.sources.base import boolean, entra_attributes


class CsvSource:
    """Reads users (and group names) from a CSV file with a header row."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> SourceSnapshot:
        """Read every row."""
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as handle:
                rows = list(csv.DictReader(handle))
        except OSError as exc:
            raise SourceError(f"cannot read {self.path}: {exc.strerror}") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise SourceError(f"{self.path} is not a readable CSV file: {exc}") from None
        users: dict[str, SourceUser] = {}
        memberships: dict[str, list[str]] = {}
        for line, row in enumerate(rows, start=2):
            place = f"{self.path}: line {line}"
            user_id = (row.get("id") or "").strip()
            if not user_id:
                raise SourceError(f"{place}: the 'id' column is empty or missing")
            if user_id in users:
                raise SourceError(f"{place}: duplicate id '{user_id}'")
            raw: dict[str, object] = {k: (v or "").strip() for k, v in row.items() if k}
            if raw.get("businessPhones"):
                raw["businessPhones"] = [p.strip() for p in str(raw["businessPhones"]).split(";")]
            groups = [g.strip() for g in str(raw.pop("groups", "") or "").split(";") if g.strip()]
            try:
                enabled = boolean(raw.pop("accountEnabled", None))
                deleted = bool(boolean(raw.pop("deleted", None)))
            except ValueError as exc:
                raise SourceError(f"{place}: {exc}") from None
            attributes = entra_attributes(raw)
            attributes["accountEnabled"] = enabled is not False
            users[user_id] = SourceUser(user_id, attributes, deleted)
            for group in groups:
                memberships.setdefault(group, []).append(user_id)
        group_objects = {
            name: SourceGroup(name, {"id": name, "objectId": name, "displayName": name}, tuple(ids))
            for name, ids in memberships.items()
        }
        return SourceSnapshot(users, group_objects, {}, None)
