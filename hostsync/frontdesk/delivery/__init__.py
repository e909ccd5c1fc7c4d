"""Notifications of arrivals: rendering, signing, retries, the senders and the worker.

Layers, top to bottom: ``worker`` → ``smtp`` | ``webhooks`` → ``messages`` | ``signing`` |
``backoff``; below them the front desk's ``ports`` and ``sealing``.
"""
