"""The SAML endpoints of each tenant: metadata, SP-initiated sign-in, the ACS.

* ``GET /saml/{tenant}/metadata``: the service provider's metadata (public).
* ``GET /saml/{tenant}/login``: an AuthnRequest by HTTP-Redirect to the tenant's identity
  provider; its ID is stored (``saml_once``) for the Response's ``InResponseTo``, and a local
  ``next`` path travels as ``RelayState``. Starts are counted per client address before any
  query (:mod:`.starts`; 429 with ``Retry-After`` past ``HOSTSYNC_SSO_START_LIMIT``) and each
  tenant keeps at most ``HOSTSYNC_SSO_OUTSTANDING_REQUESTS`` unanswered, its oldest removed.
* ``POST /saml/{tenant}/acs``: the Response by HTTP-POST, IdP-initiated (no
  ``InResponseTo``, Entra's *Test* button and My Apps) or SP-initiated. Every rule of
  :mod:`hostsync.sso.responses` runs, then, in one transaction, the request is redeemed, the
  assertion ID accepted once, the tenant's administrator found by NameID or e-mail claim and
  a console session opened exactly as password sign-in opens one.

The tenant id is checked for its form before any query. Each refusal answers the console's
error page and, for a tenant that exists, leaves an activity row naming the reason (never
the response's content; the person's name only once a signature vouched for it). The ACS is
a cross-site POST by design: it carries no CSRF token, the signature is its proof.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from hostsync.config import Settings
from hostsync.sso import (
    IdentityProvider,
    ProviderError,
    Refusal,
    ServiceProvider,
    SignedAssertion,
    accept_once,
    authn_request,
    is_tenant_id,
    read_response,
    sp_metadata,
)
from hostsync.sso.authn_requests import MAX_RELAY_STATE
from hostsync.sso.metadata import MEDIA_TYPE
from hostsync.store import admins as admin_store
from hostsync.store.activity import records
from hostsync.store.activity.recording import RequestContext
from hostsync.store.database import Database
from hostsync.store.sso.once import StoredOneTimeIds
from hostsync.store.sso.providers import (
    admin_named,
    load_provider,
    record_refusal,
    record_sso_sign_in,
)
from hostsync.store.tenants import TenantError, get_tenant
from hostsync.web.admin.cookies import SESSION_COOKIE, set_cookie
from hostsync.web.admin.routes import error_page
from hostsync.web.admin.security import client_address
from hostsync.web.admin.signin import safe_next
from hostsync.web.sso.starts import StartLimiter

MAX_ACS_BODY_BYTES = 1_048_576
"""Largest ACS form read: a 256 KiB response in Base64, URL-encoded."""
ACTOR = "single sign-on"


@dataclass(frozen=True, slots=True)
class _Tenant:
    exists: bool
    provider: IdentityProvider | None


class SamlEndpoints:
    """The SAML endpoints over one database and settings."""

    def __init__(
        self, database: Database, settings: Settings, starts: StartLimiter | None = None
    ) -> None:
        self.database = database
        self.settings = settings
        self.starts = starts if starts is not None else StartLimiter(settings)
        self.lifetime = timedelta(hours=settings.session_lifetime_hours)
        self.idle = timedelta(minutes=settings.session_idle_minutes)

    async def metadata(self, request: Request) -> Response:
        """The tenant's service-provider metadata, as a download."""
        sp = self._service_provider(request)
        if isinstance(sp, Response):
            return sp
        tenant = await run_in_threadpool(self._tenant, sp.tenant_id)
        if not tenant.exists:
            return _unknown_tenant(request)
        return Response(
            sp_metadata(sp),
            media_type=MEDIA_TYPE,
            headers={
                "Content-Disposition": f'attachment; filename="hostsync-saml-{sp.tenant_id}.xml"'
            },
        )

    async def login(self, request: Request) -> Response:
        """Start SP-initiated sign-in: redirect to the identity provider with an AuthnRequest."""
        sp = self._service_provider(request)
        if isinstance(sp, Response):
            return sp
        wait = await self.starts.retry_after(client_address(request))
        if wait:
            return _too_many_starts(request, wait)
        tenant = await run_in_threadpool(self._tenant, sp.tenant_id)
        if not tenant.exists:
            return _unknown_tenant(request)
        if tenant.provider is None:
            return _not_set_up(request)
        target = safe_next(request.query_params.get("next", "/")[:2048])
        relay = target if target != "/" and len(target.encode()) <= MAX_RELAY_STATE else ""
        made = authn_request(sp, tenant.provider, datetime.now(UTC), relay)

        def remember() -> None:
            with self.database.connect(write=True) as connection:
                StoredOneTimeIds(
                    connection, sp.tenant_id, outstanding=self.settings.sso_outstanding_requests
                ).issue_request(made.id, made.expires_at)

        await run_in_threadpool(remember)
        return RedirectResponse(made.redirect_url, 302)

    async def acs(self, request: Request) -> Response:
        """Check a posted Response and, for an administrator of the tenant, open a session."""
        sp = self._service_provider(request)
        if isinstance(sp, Response):
            return sp
        try:
            form = await _read_form(request)
        except Refusal as refusal:
            return _refused_page(request, refusal)
        tenant = await run_in_threadpool(self._tenant, sp.tenant_id)
        if not tenant.exists:
            return _unknown_tenant(request)
        context = RequestContext(request.method, request.url.path, None, actor=ACTOR)
        address = client_address(request)
        if tenant.provider is None:
            unset = Refusal(
                "not-set-up", "Single sign-on is not set up for this organisation.", status=404
            )
            await run_in_threadpool(self._audit_refusal, sp.tenant_id, context, unset, address)
            return _refused_page(request, unset)
        moment = datetime.now(UTC)
        try:
            signed = await run_in_threadpool(
                read_response, form.get("SAMLResponse", ""), sp, tenant.provider, moment
            )
        except Refusal as refusal:
            await run_in_threadpool(self._audit_refusal, sp.tenant_id, context, refusal, address)
            return _refused_page(request, refusal)
        outcome = await run_in_threadpool(
            self._sign_in, sp.tenant_id, signed, moment, context, address
        )
        if isinstance(outcome, Refusal):
            return _refused_page(request, outcome)
        redirect = RedirectResponse(safe_next(form.get("RelayState", "/")[:2048]), 303)
        set_cookie(
            redirect,
            request,
            self.settings.public_url,
            SESSION_COOKIE,
            outcome,
            max_age=int(self.lifetime.total_seconds()),
        )
        return redirect

    def _service_provider(self, request: Request) -> ServiceProvider | Response:
        tenant_id = str(request.path_params.get("tenant_id", ""))
        if not is_tenant_id(tenant_id):
            return _unknown_tenant(request)
        try:
            return ServiceProvider.of(self.settings.public_url, tenant_id)
        except ProviderError:
            return error_page(
                request,
                404,
                "Single sign-on is not available",
                "This server has no public address configured (HOSTSYNC_PUBLIC_URL), which "
                "single sign-on needs. Ask the person who runs hostsync.",
            )

    def _tenant(self, tenant_id: str) -> _Tenant:
        with self.database.connect(write=False) as connection:
            try:
                get_tenant(connection, tenant_id)
            except TenantError:
                return _Tenant(False, None)
            return _Tenant(True, load_provider(connection, tenant_id))

    def _audit_refusal(
        self, tenant_id: str, context: RequestContext, refusal: Refusal, address: str
    ) -> None:
        with self.database.connect(write=True) as connection:
            record_refusal(
                connection,
                tenant_id,
                context,
                reason=refusal.reason,
                message=refusal.message,
                status=refusal.status,
                address=address,
            )

    def _sign_in(
        self,
        tenant_id: str,
        signed: SignedAssertion,
        moment: datetime,
        context: RequestContext,
        address: str,
    ) -> str | Refusal:
        """Rule 6 and the account, in one transaction: the session token, or the refusal."""
        with self.database.connect(write=True) as connection:
            try:
                accept_once(signed, StoredOneTimeIds(connection, tenant_id), moment)
                admin = admin_named(connection, tenant_id, signed.names())
                if admin is None:
                    raise Refusal(
                        "unknown-user",
                        f"No console account for {signed.name_id[:120]}. Single sign-on opens "
                        "the console for this organisation's administrators; ask one of them if "
                        "you need access.",
                    )
            except Refusal as refusal:
                record_refusal(
                    connection,
                    tenant_id,
                    context,
                    reason=refusal.reason,
                    message=refusal.message,
                    status=refusal.status,
                    address=address,
                    name=signed.name_id,
                )
                return refusal
            record_sso_sign_in(connection, admin)
            records.audit(
                connection,
                tenant_id,
                RequestContext(context.method, context.path, None, actor=admin.email),
                "sign-in",
                resource_type="Admin",
                resource_id=admin.id,
                resource_name=admin.email,
                detail=f"SAML single sign-on from {address}",
            )
            _session, token = admin_store.start_session(
                connection, admin, lifetime=self.lifetime, idle=self.idle
            )
            return token


