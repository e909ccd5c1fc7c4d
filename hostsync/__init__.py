"""hostsync: self-hostable SCIM 2.0 host directory that Microsoft Entra ID provisions into.

Packages, each depending only on those listed after it (checked by import-linter):
``cli`` → ``web`` → ``store`` → ``scim`` → ``caching``; ``engine`` (the SCIM client) imports
none of them and only ``cli`` imports it. docs/architecture.md, "Code rules", has the rest.
"""

__version__ = "0.1.0"
