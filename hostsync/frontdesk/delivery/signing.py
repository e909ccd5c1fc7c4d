"""Signing the generic webhook's requests, and how a receiver verifies them.

Each request carries two headers::

    X-Hostsync-Signature: t=1765200000,v1=5f0c…(64 hex digits)
    Idempotency-Key: 0193a…(the delivery's id, the same on every retry)

``v1`` is HMAC-SHA256, keyed with the webhook's signing secret (the text shown once in the
console, as UTF-8 bytes), over ``<t>.<body>``: the decimal Unix time of the attempt, a dot,
and the request body's exact bytes. A receiver:

1. reads ``t`` and every ``v1`` from the header (a rotation may send several ``v1``);
2. computes the HMAC over ``t + "." + raw body`` with its secret and compares it with each
   ``v1`` in constant time (Python: :func:`hmac.compare_digest`); refuses if none matches;
3. refuses a ``t`` more than five minutes from its own clock (a replayed request);
4. treats an ``Idempotency-Key`` it has seen as already handled (answer 2xx, do nothing):
   a retry after a lost answer carries the same key and body.

:func:`verify` does exactly that, for receivers written in Python and for the tests.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Hostsync-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>`` keyed with ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes, delivery_id: str) -> dict[str, str]:
    """The signature and idempotency headers of one request."""
    return {
        SIGNATURE_HEADER: f"t={timestamp},v1={signature(secret, timestamp, body)}",
        IDEMPOTENCY_HEADER: delivery_id,
    }


def verify(
    secret: str, header: str, body: bytes, now: float, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret``, at a time within ``tolerance``."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
