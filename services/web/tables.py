"""A table as the pages show it and as it is exported: CSV or XLSX (XlsxWriter)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import xlsxwriter


@dataclass(frozen=True)
class Column:
    key: str
    label: str  # a message id; translated when shown or exported
    numeric: bool = False


@dataclass
class Table:
    name: str  # the export's file name
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def cells(self, row: dict[str, Any]) -> list[Any]:
        return [row.get(c.key) for c in self.columns]


def to_csv(table: Table, translate: Callable[[str], str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([translate(c.label) for c in table.columns])
    for row in table.rows:
        writer.writerow(["" if v is None else _inert(_text(v)) for v in table.cells(row)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM lets spreadsheet programs read Chinese


def to_xlsx(table: Table, translate: Callable[[str], str]) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet(table.name[:31])
    bold = book.add_format({"bold": True})
    for col, column in enumerate(table.columns):
        sheet.write_string(0, col, translate(column.label), bold)
    for line, row in enumerate(table.rows, start=1):
        for col, (column, value) in enumerate(zip(table.columns, table.cells(row), strict=True)):
            if value is None:
                continue
            if column.numeric and isinstance(value, int | float):
                sheet.write_number(line, col, value)
            else:
                sheet.write_string(line, col, _text(value))  # never a formula, whatever the text says
    book.close()
    return out.getvalue()


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _inert(text: str) -> str:
    """A cell a spreadsheet would run as a formula is written as text."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
