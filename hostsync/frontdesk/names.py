"""How a host is found by name: the folded key and the words a host is found by.

:func:`fold` makes text case- and accent-insensitive: compatibility decomposition (NFKD),
case folding (``ß`` → ``ss``), combining marks dropped (``José`` → ``jose``), the Latin
letters that decompose to nothing (``ø`` → ``o``, ``ł`` → ``l``, ``æ`` → ``ae``, …) spelled
with their base letters, apostrophes removed (``O'Brien`` → ``obrien``) and every other run of
characters that are not letters or digits turned into one space (``Jean-Luc`` → ``jean luc``).
A query is folded the same way, so what the visitor types and what is indexed meet.

:func:`words_of` gives the folded words a host is found by (a query word finds a host when it
is a prefix of one of them), from the host's ``displayName``, ``name.givenName`` and
``name.familyName``; ``name.formatted`` only when there is no ``displayName`` (it is then the
name shown; Entra's ``formatted`` otherwise repeats the display name, sometimes with titles
that would match queries they should not). Never ``userName``, e-mails or phone numbers: a
kiosk must not find a host by their address. Besides each folded word, a chunk joined by
hyphens or dots also gives its parts joined (``Jean-Luc`` → ``jean``, ``luc``, ``jeanluc``),
and a word with an apostrophe also its parts of two letters or more (``O'Brien`` →
``obrien``, ``brien``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hostsync.scim.schema import ENTERPRISE_USER_SCHEMA

MAX_WORDS = 24
"""Words kept per host (the first, in the order of the fields above): an index row each."""
MAX_WORD_LENGTH = 64
"""Longer words are cut: an index key stays small, and no one types 64 letters."""
MAX_NAME_LENGTH = 256
"""Longer names are cut before they are folded (a kiosk shows one line)."""

_APOSTROPHES = "'\u2019\u02bc\u2018`\u00b4\u02bb\u2032"
_MARK = "'"
_TO_MARK = str.maketrans(dict.fromkeys(_APOSTROPHES, _MARK))
_NO_MARK = str.maketrans(dict.fromkeys(_APOSTROPHES, None))
# Letters NFKD does not decompose, spelled as a visitor without them would type them.
_LETTERS = str.maketrans(
    {
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "ł": "l",
        "ħ": "h",
        "ŧ": "t",
        "\u0131": "i",
        "ĸ": "k",
        "ŋ": "n",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "\u017f": "s",
    }
)
_SEPARATORS = re.compile(r"[\W_]+")
_SEPARATORS_BUT_MARK = re.compile(r"[^\w']+|_+")
_ASCII_WORDS = re.compile(r"[a-z0-9]+")


def _folded(text: str) -> str:
    """Decomposed, case-folded, marks dropped, special letters spelled out (no separators)."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", text).casefold()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.translate(_LETTERS)


def fold(text: str) -> str:
    """The case- and accent-insensitive form of ``text`` (module doc).

    ``José Núñez`` → ``jose nunez``: words separated by single spaces, none at either end.
    """
    if text.isascii():  # the common case, without the translations (same result)
        return " ".join(_ASCII_WORDS.findall(text.lower().replace("'", "").replace("`", "")))
    return _SEPARATORS.sub(" ", _folded(text.translate(_NO_MARK)).translate(_NO_MARK)).strip()


def query_words(query: str) -> tuple[str, ...]:
    """The folded words of a query, each of which must begin some word of a host."""
    return tuple(word[:MAX_WORD_LENGTH] for word in fold(query[:MAX_NAME_LENGTH]).split())


def _words_of_text(text: str, into: dict[str, None]) -> None:
    text = text[:MAX_NAME_LENGTH]
    if text.isascii() and "'" not in text and "`" not in text:  # the common case, quicker
        for chunk in text.lower().split():
            if chunk.isalnum():
                into.setdefault(chunk[:MAX_WORD_LENGTH])
                continue
            parts = _ASCII_WORDS.findall(chunk)
            for part in parts:
                into.setdefault(part[:MAX_WORD_LENGTH])
            if len(parts) > 1:
                into.setdefault("".join(parts)[:MAX_WORD_LENGTH])
        return
    for chunk in text.split():
        folded = _folded(chunk.translate(_TO_MARK)).translate(_TO_MARK)
        marked = _SEPARATORS_BUT_MARK.sub(" ", folded).split()
        parts = [part.replace(_MARK, "") for part in marked]
        parts = [part for part in parts if part]
        for part in parts:
            into.setdefault(part[:MAX_WORD_LENGTH])
        if len(parts) > 1:
            into.setdefault("".join(parts)[:MAX_WORD_LENGTH])
        for part in marked:
            if _MARK in part:
                for piece in part.split(_MARK):
                    if len(piece) >= 2:
                        into.setdefault(piece[:MAX_WORD_LENGTH])


@dataclass(frozen=True, slots=True)
class HostName:
    """What a kiosk may know of a host: the names and the two details a site may show."""

    display: str
    given: str = ""
    family: str = ""
    title: str = ""
    department: str = ""


def _text(value: Any) -> str:
    return value.strip()[:MAX_NAME_LENGTH] if isinstance(value, str) else ""


def host_name(document: Mapping[str, Any]) -> HostName | None:
    """The host's names from a canonical user document; None when it has none to show.

    The name shown is ``displayName``, else ``name.formatted``, else given and family name
    joined; ``userName`` never (it is often an e-mail address).
    """
    name = document.get("name")
    name = name if isinstance(name, Mapping) else {}
    given, family = _text(name.get("givenName")), _text(name.get("familyName"))
    display = (
        _text(document.get("displayName"))
        or _text(name.get("formatted"))
        or " ".join(part for part in (given, family) if part)
    )
    if not any(char.isalnum() for char in display):  # nothing to find the host by
        return None
    enterprise = document.get(ENTERPRISE_USER_SCHEMA)
    department = _text(enterprise.get("department")) if isinstance(enterprise, Mapping) else ""
    return HostName(display, given, family, _text(document.get("title")), department)


def words_of(document: Mapping[str, Any]) -> tuple[str, ...]:
    """The folded words the host is found by (module doc).

    Without repeats, at most :data:`MAX_WORDS`.
    """
    found: dict[str, None] = {}
    name = document.get("name")
    name = name if isinstance(name, Mapping) else {}
    display = _text(document.get("displayName")) or _text(name.get("formatted"))
    for text in (display, _text(name.get("givenName")), _text(name.get("familyName"))):
        _words_of_text(text, found)
    return tuple(found)[:MAX_WORDS]
