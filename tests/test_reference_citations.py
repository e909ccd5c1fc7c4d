"""Citations of the Entra reference resolve inside the repository (docs/reference/README.md).

Code, tests and documents cite Entra behaviours as ``docs/reference/<page>.md#<anchor>``; the
research notes those facts were once cited from are not part of the repository, so no file may
point at them.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference"
CITED_IN = ("hostsync", "tests", "docs", "bench", "README.md")
OUTSIDE_NOTES = "shared" + "/spec"  # spelled apart so that this file does not contain it
CITATION = re.compile(r"docs/reference/(?P<page>[A-Za-z0-9_.-]+?\.md)(?:#(?P<anchor>[\w-]+))?")
MARKDOWN_LINK = re.compile(r"\]\((?P<file>[^)#\s:]*)(?:#(?P<anchor>[\w-]+))?\)")
ANCHOR = re.compile(r'<a id="([^"]+)"></a>')


def text_files(*names: str) -> list[Path]:
    """Every UTF-8 text file under the given top-level names (binary files are skipped)."""
    files: list[Path] = []
    for name in names:
        top = ROOT / name
        for path in [top] if top.is_file() else sorted(top.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            try:
                path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            files.append(path)
    return files


@cache
def anchors(page: str) -> tuple[str, ...]:
    """The explicit anchors of one reference page, in order."""
    return tuple(ANCHOR.findall((REFERENCE / page).read_text(encoding="utf-8")))


def resolves(page: str, anchor: str | None) -> bool:
    """The page exists under docs/reference and, if an anchor is named, holds it."""
    return (REFERENCE / page).is_file() and (anchor is None or anchor in anchors(page))


def test_reference_pages_have_unique_anchors() -> None:
    """Each page's anchors are distinct, so a citation names exactly one fact."""
    for page in sorted(p.name for p in REFERENCE.glob("*.md")):
        found = anchors(page)
        assert len(found) == len(set(found)), page


@pytest.mark.parametrize("name", ["hostsync", "tests", "docs"])
def test_nothing_cites_notes_outside_the_repository(name: str) -> None:
    """No file under hostsync/, tests/ or docs/ cites the research notes a clone lacks."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in text_files(name)
        if OUTSIDE_NOTES in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_every_reference_citation_resolves() -> None:
    """Each ``docs/reference/<page>.md#<anchor>`` names an existing page and anchor."""
    dangling = []
    for path in text_files(*CITED_IN):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in CITATION.finditer(line):
                if not resolves(match["page"], match["anchor"]):
                    dangling.append(f"{path.relative_to(ROOT)}:{number}: {match[0]}")
    assert dangling == []


def test_markdown_links_into_the_reference_resolve() -> None:
    """Markdown links that lead into docs/reference (``(#anchor)`` inside it) resolve."""
    dangling = []
    for path in text_files(*CITED_IN):
        if path.suffix != ".md":
            continue
        for match in MARKDOWN_LINK.finditer(path.read_text(encoding="utf-8")):
            target = (path.parent / match["file"]).resolve() if match["file"] else path
            if target.parent != REFERENCE:
                continue
            if not resolves(target.name, match["anchor"]):
                dangling.append(f"{path.relative_to(ROOT)}: {match[0]}")
    assert dangling == []


JOURNAL = ROOT / "bench" / "JOURNAL.md"
JOURNAL_CITATION = re.compile(r"JOURNAL\.md#(?P<anchor>[\w.-]+)")


def test_every_journal_citation_names_an_entry() -> None:
    """A docstring's ``Measured: bench/JOURNAL.md#anchor`` leads to that dated entry."""
    entries = set(ANCHOR.findall(JOURNAL.read_text(encoding="utf-8")))
    cited = 0
    for path in text_files("hostsync", "docs", "bench", "README.md"):
        for match in JOURNAL_CITATION.finditer(path.read_text(encoding="utf-8")):
            cited += 1
            assert match["anchor"] in entries, f"{path.relative_to(ROOT)}: #{match['anchor']}"
    assert cited > 0
