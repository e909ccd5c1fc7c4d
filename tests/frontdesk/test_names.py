"""Folding and the words a host is found by (hostsync.frontdesk.names)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostsync.frontdesk.names import (
    MAX_WORDS,
    HostName,
    fold,
    host_name,
    query_words,
    words_of,
)
from hostsync.scim.schema import ENTERPRISE_USER_SCHEMA

LATIN = st.characters(min_codepoint=0x20, max_codepoint=0x24F)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("José Núñez", "jose nunez"),
        ("JOSÉ  NÚÑEZ ", "jose nunez"),
        ("Straße", "strasse"),
        ("STRASSE", "strasse"),
        ("Øystein Ødegård", "oystein odegard"),
        ("Łukasz Wałęsa", "lukasz walesa"),
        ("O'Brien", "obrien"),
        ("O\u2019Brien", "obrien"),
        ("Jean-Luc", "jean luc"),
        ("Æbelø", "aebelo"),
        ("FIona", "fiona"),
        ("Đorđe", "dorde"),
        ("  ", ""),
    ],
)
def test_fold_is_case_and_accent_insensitive(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_a_host_is_found_by_every_word_of_the_names_shown_never_by_addresses() -> None:
    document = {
        "userName": "jnunez@contoso.example",
        "displayName": "José Núñez-García",
        "name": {"givenName": "José María", "familyName": "Núñez", "formatted": "Dr. J. Núñez"},
        "emails": [{"value": "pepe@contoso.example", "primary": True}],
        "phoneNumbers": [{"value": "+34 600 000 000"}],
        "title": "Chief Technology Officer",
    }
    words = words_of(document)
    assert set(words) == {"jose", "nunez", "garcia", "nunezgarcia", "maria"}
    assert not {"jnunez", "pepe", "contoso", "dr", "600", "chief"} & set(words)


def test_formatted_counts_only_without_a_display_name() -> None:
    assert words_of({"name": {"formatted": "Anna Karenina"}}) == ("anna", "karenina")
    assert words_of({"displayName": "Anna K", "name": {"formatted": "Dr Anna"}}) == ("anna", "k")


def test_apostrophes_give_the_joined_word_and_the_parts() -> None:
    assert words_of({"displayName": "Siobhán O'Brien"}) == ("siobhan", "obrien", "brien")
    assert words_of({"displayName": "D\u2019Angelo"}) == ("dangelo", "angelo")


def test_hyphens_and_dots_give_the_parts_and_the_joined_word() -> None:
    assert words_of({"displayName": "Jean-Luc Picard"}) == ("jean", "luc", "jeanluc", "picard")
    assert words_of({"displayName": "J.R. Ewing"}) == ("j", "r", "jr", "ewing")


def test_a_query_is_folded_into_words() -> None:
    assert query_words("  Jose  NÚÑ ") == ("jose", "nun")
    assert query_words("o'bri") == ("obri",)
    assert query_words("jean-luc") == ("jean", "luc")
    assert query_words("!!") == ()


def test_words_are_bounded() -> None:
    document = {"displayName": " ".join(f"w{i}" for i in range(100)) + " " + "x" * 500}
    words = words_of(document)
    assert len(words) == MAX_WORDS
    assert all(len(word) <= 64 for word in words)


def test_host_name_falls_back_but_never_to_the_user_name() -> None:
    assert host_name({"userName": "a@b.example"}) is None
    assert host_name({"userName": "a@b.example", "displayName": " - "}) is None
    assert host_name({"name": {"givenName": "Ana", "familyName": "Lima"}}) == HostName(
        "Ana Lima", "Ana", "Lima"
    )
    found = host_name(
        {
            "displayName": "Ana Lima",
            "title": "Engineer",
            ENTERPRISE_USER_SCHEMA: {"department": "R&D"},
        }
    )
    assert found == HostName("Ana Lima", "", "", "Engineer", "R&D")


@given(st.text(LATIN, max_size=40))
def test_fold_is_idempotent_and_plain(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert folded == folded.strip()
    assert "  " not in folded
    assert not any(unicodedata.combining(char) for char in folded)
    assert folded == folded.casefold()


@given(st.text(LATIN, max_size=40))
def test_fold_ignores_case(text: str) -> None:
    assert fold(text.upper()) == fold(text.lower()) == fold(text)


@given(st.text(LATIN, min_size=1, max_size=40))
def test_every_prefix_of_a_folded_name_word_finds_the_host(text: str) -> None:
    words = words_of({"displayName": text})
    for word in fold(text).split():
        for end in range(1, len(word) + 1):
            assert any(found.startswith(word[:end]) for found in words)


@given(st.text(LATIN, max_size=40))
def test_accents_do_not_matter(text: str) -> None:
    stripped = "".join(
        char for char in unicodedata.normalize("NFD", text) if not unicodedata.combining(char)
    )
    assert fold(stripped) == fold(text)
