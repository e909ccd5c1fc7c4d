"""engine.memory: the collector is paused and the heap frozen only inside the blocks."""

from __future__ import annotations

import gc

import pytest

from hostsync.engine.memory import collector_paused, frozen_heap


def test_collector_paused_turns_it_back_on() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collector_paused_leaves_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_collector_paused_turns_it_back_on_after_an_error() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_frozen_heap_freezes_what_exists_and_thaws_it_after() -> None:
    gc.unfreeze()
    kept = [{"link": n} for n in range(1000)]
    with frozen_heap():
        assert gc.get_freeze_count() >= len(kept)
    assert gc.get_freeze_count() == 0
