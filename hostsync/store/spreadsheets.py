"""CSV files people open in a spreadsheet: a byte order mark, and cells never evaluated.

The file starts with a UTF-8 byte order mark, so that Excel reads it as UTF-8 (without one it
guesses the system's code page and shows ``ChloÃ©``).
"""

from __future__ import annotations

BOM = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def csv_cell(value: object) -> str:
    """A cell that a spreadsheet shows as text, never evaluates (CSV injection).

    OWASP's rule: a cell whose first character, after any leading spaces, is ``=``, ``+``,
    ``-``, ``@``, a tab or a line break (``|`` and ``%`` too, for older spreadsheets) is
    prefixed with a single quote. Applied to every cell, whatever its column.
    """
    text = "" if value is None else str(value)
    if text.lstrip(" ").startswith(_FORMULA_STARTS):
        return "'" + text
    return text
