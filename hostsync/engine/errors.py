"""The engine's exceptions, named by what the cycle does next (authentik ``lib/sync``).

::

    EngineError
    ├── JobFileError          the job file is wrong: fix it (names the key)
    ├── SourceError           the source cannot be read: the cycle stops, nothing is deprovisioned
    ├── ExpressionError       a mapping expression is wrong (names the mapping)
    └── SyncError             a SCIM request failed (status, error code, reason)
        ├── TransientError    retry with backoff (5xx, timeouts, transport errors, 429)
        ├── NotFoundError     the target object is gone (Entra ``InvalidAnchor``)
        ├── ConflictError     409: the object exists (Entra ``EntryConflict``)
        ├── RejectedError     any other 4xx: escrow the object, retry next cycle
        ├── StopSync          401/403, an incompatible endpoint: the whole cycle stops
        └── DryRunRejected    a write was attempted in a dry run (a bug; never sent)

httpx exceptions never leave :mod:`hostsync.engine.client`; they are wrapped here.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class JobFileError(EngineError):
    """The job file cannot be used; the message names the offending key."""


class SourceError(EngineError):
    """The source directory cannot be read (or reads as suspiciously empty)."""


class ExpressionError(EngineError):
    """A mapping expression failed to parse or evaluate; the message names the mapping."""

    def __init__(self, message: str, *, mapping: str | None = None) -> None:
        self.mapping = mapping
        super().__init__(f"mapping '{mapping}': {message}" if mapping else message)

    def for_mapping(self, mapping: str) -> ExpressionError:
        """The same error, naming ``mapping`` (kept if already named)."""
        if self.mapping is not None:
            return self
        return ExpressionError(str(self), mapping=mapping)


class SyncError(EngineError):
    """A SCIM request failed.

    Attributes:
        status: the HTTP status, or None when no response arrived.
        code: the Entra provisioning-log error code, e.g. ``EntryConflict``
            (docs/reference/entra-engine.md#error-codes).
        reason: a one-line human explanation, with the server's SCIM ``detail`` if any.
    """

    code = "SyncError"

    def __init__(self, reason: str, *, status: int | None = None, code: str | None = None) -> None:
        self.status = status
        self.reason = reason
        if code is not None:
            self.code = code
        super().__init__(reason)


class TransientError(SyncError):
    """A potentially recoverable failure; retry after ``retry_after`` seconds if given."""

    code = "InternalServerError"

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(reason, status=status, code=code)


class NotFoundError(SyncError):
    """The object is not on the target (404)."""

    code = "InvalidAnchor"


class ConflictError(SyncError):
    """The target already holds a conflicting object (409)."""

    code = "EntryConflict"


class RejectedError(SyncError):
    """The target rejected the request (a 4xx other than 401/403/404/409/429)."""

    code = "UnprocessableEntity"


class StopSync(SyncError):
    """A failure of the job, not of one object (bad credentials, wrong URL): stop the cycle."""

    code = "Unauthorized"


class DryRunRejected(SyncError):
    """A write reached the client during a dry run; the guard refused to send it."""

    code = "DryRunRejected"
