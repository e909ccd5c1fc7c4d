"""File-backed ``SyncState``, ``LogSink`` (:mod:`hostsync.engine.ports`) and ``Outbox``.

State is one JSON document beside the job (``<job>.state.json``), replaced atomically: written
to a temporary file in the same directory, flushed, fsynced, then ``os.replace``d, so a crash
leaves either the old state or the new one. Logs are JSON lines appended to
``<job>.log.jsonl``. Failure e-mails not sent yet (:mod:`hostsync.engine.notify`) wait in
``<job>.outbox.json``, replaced atomically too and absent when none waits: the state file is
not rewritten (up to tens of megabytes) for a mail outage.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import orjson

from hostsync.engine.errors import EngineError
from hostsync.engine.memory import collector_paused
from hostsync.engine.notify import PendingEmail
from hostsync.engine.ports import KIND_BY_NAME, Escrow, JobState, Link, Quarantine

STATE_VERSION = 1


def state_to_json(state: JobState) -> dict[str, Any]:
    """A JSON-serialisable document of ``state``.

    Built field by field rather than with ``dataclasses.asdict`` (which deep-copies every
    exported value): the document is serialised at once, and a 10,000-link state is saved
    several times per cycle.
    """
    document = {f.name: getattr(state, f.name) for f in fields(state)}
    names = [f.name for f in fields(Link)]
    document["links"] = {
        key: {name: getattr(link, name) for name in names} for key, link in state.links.items()
    }
    document["escrows"] = {key: asdict(escrow) for key, escrow in state.escrows.items()}
    document["quarantine"] = asdict(state.quarantine) if state.quarantine else None
    document["version"] = STATE_VERSION
    return document


def state_from_json(document: Mapping[str, Any]) -> JobState:
    """Rebuild a :class:`JobState` from :func:`state_to_json`'s output."""
    links = {
        key: Link(
            kind=KIND_BY_NAME[raw["kind"]],
            source_id=raw["source_id"],
            target_id=raw["target_id"],
            display=raw.get("display", ""),
            managed=raw.get("managed", True),
            exported=dict(raw.get("exported", {})),
            manager=raw.get("manager"),
            members=list(raw.get("members", [])),
            digest=raw.get("digest"),
        )
        for key, raw in document.get("links", {}).items()
    }
    quarantine = document.get("quarantine")
    return JobState(
        links=links,
        watermark=document.get("watermark"),
        config_digest=document.get("config_digest"),
        staged=list(document.get("staged", [])),
        allow_deletes=bool(document.get("allow_deletes", False)),
        quarantine=Quarantine(**quarantine) if quarantine else None,
        failed_cycles=int(document.get("failed_cycles", 0)),
        cycles=int(document.get("cycles", 0)),
        last_cycle=document.get("last_cycle"),
        current_cycle=document.get("current_cycle"),
        escrows={key: Escrow(**raw) for key, raw in document.get("escrows", {}).items()},
        disabled=document.get("disabled"),
    )


def write_atomically(path: Path, content: str | bytes) -> None:
    """Replace ``path`` with ``content`` so readers see the old or the new one, never a mix."""
    data = content.encode() if isinstance(content, str) else content
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class FileSyncState:
    """A job's state in ``<job>.state.json``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> JobState:
        """The saved state, or a fresh one when the file does not exist."""
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return JobState()
        try:
            with collector_paused():  # a link is several objects; see engine.memory
                return state_from_json(orjson.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            raise EngineError(f"state file {self.path} is corrupt: {exc}") from None

    def save(self, state: JobState) -> None:
        """Persist ``state`` atomically."""
        with collector_paused():
            document = orjson.dumps(state_to_json(state), default=str)
        write_atomically(self.path, document)

    def clear(self) -> None:
        """Delete the state file."""
        self.path.unlink(missing_ok=True)


class FileOutbox:
    """Unsent failure e-mails in ``<job>.outbox.json`` (``engine.notify.Outbox``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[PendingEmail]:
        """The waiting e-mails, oldest first; none when the file does not exist."""
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return []
        try:
            return [PendingEmail(**raw) for raw in orjson.loads(text)["pending"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise EngineError(f"outbox file {self.path} is corrupt: {exc}") from None

    def save(self, pending: Sequence[PendingEmail]) -> None:
        """Replace the waiting e-mails; the file is removed when none is left."""
        if not pending:
            self.path.unlink(missing_ok=True)
            return
        document = {"version": STATE_VERSION, "pending": [asdict(item) for item in pending]}
        write_atomically(self.path, orjson.dumps(document))


class FileLogSink:
    """Provisioning log entries as JSON lines."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, entries: Iterable[Mapping[str, Any]]) -> None:
        """Append entries, one JSON document per line."""
        lines = [orjson.dumps(entry, default=str) + b"\n" for entry in entries]
        if lines:
            with self.path.open("ab") as file:
                file.writelines(lines)

    def read(self) -> list[dict[str, Any]]:
        """Every entry, oldest first (a torn last line is ignored)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        entries = []
        for line in lines:
            try:
                entries.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
        return entries
