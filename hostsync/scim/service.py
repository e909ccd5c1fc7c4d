"""ScimService: each SCIM operation over a :class:`~hostsync.scim.ports.Directory`.

The service turns parsed requests into directory calls and directory results into wire
documents. It knows SCIM (RFC 7644 status codes are part of the protocol) but not HTTP
framing, SQL or tenants: the caller opens one tenant's directory as a unit of work, calls one
method, and commits. Every failure is raised as a :class:`~hostsync.scim.errors.ScimError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hostsync.caching import StartOver
from hostsync.scim.discovery import (
    Capabilities,
    resource_type_document,
    resource_type_documents,
    schema_document,
    schema_documents,
    service_provider_config,
)
from hostsync.scim.encoding import SplicedPage, group_member, wire_time
from hostsync.scim.errors import NotFoundError
from hostsync.scim.extensions import DEFAULT_REGISTRY, Registry
from hostsync.scim.patch import apply_patch, parse_patch_request
from hostsync.scim.ports import Directory, GroupRef, Member, Page, Stored
from hostsync.scim.projection import DEFAULT_PROJECTION, Projection
from hostsync.scim.query import ListQuery
from hostsync.scim.resources import (
    member_values,
    normalize_resource,
    require_group,
    require_user,
    schemas_of,
)
from hostsync.scim.schema import (
    GROUP_RESOURCE,
    LIST_RESPONSE_SCHEMA,
    USER_RESOURCE,
    ResourceType,
)
from hostsync.scim.versions import check_if_match, etag, not_modified


@dataclass(frozen=True, slots=True)
class ScimResult:
    """The outcome of one SCIM operation: status, optional body, ETag and Location."""

    status: int
    body: dict[str, Any] | None = None
    etag: str | None = None
    location: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _keeps_documents_whole(projection: Projection, computed: str) -> bool:
    """Whether ``projection`` leaves a stored document whole.

    It may drop ``computed``, the member the server adds: a user's ``groups`` or a group's
    ``members``.
    """
    if projection.include is not None:
        return False
    return all(key == ("", computed, None) for key in projection.exclude)


def _members_value(body: Mapping[str, Any]) -> Any:
    for key, value in body.items():
        if isinstance(key, str) and key.lower() == "members":
            return value
    return None


_SPLICED_PAGES_KEPT = 64


class ScimService:
    """Users, Groups, search, bulk-free operations and discovery for one request at a time."""

    def __init__(self, capabilities: Capabilities) -> None:
        self.capabilities = capabilities
        # One per resource type and Host name a client used: when there are many, start over.
        # Keyed by the type's identity (each tenant that declares extensions has a User type
        # of its own), which the entry keeps, so a reused id never finds another's page.
        self._spliced_pages: StartOver[tuple[int, str], tuple[ResourceType, SplicedPage]] = (
            StartOver(_SPLICED_PAGES_KEPT)
        )

    # -- rendering ------------------------------------------------------------------------
    def render(
        self,
        resource_type: ResourceType,
        stored: Stored,
        base_url: str,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Turn a stored resource into its wire document (RFC 7643 §3, §4)."""
        out: dict[str, Any] = {
            "schemas": schemas_of(stored.document, resource_type),
            "id": stored.id,
        }
        out.update(stored.document)
        if extra:
            out.update(extra)
        out["meta"] = self._meta(resource_type, stored, base_url)
        return out

    def _meta(self, resource_type: ResourceType, stored: Stored, base_url: str) -> dict[str, str]:
        created, modified = stored.moments
        location = f"{base_url}{resource_type.endpoint}/{stored.id}"
        return {
            "resourceType": resource_type.name,
            "created": wire_time(created),
            "lastModified": wire_time(modified),
            "location": location,
            "version": etag(stored.version),
        }

    def _spliced_page(self, resource_type: ResourceType, base_url: str) -> SplicedPage:
        """What :meth:`render` gives, spliced around stored JSON texts (scim/encoding.py).

        Kept per resource type and base URL: building one per request costs more than the
        dicts it replaces. Measured: bench/JOURNAL.md#spliced-page-kept-per-base-url
        """
        key = (id(resource_type), base_url)
        kept = self._spliced_pages.get(key)
        if kept is not None and kept[0] is resource_type:
            return kept[1]
        page = SplicedPage(
            resource_type.schema.id,
            [ext.id for ext in resource_type.extensions],
            resource_type.name,
            f"{base_url}{resource_type.endpoint}/",
        )
        self._spliced_pages.put(key, (resource_type, page))
        return page

    @staticmethod
    def _spliced(
        page: SplicedPage, stored: Stored, text: str, extra: Mapping[str, Any] | None
    ) -> Any:
        created, modified = stored.moments
        return page.resource(
            stored.id, text, wire_time(created), wire_time(modified), stored.version, extra
        )

    def _groups_extra(self, refs: Sequence[GroupRef], base_url: str) -> dict[str, Any]:
        return {
            "groups": [
                {
                    "value": ref.value,
                    "$ref": f"{base_url}/Groups/{ref.value}",
                    "display": ref.display,
                    "type": "direct",
                }
                for ref in refs
            ]
        }

    def _members_extra(self, members: Sequence[Member], base_url: str) -> dict[str, Any]:
        rendered: list[dict[str, Any]] = []
        for member in members:
            item: dict[str, Any] = {
                "value": member.value,
                "$ref": f"{base_url}/{member.type}s/{member.value}",
                "type": member.type,
            }
            if member.display is not None:
                item["display"] = member.display
            rendered.append(item)
        return {"members": rendered}

    def user_documents(
        self,
        directory: Directory,
        users: Sequence[Stored],
        base_url: str,
        projection: Projection,
        *,
        fragments: bool = False,
        resource_type: ResourceType = USER_RESOURCE,
    ) -> list[Any]:
        """Render users, with their groups fetched in one query when the projection wants them.

        With ``fragments``, a user whose stored JSON text is at hand and whose document the
        projection leaves whole is rendered around that text (a JSON fragment, not a dict):
        list responses, which the caller only encodes. ``resource_type`` is the tenant's User
        type (its extensions are listed in ``schemas``).
        """
        groups: dict[str, list[GroupRef]] = {}
        if users and projection.wants("", "groups"):
            groups = directory.groups_of([user.id for user in users])
        if fragments and _keeps_documents_whole(projection, "groups"):
            return self._spliced_users(users, groups, base_url, resource_type)
        return [
            projection.apply(
                self.render(resource_type, user, base_url, self._groups_extra(refs, base_url))
                if (refs := groups.get(user.id))
                else self.render(resource_type, user, base_url)
            )
            for user in users
        ]

    def _spliced_users(
        self,
        users: Sequence[Stored],
        groups: Mapping[str, Sequence[GroupRef]],
        base_url: str,
        resource_type: ResourceType,
    ) -> list[Any]:
        """Users rendered around their stored JSON texts, each group's JSON encoded once.

        A page's users share few groups (Entra's assignment groups), so each group's item is
        encoded once per page, not once per member on the page.
        """
        items: dict[str, str] = {}  # group id -> its item's JSON (a group has one display)
        members: dict[str, str] = {}
        for user_id, refs in groups.items():
            parts = []
            for ref in refs:
                item = items.get(ref.value)
                if item is None:
                    item = items[ref.value] = group_member(ref.value, ref.display, base_url)
                parts.append(item)
            members[user_id] = '"groups":[' + ",".join(parts) + "]"
        out: list[Any] = self._spliced_page(resource_type, base_url).stored(users, members)
        for index, fragment in enumerate(out) if None in out else ():
            if fragment is None:  # the document was handed out: it may have changed
                user = users[index]
                held = groups.get(user.id)
                extra = self._groups_extra(held, base_url) if held else None
                out[index] = self.render(resource_type, user, base_url, extra)
        return out

    def group_documents(
        self,
        directory: Directory,
        groups: Sequence[Stored],
        base_url: str,
        projection: Projection,
        *,
        fragments: bool = False,
        sizes: Mapping[str, int] | None = None,
    ) -> list[Any]:
        """Render groups; members are read only when the projection wants them.

        ``fragments`` as in :meth:`user_documents`. ``sizes`` (each group's member count, as
        a :class:`~hostsync.scim.ports.Page` of a list gives them) bounds the members a list
        renders: a group with more than ``inline_members_max`` members is rendered without
        ``members``, whether the projection returns them by default or the request's
        ``attributes`` names them (see :meth:`list_groups`).
        """
        members: dict[str, list[Member]] = {}
        with_members = projection.wants("", "members")
        inlined = [group.id for group in groups]
        if sizes is not None:
            limit = self.capabilities.inline_members_max
            inlined = [group_id for group_id in inlined if sizes.get(group_id, 0) <= limit]
        if inlined and with_members:
            members = directory.members_of(inlined)
        whole = fragments and _keeps_documents_whole(projection, "members")
        page = self._spliced_page(GROUP_RESOURCE, base_url) if whole else None
        out: list[Any] = []
        for group in groups:
            held = members.get(group.id) if with_members else None  # None: not inlined
            extra = None if held is None else self._members_extra(held, base_url)
            text = group.json if page is not None else None
            if page is not None and text is not None:
                out.append(self._spliced(page, group, text, extra))
            else:
                out.append(projection.apply(self.render(GROUP_RESOURCE, group, base_url, extra)))
        return out

    def _list_response(self, page: Page, start_index: int, resources: list[Any]) -> ScimResult:
        return ScimResult(
            200,
            {
                "schemas": [LIST_RESPONSE_SCHEMA],
                "totalResults": page.total,
                "startIndex": start_index,
                "itemsPerPage": len(resources),
                "Resources": resources,
            },
        )

    # -- users ----------------------------------------------------------------------------
    def create_user(
        self,
        directory: Directory,
        body: Any,
        base_url: str,
        resource_type: ResourceType = USER_RESOURCE,
    ) -> ScimResult:
        """POST /Users (RFC 7644 §3.3): 201 with the new user.

        ``resource_type`` is the tenant's User type (hostsync.scim.extensions), as in every
        user operation below.
        """
        document = normalize_resource(body, resource_type)
        require_user(document)
        # ``active`` is always present on users (docs/reference/entra-wire.md#wire-active-always).
        document.setdefault("active", True)
        stored = directory.create_user(document)
        rendered = self.render(resource_type, stored, base_url)
        return ScimResult(201, rendered, etag(stored.version), rendered["meta"]["location"])

    def _user(self, directory: Directory, user_id: str) -> Stored:
        stored = directory.get_user(user_id)
        if stored is None:
            raise NotFoundError(f"User {user_id} not found")
        return stored

    def _user_result(
        self,
        directory: Directory,
        stored: Stored,
        base_url: str,
        projection: Projection,
        resource_type: ResourceType,
    ) -> ScimResult:
        (document,) = self.user_documents(
            directory, [stored], base_url, projection, resource_type=resource_type
        )
        return ScimResult(200, document, etag(stored.version))

    def get_user(
        self,
        directory: Directory,
        user_id: str,
        base_url: str,
        projection: Projection = DEFAULT_PROJECTION,
        if_none_match: str | None = None,
        resource_type: ResourceType = USER_RESOURCE,
    ) -> ScimResult:
        """GET /Users/{id} (RFC 7644 §3.4.1); 304 when If-None-Match names this version."""
        stored = self._user(directory, user_id)
        if not_modified(if_none_match, stored.version):
            return ScimResult(304, None, etag(stored.version))
        return self._user_result(directory, stored, base_url, projection, resource_type)

    def list_users(self, directory: Directory, query: ListQuery, base_url: str) -> ScimResult:
        """GET /Users with filter, sort and paging (RFC 7644 §3.4.2).

        Rendered with the User type the query was built against (the tenant's).
        """
        page = directory.list_users(query.selection)
        resources = self.user_documents(
            directory,
            page.resources,
            base_url,
            query.projection,
            fragments=True,
            resource_type=query.selection.resource_type or USER_RESOURCE,
        )
        return self._list_response(page, query.selection.start_index, resources)

    def replace_user(
        self,
        directory: Directory,
        user_id: str,
        body: Any,
        base_url: str,
        if_match: str | None = None,
        projection: Projection = DEFAULT_PROJECTION,
        resource_type: ResourceType = USER_RESOURCE,
    ) -> ScimResult:
        """PUT /Users/{id} (RFC 7644 §3.5.1): the body replaces every writable attribute."""
        current = self._user(directory, user_id)
        check_if_match(if_match, current.version)
        document = normalize_resource(body, resource_type)
        require_user(document)
        document.setdefault("active", True)
        stored = directory.replace_user(user_id, document, version=current.version)
        return self._user_result(directory, stored, base_url, projection, resource_type)

    def patch_user(
        self,
        directory: Directory,
        user_id: str,
        body: Any,
        base_url: str,
        if_match: str | None = None,
        projection: Projection = DEFAULT_PROJECTION,
        resource_type: ResourceType = USER_RESOURCE,
    ) -> ScimResult:
        """PATCH /Users/{id} (RFC 7644 §3.5.2): all operations apply, or none; 200 + user."""
        operations = parse_patch_request(body, max_operations=self.capabilities.max_operations)
        current = self._user(directory, user_id)
        check_if_match(if_match, current.version)
        result = apply_patch(current.document, operations, resource_type)
        require_user(result.document)
        stored = current
        if result.changed:
            stored = directory.replace_user(user_id, result.document, version=current.version)
        return self._user_result(directory, stored, base_url, projection, resource_type)

    def delete_user(
        self, directory: Directory, user_id: str, if_match: str | None = None
    ) -> ScimResult:
        """DELETE /Users/{id}: a soft delete; the id answers 404 from then on.

        See docs/reference/entra-wire.md#wire-delete-user.
        """
        current = self._user(directory, user_id)
        check_if_match(if_match, current.version)
        directory.delete_user(user_id)
        return ScimResult(204)

    # -- groups ---------------------------------------------------------------------------
    def _group(self, directory: Directory, group_id: str) -> Stored:
        stored = directory.get_group(group_id)
        if stored is None:
            raise NotFoundError(f"Group {group_id} not found")
        return stored

    def _group_result(
        self,
        directory: Directory,
        stored: Stored,
        base_url: str,
        projection: Projection,
    ) -> ScimResult:
        (document,) = self.group_documents(directory, [stored], base_url, projection)
        return ScimResult(200, document, etag(stored.version))

    def create_group(self, directory: Directory, body: Any, base_url: str) -> ScimResult:
        """POST /Groups: 201 with the new group and its members."""
        document = normalize_resource(body, GROUP_RESOURCE)
        require_group(document)
        assert isinstance(body, Mapping)  # noqa: S101 - normalize_resource checked it
        ids, displays = member_values(_members_value(body))
        stored = directory.create_group(document, ids, displays)
        (rendered,) = self.group_documents(directory, [stored], base_url, DEFAULT_PROJECTION)
        return ScimResult(201, rendered, etag(stored.version), rendered["meta"]["location"])

    def get_group(
        self,
        directory: Directory,
        group_id: str,
        base_url: str,
        projection: Projection = DEFAULT_PROJECTION,
        if_none_match: str | None = None,
    ) -> ScimResult:
        """GET /Groups/{id}; ``excludedAttributes=members`` never touches the member table."""
        stored = self._group(directory, group_id)
        if not_modified(if_none_match, stored.version):
            return ScimResult(304, None, etag(stored.version))
        return self._group_result(directory, stored, base_url, projection)

    def list_groups(self, directory: Directory, query: ListQuery, base_url: str) -> ScimResult:
        """GET /Groups (and ``/Groups/.search``) with filter, sort and paging.

        A listed group carries its members only while it has at most ``inline_members_max``
        of them; a bigger group is listed without ``members`` even when ``attributes`` names
        them, so a page costs at most ``count`` times ``inline_members_max`` members whatever
        the groups' sizes (a page of 100 groups of 100,000 members each would otherwise render
        ten million). A group listed so is read in full with ``GET /Groups/{id}``; a group
        with no members is listed with ``"members": []``, so the two are told apart. Entra
        lists groups with ``excludedAttributes=members`` and never meets the bound.
        """
        page = directory.list_groups(query.selection)
        resources = self.group_documents(
            directory,
            page.resources,
            base_url,
            query.projection,
            fragments=True,
            sizes=page.sizes,
        )
        return self._list_response(page, query.selection.start_index, resources)

    def replace_group(
        self,
        directory: Directory,
        group_id: str,
        body: Any,
        base_url: str,
        if_match: str | None = None,
        projection: Projection = DEFAULT_PROJECTION,
    ) -> ScimResult:
        """PUT /Groups/{id}: replaces the attributes and the member list."""
        current = self._group(directory, group_id)
        check_if_match(if_match, current.version)
        document = normalize_resource(body, GROUP_RESOURCE)
        require_group(document)
        assert isinstance(body, Mapping)  # noqa: S101 - normalize_resource checked it
        ids, displays = member_values(_members_value(body))
        directory.clear_members(group_id)
        directory.add_members(group_id, ids, displays)
        stored = directory.replace_group(group_id, document, version=current.version)
        return self._group_result(directory, stored, base_url, projection)

    def patch_group(
        self,
        directory: Directory,
        group_id: str,
        body: Any,
        base_url: str,
        if_match: str | None = None,
        projection: Projection | None = None,
    ) -> ScimResult:
        """PATCH /Groups/{id}: member changes cost O(changed members), never O(group size).

        The 200 response carries the whole group (RFC 7644 §3.5.2) while it has at most
        ``inline_members_max`` members; a bigger group is returned without ``members`` unless
        the request's ``attributes`` names them, since rendering 100,000 members for a
        one-member change would make every membership PATCH cost O(group size), and Entra
        ignores the body anyway (docs/reference/entra-wire.md#wire-group-patch-response).
        """
        operations = parse_patch_request(body, max_operations=self.capabilities.max_operations)
        current = self._group(directory, group_id)
        check_if_match(if_match, current.version)
        result = apply_patch(current.document, operations, GROUP_RESOURCE)
        require_group(result.document)
        for change in result.member_changes:
            if change.kind == "add":
                directory.add_members(group_id, change.ids, change.displays)
            elif change.kind == "remove":
                directory.remove_members(group_id, change.ids)
            elif change.kind == "replace":
                directory.clear_members(group_id)
                directory.add_members(group_id, change.ids, change.displays)
            else:
                directory.clear_members(group_id)
        stored = current
        if result.document != current.document:
            stored = directory.replace_group(group_id, result.document, version=current.version)
        elif result.changed:
            stored = directory.touch_group(group_id, version=current.version)
        if projection is None:
            projection = DEFAULT_PROJECTION
            if directory.has_more_members_than(group_id, self.capabilities.inline_members_max):
                projection = Projection(exclude=frozenset({("", "members", None)}))
        return self._group_result(directory, stored, base_url, projection)

    def delete_group(
        self, directory: Directory, group_id: str, if_match: str | None = None
    ) -> ScimResult:
        """DELETE /Groups/{id}: soft delete; memberships are dropped; 404 from then on."""
        current = self._group(directory, group_id)
        check_if_match(if_match, current.version)
        directory.delete_group(group_id)
        return ScimResult(204)

    # -- discovery ------------------------------------------------------------------------
    def service_provider_config(self, base_url: str) -> ScimResult:
        """GET /ServiceProviderConfig (RFC 7644 §4)."""
        return ScimResult(200, service_provider_config(self.capabilities, base_url))

    def resource_types(self, base_url: str, registry: Registry = DEFAULT_REGISTRY) -> ScimResult:
        """GET /ResourceTypes as a ListResponse (``registry``: the tenant's schemas)."""
        return self._static_list(resource_type_documents(base_url, registry))

    def resource_type(
        self, type_id: str, base_url: str, registry: Registry = DEFAULT_REGISTRY
    ) -> ScimResult:
        """GET /ResourceTypes/{id}."""
        document = resource_type_document(type_id, base_url, registry)
        if document is None:
            raise NotFoundError(f"Resource type {type_id} not found")
        return ScimResult(200, document)

    def schemas(self, base_url: str, registry: Registry = DEFAULT_REGISTRY) -> ScimResult:
        """GET /Schemas as a ListResponse (RFC 7644 §4)."""
        return self._static_list(schema_documents(base_url, registry))

    def schema(
        self, schema_id: str, base_url: str, registry: Registry = DEFAULT_REGISTRY
    ) -> ScimResult:
        """GET /Schemas/{urn}."""
        document = schema_document(schema_id, base_url, registry)
        if document is None:
            raise NotFoundError(f"Schema {schema_id} not found")
        return ScimResult(200, document)

    def _static_list(self, resources: list[dict[str, Any]]) -> ScimResult:
        return ScimResult(
            200,
            {
                "schemas": [LIST_RESPONSE_SCHEMA],
                "totalResults": len(resources),
                "startIndex": 1,
                "itemsPerPage": len(resources),
                "Resources": resources,
            },
        )
