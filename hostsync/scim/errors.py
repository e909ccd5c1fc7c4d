"""SCIM errors: one exception class per RFC 7644 §3.12 error kind.

This module depends on nothing else in hostsync. Every failure that the protocol layer reports
to a client is a :class:`ScimError`; the web layer renders it with :meth:`ScimError.to_body`.

Our exception hierarchy:

* ScimError                  - any SCIM error; ``status`` and optional ``scim_type``
  + BadRequestError          - 400 with no scimType
    - InvalidFilterError     - 400 invalidFilter
    - TooManyError           - 400 tooMany
    - InvalidSyntaxError     - 400 invalidSyntax
    - InvalidPathError       - 400 invalidPath
    - NoTargetError          - 400 noTarget
    - InvalidValueError      - 400 invalidValue
    - MutabilityError        - 400 mutability
    - InvalidVersionError    - 400 invalidVers
  + UnauthorizedError        - 401
  + ForbiddenError           - 403
  + NotFoundError            - 404
  + MethodNotAllowedError    - 405
  + UniquenessError          - 409 uniqueness
  + PreconditionFailedError  - 412 (If-Match did not match)
  + PayloadTooLargeError     - 413
  + UnsupportedMediaTypeError - 415
  + TooManyRequestsError     - 429 (carries ``retry_after``)
  + InternalError            - 500 (detail is generic; the cause is logged, never sent)
  + UnavailableError         - 503 (carries ``retry_after``)
  + NotImplementedScimError  - 501
"""

from __future__ import annotations

from typing import Any, ClassVar

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    """A failure reported to the SCIM client as an RFC 7644 §3.12 Error body."""

    status: ClassVar[int] = 400
    scim_type: ClassVar[str | None] = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def to_body(self) -> dict[str, Any]:
        """Render the RFC 7644 §3.12 body; ``status`` is a string, as the RFC's examples show."""
        body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(self.status)}
        if self.scim_type is not None:
            body["scimType"] = self.scim_type
        body["detail"] = self.detail
        return body


class BadRequestError(ScimError):
    """The request is malformed in a way RFC 7644 gives no scimType for."""

    status = 400


class InvalidFilterError(BadRequestError):
    """The specified filter syntax was invalid or the attribute is not filterable."""

    scim_type = "invalidFilter"


class TooManyError(BadRequestError):
    """The filter yields more results than the server is willing to return."""

    scim_type = "tooMany"


class InvalidSyntaxError(BadRequestError):
    """The request body message structure was invalid or did not conform to the schema."""

    scim_type = "invalidSyntax"


class InvalidPathError(BadRequestError):
    """The "path" attribute was invalid or malformed."""

    scim_type = "invalidPath"


class NoTargetError(BadRequestError):
    """The specified "path" did not yield an attribute or attribute value to operate on."""

    scim_type = "noTarget"


class InvalidValueError(BadRequestError):
    """A required value was missing, or the value specified was not compatible."""

    scim_type = "invalidValue"


class MutabilityError(BadRequestError):
    """The attempted modification is not compatible with the attribute's mutability."""

    scim_type = "mutability"


class InvalidVersionError(BadRequestError):
    """The specified SCIM protocol version is not supported."""

    scim_type = "invalidVers"


class UnauthorizedError(ScimError):
    """Authorization failure: the bearer token is missing, malformed, unknown or revoked."""

    status = 401


class ForbiddenError(ScimError):
    """The operation is not permitted for this client."""

    status = 403


class NotFoundError(ScimError):
    """The resource or endpoint does not exist (for this tenant)."""

    status = 404


class MethodNotAllowedError(ScimError):
    """The endpoint does not support the HTTP method."""

    status = 405


class UniquenessError(ScimError):
    """One or more attribute values are already in use or reserved."""

    status = 409
    scim_type = "uniqueness"


class PreconditionFailedError(ScimError):
    """The resource changed since the version given in If-Match."""

    status = 412


class PayloadTooLargeError(ScimError):
    """The request body exceeds the advertised maximum."""

    status = 413


class UnsupportedMediaTypeError(ScimError):
    """The request body is not JSON."""

    status = 415


class TooManyRequestsError(ScimError):
    """The client is over its rate limit; it may retry after ``retry_after`` seconds."""

    status = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class InternalError(ScimError):
    """An unexpected failure; its cause is logged by the caller, never sent to the client."""

    status = 500


class NotImplementedScimError(ScimError):
    """The operation is not implemented by this server."""

    status = 501


class UnavailableError(ScimError):
    """The service cannot answer now (for example its database is down)."""

    status = 503

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
