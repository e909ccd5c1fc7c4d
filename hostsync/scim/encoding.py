"""Wire documents spliced from the JSON text a store keeps, for pages of resources.

A page of 100 users rendered the plain way decodes 100 stored documents into dicts, copies
each into a wire document and encodes it all again. The stored text is already the canonical
document in JSON, so a list response can carry it as it is: the server's own members
(``schemas`` and ``id`` before, ``groups`` or ``members`` and ``meta`` after) are encoded
around it and the whole is handed to the encoder as an ``orjson.Fragment``, which orjson
writes out verbatim. The result is the same JSON, member for member and in the same order,
as :meth:`~hostsync.scim.service.ScimService.render` gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from hostsync.scim.ports import Stored
from hostsync.scim.versions import etag


def wire_time(moment: datetime | str) -> str:
    """RFC 7643 §2.3.5 dateTime in UTC with milliseconds, as Entra's samples show.

    ``moment`` is a naive UTC datetime or its ISO 8601 text (``YYYY-MM-DD HH:MM:SS.ffffff``,
    as a store may keep it; see :attr:`Stored.moments`). Both are cut from the plain ISO form
    (a page of 100 users formats 200 of these; asking for ``timespec`` costs about a third
    more, parsing the text first twice as much); other shapes take the general path.
    """
    text = moment if isinstance(moment, str) else moment.isoformat()
    if len(text) == 26 and text[10] in " T":  # YYYY-MM-DDTHH:MM:SS.ffffff
        return f"{text[:10]}T{text[11:23]}Z"
    if len(text) == 19 and text[10] in " T":  # no microseconds
        return f"{text[:10]}T{text[11:]}.000Z"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.isoformat(timespec="milliseconds") + "Z"


def spliced(
    head: Mapping[str, Any], document_json: str, tail: Mapping[str, Any]
) -> orjson.Fragment:
    """``head``'s members, then the stored document's, then ``tail``'s, as one JSON object.

    ``document_json`` is a JSON object's text as the store keeps it; neither mapping may
    share a member name with it (the server's members are never stored in the document).
    """
    parts = (
        orjson.dumps(head)[1:-1],
        document_json.strip()[1:-1].strip().encode(),
        orjson.dumps(tail)[1:-1],
    )
    return orjson.Fragment(b"{" + b",".join(part for part in parts if part) + b"}")


class SplicedPage:
    """:func:`spliced` for the resources of one list response, with what they share built once.

    Every resource of a page has the same ``schemas`` choices, resource type and location
    prefix; only its id, document text, moments, version and computed member (``groups`` or
    ``members``) differ. So the head, the location's JSON and the ``meta`` keys are encoded
    once (the service keeps one per resource type and base URL), and each resource is one
    join of byte strings instead of two dicts and two encodings. The bytes are
    :func:`spliced`'s, and so :meth:`~hostsync.scim.service.ScimService.render`'s
    (tests/scim/test_encoding.py). An id with other than letters and digits (the server's are
    hex) takes :func:`spliced` itself, as JSON might escape it.
    Measured: bench/JOURNAL.md#spliced-page-kept-per-base-url
    """

    def __init__(
        self,
        core_schema: str,
        extension_schemas: Sequence[str],
        resource_type: str,
        location_prefix: str,
    ) -> None:
        self.core_schema = core_schema
        self.extension_schemas = tuple(extension_schemas)
        self.resource_type = resource_type
        self.location_prefix = location_prefix
        self._heads: dict[tuple[bool, ...], str] = {}
        self._needles = tuple(_member_key(name) for name in self.extension_schemas)
        self._location = orjson.dumps(location_prefix).decode()[:-1]  # no closing quote
        self._meta = (
            '"meta":{"resourceType":' + orjson.dumps(resource_type).decode() + ',"created":"'
        )

    def _schemas(self, present: tuple[bool, ...]) -> list[str]:
        schemas = [self.core_schema]
        schemas.extend(
            name for name, has in zip(self.extension_schemas, present, strict=True) if has
        )
        return schemas

    def stored(
        self, resources: Sequence[Stored], members: Mapping[str, str]
    ) -> list[orjson.Fragment | None]:
        """:meth:`encoded` for each resource whose stored text is at hand, None for the others.

        ``members`` maps an id to its computed members' JSON (as :meth:`encoded` takes them).
        One loop with the common case inlined (a plain id, a compact stored object, the
        store's ISO 8601 moments), for the hundred resources of a page; anything else takes
        :meth:`encoded`, which gives the same bytes.
        """
        out: list[orjson.Fragment | None] = []
        append = out.append
        needles = self._needles
        single = needles[0] if len(needles) == 1 else None
        heads, meta, location = self._heads, self._meta, self._location
        for resource in resources:
            text = resource.json
            if text is None:
                append(None)
                continue
            rid, version = resource.id, resource.version
            created, modified = resource.moments
            computed = members.get(rid, "")
            if not (
                len(text) > 2
                and text[0] == "{"
                and text[-1] == "}"
                and text[1] > " "
                and text[-2] > " "
                and rid.isalnum()
                and created.__class__ is str
                and modified.__class__ is str
                and len(created) == 26
                and len(modified) == 26
                and created[10] in " T"
                and modified[10] in " T"
            ):
                times = wire_time(created), wire_time(modified)
                append(self.encoded(rid, text, *times, version, computed))
                continue
            present = (single in text,) if single else tuple(n in text for n in needles)
            opening = heads.get(present) or self._head(present)
            append(
                orjson.Fragment(
                    "".join(
                        (
                            opening,
                            rid,
                            '",',
                            text[1:-1],
                            "," + computed if computed else "",
                            ",",
                            meta,
                            created[:10],
                            "T",
                            created[11:23],
                            'Z","lastModified":"',
                            modified[:10],
                            "T",
                            modified[11:23],
                            'Z","location":',
                            location,
                            rid,
                            '","version":"W/\\"',
                            str(version),
                            '\\""}}',
                        )
                    )
                )
            )
        return out

    def _head(self, present: tuple[bool, ...]) -> str:
        schemas = orjson.dumps(self._schemas(present)).decode()
        opening = self._heads[present] = '{"schemas":' + schemas + ',"id":"'
        return opening

    def resource(
        self,
        resource_id: str,
        document_json: str,
        created: str,
        last_modified: str,
        version: int,
        extra: Mapping[str, Any] | None,
    ) -> orjson.Fragment:
        """One resource: ``schemas``, ``id``, the stored members, ``extra``'s, then ``meta``.

        ``created`` and ``last_modified`` are the wire's dateTimes (plain ASCII).
        """
        members = orjson.dumps(extra)[1:-1].decode() if extra else ""
        return self.encoded(resource_id, document_json, created, last_modified, version, members)

    def encoded(
        self,
        resource_id: str,
        document_json: str,
        created: str,
        last_modified: str,
        version: int,
        members: str,
    ) -> orjson.Fragment:
        """:meth:`resource` with the computed members already in JSON (``""`` for none).

        ``members`` is the text of JSON object members without the braces, e.g.
        ``"groups":[...]``, as a page encodes each of its groups once (:func:`group_member`).
        The fast path joins text, which orjson writes out as UTF-8, instead of encoding each
        part.
        """
        present = tuple(needle in document_json for needle in self._needles)
        if not resource_id.isalnum():  # JSON might escape it: the general splice
            tail: dict[str, Any] = orjson.loads("{" + members + "}") if members else {}
            tail["meta"] = {
                "resourceType": self.resource_type,
                "created": created,
                "lastModified": last_modified,
                "location": f"{self.location_prefix}{resource_id}",
                "version": etag(version),
            }
            head = {"schemas": self._schemas(present), "id": resource_id}
            return spliced(head, document_json, tail)
        opening = self._heads.get(present) or self._head(present)
        body = document_json[1:-1]  # a stored document is an object without outer spaces
        if (
            document_json[:1] != "{"
            or document_json[-1:] != "}"
            or body[:1].isspace()
            or body[-1:].isspace()
        ):
            body = document_json.strip()[1:-1].strip()
        return orjson.Fragment(
            "".join(
                (
                    opening,
                    resource_id,
                    '",' + body if body else '"',
                    "," + members if members else "",
                    ",",
                    self._meta,
                    created,
                    '","lastModified":"',
                    last_modified,
                    '","location":',
                    self._location,
                    resource_id,
                    '","version":"W/\\"',
                    str(version),
                    '\\""}}',
                )
            )
        )


def group_member(value: str, display: str, base_url: str) -> str:
    """One item of a user's ``groups`` in JSON, as :meth:`ScimService.render` encodes it."""
    item = {
        "value": value,
        "$ref": f"{base_url}/Groups/{value}",
        "display": display,
        "type": "direct",
    }
    return orjson.dumps(item).decode()


def has_member(document_json: str, name: str) -> bool:
    """Whether the stored object has the top-level member ``name`` (an extension URN).

    In JSON text a quote inside a string value is escaped, so ``"name":`` with a bare quote
    before and after can only be a member name; canonical documents have no nested members
    named after an extension schema, so a match is a top-level member.
    """
    return _member_key(name) in document_json


def _member_key(name: str) -> str:
    return f'"{name}":'
