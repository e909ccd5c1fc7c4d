"""The provisioning engine: reads a source directory and provisions it into a SCIM endpoint.

It behaves as Microsoft Entra's provisioning service does (docs/reference/entra-engine.md)
and does better where Entra is known to fall short
(docs/reference/entra-engine.md#hostsync-differences).

This package must never import a web framework, a database library, ``hostsync.config``,
``hostsync.store`` or ``hostsync.web``: it reaches the target only through
:mod:`hostsync.engine.client` (httpx), and keeps its state only through the
:class:`hostsync.engine.ports.SyncState` port. :mod:`~hostsync.engine.expressions`,
:mod:`~hostsync.engine.scoping`, :mod:`~hostsync.engine.mappings` and
:mod:`~hostsync.engine.planner` are pure: no I/O, no clock, no randomness of their own
(except the documented ``Guid``/``Now``/``RandomString`` expression functions).
"""
