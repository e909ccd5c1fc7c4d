"""An identity provider inside the tests that answers as Microsoft Entra ID does.

Responses are shaped like Entra's (docs/reference/entra-saml.md#saml-entra-response): issuer
``https://sts.windows.net/<tenant-guid>/``, the assertion in the default namespace, Entra's
claim URIs as attributes without ``NameFormat``, RSA-SHA256 with exclusive canonicalisation,
and the signature placed after the ``Issuer``. Keys and certificates are made here with
``cryptography``. Signatures come from signxml (the SP's own library) or, for a few tests,
from Debian's ``xmlsec1`` command (libxmlsec1, an independent XML-DSig implementation).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import SignatureMethod, XMLSigner
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm

PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion"
DSIG = "http://www.w3.org/2000/09/xmldsig#"
EMAIL = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
GIVEN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"
SURNAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"
OBJECT_ID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
TENANT_CLAIM = "http://schemas.microsoft.com/identity/claims/tenantid"
XMLSEC1 = shutil.which("xmlsec1")


@dataclass(frozen=True)
class KeyPair:
    """A signing key and its self-signed certificate (as Entra's are)."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def cert_base64(self) -> str:
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return base64.b64encode(der).decode()


def key_pair(
    name: str = "Microsoft Azure Federated SSO Certificate",
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> KeyPair:
    """A 2048-bit RSA key and a self-signed certificate valid for three years by default."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = not_before or datetime.now(UTC) - timedelta(days=1)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(not_after or start + timedelta(days=3 * 365))
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, certificate)


@dataclass
class EntraIdp:
    """One Entra tenant's SAML side: its identifier, its login URL, its signing keys."""

    keys: KeyPair
    tenant_guid: str = field(default_factory=lambda: str(uuid.uuid4()))
    extra_certificates: list[KeyPair] = field(default_factory=list)

    @property
    def entity_id(self) -> str:
        return f"https://sts.windows.net/{self.tenant_guid}/"

    @property
    def login_url(self) -> str:
        return f"https://login.microsoftonline.com/{self.tenant_guid}/saml2"

    def metadata(self) -> bytes:
        """Federation Metadata XML as Entra's download: WS-Fed role, then the SAML IdP role."""
        certs = [self.keys, *self.extra_certificates]
        key_descriptors = "".join(
            f'<KeyDescriptor use="signing"><KeyInfo xmlns="{DSIG}"><X509Data>'
            f"<X509Certificate>{pair.cert_base64}</X509Certificate>"
            "</X509Data></KeyInfo></KeyDescriptor>"
            for pair in certs
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<EntityDescriptor ID="_{uuid.uuid4()}" entityID="{self.entity_id}" '
            'xmlns="urn:oasis:names:tc:SAML:2.0:metadata">'
            '<RoleDescriptor xsi:type="fed:SecurityTokenServiceType" '
            'protocolSupportEnumeration="http://docs.oasis-open.org/wsfed/federation/200706" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:fed="http://docs.oasis-open.org/wsfed/federation/200706">'
            f"{key_descriptors}</RoleDescriptor>"
            '<IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            f"{key_descriptors}"
            '<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
            f'Location="{self.login_url}"/>'
            '<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
            f'Location="{self.login_url}"/>'
            '<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
            f'Location="{self.login_url}"/>'
            "</IDPSSODescriptor></EntityDescriptor>"
        ).encode()


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


@dataclass
class Claims:
    """What one response says; every field can be bent by a negative test."""

    name_id: str
    email: str | None = None
    audience: str = ""
    recipient: str = ""
    destination: str | None = ""
    issuer: str | None = None
    in_response_to: str | None = None
    issued: datetime = field(default_factory=lambda: datetime.now(UTC))
    assertion_id: str = field(default_factory=lambda: f"_{uuid.uuid4()}")
    response_id: str = field(default_factory=lambda: f"_{uuid.uuid4()}")
    confirmation_minutes: int = 5
    validity_minutes: int = 70
    status: str = "urn:oasis:names:tc:SAML:2.0:status:Success"


def assertion_xml(idp: EntraIdp, claims: Claims) -> etree._Element:
    """Entra's assertion (default namespace, attributes without NameFormat), unsigned."""
    issued = claims.issued
    issuer = claims.issuer or idp.entity_id
    in_response = (
        f' InResponseTo="{claims.in_response_to}"' if claims.in_response_to is not None else ""
    )
    attributes = [
        (TENANT_CLAIM, idp.tenant_guid),
        (OBJECT_ID, str(uuid.uuid5(uuid.NAMESPACE_URL, claims.name_id))),
        (NAME, claims.name_id),
        (GIVEN, "Ada"),
        (SURNAME, "Lovelace"),
    ]
    if claims.email is not None:
        attributes.append((EMAIL, claims.email))
    attribute_xml = "".join(
        f'<Attribute Name="{name}"><AttributeValue>{value}</AttributeValue></Attribute>'
        for name, value in attributes
    )
    text = (
        f'<Assertion ID="{claims.assertion_id}" IssueInstant="{_instant(issued)}" Version="2.0" '
        f'xmlns="{ASSERTION}">'
        f"<Issuer>{issuer}</Issuer>"
        f'<ds:Signature xmlns:ds="{DSIG}" Id="placeholder"/>'
        "<Subject>"
        '<NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">'
        f"{claims.name_id}</NameID>"
        '<SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f"<SubjectConfirmationData{in_response} "
        f'NotOnOrAfter="{_instant(issued + timedelta(minutes=claims.confirmation_minutes))}" '
        f'Recipient="{claims.recipient}"/>'
        "</SubjectConfirmation></Subject>"
        f'<Conditions NotBefore="{_instant(issued - timedelta(seconds=15))}" '
        f'NotOnOrAfter="{_instant(issued + timedelta(minutes=claims.validity_minutes))}">'
        f"<AudienceRestriction><Audience>{claims.audience}</Audience></AudienceRestriction>"
        "</Conditions>"
        f"<AttributeStatement>{attribute_xml}</AttributeStatement>"
        f'<AuthnStatement AuthnInstant="{_instant(issued - timedelta(minutes=1))}" '
        f'SessionIndex="{claims.assertion_id}">'
        "<AuthnContext><AuthnContextClassRef>"
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        "</AuthnContextClassRef></AuthnContext></AuthnStatement>"
        "</Assertion>"
    )
    return etree.fromstring(text)


def response_xml(idp: EntraIdp, claims: Claims, assertion: etree._Element) -> etree._Element:
    """Entra's Response around ``assertion``, with a signature placeholder after the Issuer."""
    in_response = (
        f' InResponseTo="{claims.in_response_to}"' if claims.in_response_to is not None else ""
    )
    destination = f' Destination="{claims.destination}"' if claims.destination is not None else ""
    text = (
        f'<samlp:Response ID="{claims.response_id}" Version="2.0" '
        f'IssueInstant="{_instant(claims.issued)}"{destination}{in_response} '
        f'xmlns:samlp="{PROTOCOL}">'
        f'<Issuer xmlns="{ASSERTION}">{claims.issuer or idp.entity_id}</Issuer>'
        f'<ds:Signature xmlns:ds="{DSIG}" Id="placeholder"/>'
        f'<samlp:Status><samlp:StatusCode Value="{claims.status}"/></samlp:Status>'
        "</samlp:Response>"
    )
    root = etree.fromstring(text)
    root.append(assertion)
    return root


def _drop_placeholder(element: etree._Element) -> None:
    for found in element.findall(f"{{{DSIG}}}Signature"):
        if found.get("Id") == "placeholder":
            element.remove(found)


class _LegacySigner(XMLSigner):
    """signxml refuses SHA-1 unless told: Entra's legacy SHA-1 option still exists."""

    def check_deprecated_methods(self) -> None:
        return None


def sign_with_signxml(
    element: etree._Element, keys: KeyPair, *, sha1: bool = False
) -> etree._Element:
    """``element`` with an enveloped signature at its placeholder, by signxml."""
    signer = (_LegacySigner if sha1 else XMLSigner)(
        signature_algorithm=SignatureMethod.RSA_SHA1 if sha1 else SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA1 if sha1 else DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    signed: etree._Element = signer.sign(
        element,
        key=keys.key_pem,
        cert=keys.cert_pem.decode(),
        reference_uri=element.get("ID"),
        id_attribute="ID",
    )
    return signed


def sign_with_xmlsec1(element: etree._Element, keys: KeyPair, node: str) -> etree._Element:
    """``element`` signed by the ``xmlsec1`` command (libxmlsec1), RSA-SHA256, exclusive c14n.

    ``node`` is the signed element's ``namespace:Name`` for ``--id-attr``.
    """
    assert XMLSEC1 is not None, "xmlsec1 is installed by scripts/install"
    placeholder = next(
        s for s in element.findall(f"{{{DSIG}}}Signature") if s.get("Id") == "placeholder"
    )
    template = etree.fromstring(
        f'<ds:Signature xmlns:ds="{DSIG}"><ds:SignedInfo>'
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        f'<ds:Reference URI="#{element.get("ID")}"><ds:Transforms>'
        '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
        '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        "</ds:Transforms>"
        '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
        "<ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/>"
        "<ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"
    )
    placeholder.addprevious(template)
    element.remove(placeholder)
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "key.pem").write_bytes(keys.key_pem)
        (base / "cert.pem").write_bytes(keys.cert_pem)
        (base / "in.xml").write_bytes(etree.tostring(element))
        subprocess.run(
            [
                XMLSEC1,
                "--sign",
                "--privkey-pem",
                f"{base / 'key.pem'},{base / 'cert.pem'}",
                "--id-attr:ID",
                node,
                "--output",
                str(base / "out.xml"),
                str(base / "in.xml"),
            ],
            check=True,
            capture_output=True,
        )
        return etree.fromstring((base / "out.xml").read_bytes())


def issue(
    idp: EntraIdp,
    claims: Claims,
    *,
    sign: str = "assertion",
    signer: str = "signxml",
    keys: KeyPair | None = None,
    sha1: bool = False,
) -> bytes:
    """A Response as Entra sends it: ``sign`` is ``assertion`` (Entra's default),
    ``response``, ``both`` or ``none``; the XML bytes (Base64 them to post)."""
    keys = keys or idp.keys
    assertion = assertion_xml(idp, claims)
    if sign in ("assertion", "both"):
        if signer == "xmlsec1":
            assertion = sign_with_xmlsec1(
                assertion, keys, "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
            )
        else:
            assertion = sign_with_signxml(assertion, keys, sha1=sha1)
    else:
        _drop_placeholder(assertion)
    response = response_xml(idp, claims, assertion)
    if sign in ("response", "both"):
        if signer == "xmlsec1":
            response = sign_with_xmlsec1(
                response, keys, "urn:oasis:names:tc:SAML:2.0:protocol:Response"
            )
        else:
            response = sign_with_signxml(response, keys, sha1=sha1)
    else:
        _drop_placeholder(response)
    return bytes(etree.tostring(response))


def encoded(document: bytes) -> str:
    """The ``SAMLResponse`` form value of a document."""
    return base64.b64encode(document).decode()
