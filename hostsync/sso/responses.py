"""A SAML Response posted to the ACS: every rule it must pass before anyone is signed in.

In order (docs/reference/entra-saml.md#saml-response-rules):

1. The ``SAMLResponse`` form value is Base64 of one ``samlp:Response`` (SAML 2.0), read by
   the safe parser (no DTD, no entities); its status is Success.
2. It holds exactly one ``saml:Assertion``, a direct child of the Response, and no
   ``EncryptedAssertion``; more is refused as signature wrapping.
3. A signature is required on the Response, the Assertion or both (Entra's three signing
   options); each present signature must verify with one of the IdP's certificates (several
   during a rollover), use RSA with SHA-256 or stronger (SHA-1 only where the tenant allows
   it), sit directly in the element it signs and reference that element by its ID.
4. From then on only what a signature covered is read: the signed Response's own assertion,
   or the signed Assertion as the signature check returned it. Unsigned envelope values
   (``Destination``, ``InResponseTo``) may only agree with it, never add to it.
5. Issuer (Response if present, Assertion always) = the IdP's entity ID; ``Destination`` if
   present = the ACS; one bearer ``SubjectConfirmation`` whose ``Recipient`` is the ACS and
   whose ``NotOnOrAfter`` has not passed; ``Conditions`` with a ``NotOnOrAfter`` (required:
   the replay cache must know when to forget) and, if present, a ``NotBefore`` that has
   come; every ``AudienceRestriction`` names the SP's entity ID; an ``AuthnStatement``.
   Times allow :data:`CLOCK_SKEW` either way (Entra adds none,
   docs/reference/entra-saml.md#saml-validity).
6. :func:`accept_once`: an ``InResponseTo`` must redeem an AuthnRequest this tenant issued
   (once, unexpired), and the assertion ID is accepted once until it could no longer be
   valid, through the :class:`~hostsync.sso.ports.OneTimeIds` port.

A refused response raises :class:`Refusal` with a short reason code and a sentence for people;
neither carries any of the response's content.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import (
    InvalidCertificate,
    InvalidDigest,
    InvalidSignature,
    SignXMLException,
)
from signxml.verifier import SignatureConfiguration, XMLVerifier

from hostsync.sso.documents import (
    ASSERTION,
    MAX_DOCUMENT_BYTES,
    NAMESPACES,
    PROTOCOL,
    DocumentError,
    parse,
    parse_instant,
    tag,
    text_of,
)
from hostsync.sso.ports import OneTimeIds
from hostsync.sso.providers import IdentityProvider, ServiceProvider

CLOCK_SKEW = timedelta(minutes=3)
"""Clock difference allowed on every time the response carries."""
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
EMAIL_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
NAME_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
OBJECT_ID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"

_STRONG_METHODS = frozenset(
    {SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384, SignatureMethod.RSA_SHA512}
)
_STRONG_DIGESTS = frozenset(
    {DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512}
)
_SHA1_METHOD = SignatureMethod.RSA_SHA1
_SHA1_DIGEST = DigestAlgorithm.SHA1


class Refusal(Exception):
    """A response that signs no one in: a reason code for the log, a sentence for people."""

    def __init__(self, reason: str, message: str, *, status: int = 403) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class SignedAssertion:
    """What a valid response says, read from signed XML only.

    ``valid_until`` is the last moment the assertion could still be accepted (its earliest
    ``NotOnOrAfter`` plus the skew): the replay cache keeps its ID until then.
    """

    assertion_id: str
    issuer: str
    name_id: str
    name_id_format: str | None
    in_response_to: str | None
    valid_until: datetime
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def emails(self) -> tuple[str, ...]:
        """The e-mail claim's values."""
        return self.attributes.get(EMAIL_CLAIM, ())

    def names(self) -> tuple[str, ...]:
        """Every name a person may be matched by: the NameID, then the e-mail claim's values."""
        seen: list[str] = []
        for name in (self.name_id, *self.emails()):
            if name and name.casefold() not in (s.casefold() for s in seen):
                seen.append(name)
        return tuple(seen)


