"""``GET /kiosk``: the page a paired tablet or phone shows visitors.

The page is one HTML document and one script (``static/kiosk.js``): check in (full name,
company, e-mail, the host picker, *Check in*), the confirmation, and check out. The script
talks to the kiosk API with the pairing cookie (``application/json`` bodies only). Without a
valid pairing the page is :func:`~hostsync.web.kiosk.pairing.unpaired_page` (401).

Every answer carries :data:`SECURITY_HEADERS`: scripts, styles and requests from this origin
only (no inline script or style, no external asset), no framing, no referrer, no caching.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from hostsync.frontdesk.sites import Site
from hostsync.scim.errors import ScimError
from hostsync.store.database import Database
from hostsync.store.frontdesk.sites import KioskCredential, get_site
from hostsync.web.kiosk.pairing import KioskGate, KioskRefused, unpaired_page

HERE = Path(__file__).parent
STATIC = HERE / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
NOT_PAIRED = (
    "This device is not paired with a site. Open the kiosk link your administrator created "
    "(Sites page of the console, or 'hostsync kiosk create') on this device once."
)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The kiosk's templates, autoescaped."""
    return Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


class KioskPage:
    """Renders the kiosk page for a paired device."""

    def __init__(self, database: Database, gate: KioskGate, idle_seconds: int) -> None:
        self.database = database
        self.gate = gate
        self.idle_seconds = idle_seconds

    async def page(self, request: Request) -> Response:
        """``GET /kiosk``: the page, or the 'not paired' page (401)."""
        secret, _ = self.gate.secret_of(request)
        try:
            credential = await run_in_threadpool(self.gate.credential, secret)
            site = await run_in_threadpool(self._site, credential)
        except KioskRefused:
            return unpaired_page(NOT_PAIRED, status_code=401)
        except ScimError:
            return unpaired_page(
                "The kiosk cannot reach its server right now. It will try again shortly.",
                status_code=503,
            )
        if site is None:
            return unpaired_page(
                "This kiosk's site was archived. Ask your administrator for a new kiosk link.",
                status_code=401,
            )
        html = (
            environment()
            .get_template("kiosk.html")
            .render(
                site_name=site.name,
                kiosk_label=credential.label,
                timezone=site.timezone,
                idle_seconds=self.idle_seconds,
            )
        )
        response = HTMLResponse(html)
        response.headers.update(SECURITY_HEADERS)
        return response

    def _site(self, credential: KioskCredential) -> Site | None:
        with self.database.connect(write=False) as connection:
            return get_site(connection, credential.tenant_id, credential.site_id)
