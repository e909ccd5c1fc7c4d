"""Notifications: the tenant's Microsoft Teams, Slack and generic webhook channels.

Each channel is one URL, sealed with the server key before it is stored
(:mod:`hostsync.frontdesk.sealing`) and shown masked; the generic webhook also gets a signing
secret, made here and shown once (the Post/Redirect/Get flash). **Send test** posts a sample
arrival at once, with a short timeout, and shows what the receiver answered. Every form
leaves an activity row; every query is scoped to the administrator's tenant. E-mail is set
by the server's settings and only shown here.
"""

from __future__ import annotations

import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hostsync.frontdesk.delivery.smtp import SmtpUrlError, parse_smtp_url
from hostsync.frontdesk.delivery.webhooks import WebhookSender, check_url
from hostsync.frontdesk.delivery.worker import sample_arrival, send_to_channel
from hostsync.frontdesk.ports import Channel
from hostsync.frontdesk.sealing import Sealer, SealingError, masked
from hostsync.store import admins as admin_store
from hostsync.store.activity import records
from hostsync.store.frontdesk.channels import SealedChannel, channels_of, set_channel
from hostsync.web.admin.console import AdminConsole
from hostsync.web.admin.flash import Flash
from hostsync.web.outbox import OutboxService, OutboxSettingsError

PAGE = "/notifications"
NAMES = {"teams": "Microsoft Teams", "slack": "Slack", "webhook": "Webhook"}
HINTS = {
    "teams": "A Workflows webhook URL: in Teams, a channel's Workflows menu, "
    "“Post to a channel when a webhook request is received”.",
    "slack": "An incoming webhook URL (https://hooks.slack.com/services/…) of a Slack app.",
    "webhook": "Your HTTPS endpoint. Each request is a JSON event signed with HMAC-SHA256 "
    "(X-Hostsync-Signature) and carries an Idempotency-Key.",
}
TEST_TIMEOUT = 5.0
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def _service(request: Request) -> OutboxService:
    service: OutboxService = request.app.state.outbox
    return service


def _back(console: AdminConsole, session: admin_store.Session, flash: Flash) -> Response:
    console.flashes.put(session, flash)
    return RedirectResponse(PAGE, 303)


async def page(console: AdminConsole, request: Request, session: admin_store.Session) -> Response:
    """The notification channels of the tenant, and e-mail as the server sends it."""
    tenant_id = session.admin.tenant_id
    flash = console.flashes.take(session)

    def load() -> dict[str, SealedChannel]:
        with console.database.connect(write=False) as connection:
            return channels_of(connection, tenant_id)

    stored = await run_in_threadpool(load)
    problem = None
    try:
        sealer: Sealer | None = _service(request).sealer()
    except OutboxSettingsError as exc:
        sealer, problem = None, str(exc)
    channels = []
    for name in NAMES:
        found = stored.get(name)
        shown = None
        if found is not None:
            shown = _shown(sealer, found.sealed_url)
        channels.append({"name": name, "title": NAMES[name], "hint": HINTS[name], "shown": shown})
    settings = console.settings
    smtp = None
    if settings.smtp_url:
        try:
            smtp = parse_smtp_url(settings.smtp_url).shown
        except SmtpUrlError as exc:
            smtp = f"unusable: {exc}"
    response = console.render(
        request,
        "notifications.html",
        {
            "title": "Notifications",
            "channels": channels,
            "smtp": smtp,
            "mail_from": settings.mail_from,
            "problem": problem,
            "notice": None if flash is None else flash.notice,
            "failed": flash is not None and flash.failed,
            "new_secret": None if flash is None else flash.new_key,
        },
        session=session,
    )
    response.headers["Cache-Control"] = "no-store"  # a one-time secret is never cached
    return response


def _shown(sealer: Sealer | None, sealed: str) -> str:
    if sealer is None:
        return "set (the server key is unavailable)"
    try:
        return masked(sealer.open(sealed))
    except SealingError:
        return "set with another server key: enter the URL again"


