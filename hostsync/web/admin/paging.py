"""Page numbers and paging links of the console's lists.

Number parameters from a URL or a form are parsed strictly and clamped (:func:`parse_number`),
so no value reaches the database as anything but a small integer.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

MAX_PAGE = 100_000


def parse_number(raw: object, default: int, low: int, high: int) -> int:
    """A decimal number of ASCII digits clamped to ``[low, high]``; ``default`` if it is not one.

    ``str.isdigit`` accepts ``²`` and other digits ``int`` refuses, and a huge number would
    overflow the database's integers: only ASCII digits count, and more than nine of them
    mean ``high``.
    """
    text = str(raw).strip() if raw is not None else ""
    if not text or not text.isascii() or not text.isdigit():
        return default
    if len(text) > 9:
        return high
    return min(high, max(low, int(text)))


def page_number(request: Request) -> int:
    """The request's ``page`` parameter: 1 to :data:`MAX_PAGE`, 1 when absent or not a number."""
    return parse_number(request.query_params.get("page"), 1, 1, MAX_PAGE)


def paging(request: Request, number: int, total: int, size: int) -> dict[str, Any]:
    """The template's paging block: page ``number`` of ``total`` rows, links that keep the query."""
    pages = max(1, math.ceil(total / size))

    def link(n: int) -> str:
        params = dict(request.query_params)
        params["page"] = str(n)
        return f"{request.url.path}?{urlencode(params)}"

    return {
        "number": number,
        "pages": pages,
        "total": total,
        "previous": link(number - 1) if number > 1 else None,
        "next": link(number + 1) if number < pages else None,
    }
