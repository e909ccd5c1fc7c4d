"""Privacy modes: what a kiosk may show of a host, and when it may show them at all.

* ``full`` (the default): the host's display name, and the host's title or department when
  the site chooses one (:class:`HostDetail`).
* ``initial``: the first name and the family name's initial (``José N.``), no detail: a title
  can tell who someone is as well as a name.
* ``exact``: a host is offered only when the query, folded, equals the host's full (display)
  name, folded (``jose nunez`` finds ``José Núñez``, ``jose`` finds no one); the label is the
  full name, with the detail as in ``full`` (it tells namesakes apart). The directory cannot
  be browsed by prefixes.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum

from hostsync.frontdesk.names import HostName, fold


class PrivacyMode(StrEnum):
    """How much a site's kiosk shows of its hosts (module doc)."""

    FULL = "full"
    INITIAL = "initial"
    EXACT = "exact"


class HostDetail(StrEnum):
    """The detail a site may show beside a host's full name (``full`` and ``exact`` modes)."""

    TITLE = "title"
    DEPARTMENT = "department"


def _initial(family: str) -> str:
    """The first letter of a family name, its accents kept, upper case: ``núñez`` → ``N``."""
    for index, char in enumerate(family):
        if char.isalnum():
            end = index + 1
            while end < len(family) and unicodedata.combining(family[end]):
                end += 1
            return family[index:end].upper()
    return ""


def label(name: HostName, mode: PrivacyMode) -> str:
    """The name a kiosk shows for the host in ``mode``."""
    if mode is not PrivacyMode.INITIAL:
        return name.display
    words = name.display.split()
    given = name.given or (words[0] if words else "")
    family = name.family or (words[-1] if len(words) > 1 else "")
    if not name.given and not name.family and len(words) < 2:
        family = ""
    initial = _initial(family)
    return f"{given} {initial}." if initial and given else (given or f"{initial}.")


def detail(name: HostName, mode: PrivacyMode, chosen: HostDetail | None) -> str | None:
    """The detail shown beside the label: the chosen one, when the mode shows the full name."""
    if chosen is None or mode is PrivacyMode.INITIAL:
        return None
    value = name.title if chosen is HostDetail.TITLE else name.department
    return value or None


def exact_match(query: str, name: HostName) -> bool:
    """Whether ``query`` names the host exactly (``exact`` mode): equal once both are folded."""
    folded = fold(query)
    return bool(folded) and folded == fold(name.display)
