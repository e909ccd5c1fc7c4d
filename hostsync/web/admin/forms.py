"""Console forms: the body read with a cap, and the checks before any field is used.

* A console request body is read incrementally and refused (413) past
  ``HOSTSYNC_CONSOLE_MAX_BODY_BYTES``; only URL-encoded forms are accepted, with few fields,
  each capped in length (:data:`FIELD_LIMITS`) before anything uses it.
* Every form carries a CSRF token: the session's own once signed in; before sign-in, a random
  token that must also be in a short-lived ``SameSite=Strict`` cookie (double submit).
  A POST whose ``Origin`` header names another host is refused as well.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncGenerator
from urllib.parse import parse_qsl, urlsplit

from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

MAX_FORM_FIELDS = 16
DEFAULT_FIELD_LIMIT = 1024
FIELD_LIMITS = {
    "email": 320,
    "password": 1024,
    "csrf": 128,
    "next": 2048,
    "label": 200,
    "confirm": 1024,
    "fallback_recipients": 8192,
    "metadata_xml": 262_144,
}
"""Most characters each console form field may carry; others get :data:`DEFAULT_FIELD_LIMIT`."""


class FormRefused(Exception):
    """A console form that is refused before any of its fields is used."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_form(request: Request, max_bytes: int) -> FormData:
    """The request's URL-encoded form, read incrementally and capped.

    Raises :class:`FormRefused` (413) as soon as the body passes ``max_bytes`` (nothing more
    is buffered), (415) for another content type, (400) for too many fields or a field over
    its :data:`FIELD_LIMITS` length.
    """
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isascii() or not declared.isdigit()):
        raise FormRefused(400, "The request's length is not a number.")
    if declared and int(declared) > max_bytes:
        raise FormRefused(413, "The form is too large.")
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise FormRefused(413, "The form is too large.")
    if not body:
        return FormData()
    if kind != "application/x-www-form-urlencoded":
        raise FormRefused(415, "The form must be sent URL-encoded, as a browser does.")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise FormRefused(400, "The form could not be read.") from None
    for name, value in pairs:
        if len(value) > FIELD_LIMITS.get(name, DEFAULT_FIELD_LIMIT):
            raise FormRefused(400, f"The field “{name[:40]}” is too long.")
    fields: list[tuple[str, str | UploadFile]] = list(pairs)
    return FormData(fields)


def new_token() -> str:
    """A random token for CSRF cookies."""
    return secrets.token_urlsafe(32)


def tokens_match(expected: str | None, presented: object) -> bool:
    """Constant-time comparison of a CSRF token with the presented form value."""
    if not expected or not isinstance(presented, str) or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


def same_origin(request: Request) -> bool:
    """False only when the request carries an ``Origin`` of another host."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin != "null"
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


async def read_upload(request: Request, max_bytes: int, *, max_files: int = 1) -> FormData:
    """A form that may carry a file (``multipart/form-data``), or a URL-encoded one; capped.

    The whole body is read incrementally and refused (413) past ``max_bytes`` before it is
    parsed; a multipart form may hold at most ``max_files`` files and :data:`MAX_FORM_FIELDS`
    fields, each bounded by ``max_bytes`` alone (a pasted document is as long as its file).
    A URL-encoded body is read as :func:`read_form` reads it. The caller closes the files.
    """
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "multipart/form-data":
        return await read_form(request, max_bytes)
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isascii() or not declared.isdigit()):
        raise FormRefused(400, "The request's length is not a number.")
    if declared and int(declared) > max_bytes:
        raise FormRefused(413, "The upload is too large.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise FormRefused(413, "The upload is too large.")

    async def replay() -> AsyncGenerator[bytes, None]:
        yield bytes(body)

    parser = MultiPartParser(
        request.headers,
        replay(),
        max_files=max_files,
        max_fields=MAX_FORM_FIELDS,
        max_part_size=max_bytes,
    )
    try:
        return await parser.parse()
    except MultiPartException:
        raise FormRefused(400, "The upload could not be read.") from None