def _channel(request: Request) -> str | None:
    name = str(request.path_params.get("channel", ""))
    return name if name in NAMES else None


async def save(console: AdminConsole, request: Request, session: admin_store.Session) -> Response:
    """Set a channel's URL (a new generic webhook gets a new signing secret, shown once)."""
    name = _channel(request)
    if name is None:
        return console.not_found(request, session)
    url = str(request.state.form.get("url", "")).strip()
    problem = "enter the address" if not url else None
    if problem is None and len(url) > 2000:
        problem = "the address is too long"
    if problem is None:
        problem = check_url(url, private=console.settings.webhook_private_addresses)
    if problem is not None:
        return _back(
            console, session, Flash(notice=f"{NAMES[name]} not saved: {problem}.", failed=True)
        )
    try:
        sealer = _service(request).sealer()
    except OutboxSettingsError as exc:
        return _back(console, session, Flash(notice=f"Not saved: {exc}", failed=True))
    secret = SECRET_PREFIX + secrets.token_urlsafe(32) if name == "webhook" else None
    tenant_id = session.admin.tenant_id
    context = console.context(request, session.admin.email)

    def store() -> None:
        with console.database.connect(write=True) as connection:
            set_channel(
                connection,
                tenant_id,
                name,
                sealer.seal(url),
                None if secret is None else sealer.seal(secret),
            )
            records.audit(
                connection,
                tenant_id,
                context,
                "create",
                resource_type="Channel",
                resource_id=name,
                resource_name=f"{NAMES[name]} ({masked(url)})",
            )

    await run_in_threadpool(store)
    await run_in_threadpool(_service(request).ensure_started)
    notice = f"{NAMES[name]} saved: arrivals are posted there from now on."
    if secret is not None:
        notice += " Copy the signing secret now: it is shown only once."
    return _back(console, session, Flash(notice=notice, new_key=secret))


async def remove(console: AdminConsole, request: Request, session: admin_store.Session) -> Response:
    """Remove a channel (its queued deliveries end skipped)."""
    name = _channel(request)
    if name is None:
        return console.not_found(request, session)
    tenant_id = session.admin.tenant_id
    context = console.context(request, session.admin.email)

    def store() -> None:
        with console.database.connect(write=True) as connection:
            set_channel(connection, tenant_id, name, None)
            records.audit(
                connection,
                tenant_id,
                context,
                "remove",
                resource_type="Channel",
                resource_id=name,
                resource_name=NAMES[name],
            )

    await run_in_threadpool(store)
    return _back(console, session, Flash(notice=f"{NAMES[name]} removed."))


async def send_test(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """Post a sample arrival to the channel now and show the answer."""
    name = _channel(request)
    if name is None:
        return console.not_found(request, session)
    tenant_id = session.admin.tenant_id

    def load() -> SealedChannel | None:
        with console.database.connect(write=False) as connection:
            return channels_of(connection, tenant_id).get(name)

    found = await run_in_threadpool(load)
    if found is None:
        return _back(console, session, Flash(notice=f"{NAMES[name]} is not set up.", failed=True))
    try:
        sealer = _service(request).sealer()
        url = sealer.open(found.sealed_url)
        secret = None if found.sealed_secret is None else sealer.open(found.sealed_secret)
    except (OutboxSettingsError, SealingError) as exc:
        return _back(console, session, Flash(notice=f"Test not sent: {exc}", failed=True))

    def post() -> str | None:
        sender = WebhookSender(timeout=TEST_TIMEOUT)
        try:
            outcome = send_to_channel(
                sender, Channel(name), url, secret, sample_arrival(), timeout=TEST_TIMEOUT
            )
        finally:
            sender.close()
        return None if outcome.ok else outcome.error

    error = await run_in_threadpool(post)
    if error is None:
        return _back(console, session, Flash(notice=f"Test message sent to {NAMES[name]}."))
    return _back(
        console,
        session,
        Flash(notice=f"The test message to {NAMES[name]} failed: {error}.", failed=True),
    )
