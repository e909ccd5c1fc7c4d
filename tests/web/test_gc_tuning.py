"""The ASGI factory tunes the garbage collector (hostsync/web/asgi.py)."""

from __future__ import annotations

import gc

from hostsync.web.asgi import tune_garbage_collector


def test_tuning_raises_thresholds_and_freezes_startup_objects() -> None:
    before = gc.get_threshold()
    try:
        tune_garbage_collector()
        assert gc.get_threshold() == (50_000, 50, 50)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
