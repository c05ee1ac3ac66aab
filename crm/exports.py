"""Exports that spreadsheets open safely: a cell starting with = + - @, a tab, a carriage return or a
line feed (also after leading spaces) is prefixed with an apostrophe, so Excel, WPS and LibreOffice
never run it as a formula. Files the CRM reads back (the DMS import's rejected rows) drop exactly that
apostrophe again: see ``formula_unescaped``."""

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
FORMULA_ESCAPE = "'"


def spreadsheet_safe(value) -> object:
    if isinstance(value, str) and value.lstrip(" ").startswith(FORMULA_TRIGGERS):
        return FORMULA_ESCAPE + value
    return value


def formula_unescaped(text: str) -> str:
    """The cell as it was before ``spreadsheet_safe``: a file the CRM wrote, fixed in a spreadsheet and
    read back, gives the original values (``'=1+1`` → ``=1+1``, ``'-120`` → ``-120``)."""
    if text.startswith(FORMULA_ESCAPE) and text[1:].lstrip(" ").startswith(FORMULA_TRIGGERS):
        return text[1:]
    return text


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """UTF-8 with BOM, so Excel opens Chinese text correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([spreadsheet_safe(cell) for cell in header])
    for row in rows:
        writer.writerow([spreadsheet_safe("" if cell is None else cell) for cell in row])
    return buffer.getvalue().encode("utf-8-sig")
