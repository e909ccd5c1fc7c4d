"""The SCIM HTTP surface at ``<base>/v1/usersync/SCIM``: HTTP ⇄ ScimService, no SCIM rules.

Each endpoint authenticates the bearer key, reads and decodes the body (size cap, media type,
JSON syntax), opens the tenant's directory as one transaction, calls one service method, and
renders the :class:`~hostsync.scim.service.ScimResult` as ``application/scim+json``.

A writing unit of work goes through a :class:`~hostsync.store.activity.RecordingDirectory`, so
the provisioning activity rows commit in the same transaction as the change they record; a
failure is recorded in a short transaction of its own. Every authenticated request is counted
per tenant and hour (:class:`~hostsync.store.activity.RequestCounter`, flushed in batches).

Where the database work runs (:meth:`ScimEndpoints.blocking`): on SQLite, on the event loop
itself. A unit of work there is tens of microseconds of CPU in the same process, so a worker
thread adds only its hand-off and GIL contention (measured: lookups 2,087/s with p99 53 ms in
threads, 3,118/s with p99 10 ms inline). Inline units of work take turns in the order their
requests arrived (:class:`~hostsync.web.turns.Turns`), one per turn of the event loop. On
PostgreSQL the work waits on the network and runs in worker threads so the loop keeps serving,
no more at once than the connections the pool keeps open (``Settings.postgres_connections``).

Costly list queries are the exception (:meth:`ScimEndpoints.classify`, store/budget.py): a
filter or sort that no index bounds reads every row of the tenant, tens of milliseconds to
seconds at 100,000 users, which inline would hold every other tenant's requests. Told apart
from the parsed query before any SQL runs, they wait for a slot of their tenant's share
(web/fairness.py: 503 with ``Retry-After`` past ``costly_wait_ms``), run off the loop (on
SQLite in threads of lower CPU priority) and within ``query_budget_ms`` of database time (400
``tooMany`` past it); a filter with more than ``filter_max_scan_terms`` terms that no index
answers is refused at once (400 ``invalidFilter``). Lookups, reads by id, pages and writes
keep the path above.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import unquote

import anyio
import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

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
from hostsync.scim.ports import Directory
from hostsync.scim.projection import Projection, parse_projection, split_names
from hostsync.scim.query import ListQuery, build_list_query, search_request_params
from hostsync.scim.schema import GROUP_RESOURCE, USER_RESOURCE, ResourceType
from hostsync.scim.service import ScimResult, ScimService
from hostsync.store.activity.counting import RequestCounter
from hostsync.store.activity.recording import RecordingDirectory, RequestContext
from hostsync.store.activity.records import record_failure
from hostsync.store.budget import QueryBudget, check_scan_terms, query_cost
from hostsync.store.database import Database
from hostsync.store.tenants import Credential
from hostsync.web.auth import ApiKeyAuthenticator
from hostsync.web.fairness import BackgroundThreads, CostlyGate
from hostsync.web.queues import ResourceQueues
from hostsync.web.rendering import scim_response
from hostsync.web.turns import Turns

Work = Callable[[Directory], ScimResult]
Build = Callable[[], Awaitable[Work]]
_JSON_TYPES = ("application/json", "application/scim+json")
BODY_BOUNDS = Bounds()
_BASE_URLS_KEPT = 64
T = TypeVar("T")


def header(request: Request, name: bytes) -> str | None:
    """The request header ``name`` (lower case), as ``request.headers.get`` gives it.

    Starlette's ``Headers.get`` lowercases the name and scans the raw list on every call
    (about 1.3 µs here, five or six calls a request); the raw list is read into a dict once
    per request instead, the first of repeated headers kept, as Starlette keeps it.
    """
    scope = request.scope
    headers: dict[bytes, bytes] | None = scope.get("hostsync.headers")
    if headers is None:
        headers = {}
        for key, value in scope["headers"]:
            headers.setdefault(key, value)
        scope["hostsync.headers"] = headers
    value = headers.get(name)
    return None if value is None else value.decode("latin-1")


def query_params(request: Request) -> dict[str, str]:
    """The query string's parameters as ``request.query_params`` gives them, as a plain dict.

    The last of a repeated name wins, as in Starlette's ``QueryParams``, which builds a
    multi-dict around the same ``parse_qsl`` that a lookup pays for and never uses.
    """
    scope = request.scope
    params: dict[str, str] | None = scope.get("hostsync.query")
    if params is None:
        raw = scope.get("query_string", b"").decode("latin-1")
        params = scope["hostsync.query"] = parse_query(raw)
    return params


def parse_query(raw: str) -> dict[str, str]:
    """``dict(parse_qsl(raw, keep_blank_values=True))``, in less of its time.

    The same pairs (split on ``&``, empty ones skipped, ``+`` as a space, percent-escapes
    decoded as UTF-8 with errors replaced), but only a part that holds a ``+`` or ``%`` goes
    through ``unquote``, and there is no generator of pairs: 0.59 of ``parse_qsl``'s time for
    Entra's ``userName eq`` filter, 0.27 for a page's ``startIndex`` and ``count`` (timeit).
    """
    params: dict[str, str] = {}
    for pair in raw.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "+" in name or "%" in name:
            name = unquote(name.replace("+", " "))
        if "+" in value or "%" in value:
            value = unquote(value.replace("+", " "))
        params[name] = value
    return params


def request_path(scope: Any) -> str:
    """The request's path as ``request.url.path`` gives it, without building the whole URL.

    Starlette's ``request.url`` rebuilds and re-parses the full URL from the scope (host
    header, scheme, query string) on every request; the path alone is the scope's, with the
    same three characters escaped and, as ``urllib.parse.urlsplit`` does, tabs and line
    breaks (a client can send them percent-encoded) taken out.
    """
    path: str = scope["path"]
    if not path.isprintable():
        path = path.replace("\t", "").replace("\r", "").replace("\n", "")
    return path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


class ScimEndpoints:
    """The request handlers of the SCIM API."""

    def __init__(
        self,
        service: ScimService,
        database: Database,
        authenticator: ApiKeyAuthenticator,
        settings: Settings,
    ) -> None:
        self.service = service
        self.database = database
        self.authenticator = authenticator
        self.settings = settings
        self.bulk_processor = BulkProcessor(service, settings.bulk_max_operations)
        self.request_counter = RequestCounter(settings.request_count_flush_seconds)
        self.inline = database.dialect == "sqlite"
        # On SQLite the units run on the loop and commit in groups (web/turns.py).
        self.turns = Turns(database.commit_group if self.inline else None)
        # Elsewhere, as many units in worker threads at once as the pool keeps connections,
        # and writes to one resource one at a time, in arrival order (web/queues.py).
        self.threads = anyio.CapacityLimiter(database.postgres_connections)
        self.queues = ResourceQueues()
        # Costly list queries (store/budget.py): a few at a time, each tenant its share
        # (web/fairness.py), off the event loop where the units run on it (a SQLite file).
        self.gate = CostlyGate(
            settings.costly_queries,
            settings.costly_queries_per_tenant,
            settings.costly_wait_ms / 1000,
        )
        self.background = (
            BackgroundThreads(self.gate.total) if database.commit_group is not None else None
        )
        self._base_urls: dict[tuple[Any, ...], str] = {}

    def close(self) -> None:
        """Let the costly queries' threads end (the server is stopping)."""
        if self.background is not None:
            self.background.shutdown()

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

    async def blocking(self, function: Callable[[], T]) -> T:
        """Run database work: inline on SQLite, in a worker thread otherwise (module doc)."""
        if self.inline:
            return await self.turns.run(function)
        return await anyio.to_thread.run_sync(function, limiter=self.threads)

    def classify(self, query: ListQuery, resource_type: ResourceType, scope: Scope) -> ListQuery:
        """Refuse a filter over the scan-term cap; mark a costly query in ``scope``."""
        cost = query_cost(query.selection, resource_type, self.database.dialect)
        check_scan_terms(cost, self.settings.filter_max_scan_terms)
        if cost.costly:
            scope["hostsync.costly"] = True
        return query

    async def costly(self, tenant_id: str, work: Work) -> ScimResult:
        """Run a costly read: in its tenant's share of slots, off the loop, within budget."""
        seconds = self.settings.query_budget_ms / 1000

        def in_budget() -> ScimResult:
            with self.database.costly_directory(tenant_id, QueryBudget(seconds)) as directory:
                return work(directory)

        async with self.gate.slot(tenant_id):
            if self.background is not None:  # a SQLite file
                return await self.background.run(in_budget)
            if self.inline:  # an in-memory SQLite database: its one connection, on the loop
                return await self.turns.run(in_budget)
            return await anyio.to_thread.run_sync(in_budget, limiter=self.threads)

    async def run(self, request: Request, build: Build, *, write: bool) -> Response:
        """Authenticate, build the work (parse the request), run it in one transaction.

        A writing unit of work also writes its activity rows; a failure is recorded apart.
        """
        credential = await self.credential(request)
        tenant_id = credential.tenant_id
        context = RequestContext(
            method=request.method,
            path=request_path(request.scope),
            client=header(request, b"user-agent"),
        )

        def in_transaction() -> ScimResult:
            with self.database.directory(tenant_id, write=write) as directory:
                if not write:
                    return work(directory)
                recorder = RecordingDirectory(directory, directory.connection, tenant_id, context)
                result = work(recorder)
                recorder.flush()
                return result

        try:
            work = await build()
            resource_id = request.path_params.get("resource_id") if write else None
            if not write and "hostsync.costly" in request.scope:
                result = await self.costly(tenant_id, work)
            elif resource_id is None or self.inline:
                result = await self.blocking(in_transaction)
            else:
                resource_type = request.scope.get("hostsync.resource_type")
                async with self.queues.turn((tenant_id, resource_type, resource_id)):
                    result = await self.blocking(in_transaction)
        except ScimError as exc:
            await self._failed(request, tenant_id, context, exc.status, exc.detail)
            raise
        except Exception:
            await self._failed(request, tenant_id, context, 500, "Internal error (see server log)")
            raise
        await self._count(tenant_id, failed=result.status >= 400)
        return scim_response(result)

    async def _count(self, tenant_id: str, *, failed: bool) -> None:
        if self.request_counter.count(tenant_id, failed=failed):
            await self.blocking(lambda: self.request_counter.flush(self.database))

    async def _failed(
        self, request: Request, tenant_id: str, context: RequestContext, status: int, detail: str
    ) -> None:
        await self._count(tenant_id, failed=True)
        resource_type = request.scope.get("hostsync.resource_type")
        resource_id = request.path_params.get("resource_id")
        await self.blocking(
            lambda: record_failure(
                self.database,
                tenant_id,
                context,
                status,
                detail,
                resource_type=None if resource_type is None else resource_type.name,
                resource_id=resource_id,
            )
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
            return await self.blocking(lambda: authenticator.credential(authorization))
        except ScimError as exc:
            if exc.status == 401:
                record = await authenticator.refused(
                    exc, authorization, request.scope, header(request, b"user-agent")
                )
                if record is not None:
                    await self.blocking(record)
            raise

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
        """GET /ResourceTypes[/{id}]."""
        await self.credential(request)
        type_id = request.path_params.get("type_id")
        base = self.base_url(request)
        if type_id is None:
            return scim_response(self.service.resource_types(base))
        return scim_response(self.service.resource_type(type_id, base))

    async def schemas(self, request: Request) -> Response:
        """GET /Schemas[/{urn}]."""
        await self.credential(request)
        schema_id = request.path_params.get("schema_id")
        base = self.base_url(request)
        if schema_id is None:
            return scim_response(self.service.schemas(base))
        return scim_response(self.service.schema(schema_id, base))

    # -- users and groups ----------------------------------------------------------------
    async def collection(self, request: Request) -> Response:
        """GET (list) or POST (create) on /Users and /Groups."""
        resource_type: ResourceType = request.scope["hostsync.resource_type"]
        base = self.base_url(request)
        service = self.service
        users = resource_type is USER_RESOURCE

        async def list_work() -> Work:
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
            creator = service.create_user if users else service.create_group
            return lambda d: creator(d, body, base)

        if request.method == "GET":
            return await self.run(request, list_work, write=False)
        return await self.run(request, create_work, write=True)

    async def search(self, request: Request) -> Response:
        """POST /Users/.search and /Groups/.search (RFC 7644 §3.4.3)."""
        resource_type: ResourceType = request.scope["hostsync.resource_type"]
        base = self.base_url(request)
        service = self.service

        async def search_work() -> Work:
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
            lister = service.list_users if resource_type is USER_RESOURCE else service.list_groups
            return lambda d: lister(d, query, base)

        return await self.run(request, search_work, write=False)

    async def resource(self, request: Request) -> Response:
        """GET, PUT, PATCH or DELETE on /Users/{id} and /Groups/{id}."""
        resource_type: ResourceType = request.scope["hostsync.resource_type"]
        resource_id: str = request.path_params["resource_id"]
        base = self.base_url(request)
        service = self.service
        users = resource_type is USER_RESOURCE
        if_match = header(request, b"if-match")

        async def get_work() -> Work:
            projection = self.projection(request, resource_type)
            if_none_match = header(request, b"if-none-match")
            getter = service.get_user if users else service.get_group
            return lambda d: getter(d, resource_id, base, projection, if_none_match)

        async def delete_work() -> Work:
            deleter = service.delete_user if users else service.delete_group
            return lambda d: deleter(d, resource_id, if_match)

        async def put_work() -> Work:
            body = await self.body(request)
            projection = self.projection(request, resource_type)
            replacer = service.replace_user if users else service.replace_group
            return lambda d: replacer(d, resource_id, body, base, if_match, projection)

        async def patch_work() -> Work:
            body = await self.body(request)
            if users:
                projection = self.projection(request, resource_type)
                return lambda d: service.patch_user(
                    d, resource_id, body, base, if_match, projection
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
            return lambda d: self.bulk_processor.run(d, body, base)

        return await self.run(request, bulk_work, write=True)

    async def root_search(self, request: Request) -> Response:
        """POST /.search at the root (RFC 7644 §3.4.3): users and groups together."""
        base = self.base_url(request)

        async def search_work() -> Work:
            params = search_request_params(await self.body(request))
            for resource_type in (USER_RESOURCE, GROUP_RESOURCE):
                try:
                    query = build_list_query(
                        params, resource_type, max_results=self.settings.max_results
                    )
                except ScimError:
                    continue  # search_all answers for it
                self.classify(query, resource_type, request.scope)
            return lambda d: search_all(
                self.service, d, params, base, max_results=self.settings.max_results
            )

        return await self.run(request, search_work, write=False)


class _Endpoint:
    """A handler as the ASGI app of its route: ``request_response`` less a second wrapper.

    Starlette's ``request_response`` wraps every call in the same exception handling that
    the app's ``ExceptionMiddleware`` already gives (the same handlers, from the same scope
    key), and builds two closures per request to do it; an error raised here reaches those
    handlers one layer up instead. ``resource_type`` is put in the scope for the handler.
    """

    __slots__ = ("handler", "resource_type")

    def __init__(
        self, handler: Callable[[Request], Any], resource_type: ResourceType | None = None
    ) -> None:
        self.handler = handler
        self.resource_type = resource_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request."""
        if self.resource_type is not None:
            scope["hostsync.resource_type"] = self.resource_type
        response: Response = await self.handler(Request(scope, receive, send))
        await response(scope, receive, send)


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
                _Endpoint(endpoints.resource, resource_type),
                methods=["GET", "PUT", "PATCH", "DELETE"],
            ),
            Route(
                endpoint, _Endpoint(endpoints.collection, resource_type), methods=["GET", "POST"]
            ),
            Route(
                f"{endpoint}/.search", _Endpoint(endpoints.search, resource_type), methods=["POST"]
            ),
        ]
    routes += [
        Route(
            f"{p}/ServiceProviderConfig",
            _Endpoint(endpoints.service_provider_config),
            methods=["GET"],
        ),
        Route(f"{p}/ResourceTypes", _Endpoint(endpoints.resource_types), methods=["GET"]),
        Route(
            f"{p}/ResourceTypes/{{type_id}}", _Endpoint(endpoints.resource_types), methods=["GET"]
        ),
        Route(f"{p}/Schemas", _Endpoint(endpoints.schemas), methods=["GET"]),
        Route(f"{p}/Schemas/{{schema_id:path}}", _Endpoint(endpoints.schemas), methods=["GET"]),
        Route(f"{p}/Bulk", _Endpoint(endpoints.bulk), methods=["POST"]),
        Route(f"{p}/.search", _Endpoint(endpoints.root_search), methods=["POST"]),
    ]
    return routes


__all__ = ["ScimEndpoints", "scim_routes"]
