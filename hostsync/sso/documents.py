"""SAML documents as XML: the namespaces, a parser that refuses what SAML never needs, times.

Every SAML document hostsync reads (an IdP's metadata, a Response) goes through
:func:`parse`: no DTD, no entity expansion, no network access, a size cap, and only UTF-8
text, so an XML bomb or an external entity is refused before any rule looks at it. SAML times
are ``xs:dateTime`` in UTC (docs/reference/entra-saml.md#saml-times).
"""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree

PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion"
METADATA = "urn:oasis:names:tc:SAML:2.0:metadata"
DSIG = "http://www.w3.org/2000/09/xmldsig#"
NAMESPACES = {"samlp": PROTOCOL, "saml": ASSERTION, "md": METADATA, "ds": DSIG}
MAX_DOCUMENT_BYTES = 262_144
"""Largest SAML document read: Entra's responses and metadata are a few kilobytes."""


class DocumentError(ValueError):
    """A document that is not well-formed XML, or carries what SAML never needs."""


def tag(namespace: str, name: str) -> str:
    """An element's qualified name as lxml spells it."""
    return f"{{{namespace}}}{name}"


def parse(data: bytes) -> etree._Element:
    """The root element of ``data``; :class:`DocumentError` for anything unsafe or malformed."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"the document is larger than {MAX_DOCUMENT_BYTES // 1024} KiB")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise DocumentError(f"the document is not well-formed XML ({exc.msg})") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise DocumentError("the document declares a DTD, which SAML never uses")
    return root


def text_of(element: etree._Element | None) -> str:
    """An element's text, stripped; empty for a missing element or one with child elements."""
    if element is None or len(element):
        return ""
    return (element.text or "").strip()


def parse_instant(value: str | None) -> datetime | None:
    """An ``xs:dateTime`` as an aware UTC datetime; None when absent or not a time.

    A time without a zone is read as UTC (SAML requires UTC); fractions past microseconds
    are cut.
    """
    if not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "." in text:
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}" if digits else head + rest
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_instant(moment: datetime) -> str:
    """A UTC ``xs:dateTime`` with a ``Z`` (what SAML documents carry)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
