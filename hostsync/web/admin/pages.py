"""The console's HTML pages: the Jinja environment, its filters and the headers of every page.

Templates autoescape; every page carries :data:`SECURITY_HEADERS` (a strict CSP, no framing,
no caching), whether a route or the application's error handler renders it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from hostsync.store import admins as admin_store
from hostsync.store.activity.labels import NOTHING, value_text

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def environment() -> Environment:
    """The templates of ``templates/``, autoescaped, with the ``when`` and ``json`` filters.

    ``when`` writes a ``<time>`` element: its ``datetime`` is ISO UTC, its text the UTC time
    (what a browser without scripts shows); static/admin.js rewrites the text in the viewer's
    own time zone and keeps the UTC time on hover (its ``title``).
    """
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["json"] = _json_value
    return env


def render(
    env: Environment,
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    session: admin_store.Session | None = None,
) -> HTMLResponse:
    """Render a page with the security headers."""
    html = env.get_template(template).render(
        request=request, session=session, path=request.url.path, **context
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def _when(moment: datetime | None) -> Markup | str:
    if moment is None:
        return NOTHING
    utc = moment.strftime("%Y-%m-%d %H:%M UTC")
    iso = moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    return Markup('<time datetime="{}" title="{}">{}</time>').format(iso, utc, utc)


def _json_value(value: Any) -> str:
    return value_text(value)
