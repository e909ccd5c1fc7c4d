"""Privacy modes and the labels a kiosk may show (hostsync.frontdesk.privacy)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostsync.frontdesk.names import HostName
from hostsync.frontdesk.privacy import HostDetail, PrivacyMode, detail, exact_match, label

JOSE = HostName("José Núñez", "José", "Núñez", "CTO", "Engineering")


def test_modes_parse_from_their_names() -> None:
    assert [PrivacyMode(m) for m in ("full", "initial", "exact")] == list(PrivacyMode)
    with pytest.raises(ValueError, match="secret"):
        PrivacyMode("secret")


def test_full_and_exact_show_the_display_name() -> None:
    assert label(JOSE, PrivacyMode.FULL) == "José Núñez"
    assert label(JOSE, PrivacyMode.EXACT) == "José Núñez"


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        (JOSE, "José N."),
        (HostName("Jean-Luc Picard"), "Jean-Luc P."),
        (HostName("Mary Ann de la Cruz", "Mary Ann", "de la Cruz"), "Mary Ann D."),
        (HostName("Ødegård Øystein", "Øystein", "ødegård"), "Øystein Ø."),
        (HostName("Cher"), "Cher"),
        (HostName("Dr Who", "", "Who"), "Dr W."),
        (HostName("N\u0303une\u0303z Ana", "Ana", "N\u0303une\u0303z"), "Ana N\u0303."),
    ],
)
def test_initial_shows_the_first_name_and_the_family_initial(name: HostName, shown: str) -> None:
    assert label(name, PrivacyMode.INITIAL) == shown


def test_a_detail_only_when_chosen_and_never_with_an_initial() -> None:
    assert detail(JOSE, PrivacyMode.FULL, None) is None
    assert detail(JOSE, PrivacyMode.FULL, HostDetail.TITLE) == "CTO"
    assert detail(JOSE, PrivacyMode.FULL, HostDetail.DEPARTMENT) == "Engineering"
    assert detail(JOSE, PrivacyMode.EXACT, HostDetail.DEPARTMENT) == "Engineering"
    assert detail(JOSE, PrivacyMode.INITIAL, HostDetail.TITLE) is None
    assert detail(HostName("Ana"), PrivacyMode.FULL, HostDetail.TITLE) is None


def test_exact_match_needs_the_whole_name() -> None:
    assert exact_match("jose nunez", JOSE)
    assert exact_match("  JOSÉ   Núñez ", JOSE)
    assert not exact_match("jose", JOSE)
    assert not exact_match("jose nune", JOSE)
    assert not exact_match("", HostName(""))


@given(st.text(min_size=1, max_size=30))
def test_initial_mode_never_shows_more_than_one_letter_of_the_family(family: str) -> None:
    name = HostName(f"Ana {family}", "Ana", family)
    shown = label(name, PrivacyMode.INITIAL)
    assert shown.startswith("Ana")
    letters = shown.removeprefix("Ana").strip().removesuffix(".")
    start = next((i for i, char in enumerate(family) if char.isalnum()), None)
    if start is None:
        assert letters == ""
        return
    end = start + 1
    while end < len(family) and unicodedata.combining(family[end]):
        end += 1
    assert letters == family[start:end].upper()  # its first letter, and nothing after it
