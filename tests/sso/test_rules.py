"""Every rule a posted SAML Response must pass (hostsync/sso/responses.py), without a server.

Responses come from the Entra-shaped IdP of tests/sso/idp.py, signed by signxml or, where
marked, by the ``xmlsec1`` command (an independent XML-DSig implementation).
"""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree
from signxml import XMLSigner
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod

from hostsync.sso import (
    IdentityProvider,
    Refusal,
    ServiceProvider,
    read_idp_metadata,
    read_response,
)
from hostsync.sso.responses import EMAIL_CLAIM
from tests.sso.idp import (
    ASSERTION,
    DSIG,
    XMLSEC1,
    Claims,
    EntraIdp,
    KeyPair,
    assertion_xml,
    encoded,
    issue,
    key_pair,
    response_xml,
)

TENANT = "0123456789abcdef0123456789abcdef"
SP = ServiceProvider.of("https://hosts.example.com", TENANT)
needs_xmlsec1 = pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 (scripts/install)")


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return key_pair()


@pytest.fixture(scope="module")
def other_keys() -> KeyPair:
    return key_pair("Another tenant's certificate")


@pytest.fixture
def entra(keys: KeyPair) -> EntraIdp:
    return EntraIdp(keys)


@pytest.fixture
def idp(entra: EntraIdp) -> IdentityProvider:
    return read_idp_metadata(entra.metadata())


def claims(**changes: object) -> Claims:
    values: dict[str, object] = {
        "name_id": "ada@contoso.com",
        "email": "Ada.Lovelace@contoso.com",
        "audience": SP.entity_id,
        "recipient": SP.acs_url,
        "destination": SP.acs_url,
    }
    values.update(changes)
    return Claims(**values)  # type: ignore[arg-type]


def check(
    document: bytes, idp: IdentityProvider, *, at: datetime | None = None
) -> tuple[str, tuple[str, ...]]:
    signed = read_response(encoded(document), SP, idp, at or datetime.now(UTC))
    return signed.name_id, signed.names()


def refused(document: bytes | str, idp: IdentityProvider, *, at: datetime | None = None) -> Refusal:
    value = document if isinstance(document, str) else encoded(document)
    with pytest.raises(Refusal) as caught:
        read_response(value, SP, idp, at or datetime.now(UTC))
    return caught.value


@pytest.mark.parametrize("sign", ["assertion", "response", "both"])
def test_each_of_entras_signing_options_is_accepted(
    entra: EntraIdp, idp: IdentityProvider, sign: str
) -> None:
    name, names = check(issue(entra, claims(), sign=sign), idp)
    assert name == "ada@contoso.com"
    assert names == ("ada@contoso.com", "Ada.Lovelace@contoso.com")


@needs_xmlsec1
@pytest.mark.parametrize("sign", ["assertion", "response", "both"])
def test_responses_signed_by_xmlsec1_are_accepted(
    entra: EntraIdp, idp: IdentityProvider, sign: str
) -> None:
    name, _ = check(issue(entra, claims(), sign=sign, signer="xmlsec1"), idp)
    assert name == "ada@contoso.com"


@needs_xmlsec1
def test_a_tampered_response_signed_by_xmlsec1_is_refused(
    entra: EntraIdp, idp: IdentityProvider
) -> None:
    document = issue(entra, claims(), signer="xmlsec1")
    forged = document.replace(b"ada@contoso.com</NameID>", b"eve@contoso.com</NameID>")
    assert forged != document
    assert refused(forged, idp).reason == "tampered"


def test_the_signed_values_are_what_is_read(entra: EntraIdp, idp: IdentityProvider) -> None:
    signed = read_response(
        encoded(issue(entra, claims(in_response_to="id42"))), SP, idp, datetime.now(UTC)
    )
    assert signed.issuer == entra.entity_id
    assert signed.in_response_to == "id42"
    assert signed.attributes[EMAIL_CLAIM] == ("Ada.Lovelace@contoso.com",)
    assert signed.valid_until > datetime.now(UTC) + timedelta(minutes=4)


def test_an_unsigned_response_is_refused(entra: EntraIdp, idp: IdentityProvider) -> None:
    assert refused(issue(entra, claims(), sign="none"), idp).reason == "unsigned"


@pytest.mark.parametrize("sign", ["assertion", "response", "both"])
def test_a_tampered_name_id_is_refused(entra: EntraIdp, idp: IdentityProvider, sign: str) -> None:
    document = issue(entra, claims(), sign=sign)
    forged = document.replace(b"ada@contoso.com</NameID>", b"eve@contoso.com</NameID>")
    assert forged != document
    assert refused(forged, idp).reason == "tampered"


