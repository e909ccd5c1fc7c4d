"""The two parties of a tenant's SAML sign-in: hostsync's service provider and the IdP.

A tenant's service-provider addresses all derive from the public URL and the tenant's id
(docs/sso.md): entity ID ``<public-url>/saml/<tenant-id>``, the assertion consumer service
(ACS) ``…/acs``, the SP-initiated start ``…/login`` and the metadata ``…/metadata``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from hostsync.sso.certificates import SigningCertificate

SAML_PATH = "/saml"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")  # test identity providers only
_TENANT_ID = re.compile(r"[0-9a-f]{32}", re.ASCII)


class ProviderError(ValueError):
    """Settings a service or identity provider cannot be built from."""


def is_tenant_id(value: str) -> bool:
    """Whether ``value`` has a tenant id's form (32 lower-case hex digits), before any query."""
    return _TENANT_ID.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class ServiceProvider:
    """hostsync as the SAML service provider of one tenant."""

    tenant_id: str
    entity_id: str

    @classmethod
    def of(cls, public_url: str | None, tenant_id: str) -> ServiceProvider:
        """The tenant's service provider under ``public_url``; :class:`ProviderError` if unset.

        The public URL must be absolute (``https://hosts.example.com``): Entra's Identifier
        and Reply URL are compared as written, so they cannot follow the request's Host.
        """
        if not public_url:
            raise ProviderError(
                "single sign-on needs HOSTSYNC_PUBLIC_URL (the address people reach hostsync "
                "at, such as https://hosts.example.com)"
            )
        parts = urlsplit(public_url.strip())
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query:
            raise ProviderError(f"HOSTSYNC_PUBLIC_URL '{public_url[:200]}' is not an http(s) URL")
        if not is_tenant_id(tenant_id):
            raise ProviderError(f"'{tenant_id[:80]}' is not a tenant id")
        base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        return cls(tenant_id, f"{base}{SAML_PATH}/{tenant_id}")

    @property
    def acs_url(self) -> str:
        """The Reply URL (Assertion Consumer Service, HTTP-POST binding)."""
        return f"{self.entity_id}/acs"

    @property
    def login_url(self) -> str:
        """The Sign on URL: where SP-initiated sign-in starts."""
        return f"{self.entity_id}/login"

    @property
    def metadata_url(self) -> str:
        """Where the service provider's metadata is served."""
        return f"{self.entity_id}/metadata"


@dataclass(frozen=True, slots=True)
class IdentityProvider:
    """A tenant's identity provider (Entra): who it is, where sign-in goes, what it signs with.

    ``allow_sha1`` lets the tenant accept RSA-SHA1 signatures (Entra's legacy option); off,
    only SHA-256 and stronger are accepted.
    """

    entity_id: str
    login_url: str
    certificates: tuple[SigningCertificate, ...]
    allow_sha1: bool = False
    metadata_url: str | None = None

    def __post_init__(self) -> None:
        if not self.entity_id or len(self.entity_id) > 1024:
            raise ProviderError("the identity provider needs an entity ID (Entra Identifier)")
        parts = urlsplit(self.login_url)
        loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK
        if not (parts.scheme == "https" or loopback) or not parts.netloc:
            raise ProviderError(f"the login URL '{self.login_url[:200]}' is not an https URL")
        if not self.certificates:
            raise ProviderError("the identity provider needs at least one signing certificate")

    def first_expiry(self) -> datetime:
        """When the first of its certificates expires."""
        return min(certificate.expires_at for certificate in self.certificates)
