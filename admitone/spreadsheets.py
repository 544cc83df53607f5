"""CSV files for spreadsheets: cells that a spreadsheet will not run as formulas."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence


def safe_cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP "CSV injection")."""
    if isinstance(value, int | float):
        return str(value)  # a number is never a formula (a negative one keeps its sign)
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A whole CSV file: the header, then each row's cells made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    return buffer.getvalue()