async def _read_form(request: Request) -> dict[str, str]:
    """The ACS form (``SAMLResponse``, ``RelayState``), read with a cap; :class:`Refusal`."""
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isascii() or not declared.isdigit()):
        raise Refusal("malformed", "The request's length is not a number.", status=400)
    if declared and int(declared) > MAX_ACS_BODY_BYTES:
        raise Refusal("malformed", "The sign-in response is too large.", status=413)
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise Refusal(
            "malformed", "The sign-in response must be posted as a browser form.", status=415
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_ACS_BODY_BYTES:
            raise Refusal("malformed", "The sign-in response is too large.", status=413)
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        raise Refusal("malformed", "The sign-in form cannot be read.", status=400) from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in ("SAMLResponse", "RelayState") and name not in form:
            form[name] = value
    if not form.get("SAMLResponse"):
        raise Refusal("missing", "The sign-in carried no SAML response.", status=400)
    return form


def _refused_page(request: Request, refusal: Refusal) -> HTMLResponse:
    return error_page(request, refusal.status, "Single sign-on refused", refusal.message)


def _unknown_tenant(request: Request) -> HTMLResponse:
    return error_page(request, 404, "Page not found", "There is no page at this address.")


def _not_set_up(request: Request) -> HTMLResponse:
    return error_page(
        request,
        404,
        "Single sign-on is not set up",
        "This organisation has not set up single sign-on. Sign in with your e-mail and "
        "password instead.",
    )


def _too_many_starts(request: Request, wait: int) -> HTMLResponse:
    page = error_page(
        request,
        429,
        "Too many sign-in attempts",
        f"Single sign-on was started too often from your network. Try again in {wait} "
        f"second{'s' if wait != 1 else ''}.",
    )
    page.headers["Retry-After"] = str(wait)
    return page
