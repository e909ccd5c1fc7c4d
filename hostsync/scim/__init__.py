"""The SCIM 2.0 protocol (RFC 7643/7644) as pure Python.

This package never does I/O: it imports nothing from HTTP frameworks, databases or settings.
Storage is reached only through the :class:`hostsync.scim.ports.Directory` port.
"""