def decode_form_value(value: str) -> bytes:
    """The XML of a ``SAMLResponse`` form value (Base64, line breaks allowed)."""
    compact = "".join(value.split())
    if not compact:
        raise Refusal("missing", "The sign-in carried no SAML response.", status=400)
    if len(compact) > MAX_DOCUMENT_BYTES * 4 // 3 + 4:
        raise Refusal("malformed", "The SAML response is too large.", status=400)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise Refusal("malformed", "The SAML response is not Base64.", status=400) from None


def read_response(
    form_value: str,
    sp: ServiceProvider,
    idp: IdentityProvider,
    moment: datetime,
) -> SignedAssertion:
    """Check a posted ``SAMLResponse`` against rules 1 to 5; :class:`Refusal` if any fails.

    ``moment`` is now (aware UTC). Rule 6 needs storage: call :func:`accept_once` next.
    """
    try:
        root = parse(decode_form_value(form_value))
    except DocumentError as exc:
        raise Refusal(
            "malformed", f"The SAML response cannot be read: {exc}.", status=400
        ) from None
    if root.tag != tag(PROTOCOL, "Response") or root.get("Version") != "2.0":
        raise Refusal("malformed", "The document is not a SAML 2.0 Response.", status=400)
    _check_status(root)
    if any(True for _ in root.iter(tag(ASSERTION, "EncryptedAssertion"))):
        raise Refusal(
            "encrypted",
            "The assertion is encrypted, which hostsync does not read: turn off token "
            "encryption for this application in Entra.",
        )
    assertions = list(root.iter(tag(ASSERTION, "Assertion")))
    if len(assertions) != 1 or assertions[0].getparent() is not root:
        raise Refusal(
            "wrapping",
            "The response must hold exactly one assertion, directly inside it.",
        )
    assertion = assertions[0]
    response_signatures = root.findall("ds:Signature", NAMESPACES)
    assertion_signatures = assertion.findall("ds:Signature", NAMESPACES)
    if len(response_signatures) > 1 or len(assertion_signatures) > 1:
        raise Refusal("wrapping", "An element carries more than one signature.")
    if not response_signatures and not assertion_signatures:
        raise Refusal("unsigned", "The response is not signed; Entra always signs it.")
    for signature in (*response_signatures, *assertion_signatures):
        _check_algorithms(signature, idp.allow_sha1)
    envelope = root
    envelope_signed = False
    if response_signatures:
        envelope = _verified(root, "Response", idp)
        envelope_signed = True
        inner = envelope.findall("saml:Assertion", NAMESPACES)
        if len(inner) != 1:
            raise Refusal("wrapping", "The signed response does not hold exactly one assertion.")
        assertion = inner[0]
    if assertion_signatures:
        assertion = _verified(assertion, "Assertion", idp)
    return _read_assertion(envelope, envelope_signed, assertion, sp, idp, moment)


def accept_once(signed: SignedAssertion, ids: OneTimeIds, moment: datetime) -> None:
    """Rule 6: redeem the AuthnRequest answered (if any), and accept the assertion ID once."""
    if signed.in_response_to is not None and not ids.redeem_request(signed.in_response_to, moment):
        raise Refusal(
            "unknown-request",
            "The response answers a sign-in request hostsync did not make, made too long "
            "ago, or already used. Start the sign-in again.",
        )
    if not ids.first_use(signed.assertion_id, signed.valid_until):
        raise Refusal("replayed", "This sign-in response was already used. Sign in again.")


def _check_status(root: etree._Element) -> None:
    code = root.find("samlp:Status/samlp:StatusCode", NAMESPACES)
    value = code.get("Value") if code is not None else None
    if value != SUCCESS:
        second = code.find("samlp:StatusCode", NAMESPACES) if code is not None else None
        shown = (second.get("Value") if second is not None else value) or "none"
        raise Refusal(
            "idp-status",
            f"The identity provider did not sign you in (status {shown.rsplit(':', 1)[-1][:60]}).",
        )


