"""Source adapters: each reads a directory into a :class:`~hostsync.engine.ports.SourceSnapshot`.

Adapters only read files they are pointed at; they never write and never reach the target.
"""

from __future__ import annotations

from pathlib import Path

from hostsync.engine.ports import Source
from hostsync.engine.sources.csv_file import CsvSource
from hostsync.engine.sources.graph_json import GraphJsonSource

__all__ = ["CsvSource", "GraphJsonSource", "open_source"]


def open_source(kind: str, path: Path) -> Source:
    """The adapter for a job's ``[source] type``."""
    if kind == "graph-json":
        return GraphJsonSource(path)
    if kind == "csv":
        return CsvSource(path)
    raise ValueError(f"unknown source type '{kind}' (graph-json or csv)")
