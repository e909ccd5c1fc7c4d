"""Which hosts a site offers: members of mapped groups, hosts matching an attribute rule, or all.

A site maps SCIM groups (their active members are offered), or instead names an attribute
Entra sends and the value it must have (``urn:ietf:params:scim:schemas:extension:enterprise:
2.0:User:division`` = ``Paris``, or ``addresses.locality`` = ``Paris``); with neither, every
active host of the tenant is offered. The rule's path is a SCIM attribute path (RFC 7644
§3.10, no value filter) of the User resource; the value is compared as text.
"""

from __future__ import annotations

from hostsync.frontdesk.sites import SiteSettingError
from hostsync.scim.errors import ScimError
from hostsync.scim.paths import parse_attr_path, resolve
from hostsync.scim.schema import ENTERPRISE_USER_SCHEMA, USER_RESOURCE, USER_SCHEMA, AttrType

PATH_LIMIT = 300
VALUE_LIMIT = 200


def attribute_rule(path: str, value: str) -> tuple[str, str]:
    """The rule's canonical path and trimmed value; :class:`SiteSettingError` says what is wrong.

    A path of the core User schema or the enterprise extension must name one of their
    attributes (the canonical spelling is kept); a path under another extension URN is kept
    as written, for the extension schemas a tenant declares.
    """
    path = path.strip()
    value = " ".join(value.split())
    if not path:
        raise SiteSettingError("an attribute rule needs an attribute path")
    if len(path) > PATH_LIMIT:
        raise SiteSettingError(f"an attribute path has at most {PATH_LIMIT} characters")
    if not value:
        raise SiteSettingError("an attribute rule needs the value hosts of this site have")
    if len(value) > VALUE_LIMIT:
        raise SiteSettingError(f"an attribute rule's value has at most {VALUE_LIMIT} characters")
    try:
        parsed = parse_attr_path(path)
    except ScimError:
        raise SiteSettingError(
            f"'{path[:80]}' is not a SCIM attribute path such as {ENTERPRISE_USER_SCHEMA}:division"
        ) from None
    known = parsed.uri is None or parsed.uri.lower() in (
        USER_SCHEMA.lower(),
        ENTERPRISE_USER_SCHEMA.lower(),
    )
    if not known:
        if not parsed.uri or not parsed.uri.lower().startswith(
            "urn:ietf:params:scim:schemas:extension:"
        ):
            raise SiteSettingError(f"unknown schema in '{path[:80]}'")
        return str(parsed), value
    try:
        resolved = resolve(parsed, USER_RESOURCE)
    except ScimError:
        raise SiteSettingError(f"hosts have no attribute '{path[:80]}'") from None
    leaf = resolved.leaf
    if leaf.type is AttrType.COMPLEX:
        example = f"{path}.{leaf.sub_attributes[0].name}" if leaf.sub_attributes else path
        raise SiteSettingError(
            f"'{path[:80]}' has sub-attributes: name one, such as {example[:100]}"
        )
    if leaf.multi_valued:
        raise SiteSettingError(f"'{path[:80]}' holds a list of values; choose a single-valued one")
    return _canonical(resolved.key, resolved.is_extension), value


def _canonical(key: tuple[str, ...], extension: bool) -> str:
    if extension:
        uri, *rest = key
        return f"{uri}:{'.'.join(rest)}"
    return ".".join(key)
