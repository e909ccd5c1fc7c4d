"""Resource ids: 32 hex digits of a UUIDv7, later ones sorting after earlier ones."""

from __future__ import annotations

import re
import time
import uuid

from hostsync.store.clock import new_id

_HEX32 = re.compile(r"[0-9a-f]{32}")


def test_an_id_is_a_version_7_uuid_in_32_hex_digits() -> None:
    resource_id = new_id()
    assert _HEX32.fullmatch(resource_id)
    parsed = uuid.UUID(hex=resource_id)
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_ids_carry_the_millisecond_they_were_made_in() -> None:
    before = time.time_ns() // 1_000_000
    resource_id = new_id()
    after = time.time_ns() // 1_000_000
    assert before <= int(resource_id[:12], 16) <= after


def test_ids_made_later_sort_after_earlier_ones_and_never_repeat() -> None:
    # Many fall in one millisecond: the counter after the timestamp keeps them in order.
    ids = [new_id() for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
