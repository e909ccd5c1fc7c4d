"""The identity provider's signing certificates: read from Base64 or PEM, kept as PEM.

Entra publishes its SAML signing certificate as Base64 DER (the metadata's
``X509Certificate``, the *Certificate (Base64)* download) and lists two during a rollover
(docs/reference/entra-saml.md#saml-certificates). Only RSA keys are accepted: Entra signs
with RSA, and the signature check allows RSA methods only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

_PEM_BLOCK = re.compile(
    r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL | re.ASCII
)
MAX_CERTIFICATES = 8
"""Most signing certificates one identity provider may have (a rollover lists two)."""


class CertificateError(ValueError):
    """Text that is not an RSA X.509 certificate."""


@dataclass(frozen=True, slots=True)
class SigningCertificate:
    """One certificate the identity provider signs with."""

    certificate: x509.Certificate

    @property
    def pem(self) -> str:
        """The certificate as PEM text (how the store keeps it)."""
        return self.certificate.public_bytes(Encoding.PEM).decode("ascii")

    @property
    def expires_at(self) -> datetime:
        """When the certificate stops being valid (aware, UTC)."""
        return self.certificate.not_valid_after_utc

    @property
    def thumbprint(self) -> str:
        """The SHA-1 thumbprint Entra's page shows beside the certificate, upper-case hex."""
        der = self.certificate.public_bytes(Encoding.DER)
        return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()


def from_base64(text: str) -> SigningCertificate:
    """A certificate from Base64 DER (whitespace ignored) or a PEM block."""
    if "-----BEGIN" in text:
        found = _PEM_BLOCK.search(text)
        if found is None:
            raise CertificateError("the PEM text has no complete CERTIFICATE block")
        text = found.group(1)
    compact = "".join(text.split())
    try:
        der = base64.b64decode(compact, validate=True)
        certificate = x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError):
        raise CertificateError("the text is not a Base64 X.509 certificate") from None
    if not isinstance(certificate.public_key(), rsa.RSAPublicKey):
        raise CertificateError("the certificate's key is not RSA, which Entra signs with")
    return SigningCertificate(certificate)


def from_pem_bundle(text: str) -> tuple[SigningCertificate, ...]:
    """Every certificate of a PEM bundle, in order (the store's form)."""
    blocks = _PEM_BLOCK.findall(text)
    return tuple(from_base64(block) for block in blocks)


def to_pem_bundle(certificates: tuple[SigningCertificate, ...]) -> str:
    """The certificates as one PEM bundle."""
    return "".join(certificate.pem for certificate in certificates)