def test_a_comment_in_the_name_id_does_not_shorten_it(
    entra: EntraIdp, idp: IdentityProvider
) -> None:
    """Comments are not signed (exclusive c14n), and the name is read from the signed copy."""
    document = issue(entra, claims(name_id="ada@contoso.com.evil.example"))
    commented = document.replace(
        b">ada@contoso.com.evil.example</NameID>", b">ada@contoso.com<!---->.evil.example</NameID>"
    )
    assert commented != document
    name, _ = check(commented, idp)
    assert name == "ada@contoso.com.evil.example"


def test_the_wrong_audience_is_refused(entra: EntraIdp, idp: IdentityProvider) -> None:
    other = ServiceProvider.of("https://hosts.example.com", "f" * 32)
    document = issue(entra, claims(audience=other.entity_id))
    assert refused(document, idp).reason == "audience"


def test_the_wrong_recipient_is_refused(entra: EntraIdp, idp: IdentityProvider) -> None:
    document = issue(entra, claims(recipient="https://elsewhere.example/acs"))
    assert refused(document, idp).reason == "recipient"


def test_the_wrong_destination_is_refused(entra: EntraIdp, idp: IdentityProvider) -> None:
    document = issue(entra, claims(destination="https://elsewhere.example/acs"), sign="both")
    assert refused(document, idp).reason == "destination"


def test_no_destination_is_accepted_when_the_recipient_is_right(
    entra: EntraIdp, idp: IdentityProvider
) -> None:
    name, _ = check(issue(entra, claims(destination=None)), idp)
    assert name == "ada@contoso.com"


def test_an_expired_response_is_refused(entra: EntraIdp, idp: IdentityProvider) -> None:
    document = issue(entra, claims(issued=datetime.now(UTC) - timedelta(minutes=9)))
    assert refused(document, idp).reason == "expired"  # its confirmation lasted 5 minutes


def test_an_assertion_past_its_conditions_is_refused(
    entra: EntraIdp, idp: IdentityProvider
) -> None:
    document = issue(entra, claims(confirmation_minutes=500))
    assert refused(document, idp, at=datetime.now(UTC) + timedelta(minutes=75)).reason == (
        "expired"
    )


def test_a_response_not_yet_valid_is_refused(entra: EntraIdp, idp: IdentityProvider) -> None:
    document = issue(entra, claims(issued=datetime.now(UTC) + timedelta(minutes=5)))
    assert refused(document, idp).reason == "not-yet-valid"


def test_three_minutes_of_clock_skew_are_allowed_both_ways(
    entra: EntraIdp, idp: IdentityProvider
) -> None:
    early = issue(entra, claims(issued=datetime.now(UTC) + timedelta(minutes=2)))
    assert check(early, idp)[0] == "ada@contoso.com"
    late = issue(entra, claims(issued=datetime.now(UTC) - timedelta(minutes=7)))
    assert check(late, idp)[0] == "ada@contoso.com"  # 5 minutes + 2 of skew


def test_a_response_signed_with_another_certificate_is_refused(
    entra: EntraIdp, idp: IdentityProvider, other_keys: KeyPair
) -> None:
    document = issue(entra, claims(), keys=other_keys)
    assert refused(document, idp).reason == "wrong-certificate"


def test_during_a_rollover_either_certificate_verifies(keys: KeyPair, other_keys: KeyPair) -> None:
    entra = EntraIdp(keys, extra_certificates=[other_keys])
    idp = read_idp_metadata(entra.metadata())
    assert len(idp.certificates) == 2
    assert check(issue(entra, claims()), idp)[0] == "ada@contoso.com"
    assert check(issue(entra, claims(), keys=other_keys), idp)[0] == "ada@contoso.com"


def test_an_expired_certificate_is_refused(keys: KeyPair) -> None:
    past = datetime.now(UTC) - timedelta(days=800)
    old = key_pair(not_before=past, not_after=past + timedelta(days=365))
    entra = EntraIdp(old)
    idp = read_idp_metadata(entra.metadata())
    assert refused(issue(entra, claims()), idp).reason == "certificate-expired"


def test_sha1_is_refused_unless_the_tenant_allows_it(
    entra: EntraIdp, idp: IdentityProvider
) -> None:
    document = issue(entra, claims(), sha1=True)
    assert refused(document, idp).reason == "sha1"
    allowing = read_idp_metadata(entra.metadata(), allow_sha1=True)
    assert check(document, allowing)[0] == "ada@contoso.com"


def test_another_issuer_is_refused(entra: EntraIdp, idp: IdentityProvider) -> None:
    document = issue(entra, claims(issuer="https://sts.windows.net/someone-else/"))
    assert refused(document, idp).reason == "issuer"


def test_an_error_status_is_refused(entra: EntraIdp, idp: IdentityProvider) -> None:
    document = issue(entra, claims(status="urn:oasis:names:tc:SAML:2.0:status:Requester"))
    refusal = refused(document, idp)
    assert refusal.reason == "idp-status"
    assert "Requester" in refusal.message


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "missing"),
        ("not base64!", "malformed"),
        (base64.b64encode(b"<not-closed").decode(), "malformed"),
        (base64.b64encode(b"<a/>").decode(), "malformed"),
    ],
)
def test_unreadable_responses_are_refused(idp: IdentityProvider, value: str, reason: str) -> None:
    refusal = refused(value, idp)
    assert refusal.reason == reason
    assert refusal.status == 400


