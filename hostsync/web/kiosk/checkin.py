"""The kiosk's check-in and check-out API: ``/v1/kiosk/visits``.

* ``POST /v1/kiosk/visits`` checks a visitor in at the kiosk's site: a JSON object with
  ``full_name`` (required), ``company`` and ``email`` (optional), and either ``host_id`` (a
  host the site offers: active, not deleted, in one of its groups when it maps groups) or
  ``"front_desk": true``. The visit and its notifications are committed together in one write
  unit, run off the event loop; 201 with the visit's id, the host's label and the time.
* ``GET /v1/kiosk/visits?q=`` finds the visitors still on site who checked in at this site
  today (the site's local day) and whose full name, folded, starts with ``q`` (2 characters at
  least): their name and check-in time only, never an e-mail address or a company.
* ``POST /v1/kiosk/visits/{id}/checkout`` checks one of them out: a visit of this site only.

Every refusal is a JSON ``{"status", "error", "detail"}``; bodies are capped at
:data:`MAX_BODY_BYTES` (413), must be ``application/json`` (415), must be one JSON object
(400), and a field of the wrong type or an unknown field is refused with its name (400). The
label stored with a visit is the one the kiosk shows for the host (:func:`host_label`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hostsync.frontdesk.days import day_start
from hostsync.frontdesk.names import fold, host_name
from hostsync.frontdesk.privacy import PrivacyMode, label
from hostsync.frontdesk.sites import Site
from hostsync.frontdesk.visits import FULL_NAME_LIMIT, Arrival, Visit, VisitError, arrival
from hostsync.scim.errors import ScimError
from hostsync.store.clock import now
from hostsync.store.database import Database
from hostsync.store.frontdesk.sites import KioskCredential, get_site
from hostsync.store.frontdesk.visits import (
    CheckIn,
    UnknownHostError,
    check_in,
    check_out,
    host_document,
    on_site,
)
from hostsync.web.kiosk.pairing import api_error

MAX_BODY_BYTES = 8192
"""Largest check-in body: a name, a company, an address and an id fit many times over."""
MIN_QUERY = 2
"""Characters of a full name (folded) a check-out search needs."""
FOUND_LIMIT = 10
"""Most visitors a check-out search lists."""
_VISIT_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")  # ids are 32 hex digits (store/clock.py)
FIELDS = {
    "full_name": "Full name",
    "company": "Company",
    "email": "E-mail",
    "host_id": "host_id",
    "front_desk": "front_desk",
}
_UNAVAILABLE_HOST = "This host cannot be chosen here any more; pick another"


class Refusal(Exception):
    """A kiosk API request refused before or while it runs; becomes :func:`api_error`."""

    def __init__(self, status: int, error: str, detail: str, **headers: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers

    def response(self) -> Response:
        """The JSON error answer."""
        return api_error(self.status, self.error, self.detail, **self.headers)


def host_label(document: Mapping[str, Any], site: Site) -> str | None:
    """The name the site's kiosks show for the host, kept with the visit as shown then.

    The site's privacy mode decides it (:func:`hostsync.frontdesk.privacy.label`); None for a
    host with no name to show (never ``userName``, often an address).
    """
    name = host_name(document)
    return None if name is None else label(name, PrivacyMode(site.privacy))


def instant(moment: datetime) -> str:
    """A stored (naive UTC) time as RFC 3339 with ``Z``, to the second."""
    return moment.replace(microsecond=0).isoformat() + "Z"


async def json_object(request: Request) -> dict[str, Any]:
    """The request's body: one JSON object, read with a cap; :class:`Refusal` otherwise."""
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isascii() or not declared.isdigit()):
        raise Refusal(400, "invalid_request", "The request's Content-Length is not a number")
    if declared and int(declared) > MAX_BODY_BYTES:
        raise Refusal(413, "too_large", f"The body exceeds {MAX_BODY_BYTES} bytes")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise Refusal(415, "json_required", "Send the body as application/json")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise Refusal(413, "too_large", f"The body exceeds {MAX_BODY_BYTES} bytes")
    if not body.strip():
        raise Refusal(400, "invalid_json", "The body is empty: send a JSON object")
    try:
        decoded = orjson.loads(bytes(body))
    except orjson.JSONDecodeError:
        raise Refusal(400, "invalid_json", "The body is not valid JSON") from None
    if not isinstance(decoded, dict):
        raise Refusal(400, "invalid_json", "The body must be a JSON object")
    return decoded


def arrival_of(body: Mapping[str, Any]) -> Arrival:
    """The checked arrival; :class:`Refusal` names the field at fault."""
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise Refusal(400, "invalid_visit", f"Unknown field '{unknown[0][:40]}'")
    for field, shown in FIELDS.items():
        value = body.get(field)
        if isinstance(value, str) and _has_control(value):
            raise Refusal(400, "invalid_visit", f"{shown} cannot contain control characters")
    front_desk = body.get("front_desk", False)
    try:
        return arrival(
            body.get("full_name"),
            body.get("company"),
            body.get("email"),
            body.get("host_id"),
            front_desk,
        )
    except VisitError as exc:
        raise Refusal(400, "invalid_visit", str(exc)) from None


