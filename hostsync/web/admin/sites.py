"""Front desk > Sites: the list, a new site, a site's settings, the hosts it offers, its kiosks.

Every form answers 303 to the site's page (Post/Redirect/Get) and leaves an activity row, or
shows the form again with what to correct (422) and writes nothing. A new kiosk's link, which
holds its secret, reaches the page once through the session's flash, never a URL or a cookie.
A site offers the members of the groups it maps, or the hosts an attribute rule matches
(:mod:`hostsync.frontdesk.selection`), or with neither every active host: adding a group
clears the rule and saving a rule clears the groups, so a site uses one way at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Any
from zoneinfo import available_timezones

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hostsync.frontdesk import sites as rules
from hostsync.frontdesk.days import local_text
from hostsync.frontdesk.selection import attribute_rule
from hostsync.frontdesk.sites import Site, SiteSettingError
from hostsync.store import admins as admin_store
from hostsync.store.activity import records
from hostsync.store.frontdesk import console as frontdesk_console
from hostsync.store.frontdesk import sites as site_store
from hostsync.web.admin.console import AdminConsole, Page
from hostsync.web.admin.flash import Flash

SITES_PAGE = "/sites"
PRIVACY_MODES = (
    ("full", "Full display name"),
    ("initial", "First name and last initial (José N.)"),
    ("exact", "Exact full name only (the visitor types the whole name)"),
)
DETAILS = (("", "Nothing"), ("title", "Job title"), ("department", "Department"))
_SETTINGS_SHOWN = {
    "name": "name",
    "timezone": "time zone",
    "end_of_day": "end of day",
    "privacy": "privacy mode",
    "detail": "detail shown",
    "fallback_recipients": "fallback recipients",
}


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    """The IANA zone names a site may use (the datalist of the time zone field)."""
    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))


def site_path(site_id: str) -> str:
    """A site's page."""
    return f"{SITES_PAGE}/{site_id}"


def kiosk_base(console: AdminConsole, request: Request) -> str:
    """What a kiosk link starts with: the public URL, else the address this page was served at."""
    if console.settings.public_url:
        return console.settings.public_url.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PLAIN_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


def plain_id(text: str | None) -> str | None:
    """An id as the store makes them (letters, digits, ``-``, ``_``; at most 64), else None.

    Ids from a URL or a form are checked before any query: a NUL byte or a very long text
    never reaches the database (PostgreSQL refuses NUL in text, which would be a 500).
    """
    return text if text and _PLAIN_ID.match(text) else None


def plain_ids(page: Page) -> Page:
    """``page``, answering 404 before any query when a path parameter is not a :func:`plain_id`."""

    @wraps(page)
    async def checked(
        console: AdminConsole, request: Request, session: admin_store.Session
    ) -> Response:
        if any(plain_id(str(value)) is None for value in request.path_params.values()):
            return console.not_found(request, session)
        return await page(console, request, session)

    return checked


def _field(request: Request, name: str) -> str:
    """A form field's text without control characters (line breaks and tabs are kept)."""
    return _CONTROL.sub("", str(request.state.form.get(name, "")))


# -- the list and a new site ------------------------------------------------------------------


