"""Single sign-on: hostsync as a per-tenant SAML 2.0 service provider (docs/sso.md).

Pure rules, no HTTP, no SQL, no settings: reading the identity provider's metadata
(:mod:`~hostsync.sso.metadata`), writing ours, the AuthnRequest of SP-initiated sign-in
(:mod:`~hostsync.sso.authn_requests`) and every check a posted Response must pass
(:mod:`~hostsync.sso.responses`). Storage is reached through :mod:`~hostsync.sso.ports`.
"""

from hostsync.sso.authn_requests import AuthnRequest, authn_request
from hostsync.sso.certificates import CertificateError, SigningCertificate
from hostsync.sso.metadata import MetadataError, read_idp_metadata, sp_metadata
from hostsync.sso.ports import OneTimeIds
from hostsync.sso.providers import (
    IdentityProvider,
    ProviderError,
    ServiceProvider,
    is_tenant_id,
)
from hostsync.sso.responses import Refusal, SignedAssertion, accept_once, read_response

__all__ = [
    "AuthnRequest",
    "CertificateError",
    "IdentityProvider",
    "MetadataError",
    "OneTimeIds",
    "ProviderError",
    "Refusal",
    "ServiceProvider",
    "SignedAssertion",
    "SigningCertificate",
    "accept_once",
    "authn_request",
    "is_tenant_id",
    "read_idp_metadata",
    "read_response",
    "sp_metadata",
]