def _has_control(text: str) -> bool:
    """Whether text holds a control character other than spaces, tabs and line breaks."""
    return any(unicodedata.category(char) == "Cc" and char not in "\t\n\r" for char in text)


def _database_refusal(exc: ScimError) -> Refusal:
    """A database that is busy or refuses a value: 503 with Retry-After, or 400."""
    retry = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry)} if retry is not None else {}
    error = "unavailable" if exc.status >= 500 else "invalid_value"
    return Refusal(exc.status, error, exc.detail, **headers)


def _visit_document(visit: Visit) -> dict[str, Any]:
    return {
        "id": visit.id,
        "host": None if visit.host_label is None else {"label": visit.host_label},
        "front_desk": visit.front_desk,
        "checked_in_at": instant(visit.checked_in_at),
    }


class KioskVisits:
    """The handlers of ``/v1/kiosk/visits``, each given the kiosk's credential by the gate."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def check_in(self, request: Request, credential: KioskCredential) -> Response:
        """``POST /v1/kiosk/visits``: 201 and the visit, or a JSON refusal."""
        try:
            found = arrival_of(await json_object(request))
            visit = await run_in_threadpool(self._check_in, credential, found)
        except Refusal as refusal:
            return refusal.response()
        return JSONResponse(_visit_document(visit), status_code=201)

    def _check_in(self, credential: KioskCredential, found: Arrival) -> Visit:
        who = CheckIn(by=f"kiosk {credential.label}", kiosk_id=credential.kiosk_id)
        try:
            with self.database.connect(write=True) as connection:
                site = _site(connection, credential)
                label = None
                if found.host_id is not None:
                    document = host_document(connection, credential.tenant_id, found.host_id)
                    if document is None:
                        raise Refusal(409, "host_unavailable", _UNAVAILABLE_HOST)
                    label = host_label(document, site)
                return check_in(connection, site, found, who, host_label=label)
        except UnknownHostError:
            raise Refusal(409, "host_unavailable", _UNAVAILABLE_HOST) from None
        except ScimError as exc:
            raise _database_refusal(exc) from None

    async def find(self, request: Request, credential: KioskCredential) -> Response:
        """``GET /v1/kiosk/visits?q=``: today's visitors on site whose name starts with q."""
        query = request.query_params.get("q", "")
        if len(query) > FULL_NAME_LIMIT:
            return api_error(400, "invalid_query", f"q has at most {FULL_NAME_LIMIT} characters")
        if _has_control(query) or len(fold(query).replace(" ", "")) < MIN_QUERY:
            return api_error(
                400, "invalid_query", f"Type at least {MIN_QUERY} letters of your full name (q)"
            )
        try:
            found = await run_in_threadpool(self._find, credential, query)
        except Refusal as refusal:
            return refusal.response()
        return JSONResponse(
            {
                "visits": [
                    {"id": v.id, "name": v.visitor_name, "checked_in_at": instant(v.checked_in_at)}
                    for v in found
                ]
            }
        )

    def _find(self, credential: KioskCredential, query: str) -> list[Visit]:
        try:
            with self.database.connect(write=False) as connection:
                site = _site(connection, credential)
                since = day_start(site.zone, now())
                found = on_site(
                    connection,
                    credential.tenant_id,
                    site.id,
                    name_prefix=query,
                    since=since,
                    limit=FOUND_LIMIT,
                )
        except ScimError as exc:
            raise _database_refusal(exc) from None
        return [visit for visit in found if visit.visitor_name is not None]

    async def check_out(self, request: Request, credential: KioskCredential) -> Response:
        """``POST /v1/kiosk/visits/{id}/checkout``: 200, or 404 unless on site at this site."""
        visit_id = str(request.path_params["visit_id"])
        if not _VISIT_ID.fullmatch(visit_id):
            return api_error(404, "not_found", "No such visitor is checked in here")
        try:
            visit = await run_in_threadpool(self._check_out, credential, visit_id)
        except Refusal as refusal:
            return refusal.response()
        if visit is None or visit.checked_out_at is None:
            return api_error(404, "not_found", "No such visitor is checked in here")
        return JSONResponse({"id": visit.id, "checked_out_at": instant(visit.checked_out_at)})

    def _check_out(self, credential: KioskCredential, visit_id: str) -> Visit | None:
        try:
            with self.database.connect(write=True) as connection:
                site = _site(connection, credential)
                return check_out(
                    connection,
                    credential.tenant_id,
                    visit_id,
                    f"kiosk {credential.label}",
                    site_id=site.id,
                )
        except ScimError as exc:
            raise _database_refusal(exc) from None


def _site(connection: Any, credential: KioskCredential) -> Site:
    """The kiosk's site; :class:`Refusal` (401) once archived."""
    site = get_site(connection, credential.tenant_id, credential.site_id)
    if site is None:
        raise Refusal(401, "unpaired", "This kiosk's site was archived")
    return site
