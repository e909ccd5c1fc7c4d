"""E-mail addresses as the front desk takes them: visitors', fallback recipients', erasures'.

One ``@``, a dotted domain, and none of the characters that would split an address list or a
mail header (spaces, angle brackets, commas, semicolons, quotes). Length limits are each
caller's.
"""

from __future__ import annotations

import re

_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def is_address(text: str) -> bool:
    """Whether ``text`` has the shape of an e-mail address the front desk accepts."""
    return _ADDRESS.match(text) is not None
