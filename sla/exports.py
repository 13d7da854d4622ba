"""The dashboard's tables as CSV and XLSX, safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be read
as a formula by Excel or LibreOffice (CSV injection): such text gets a leading ``'`` in both
formats, and XLSX cells are written as text, never as formulas. Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from django.http import HttpResponse
from django.utils.text import slugify

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe_text(value) -> str | int | float:
    """``value`` for a spreadsheet cell: numbers as they are, text defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, timedelta):
        return round(value.total_seconds())
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_response(name: str, header: list, rows: list[list]) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_text(cell) for cell in header])
    for row in rows:
        writer.writerow([safe_text(cell) for cell in row])
    # A byte order mark: Excel then reads the file as UTF-8 (Polish names).
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slugify(name)}.csv"'
    return response


def workbook_bytes(sheets: list[tuple[str, list, list[list]]]) -> bytes:
    """An XLSX workbook with one sheet per ``(name, header, rows)``, every text cell text."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING

    workbook = Workbook(write_only=False)
    workbook.remove(workbook.active)
    used = set()
    for name, header, rows in sheets:
        title = slugify(name)[:31] or "table"
        while title in used:  # sheet names are unique, at most 31 characters
            title = f"{title[:28]}-{len(used)}"
        used.add(title)
        sheet = workbook.create_sheet(title)
        for values in [header, *rows]:
            sheet.append([safe_text(cell) for cell in values])
        # openpyxl reads any text starting with "=" as a formula: force every text cell to text.
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = TYPE_STRING
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_response(name: str, header: list, rows: list[list]) -> HttpResponse:
    response = HttpResponse(workbook_bytes([(name, header, rows)]), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{slugify(name)}.xlsx"'
    return response
