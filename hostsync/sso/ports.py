"""What the SAML rules need from storage: identifiers that are accepted once.

Implemented by the store (``hostsync.store.sso.once``) on a table every worker process shares,
so an assertion replayed to another worker is refused as well.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class OneTimeIds(Protocol):
    """One tenant's one-time identifiers: assertion IDs seen, and AuthnRequest IDs issued."""

    def first_use(self, assertion_id: str, until: datetime) -> bool:
        """Remember an assertion ID until ``until``; False if it was already remembered."""
        ...

    def redeem_request(self, request_id: str, moment: datetime) -> bool:
        """Use up an AuthnRequest ID issued and unexpired at ``moment``; False otherwise."""
        ...
