"""How the console plugs into the application, without changing the SCIM request path's shape.

* :class:`RecordingScimEndpoints` is :class:`~hostsync.web.scim_routes.ScimEndpoints` whose
  ``run`` wraps each writing unit of work in a
  :class:`~hostsync.store.activity.RecordingDirectory` (flushed before the commit, so the
  activity rows commit with the change), and records failures in a short transaction of their
  own. ``create_app`` can construct it instead of ``ScimEndpoints`` (or ``run``'s body can be
  moved into ``ScimEndpoints.run``).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from hostsync.scim.errors import ScimError
from hostsync.scim.service import ScimResult
from hostsync.store.activity import (
    RecordingDirectory,
    RequestContext,
    RequestCounter,
    record_failure,
)
from hostsync.web.rendering import scim_response
from hostsync.web.scim_routes import Build, ScimEndpoints


def request_context(request: Request) -> RequestContext:
    """What the activity log says about the request: method, path and User-Agent."""
    return RequestContext(
        method=request.method,
        path=request.url.path,
        client=request.headers.get("user-agent"),
    )


def _resource_of(request: Request) -> tuple[str | None, str | None]:
    resource_type = request.scope.get("hostsync.resource_type")
    name = getattr(resource_type, "name", None)
    return (str(name) if name else None), request.path_params.get("resource_id")


class RecordingScimEndpoints(ScimEndpoints):
    """The SCIM endpoints, writing the provisioning activity log as they go.

    They also count every authenticated request (reads included) per tenant and hour in
    :attr:`request_counter`, for the sync status page; the application flushes it on stop.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_counter = RequestCounter(self.settings.request_count_flush_seconds)

    async def run(self, request: Request, build: Build, *, write: bool) -> Response:
        """Authenticate, build, run in one transaction that also writes the activity rows."""
        credential = await run_in_threadpool(
            self.authenticator.credential, request.headers.get("authorization")
        )
        context = request_context(request)
        try:
            work = await build()

            def in_transaction() -> ScimResult:
                with self.database.directory(credential.tenant_id, write=write) as directory:
                    if not write:
                        return work(directory)
                    recorder = RecordingDirectory(
                        directory, directory.connection, credential.tenant_id, context
                    )
                    result = work(recorder)
                    recorder.flush()
                    return result

            result = await run_in_threadpool(in_transaction)
        except ScimError as exc:
            await self._count(credential.tenant_id, failed=True)
            await self._failed(request, credential.tenant_id, context, exc.status, exc.detail)
            raise
        except Exception:
            await self._count(credential.tenant_id, failed=True)
            await self._failed(
                request, credential.tenant_id, context, 500, "Internal error (see server log)"
            )
            raise
        await self._count(credential.tenant_id, failed=result.status >= 400)
        return scim_response(result)

    async def _count(self, tenant_id: str, *, failed: bool) -> None:
        if self.request_counter.count(tenant_id, failed=failed):
            await run_in_threadpool(self.request_counter.flush, self.database)

    async def _failed(
        self,
        request: Request,
        tenant_id: str,
        context: RequestContext,
        status: int,
        detail: str,
    ) -> None:
        resource_type, resource_id = _resource_of(request)
        await run_in_threadpool(
            lambda: record_failure(
                self.database,
                tenant_id,
                context,
                status,
                detail,
                resource_type=resource_type,
                resource_id=resource_id,
            )
        )
