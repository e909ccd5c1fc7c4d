"""SCIM results and errors as ``application/scim+json`` responses."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from hostsync.scim.errors import ScimError, TooManyRequestsError, UnavailableError
from hostsync.scim.service import ScimResult

SCIM_MEDIA_TYPE = "application/scim+json; charset=utf-8"


class ScimJsonResponse(Response):
    """A response whose body is SCIM JSON, encoded with orjson."""

    media_type = SCIM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        """Encode ``content`` as JSON."""
        return orjson.dumps(content)


def scim_response(result: ScimResult) -> Response:
    """Render a service result: body, ETag and Location headers."""
    headers = dict(result.headers)
    if result.etag is not None:
        headers["ETag"] = result.etag
    if result.location is not None:
        headers["Location"] = result.location
    if result.body is None:
        return Response(status_code=result.status, headers=headers)
    return ScimJsonResponse(result.body, status_code=result.status, headers=headers)


def error_response(error: ScimError) -> Response:
    """Render a SCIM error (RFC 7644 §3.12), with the headers its status calls for."""
    headers: dict[str, str] = {}
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="hostsync"'
    if isinstance(error, TooManyRequestsError | UnavailableError):
        headers["Retry-After"] = str(error.retry_after)
    return ScimJsonResponse(error.to_body(), status_code=error.status, headers=headers)
