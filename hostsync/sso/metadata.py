"""SAML metadata: the identity provider's read (Entra's Federation Metadata XML), ours written.

Entra's *Federation Metadata XML* is an ``EntityDescriptor`` whose ``entityID`` is the
*Microsoft Entra Identifier* (``https://sts.windows.net/<tenant-guid>/``); its
``IDPSSODescriptor`` lists the signing certificates (``KeyDescriptor`` ``use="signing"``,
two during a rollover) and the ``SingleSignOnService`` locations, the HTTP-Redirect one being
the *Login URL* (docs/reference/entra-saml.md#saml-metadata). The file's own signature is not
checked: the administrator hands it over directly, as they would paste the certificate.
"""

from __future__ import annotations

from lxml import etree

from hostsync.sso.certificates import (
    MAX_CERTIFICATES,
    CertificateError,
    SigningCertificate,
    from_base64,
)
from hostsync.sso.documents import (
    DSIG,
    METADATA,
    NAMESPACES,
    DocumentError,
    parse,
    tag,
    text_of,
)
from hostsync.sso.providers import IdentityProvider, ProviderError, ServiceProvider

REDIRECT_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
SAML2_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
MEDIA_TYPE = "application/samlmetadata+xml"


class MetadataError(ValueError):
    """Metadata that does not describe a usable SAML identity provider."""


def read_idp_metadata(
    data: bytes, *, allow_sha1: bool = False, metadata_url: str | None = None
) -> IdentityProvider:
    """The identity provider a metadata document describes; :class:`MetadataError` if none.

    The document must hold exactly one entity with an ``IDPSSODescriptor`` for SAML 2.0, a
    ``SingleSignOnService`` with the HTTP-Redirect binding and at least one signing
    certificate (a ``KeyDescriptor`` marked ``signing`` or unmarked). Duplicate certificates
    are listed once.
    """
    try:
        root = parse(data)
    except DocumentError as exc:
        raise MetadataError(f"the metadata cannot be read: {exc}") from None
    if root.tag == tag(METADATA, "EntitiesDescriptor"):
        entities = [
            entity
            for entity in root.iter(tag(METADATA, "EntityDescriptor"))
            if _idp_descriptor(entity) is not None
        ]
        if len(entities) != 1:
            raise MetadataError(
                f"the metadata describes {len(entities)} identity providers; hostsync needs one"
            )
        root = entities[0]
    if root.tag != tag(METADATA, "EntityDescriptor"):
        raise MetadataError("the file is not SAML metadata (no EntityDescriptor)")
    entity_id = (root.get("entityID") or "").strip()
    if not entity_id:
        raise MetadataError("the metadata has no entityID (the Microsoft Entra Identifier)")
    descriptor = _idp_descriptor(root)
    if descriptor is None:
        raise MetadataError("the metadata describes no SAML 2.0 identity provider")
    login_url = ""
    for service in descriptor.findall("md:SingleSignOnService", NAMESPACES):
        if service.get("Binding") == REDIRECT_BINDING:
            login_url = (service.get("Location") or "").strip()
            break
    if not login_url:
        raise MetadataError("the metadata has no sign-on URL for the HTTP-Redirect binding")
    certificates = _signing_certificates(descriptor)
    try:
        return IdentityProvider(
            entity_id, login_url, certificates, allow_sha1=allow_sha1, metadata_url=metadata_url
        )
    except ProviderError as exc:
        raise MetadataError(str(exc)) from None


def _idp_descriptor(entity: etree._Element) -> etree._Element | None:
    for descriptor in entity.findall("md:IDPSSODescriptor", NAMESPACES):
        if SAML2_PROTOCOL in (descriptor.get("protocolSupportEnumeration") or "").split():
            return descriptor
    return None


def _signing_certificates(descriptor: etree._Element) -> tuple[SigningCertificate, ...]:
    found: list[SigningCertificate] = []
    seen: set[bytes] = set()
    for key in descriptor.findall("md:KeyDescriptor", NAMESPACES):
        if key.get("use") not in (None, "signing"):
            continue
        for element in key.iter(tag(DSIG, "X509Certificate")):
            try:
                certificate = from_base64(text_of(element))
            except CertificateError as exc:
                raise MetadataError(f"a signing certificate cannot be read: {exc}") from None
            fingerprint = certificate.thumbprint.encode()
            if fingerprint not in seen:
                seen.add(fingerprint)
                found.append(certificate)
    if not found:
        raise MetadataError("the metadata lists no signing certificate")
    if len(found) > MAX_CERTIFICATES:
        raise MetadataError(f"the metadata lists more than {MAX_CERTIFICATES} certificates")
    return tuple(found)


def sp_metadata(provider: ServiceProvider) -> bytes:
    """The service provider's metadata: entity ID, the ACS (HTTP-POST), signed assertions.

    Entra's *Upload metadata file* button reads the Identifier and Reply URL from it.
    """
    md = f"{{{METADATA}}}"
    root = etree.Element(md + "EntityDescriptor", nsmap={"md": METADATA})
    root.set("entityID", provider.entity_id)
    descriptor = etree.SubElement(root, md + "SPSSODescriptor")
    descriptor.set("AuthnRequestsSigned", "false")
    descriptor.set("WantAssertionsSigned", "true")
    descriptor.set("protocolSupportEnumeration", SAML2_PROTOCOL)
    name_format = etree.SubElement(descriptor, md + "NameIDFormat")
    name_format.text = EMAIL_FORMAT
    service = etree.SubElement(descriptor, md + "AssertionConsumerService")
    service.set("Binding", POST_BINDING)
    service.set("Location", provider.acs_url)
    service.set("index", "0")
    service.set("isDefault", "true")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
