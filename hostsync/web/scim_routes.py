"""The SCIM HTTP surface at ``<base>/v1/usersync/SCIM``: HTTP ⇄ ScimService, no SCIM rules.

Each request is authenticated, its work built (body bounded and decoded, query parsed), run as
one unit of work through the scheduler (web/scheduling.py) and answered as
``application/scim+json``; its outcome is counted, and recorded if it failed (web/outcomes.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from functools import partial
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.scim.bounds import Bounds, check_bounds, within_bounds
from hostsync.scim.bulk import BulkProcessor, search_all
from hostsync.scim.errors import (
    InvalidSyntaxError,
    InvalidValueError,
    PayloadTooLargeError,
    ScimError,
    UnsupportedMediaTypeError,
)
from hostsync.scim.extensions import Registry
from hostsync.scim.ports import Directory
from hostsync.scim.projection import Projection, parse_projection, split_names
from hostsync.scim.query import ListQuery, build_list_query, search_request_params
from hostsync.scim.schema import GROUP_RESOURCE, USER_RESOURCE, ResourceType
from hostsync.scim.service import ScimResult, ScimService
from hostsync.store.activity.recording import RequestContext, run_unit
from hostsync.store.budget import QueryBudget, check_scan_terms, query_cost
from hostsync.store.database import Database
from hostsync.store.tenants import Credential
from hostsync.web.auth import ApiKeyAuthenticator
from hostsync.web.http import Endpoint, header, query_params, request_path
from hostsync.web.outcomes import Outcomes
from hostsync.web.registries import TenantRegistries
from hostsync.web.rendering import scim_response
from hostsync.web.scheduling import Scheduler

Work = Callable[[Directory], ScimResult]
Build = Callable[[], Awaitable[Work]]
_JSON_TYPES = ("application/json", "application/scim+json")
BODY_BOUNDS = Bounds()
_BASE_URLS_KEPT = 64


def in_budget(database: Database, tenant_id: str, work: Work, seconds: float) -> ScimResult:
    """A costly read: ``work`` over the tenant's directory, its SQL held to ``seconds``.

    Past the budget it answers 400 ``tooMany`` (store/budget.py).
    """
    with database.costly_directory(tenant_id, QueryBudget(seconds)) as directory:
        return work(directory)


def written_resource(request: Request, tenant_id: str) -> Hashable | None:
    """The resource a PUT, PATCH or DELETE on ``/{id}`` changes; None for a create or Bulk."""
    resource_id = request.path_params.get("resource_id")
    if resource_id is None:
        return None
    return (tenant_id, request.scope.get("hostsync.resource_type"), resource_id)


class ScimEndpoints:
    """The request handlers of the SCIM API."""

    def __init__(
        self,
        service: ScimService,
        database: Database,
        authenticator: ApiKeyAuthenticator,
        settings: Settings,
        *,
        scheduler: Scheduler,
        outcomes: Outcomes,
        registries: TenantRegistries | None = None,
    ) -> None:
        self.service = service
        self.database = database
        self.authenticator = authenticator
        self.settings = settings
        self.scheduler = scheduler
        self.outcomes = outcomes
        self.registries = registries if registries is not None else TenantRegistries(database)
        self.bulk_processor = BulkProcessor(service, settings.bulk_max_operations)
        self._base_urls: dict[tuple[Any, ...], str] = {}

    # -- plumbing ------------------------------------------------------------------------
    def base_url(self, request: Request) -> str:
        """The SCIM base URL that ``meta.location`` values start with."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/") + SCIM_PREFIX
        # Starlette builds and parses the whole URL for ``request.url``; the base depends only
        # on the scheme, the Host header and the server address, so it is worked out once per
        # such triple (at most _BASE_URLS_KEPT of them are kept).
        scope = request.scope
        server = scope.get("server")  # a tuple from uvicorn, a list from some test clients
        key = (scope.get("scheme"), header(request, b"host"), server and tuple(server))
        base = self._base_urls.get(key)
        if base is None:
            base = f"{request.url.scheme}://{request.url.netloc}{SCIM_PREFIX}"
            if len(self._base_urls) < _BASE_URLS_KEPT:
                self._base_urls[key] = base
        return base

    async def body(self, request: Request) -> Any:
        """The decoded JSON body, or a SCIM error (413, 415, 400 invalidSyntax)."""
        declared = header(request, b"content-length")
        if (
            declared is not None
            and declared.isdigit()
            and int(declared) > self.settings.max_body_bytes
        ):
            raise PayloadTooLargeError(
                f"The body exceeds the maximum of {self.settings.max_body_bytes} bytes"
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.settings.max_body_bytes:
                raise PayloadTooLargeError(
                    f"The body exceeds the maximum of {self.settings.max_body_bytes} bytes"
                )
            chunks.append(chunk)
        content_type = (header(request, b"content-type") or "").split(";")[0].strip().lower()
        if content_type and content_type not in _JSON_TYPES and not content_type.endswith("+json"):
            raise UnsupportedMediaTypeError(
                f"Send the body as application/scim+json or application/json, not {content_type}"
            )
        raw = b"".join(chunks)
        if not raw.strip():
            raise InvalidSyntaxError("The request body is empty")
        if b"\\u0000" in raw:
            raise InvalidValueError("Values cannot contain the NUL character (U+0000)")
        try:
            decoded = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidSyntaxError(f"The body is not valid JSON: {exc}") from None
        if not within_bounds(raw, BODY_BOUNDS):
            check_bounds(decoded, BODY_BOUNDS)
        return decoded

    def classify(self, query: ListQuery, resource_type: ResourceType, scope: Scope) -> ListQuery:
        """Refuse a filter over the scan-term cap; mark a costly query in ``scope``.

        A filter or sort that no index bounds reads every row of the tenant: it waits for a
        slot of its tenant's share and runs off the loop (web/fairness.py, store/budget.py).
        """
        cost = query_cost(query.selection, resource_type, self.database.dialect)
        check_scan_terms(cost, self.settings.filter_max_scan_terms)
        if cost.costly:
            scope["hostsync.costly"] = True
        return query

    async def registry(self, credential: Credential) -> Registry:
        """The schemas of the credential's tenant (web/registries.py)."""
        registry = self.registries.cached(credential)
        if registry is None:
            registry = await self.scheduler.run(partial(self.registries.load, credential.tenant_id))
        return registry

    async def run(self, request: Request, build: Build, *, write: bool) -> Response:
        """Authenticate, build the work (parse the request), run it as one unit, answer.

        The tenant's registry is in ``scope["hostsync.registry"]`` while ``build`` runs
        (:meth:`resource_type_of`).
        """
        credential = await self.credential(request)
        tenant_id = credential.tenant_id
        database = self.database
        context = RequestContext(
            method=request.method,
            path=request_path(request.scope),
            client=header(request, b"user-agent"),
        )
        try:
            registry = self.registries.cached(credential)  # inlined :meth:`registry`
            if registry is None:
                registry = await self.scheduler.run(partial(self.registries.load, tenant_id))
            request.scope["hostsync.registry"] = registry
            work = await build()
            if not write and "hostsync.costly" in request.scope:
                seconds = self.settings.query_budget_ms / 1000
                result = await self.scheduler.run_costly(
                    tenant_id, partial(in_budget, database, tenant_id, work, seconds)
                )
            else:
                result = await self.scheduler.run(
                    partial(run_unit, database, tenant_id, context, work, write=write),
                    resource=written_resource(request, tenant_id) if write else None,
                )
        except ScimError as exc:
            await self._failed(request, tenant_id, context, exc.status, exc.detail)
            raise
        except Exception:
            await self._failed(request, tenant_id, context, 500, "Internal error (see server log)")
            raise
        await self.outcomes.answered(tenant_id, result.status)
        return scim_response(result)

    async def _failed(
        self, request: Request, tenant_id: str, context: RequestContext, status: int, detail: str
    ) -> None:
        resource_type: ResourceType | None = request.scope.get("hostsync.resource_type")
        await self.outcomes.failed(
            tenant_id,
            context,
            status,
            detail,
            resource_type=None if resource_type is None else resource_type.name,
            resource_id=request.path_params.get("resource_id"),
        )

    async def credential(self, request: Request) -> Credential:
        """The request's credential, or 401 (429 for a client over its failure budget).

        A key verified at the keys' current generation (web/auth.py) is answered with no
        lookup; otherwise, unless its client address spent its failure budget, it is looked up
        (and its last use stamped) in the database. A refusal is counted and, when due,
        recorded (web/auth_failures.py).
        """
        authenticator = self.authenticator
        authorization = header(request, b"authorization")
        credential = authenticator.cached(authorization)
        if credential is not None:
            return credential
        await authenticator.throttle(authorization, request.scope)
        try:
            return await self.scheduler.run(lambda: authenticator.credential(authorization))
        except ScimError as exc:
            if exc.status == 401:
                record = await authenticator.refused(
                    exc, authorization, request.scope, header(request, b"user-agent")
                )
                if record is not None:
                    await self.scheduler.run(record)
            raise

    @staticmethod
    def registry_of(request: Request) -> Registry:
        """The tenant's registry, as :meth:`run` found it."""
        registry: Registry = request.scope["hostsync.registry"]
        return registry

    def resource_type_of(self, request: Request) -> ResourceType:
        """The tenant's version of the endpoint's resource type (its declared extensions)."""
        route: ResourceType = request.scope["hostsync.resource_type"]
        return self.registry_of(request).resource_type(route)

    def projection(self, request: Request, resource_type: ResourceType) -> Projection:
        """``attributes`` / ``excludedAttributes`` of the query string."""
        params = {key.lower(): value for key, value in query_params(request).items()}
        return parse_projection(
            split_names(params.get("attributes")),
            split_names(params.get("excludedattributes")),
            resource_type,
        )

    def explicit_projection(
        self, request: Request, resource_type: ResourceType
    ) -> Projection | None:
        """Like :meth:`projection`, but None when the client named no attributes."""
        params = {key.lower() for key in query_params(request)}
        if not params & {"attributes", "excludedattributes"}:
            return None
        return self.projection(request, resource_type)

    # -- discovery -----------------------------------------------------------------------
    async def service_provider_config(self, request: Request) -> Response:
        """GET /ServiceProviderConfig: public, as RFC 7644 §4 allows."""
        return scim_response(self.service.service_provider_config(self.base_url(request)))

    async def resource_types(self, request: Request) -> Response:
        """GET /ResourceTypes[/{id}]: the User type lists the tenant's declared extensions."""
        registry = await self.registry(await self.credential(request))
        type_id = request.path_params.get("type_id")
        base = self.base_url(request)
        if type_id is None:
            return scim_response(self.service.resource_types(base, registry))
        return scim_response(self.service.resource_type(type_id, base, registry))

    async def schemas(self, request: Request) -> Response:
        """GET /Schemas[/{urn}]: the built-in schemas and the tenant's declared ones."""
        registry = await self.registry(await self.credential(request))
        schema_id = request.path_params.get("schema_id")
        base = self.base_url(request)
        if schema_id is None:
            return scim_response(self.service.schemas(base, registry))
        return scim_response(self.service.schema(schema_id, base, registry))

    # -- users and groups ----------------------------------------------------------------
    async def collection(self, request: Request) -> Response:
        """GET (list) or POST (create) on /Users and /Groups."""
        base = self.base_url(request)
        service = self.service
        users = request.scope["hostsync.resource_type"] is USER_RESOURCE

        async def list_work() -> Work:
            resource_type = self.resource_type_of(request)
            query = self.classify(
                build_list_query(
                    query_params(request), resource_type, max_results=self.settings.max_results
                ),
                resource_type,
                request.scope,
            )
            lister = service.list_users if users else service.list_groups
            return lambda d: lister(d, query, base)

        async def create_work() -> Work:
            body = await self.body(request)
            if users:
                resource_type = self.resource_type_of(request)
                return lambda d: service.create_user(d, body, base, resource_type)
            return lambda d: service.create_group(d, body, base)

        if request.method == "GET":
            return await self.run(request, list_work, write=False)
        return await self.run(request, create_work, write=True)

    async def search(self, request: Request) -> Response:
        """POST /Users/.search and /Groups/.search (RFC 7644 §3.4.3)."""
        base = self.base_url(request)
        service = self.service

        async def search_work() -> Work:
            resource_type = self.resource_type_of(request)
            body = await self.body(request)
            query = self.classify(
                build_list_query(
                    search_request_params(body),
                    resource_type,
                    max_results=self.settings.max_results,
                ),
                resource_type,
                request.scope,
            )
            users = request.scope["hostsync.resource_type"] is USER_RESOURCE
            lister = service.list_users if users else service.list_groups
            return lambda d: lister(d, query, base)

        return await self.run(request, search_work, write=False)

    async def resource(self, request: Request) -> Response:
        """GET, PUT, PATCH or DELETE on /Users/{id} and /Groups/{id}."""
        resource_id: str = request.path_params["resource_id"]
        base = self.base_url(request)
        service = self.service
        users = request.scope["hostsync.resource_type"] is USER_RESOURCE
        if_match = header(request, b"if-match")

        async def get_work() -> Work:
            resource_type = self.resource_type_of(request)
            projection = self.projection(request, resource_type)
            if_none_match = header(request, b"if-none-match")
            if users:
                return lambda d: service.get_user(
                    d, resource_id, base, projection, if_none_match, resource_type
                )
            return lambda d: service.get_group(d, resource_id, base, projection, if_none_match)

        async def delete_work() -> Work:
            deleter = service.delete_user if users else service.delete_group
            return lambda d: deleter(d, resource_id, if_match)

        async def put_work() -> Work:
            resource_type = self.resource_type_of(request)
            body = await self.body(request)
            projection = self.projection(request, resource_type)
            if users:
                return lambda d: service.replace_user(
                    d, resource_id, body, base, if_match, projection, resource_type
                )
            return lambda d: service.replace_group(d, resource_id, body, base, if_match, projection)

        async def patch_work() -> Work:
            resource_type = self.resource_type_of(request)
            body = await self.body(request)
            if users:
                projection = self.projection(request, resource_type)
                return lambda d: service.patch_user(
                    d, resource_id, body, base, if_match, projection, resource_type
                )
            explicit = self.explicit_projection(request, resource_type)
            return lambda d: service.patch_group(d, resource_id, body, base, if_match, explicit)

        builders = {"GET": get_work, "DELETE": delete_work, "PUT": put_work, "PATCH": patch_work}
        return await self.run(request, builders[request.method], write=request.method != "GET")

    async def bulk(self, request: Request) -> Response:
        """POST /Bulk (RFC 7644 §3.7)."""
        base = self.base_url(request)

        async def bulk_work() -> Work:
            body = await self.body(request)
            registry = self.registry_of(request)
            return lambda d: self.bulk_processor.run(d, body, base, registry)

        return await self.run(request, bulk_work, write=True)

    async def root_search(self, request: Request) -> Response:
        """POST /.search at the root (RFC 7644 §3.4.3): users and groups together."""
        base = self.base_url(request)

        async def search_work() -> Work:
            params = search_request_params(await self.body(request))
            registry = self.registry_of(request)
            for resource_type in registry.resource_types:
                try:
                    query = build_list_query(
                        params, resource_type, max_results=self.settings.max_results
                    )
                except ScimError:
                    continue  # search_all answers for it
                self.classify(query, resource_type, request.scope)
            return lambda d: search_all(
                self.service,
                d,
                params,
                base,
                max_results=self.settings.max_results,
                registry=registry,
            )

        return await self.run(request, search_work, write=False)


def scim_routes(endpoints: ScimEndpoints) -> list[Route]:
    """The routes of the SCIM API, under :data:`SCIM_PREFIX`."""
    p = SCIM_PREFIX
    routes: list[Route] = []
    # Starlette tries the routes in order: the ones Entra calls thousands of times come first.
    for resource_type in (USER_RESOURCE, GROUP_RESOURCE):
        endpoint = f"{p}{resource_type.endpoint}"
        routes += [
            Route(
                f"{endpoint}/{{resource_id}}",
                Endpoint(endpoints.resource, resource_type),
                methods=["GET", "PUT", "PATCH", "DELETE"],
            ),
            Route(endpoint, Endpoint(endpoints.collection, resource_type), methods=["GET", "POST"]),
            Route(
                f"{endpoint}/.search", Endpoint(endpoints.search, resource_type), methods=["POST"]
            ),
        ]
    routes += [
        Route(
            f"{p}/ServiceProviderConfig",
            Endpoint(endpoints.service_provider_config),
            methods=["GET"],
        ),
        Route(f"{p}/ResourceTypes", Endpoint(endpoints.resource_types), methods=["GET"]),
        Route(
            f"{p}/ResourceTypes/{{type_id}}", Endpoint(endpoints.resource_types), methods=["GET"]
        ),
        Route(f"{p}/Schemas", Endpoint(endpoints.schemas), methods=["GET"]),
        Route(f"{p}/Schemas/{{schema_id:path}}", Endpoint(endpoints.schemas), methods=["GET"]),
        Route(f"{p}/Bulk", Endpoint(endpoints.bulk), methods=["POST"]),
        Route(f"{p}/.search", Endpoint(endpoints.root_search), methods=["POST"]),
    ]
    return routes