def _check_algorithms(signature: etree._Element, allow_sha1: bool) -> None:
    method = signature.find("ds:SignedInfo/ds:SignatureMethod", NAMESPACES)
    digests = signature.findall("ds:SignedInfo/ds:Reference/ds:DigestMethod", NAMESPACES)
    algorithms = [method.get("Algorithm") if method is not None else None]
    algorithms += [digest.get("Algorithm") for digest in digests]
    strong = {m.value for m in _STRONG_METHODS} | {d.value for d in _STRONG_DIGESTS}
    sha1 = {_SHA1_METHOD.value, _SHA1_DIGEST.value}
    for algorithm in algorithms:
        if algorithm in strong:
            continue
        if algorithm in sha1:
            if allow_sha1:
                continue
            raise Refusal(
                "sha1",
                "The response is signed with SHA-1, which this tenant does not accept: choose "
                "SHA-256 as the signing algorithm in Entra.",
            )
        raise Refusal("algorithm", "The response is signed with an algorithm hostsync refuses.")


def _verified(element: etree._Element, name: str, idp: IdentityProvider) -> etree._Element:
    """The element as its signature covers it (signxml's output), or :class:`Refusal`."""
    methods = set(_STRONG_METHODS)
    digests = set(_STRONG_DIGESTS)
    if idp.allow_sha1:
        methods.add(_SHA1_METHOD)
        digests.add(_SHA1_DIGEST)
    config = SignatureConfiguration(
        location="./",
        expect_references=1,
        signature_methods=frozenset(methods),
        digest_algorithms=frozenset(digests),
    )
    element_id = element.get("ID") or ""
    if not element_id:
        raise Refusal("malformed", f"The signed {name} has no ID.", status=400)
    expired = 0
    for certificate in idp.certificates:
        try:
            result = XMLVerifier().verify(
                element, x509_cert=certificate.certificate, expect_config=config
            )
        except InvalidDigest:
            raise Refusal(
                "tampered", f"The signed {name} was changed after it was signed."
            ) from None
        except InvalidCertificate:
            expired += 1
            continue
        except InvalidSignature:
            continue  # another certificate of a rollover may verify it
        except (SignXMLException, etree.LxmlError, ValueError):
            raise Refusal(
                "bad-signature", f"The signature of the {name} cannot be checked."
            ) from None
        signed = getattr(result, "signed_xml", None)
        if (
            not isinstance(signed, etree._Element)
            or signed.tag != element.tag
            or signed.get("ID") != element_id
        ):
            raise Refusal("wrapping", f"The signature does not cover the {name} it sits in.")
        return signed
    if expired == len(idp.certificates):
        raise Refusal(
            "certificate-expired",
            "The identity provider's certificate has expired: download the new Federation "
            "Metadata XML from Entra and configure it again.",
        )
    raise Refusal(
        "wrong-certificate",
        f"The {name} is not signed by a certificate configured for this tenant.",
    )


def _read_assertion(
    envelope: etree._Element,
    envelope_signed: bool,
    assertion: etree._Element,
    sp: ServiceProvider,
    idp: IdentityProvider,
    moment: datetime,
) -> SignedAssertion:
    assertion_id = assertion.get("ID") or ""
    if not assertion_id or assertion.get("Version") != "2.0" or len(assertion_id) > 256:
        raise Refusal("malformed", "The assertion has no ID or is not SAML 2.0.", status=400)
    envelope_issuer = envelope.find("saml:Issuer", NAMESPACES)
    issuer = text_of(assertion.find("saml:Issuer", NAMESPACES))
    if issuer != idp.entity_id or (
        envelope_issuer is not None and text_of(envelope_issuer) != idp.entity_id
    ):
        raise Refusal(
            "issuer", "The response comes from another identity provider than this tenant's."
        )
    destination = envelope.get("Destination")
    if destination is not None and destination != sp.acs_url:
        raise Refusal("destination", "The response was sent to another application's address.")
    not_on_or_after = _check_conditions(assertion, sp, moment)
    subject = assertion.find("saml:Subject", NAMESPACES)
    name_id_element = subject.find("saml:NameID", NAMESPACES) if subject is not None else None
    name_id = text_of(name_id_element)
    if subject is None or name_id_element is None or not name_id or len(name_id) > 512:
        raise Refusal("malformed", "The assertion names no one (no NameID).", status=400)
    confirmed_until, in_response_to = _check_confirmation(subject, sp, moment)
    envelope_answer = envelope.get("InResponseTo")
    if in_response_to is None and envelope_signed:
        in_response_to = envelope_answer
    elif envelope_answer is not None and envelope_answer != in_response_to:
        raise Refusal(
            "unknown-request", "The response and its assertion answer different requests."
        )
    if assertion.find("saml:AuthnStatement", NAMESPACES) is None:
        raise Refusal("malformed", "The assertion has no authentication statement.", status=400)
    return SignedAssertion(
        assertion_id=assertion_id,
        issuer=issuer,
        name_id=name_id,
        name_id_format=name_id_element.get("Format"),
        in_response_to=in_response_to,
        valid_until=min(not_on_or_after, confirmed_until) + CLOCK_SKEW,
        attributes=_attributes(assertion),
    )


