"""SP-initiated sign-in: an AuthnRequest sent with the HTTP-Redirect binding.

The request is unsigned (Entra does not require it:
docs/reference/entra-saml.md#saml-authn-request), deflated, Base64-encoded and put in the
``SAMLRequest`` query parameter of the identity provider's login URL, with the
``RelayState`` Entra sends back. Its ID is random (it must not begin with a digit) and is
remembered by the caller for :data:`REQUEST_LIFETIME`, so the Response's ``InResponseTo``
can be matched once.
"""

from __future__ import annotations

import base64
import secrets
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

from lxml import etree

from hostsync.sso.documents import ASSERTION, PROTOCOL, format_instant
from hostsync.sso.metadata import POST_BINDING
from hostsync.sso.providers import IdentityProvider, ServiceProvider

REQUEST_LIFETIME = timedelta(minutes=30)
"""How long an AuthnRequest's answer is accepted (a sign-in with MFA takes minutes)."""
MAX_RELAY_STATE = 80
"""RelayState is at most 80 bytes (SAML bindings §3.4.3)."""


@dataclass(frozen=True, slots=True)
class AuthnRequest:
    """An AuthnRequest: its ID (remember it), its expiry, and the redirect to the IdP."""

    id: str
    expires_at: datetime
    redirect_url: str


def authn_request(
    sp: ServiceProvider, idp: IdentityProvider, moment: datetime, relay_state: str = ""
) -> AuthnRequest:
    """A new AuthnRequest of ``sp`` to ``idp``, answered by HTTP-POST to the ACS."""
    request_id = "id" + secrets.token_hex(20)
    samlp = f"{{{PROTOCOL}}}"
    root = etree.Element(samlp + "AuthnRequest", nsmap={"samlp": PROTOCOL, "saml": ASSERTION})
    root.set("ID", request_id)
    root.set("Version", "2.0")
    root.set("IssueInstant", format_instant(moment))
    root.set("Destination", idp.login_url)
    root.set("AssertionConsumerServiceURL", sp.acs_url)
    root.set("ProtocolBinding", POST_BINDING)
    issuer = etree.SubElement(root, f"{{{ASSERTION}}}Issuer")
    issuer.text = sp.entity_id
    etree.SubElement(root, samlp + "NameIDPolicy").set("AllowCreate", "false")
    xml = etree.tostring(root, encoding="UTF-8")
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = compressor.compress(xml) + compressor.flush()
    query = {"SAMLRequest": base64.b64encode(deflated).decode("ascii")}
    if relay_state and len(relay_state.encode("utf-8")) <= MAX_RELAY_STATE:
        query["RelayState"] = relay_state
    parts = urlsplit(idp.login_url)
    joined = f"{parts.query}&{urlencode(query)}" if parts.query else urlencode(query)
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, joined, ""))
    return AuthnRequest(request_id, moment + REQUEST_LIFETIME, url)
