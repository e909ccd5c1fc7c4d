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

from collections.abc import Mapping
from typing import Any

import orjson


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


def has_member(document_json: str, name: str) -> bool:
    """Whether the stored object has the top-level member ``name`` (an extension URN).

    In JSON text a quote inside a string value is escaped, so ``"name":`` with a bare quote
    before and after can only be a member name; canonical documents have no nested members
    named after an extension schema, so a match is a top-level member.
    """
    return f'"{name}":' in document_json


__all__ = ["has_member", "spliced"]