def _check_conditions(assertion: etree._Element, sp: ServiceProvider, moment: datetime) -> datetime:
    conditions = assertion.find("saml:Conditions", NAMESPACES)
    if conditions is None:
        raise Refusal("malformed", "The assertion has no validity period.", status=400)
    not_before = conditions.get("NotBefore")
    starts = parse_instant(not_before)
    ends = parse_instant(conditions.get("NotOnOrAfter"))
    if ends is None or (not_before is not None and starts is None):
        raise Refusal("malformed", "The assertion's validity period cannot be read.", status=400)
    if starts is not None and moment + CLOCK_SKEW < starts:
        raise Refusal("not-yet-valid", "The response is not valid yet: check the server's clock.")
    if moment - CLOCK_SKEW >= ends:
        raise Refusal("expired", "The response has expired. Sign in again.")
    restrictions = conditions.findall("saml:AudienceRestriction", NAMESPACES)
    if not restrictions or any(
        sp.entity_id not in [text_of(a) for a in r.findall("saml:Audience", NAMESPACES)]
        for r in restrictions
    ):
        raise Refusal(
            "audience",
            "The response is meant for another application: the Identifier (Entity ID) in "
            "Entra must be this tenant's.",
        )
    return ends


def _check_confirmation(
    subject: etree._Element, sp: ServiceProvider, moment: datetime
) -> tuple[datetime, str | None]:
    """The bearer confirmation's end and the request it answers; :class:`Refusal` if none fits."""
    refusal = Refusal("unconfirmed", "The assertion has no bearer confirmation.")
    for confirmation in subject.findall("saml:SubjectConfirmation", NAMESPACES):
        if confirmation.get("Method") != BEARER:
            continue
        data = confirmation.find("saml:SubjectConfirmationData", NAMESPACES)
        if data is None:
            continue
        if data.get("Recipient") != sp.acs_url:
            refusal = Refusal(
                "recipient",
                "The response was issued for another application's Reply URL.",
            )
            continue
        ends = parse_instant(data.get("NotOnOrAfter"))
        starts = parse_instant(data.get("NotBefore"))
        if ends is None or moment - CLOCK_SKEW >= ends:
            refusal = Refusal("expired", "The response has expired. Sign in again.")
            continue
        if starts is not None and moment + CLOCK_SKEW < starts:
            refusal = Refusal(
                "not-yet-valid", "The response is not valid yet: check the server's clock."
            )
            continue
        return ends, data.get("InResponseTo")
    raise refusal


def _attributes(assertion: etree._Element) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for attribute in assertion.iterfind("saml:AttributeStatement/saml:Attribute", NAMESPACES):
        name = attribute.get("Name") or ""
        if not name:
            continue
        values = tuple(
            text_of(value)
            for value in attribute.findall("saml:AttributeValue", NAMESPACES)
            if text_of(value)
        )
        found[name] = found.get(name, ()) + values
    return found
