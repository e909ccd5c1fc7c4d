"""Entra's Federation Metadata XML read, and hostsync's SP metadata written."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from lxml import etree

from hostsync.sso import MetadataError, ServiceProvider, read_idp_metadata, sp_metadata
from hostsync.sso.documents import METADATA
from tests.sso.idp import EntraIdp, KeyPair, key_pair


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return key_pair()


def test_entras_metadata_gives_identifier_login_url_and_certificate(keys: KeyPair) -> None:
    entra = EntraIdp(keys)
    idp = read_idp_metadata(entra.metadata())
    assert idp.entity_id == f"https://sts.windows.net/{entra.tenant_guid}/"
    assert idp.login_url == f"https://login.microsoftonline.com/{entra.tenant_guid}/saml2"
    assert [c.pem for c in idp.certificates] == [keys.cert_pem.decode()]
    assert idp.first_expiry() == keys.certificate.not_valid_after_utc
    assert not idp.allow_sha1


def test_both_certificates_of_a_rollover_are_kept_once_each(keys: KeyPair) -> None:
    second = key_pair("next")
    entra = EntraIdp(keys, extra_certificates=[second, keys])
    idp = read_idp_metadata(entra.metadata())
    assert [c.thumbprint for c in idp.certificates] == [
        key.certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - a thumbprint
        for key in (keys, second)
    ]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"not xml", "cannot be read"),
        (b"<EntityDescriptor/>", "not SAML metadata"),
        (
            f'<EntityDescriptor xmlns="{METADATA}" entityID="https://sts.windows.net/x/"/>'.encode(),
            "no SAML 2.0 identity provider",
        ),
    ],
)
def test_files_that_are_not_idp_metadata_are_refused_clearly(document: bytes, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        read_idp_metadata(document)


def test_metadata_without_a_certificate_or_redirect_binding_is_refused(keys: KeyPair) -> None:
    good = EntraIdp(keys).metadata()
    no_certificate = etree.fromstring(good)
    for key in no_certificate.iter(f"{{{METADATA}}}KeyDescriptor"):
        key.getparent().remove(key)
    with pytest.raises(MetadataError, match="no signing certificate"):
        read_idp_metadata(etree.tostring(no_certificate))
    no_redirect = good.replace(b"bindings:HTTP-Redirect", b"bindings:SOAP")
    with pytest.raises(MetadataError, match="HTTP-Redirect"):
        read_idp_metadata(no_redirect)
    broken = good.replace(b"<X509Certificate>", b"<X509Certificate>!!")
    with pytest.raises(MetadataError, match="certificate cannot be read"):
        read_idp_metadata(broken)


def test_sp_metadata_names_the_entity_and_the_acs() -> None:
    sp = ServiceProvider.of("https://hosts.example.com/", "ab" * 16)
    root = etree.fromstring(sp_metadata(sp))
    assert root.get("entityID") == "https://hosts.example.com/saml/" + "ab" * 16
    service = root.find(f".//{{{METADATA}}}AssertionConsumerService")
    assert service is not None
    assert service.get("Location") == sp.acs_url == root.get("entityID") + "/acs"
    assert service.get("Binding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