def test_a_dtd_is_refused(entra: EntraIdp, idp: IdentityProvider) -> None:
    document = issue(entra, claims())
    bomb = b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">]>' + document
    assert refused(bomb, idp).reason == "malformed"


# --- signature wrapping: the signed assertion is kept, a forged one is what a naive SP reads


def _tree(document: bytes) -> etree._Element:
    return etree.fromstring(document)


def _assertion(root: etree._Element) -> etree._Element:
    found = root.find(f"{{{ASSERTION}}}Assertion")
    assert found is not None
    return found


def _forge(assertion: etree._Element, name: str) -> etree._Element:
    forged = copy.deepcopy(assertion)
    forged.set("ID", "_forged")
    for signature in forged.findall(f"{{{DSIG}}}Signature"):
        forged.remove(signature)
    name_id = forged.find(f".//{{{ASSERTION}}}NameID")
    assert name_id is not None
    name_id.text = name
    return forged


def test_wrapping_a_forged_assertion_beside_the_signed_one_is_refused(
    entra: EntraIdp, idp: IdentityProvider
) -> None:
    root = _tree(issue(entra, claims()))
    signed = _assertion(root)
    signed.addprevious(_forge(signed, "eve@contoso.com"))
    assert refused(etree.tostring(root), idp).reason == "wrapping"


def test_hiding_the_signed_assertion_inside_a_forged_one_is_refused(
    entra: EntraIdp, idp: IdentityProvider
) -> None:
    root = _tree(issue(entra, claims()))
    signed = _assertion(root)
    forged = _forge(signed, "eve@contoso.com")
    root.replace(signed, forged)
    subject = forged.find(f"{{{ASSERTION}}}Subject")
    assert subject is not None
    subject.append(signed)  # the signature still verifies where it now sits
    assert refused(etree.tostring(root), idp).reason == "wrapping"


def test_a_signature_moved_onto_a_forged_assertion_is_refused(
    entra: EntraIdp, idp: IdentityProvider
) -> None:
    """The forged assertion carries the real signature, which references the real ID."""
    root = _tree(issue(entra, claims()))
    signed = _assertion(root)
    forged = _forge(signed, "eve@contoso.com")
    signature = signed.find(f"{{{DSIG}}}Signature")
    assert signature is not None
    forged.insert(1, copy.deepcopy(signature))
    root.replace(signed, forged)
    extensions = etree.SubElement(root, "{urn:oasis:names:tc:SAML:2.0:protocol}Extensions")
    extensions.append(signed)  # the referenced ID lives on, out of the way
    assert refused(etree.tostring(root), idp).reason in ("wrapping", "bad-signature")


def test_a_signed_response_with_its_assertion_swapped_is_refused(
    entra: EntraIdp, idp: IdentityProvider
) -> None:
    root = _tree(issue(entra, claims(), sign="response"))
    signed = _assertion(root)
    root.replace(signed, _forge(signed, "eve@contoso.com"))
    assert refused(etree.tostring(root), idp).reason == "tampered"


def test_two_signatures_on_one_element_are_refused(entra: EntraIdp, idp: IdentityProvider) -> None:
    root = _tree(issue(entra, claims()))
    signed = _assertion(root)
    signature = signed.find(f"{{{DSIG}}}Signature")
    assert signature is not None
    signature.addnext(copy.deepcopy(signature))
    assert refused(etree.tostring(root), idp).reason == "wrapping"


def test_an_encrypted_assertion_is_refused(entra: EntraIdp, idp: IdentityProvider) -> None:
    root = _tree(issue(entra, claims()))
    root.replace(_assertion(root), etree.Element(f"{{{ASSERTION}}}EncryptedAssertion"))
    refusal = refused(etree.tostring(root), idp)
    assert refusal.reason == "encrypted"
    assert "encryption" in refusal.message


def test_a_signature_covering_only_part_of_the_assertion_is_refused(
    entra: EntraIdp, idp: IdentityProvider
) -> None:
    """A valid signature whose reference names an inner element does not vouch for the rest."""
    made = claims()
    assertion = assertion_xml(entra, made)
    subject = assertion.find(f"{{{ASSERTION}}}Subject")
    assert subject is not None
    subject.set("ID", "_subject")
    signer = XMLSigner(
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    signed = signer.sign(
        assertion,
        key=entra.keys.key_pem,
        cert=entra.keys.cert_pem.decode(),
        reference_uri="_subject",
        id_attribute="ID",
    )
    root = response_xml(entra, made, signed)
    placeholder = root.find(f"{{{DSIG}}}Signature")
    assert placeholder is not None
    root.remove(placeholder)
    assert refused(etree.tostring(root), idp).reason == "wrapping"