async def list_page(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """The tenant's sites, with the form to add one."""
    return await _list(console, request, session)


async def _list(
    console: AdminConsole,
    request: Request,
    session: admin_store.Session,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    tenant_id = session.admin.tenant_id

    def load() -> list[frontdesk_console.SiteSummary]:
        with console.database.connect(write=False) as connection:
            return frontdesk_console.site_summaries(connection, tenant_id)

    summaries = await run_in_threadpool(load)
    return console.render(
        request,
        "sites.html",
        {
            "title": "Sites",
            "summaries": summaries,
            "zones": time_zones(),
            "error": error,
            "values": values or {"name": "", "timezone": ""},
        },
        status_code=422 if error else 200,
        session=session,
    )


async def create(console: AdminConsole, request: Request, session: admin_store.Session) -> Response:
    """Add a site (name and time zone); its page comes next."""
    values = {"name": _field(request, "name"), "timezone": _field(request, "timezone")}
    tenant_id = session.admin.tenant_id
    context = console.context(request, session.admin.email)

    def insert() -> Site:
        with console.database.connect(write=True) as connection:
            site = site_store.create_site(
                connection, tenant_id, values["name"], timezone=values["timezone"]
            )
            records.audit(
                connection,
                tenant_id,
                context,
                "create",
                resource_type="Site",
                resource_id=site.id,
                resource_name=site.name,
                detail=f"time zone {site.timezone}",
            )
            return site

    try:
        site = await run_in_threadpool(insert)
    except SiteSettingError as refused:
        return await _list(console, request, session, error=_sentence(refused), values=values)
    console.flashes.put(
        session,
        Flash(notice=f"Site “{site.name}” created. Review its settings, then add a kiosk."),
    )
    return RedirectResponse(site_path(site.id), 303)


# -- one site ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SitePage:
    site: Site
    kiosks: list[site_store.Kiosk]
    groups: list[tuple[str, str]]  # mapped: (id, name)
    choices: list[tuple[str, str]]  # the tenant's other groups


def _load_site(console: AdminConsole, tenant_id: str, site_id: str) -> _SitePage | None:
    with console.database.connect(write=False) as connection:
        site = site_store.get_site(connection, tenant_id, site_id)
        if site is None:
            return None
        names = frontdesk_console.group_names(connection, tenant_id, site.group_ids)
        choices = frontdesk_console.group_choices(connection, tenant_id)
        kiosks = site_store.list_kiosks(connection, tenant_id, site_id)
    mapped = sorted(
        ((group_id, names.get(group_id, "(deleted group)")) for group_id in site.group_ids),
        key=lambda pair: pair[1].casefold(),
    )
    free = [choice for choice in choices if choice[0] not in site.group_ids]
    return _SitePage(site, kiosks, mapped, free)


def _settings_values(site: Site) -> dict[str, str]:
    return {
        "name": site.name,
        "timezone": site.timezone,
        "end_of_day": site.end_of_day or "",
        "privacy": site.privacy,
        "detail": site.detail or "",
        "fallback_recipients": "\n".join(site.fallback_recipients),
        "attribute": site.match_attribute or "",
        "value": site.match_value or "",
    }


@plain_ids
async def site_page(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """A site's settings, the hosts it offers and its kiosks (and a form's flash)."""
    return await _site(console, request, session)


async def _site(
    console: AdminConsole,
    request: Request,
    session: admin_store.Session,
    *,
    error: str | None = None,
    section: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    site_id = request.path_params["site_id"]
    loaded = await run_in_threadpool(_load_site, console, session.admin.tenant_id, site_id)
    if loaded is None:
        return console.not_found(request, session)
    flash = None if error else console.flashes.take(session)
    zone = loaded.site.zone
    shown = {**_settings_values(loaded.site), **(values or {})}
    new_kiosk_id = None if flash is None else flash.new_key_id
    response = console.render(
        request,
        "site.html",
        {
            "title": loaded.site.name,
            "site": loaded.site,
            "values": shown,
            "zones": time_zones(),
            "privacy_modes": PRIVACY_MODES,
            "details": DETAILS,
            "groups": loaded.groups,
            "choices": loaded.choices,
            "kiosks": [
                {
                    "kiosk": kiosk,
                    "created": local_text(kiosk.created_at, zone),
                    "seen": local_text(kiosk.last_seen_at, zone),
                    "revoked": local_text(kiosk.revoked_at, zone),
                    "fresh": kiosk.id == new_kiosk_id,
                }
                for kiosk in loaded.kiosks
            ],
            "error": error,
            "section": section,
            "notice": None if flash is None else flash.notice,
            "new_link": None if flash is None else flash.new_key,
        },
        status_code=422 if error else 200,
        session=session,
    )
    response.headers["Cache-Control"] = "no-store"  # a one-time kiosk link is never cached
    return response


def _sentence(error: Exception) -> str:
    text = str(error)
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def _checked_settings(request: Request, site: Site) -> dict[str, Any]:
    """The settings form's values, checked; :class:`SiteSettingError` names the first bad one."""
    privacy = _field(request, "privacy") or site.privacy
    if privacy not in {value for value, _ in PRIVACY_MODES}:
        raise SiteSettingError("choose one of the privacy modes offered")
    detail = _field(request, "detail")
    if detail not in {value for value, _ in DETAILS}:
        raise SiteSettingError("choose what is shown beside a host's name from the list")
    return {
        "name": rules.site_name(_field(request, "name")),
        "timezone": rules.timezone_name(_field(request, "timezone")),
        "end_of_day": rules.end_of_day(_field(request, "end_of_day")),
        "privacy": privacy,
        "detail": detail or None,
        "fallback_recipients": rules.fallback_recipients(
            _field(request, "fallback_recipients").splitlines()
        ),
    }


@plain_ids
async def save(console: AdminConsole, request: Request, session: admin_store.Session) -> Response:
    """Save a site's settings: name, time zone, end of day, privacy, fallback recipients."""
    site_id = request.path_params["site_id"]
    tenant_id = session.admin.tenant_id
    context = console.context(request, session.admin.email)
    typed = {
        name: _field(request, name)
        for name in ("name", "timezone", "end_of_day", "privacy", "detail", "fallback_recipients")
    }

    def update() -> Site | None:
        with console.database.connect(write=True) as connection:
            old = site_store.get_site(connection, tenant_id, site_id)
            if old is None:
                return None
            wanted = _checked_settings(request, old)
            site = site_store.update_site(connection, tenant_id, site_id, **wanted)
            changed = [
                shown
                for name, shown in _SETTINGS_SHOWN.items()
                if getattr(old, name) != getattr(site, name)
            ]
            records.audit(
                connection,
                tenant_id,
                context,
                "update",
                resource_type="Site",
                resource_id=site.id,
                resource_name=site.name,
                detail="changed: " + (", ".join(changed) or "nothing"),
            )
            return site

    try:
        site = await run_in_threadpool(update)
    except SiteSettingError as refused:
        return await _site(
            console, request, session, error=_sentence(refused), section="settings", values=typed
        )
    if site is None:
        return console.not_found(request, session)
    console.flashes.put(session, Flash(notice="Settings saved."))
    return RedirectResponse(site_path(site_id), 303)


# -- the hosts a site offers ------------------------------------------------------------------


@plain_ids
async def add_group(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """Offer the members of one more group at the site (this clears an attribute rule)."""
    site_id = request.path_params["site_id"]
    group_id = _field(request, "group").strip()
    tenant_id = session.admin.tenant_id
    context = console.context(request, session.admin.email)

    def update() -> tuple[Site, str, bool] | None:
        with console.database.connect(write=True) as connection:
            site = site_store.get_site(connection, tenant_id, site_id)
            if site is None:
                return None
            if not group_id:
                raise SiteSettingError("choose a group to add")
            if plain_id(group_id) is None:
                raise SiteSettingError("this tenant has no such group; choose one from the list")
            had_rule = site.match_attribute is not None
            site = site_store.set_site_groups(
                connection, tenant_id, site_id, [*site.group_ids, group_id]
            )
            if had_rule:
                site = site_store.update_site(
                    connection, tenant_id, site_id, match_attribute=None, match_value=None
                )
            name = frontdesk_console.group_names(connection, tenant_id, [group_id])[group_id]
            records.audit(
                connection,
                tenant_id,
                context,
                "map-group",
                resource_type="Site",
                resource_id=site.id,
                resource_name=site.name,
                detail=f"offers the members of group {name} ({group_id})"
                + ("; the attribute rule was removed" if had_rule else ""),
            )
            return site, name, had_rule

    try:
        done = await run_in_threadpool(update)
    except SiteSettingError as refused:
        return await _site(console, request, session, error=_sentence(refused), section="hosts")
    if done is None:
        return console.not_found(request, session)
    _, name, had_rule = done
    notice = f"The members of “{name}” are offered at this site."
    if had_rule:
        notice += " The attribute rule was removed: a site uses groups or a rule, not both."
    console.flashes.put(session, Flash(notice=notice))
    return RedirectResponse(site_path(site_id), 303)


@plain_ids
async def remove_group(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """Stop offering a group's members at the site."""
    site_id = request.path_params["site_id"]
    group_id = request.path_params["group_id"]
    tenant_id = session.admin.tenant_id
    context = console.context(request, session.admin.email)

    def update() -> Site | None:
        with console.database.connect(write=True) as connection:
            site = site_store.get_site(connection, tenant_id, site_id)
            if site is None or group_id not in site.group_ids:
                return None
            name = frontdesk_console.group_names(connection, tenant_id, [group_id]).get(group_id)
            site = site_store.set_site_groups(
                connection, tenant_id, site_id, [g for g in site.group_ids if g != group_id]
            )
            records.audit(
                connection,
                tenant_id,
                context,
                "unmap-group",
                resource_type="Site",
                resource_id=site.id,
                resource_name=site.name,
                detail=f"no longer offers group {name or '(deleted)'} ({group_id})",
            )
            return site

    site = await run_in_threadpool(update)
    if site is None:
        return console.not_found(request, session)
    notice = "Group removed."
    if not site.group_ids:
        notice += " No group is mapped: every active host is offered at this site."
    console.flashes.put(session, Flash(notice=notice))
    return RedirectResponse(site_path(site_id), 303)


@plain_ids
async def save_rule(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """Choose the site's hosts by an attribute value (this clears its groups), or clear the rule."""
    site_id = request.path_params["site_id"]
    clear = _field(request, "action") == "clear"
    typed = {"attribute": _field(request, "attribute"), "value": _field(request, "value")}
    tenant_id = session.admin.tenant_id
    context = console.context(request, session.admin.email)

    def update() -> tuple[Site, bool] | None:
        with console.database.connect(write=True) as connection:
            site = site_store.get_site(connection, tenant_id, site_id)
            if site is None:
                return None
            had_groups = bool(site.group_ids)
            if clear:
                path, value = None, None
                detail = "the attribute rule was removed"
            else:
                path, value = attribute_rule(typed["attribute"], typed["value"])
                detail = f"offers the hosts whose {path} is {value}"
                if had_groups:
                    site_store.set_site_groups(connection, tenant_id, site_id, [])
                    detail += "; its groups were removed"
            site = site_store.update_site(
                connection, tenant_id, site_id, match_attribute=path, match_value=value
            )
            records.audit(
                connection,
                tenant_id,
                context,
                "update",
                resource_type="Site",
                resource_id=site.id,
                resource_name=site.name,
                detail=detail,
            )
            return site, had_groups

    try:
        done = await run_in_threadpool(update)
    except SiteSettingError as refused:
        return await _site(
            console, request, session, error=_sentence(refused), section="hosts", values=typed
        )
    if done is None:
        return console.not_found(request, session)
    site, had_groups = done
    if clear:
        notice = "Attribute rule removed: every active host is offered at this site."
    else:
        notice = f"Hosts whose {site.match_attribute} is “{site.match_value}” are offered here."
        if had_groups:
            notice += " The groups were removed: a site uses groups or a rule, not both."
    console.flashes.put(session, Flash(notice=notice))
    return RedirectResponse(site_path(site_id), 303)


# -- kiosks -----------------------------------------------------------------------------------


@plain_ids
async def create_kiosk(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """Create a kiosk for the site and show its link once."""
    site_id = request.path_params["site_id"]
    label = _field(request, "label")
    tenant_id = session.admin.tenant_id
    context = console.context(request, session.admin.email)

    def insert() -> tuple[site_store.Kiosk, str] | None:
        with console.database.connect(write=True) as connection:
            if site_store.get_site(connection, tenant_id, site_id) is None:
                return None
            kiosk, secret = site_store.create_kiosk(connection, tenant_id, site_id, label)
            records.audit(
                connection,
                tenant_id,
                context,
                "create",
                resource_type="Kiosk",
                resource_id=kiosk.id,
                resource_name=_shown(kiosk),
                detail=f"for site {site_id}",
            )
            return kiosk, secret

    try:
        created = await run_in_threadpool(insert)
    except SiteSettingError as refused:
        return await _site(console, request, session, error=_sentence(refused), section="kiosks")
    if created is None:
        return console.not_found(request, session)
    kiosk, secret = created
    console.flashes.put(
        session,
        Flash(
            notice=f"Kiosk “{kiosk.label}” created. Open its link on the tablet now: "
            "it is shown only once.",
            new_key=f"{kiosk_base(console, request)}/kiosk/{secret}",
            new_key_id=kiosk.id,
        ),
    )
    return RedirectResponse(site_path(site_id) + "#kiosks", 303)


@plain_ids
async def revoke_kiosk(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """Revoke one of the site's kiosks: its next request is refused."""
    site_id = request.path_params["site_id"]
    kiosk_id = request.path_params["kiosk_id"]
    tenant_id = session.admin.tenant_id
    context = console.context(request, session.admin.email)

    def update() -> bool:
        with console.database.connect(write=True) as connection:
            if site_store.get_site(connection, tenant_id, site_id) is None:
                return False
            known = {k.id: k for k in site_store.list_kiosks(connection, tenant_id, site_id)}
            kiosk = known.get(kiosk_id)
            if kiosk is None:
                return False
            if kiosk.revoked_at is None:
                site_store.revoke_kiosk(connection, tenant_id, kiosk_id)
                records.audit(
                    connection,
                    tenant_id,
                    context,
                    "revoke",
                    resource_type="Kiosk",
                    resource_id=kiosk.id,
                    resource_name=_shown(kiosk),
                    detail=f"of site {site_id}",
                )
            return True

    if not await run_in_threadpool(update):
        return console.not_found(request, session)
    console.flashes.put(
        session, Flash(notice="Kiosk revoked. It cannot search or check visitors in any more.")
    )
    return RedirectResponse(site_path(site_id) + "#kiosks", 303)


def _shown(kiosk: site_store.Kiosk) -> str:
    """A kiosk as the activity log names it: its label and shown prefix, never the secret."""
    return f"{kiosk.label} ({kiosk.prefix}…)"
