"""Shared cell and style helpers of the proposal workbook: fills, fonts, column widths, headers,
formula cells with their cached values, table bodies written as sheet XML, print setup."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import Reference, ScatterChart, Series
from openpyxl.styles import Alignment, Font, PatternFill, Side
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.worksheet import Worksheet

from planner import xlsxrows
from planner.cells import put

HEADER_FILL = PatternFill("solid", fgColor="1F3864")
HEADER_FONT = Font(bold=True, color="FFFFFF")
TITLE_FONT = Font(bold=True, size=16, color="1F3864")
SUB_FONT = Font(bold=True, size=12, color="1F3864")
TOTAL_FONT = Font(bold=True)
TOTAL_FILL = PatternFill("solid", fgColor="D9E1F2")
INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")  # cells the reader may edit
AMBER = PatternFill("solid", fgColor="FFD966")
RED = PatternFill("solid", fgColor="F4B183")
THIN = Side(style="thin", color="A6A6A6")

SAFE_SHEET = "Safe rooms"
ASSUMPTIONS = "Assumptions"


# ------------------------------------------------------------------ helpers
def _money_fmt(currency: str, cents: bool = False) -> str:
    cur = currency.replace('"', "")
    return f'#,##0{".00" if cents else ""} "{cur}"'


def _sheet(sheet: str) -> str:
    """A sheet name as written in a formula: quoted only when it needs quotes."""
    return sheet if sheet.isidentifier() else quote_sheetname(sheet)


def _ref(sheet: str, col: int, row: int) -> str:
    """Absolute reference to a cell of another sheet, e.g. 'Safe rooms'!$C$4."""
    return f"{_sheet(sheet)}!${get_column_letter(col)}${row}"


def _header(ws: Worksheet, row: int, labels: list[str], height: float = 30.0) -> None:
    for j, lab in enumerate(labels, 1):
        c = put(ws, row=row, column=j, value=lab)
        c.fill, c.font = HEADER_FILL, HEADER_FONT
        c.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    ws.row_dimensions[row].height = height


def _widths(ws: Worksheet, widths: Mapping[int, float] | Sequence[float]) -> None:
    items = widths.items() if isinstance(widths, Mapping) else enumerate(widths, 1)
    for j, w in items:
        ws.column_dimensions[get_column_letter(j)].width = w


def _auto_widths(ws: Worksheet, header_row: int, n_cols: int, sample: int = 200,
                 lo: float = 8, hi: float = 40, body: list[xlsxrows.Column] | None = None) -> None:
    """Column widths from the header and the first `sample` values.

    `body`: the table rows below the header, kept as columns for `planner.xlsxrows` (not in `ws`).
    """
    body = body or []
    n_body = max((len(c.values) for c in body), default=0)
    for j in range(1, n_cols + 1):
        best = 0
        for i in range(header_row, min(max(ws.max_row, header_row + n_body), header_row + sample) + 1):
            k = i - header_row - 1
            if 0 <= k < n_body:
                v = body[j - 1].values[k] if j <= len(body) else None
            else:
                v = put(ws, row=i, column=j).value
            if v is None:
                continue
            s = str(v)
            if s.startswith("="):
                s = "0" * 12
            best = max(best, min(len(s), 60) if i > header_row else min(len(s), 24))
        ws.column_dimensions[get_column_letter(j)].width = max(lo, min(hi, best + 2))


class _Book(Workbook):
    """An openpyxl workbook that also keeps what the planner writes into the file after saving."""

    def __init__(self) -> None:
        super().__init__()
        self.cached: dict[str, dict[str, Any]] = {}
        """sheet -> cell -> value of its formula, as the planner computed it"""
        self.bodies: dict[str, tuple[int, str]] = {}
        """sheet -> (row above the table body, body rows as XML text)"""


def _book(ws: Worksheet) -> _Book:
    book = ws.parent
    assert isinstance(book, _Book), "sheets are made by write_workbook"
    return book


def _body(ws: Worksheet, after_row: int, columns: list[xlsxrows.Column]) -> None:
    """Give `ws` a table body below row `after_row`, rendered as XML and spliced in after saving."""
    if columns and any(len(c.values) for c in columns):
        _book(ws).bodies[ws.title] = (after_row, xlsxrows.render(after_row + 1, columns))


def _scatter_chart(ws: Worksheet, title: str, x_title: str, y_title: str, x_col: int, y_cols: Sequence[int],
                   hr: int, last: int, y_format: str | None = None) -> None:
    """A marker-line scatter chart below a table (header row `hr`, data to row `last`): x from column
    `x_col`, one series per column of `y_cols` titled by its header; axes shown, 9 x 20 cm."""
    chart = ScatterChart()
    chart.title = title
    chart.style = 13
    chart.x_axis.title = x_title
    chart.y_axis.title = y_title
    chart.x_axis.number_format = "#,##0"
    if y_format is not None:
        chart.y_axis.number_format = y_format
    xs = Reference(ws, min_col=x_col, min_row=hr + 1, max_row=last)
    for j in y_cols:
        ser = Series(Reference(ws, min_col=j, min_row=hr, max_row=last), xs, title_from_data=True)
        ser.marker.symbol = "circle"
        chart.series.append(ser)
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.height, chart.width = 9, 20
    ws.add_chart(chart, f"A{last + 3}")


def _print_setup(ws: Worksheet, title_rows: str | None = None) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = False
    ws.page_margins.left = ws.page_margins.right = 0.4
    if title_rows:
        ws.print_title_rows = title_rows


def _cache(ws: Worksheet, cell: Any, value: Any) -> None:
    """Remember the value a formula cell evaluates to (written into the file as its cached value)."""
    v = _py(value)
    if v is not None:
        _book(ws).cached.setdefault(ws.title, {})[cell.coordinate] = v


def _fcell(ws: Worksheet, row: int, column: int, formula: str | float, value: Any, fmt: str | None = None) -> Any:
    """Write a formula with its cached value (what the planner computed) and a number format."""
    if isinstance(formula, str) and formula.startswith("="):  # made by the planner, never input text
        c = ws.cell(row=row, column=column, value=formula)
        _cache(ws, c, value)
    else:
        c = put(ws, row, column, formula)
    if fmt:
        c.number_format = fmt
    return c


def _py(v: Any) -> Any:
    """A value openpyxl can write (numpy scalars to Python, NaN to empty)."""
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) else (f if math.isfinite(f) else "inf")
    if isinstance(v, np.bool_):
        return bool(v)
    if v is pd.NA:
        return None
    return v


def _param_cell_value(v: Any) -> Any:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, list):
        if v and isinstance(v[0], dict):
            return "; ".join(", ".join(f"{k}={x}" for k, x in d.items() if x is not None) for d in v)
        return ", ".join(str(x) for x in v) if v else "(none)"
    return str(v)


def _text(ws: Worksheet, row: int, column: int, value: Any) -> Any:
    """A cell holding `value`; text is always text (a room id like '=A1' never becomes a formula)."""
    c = put(ws, row=row, column=column, value=value)
    if isinstance(value, str):
        c.data_type = "s"
    return c


def _header_row(ws: Worksheet, row: int, labels: list[str]) -> None:
    for j, lab in enumerate(labels, 1):
        c = put(ws, row=row, column=j, value=lab)
        c.fill, c.font = HEADER_FILL, HEADER_FONT
        c.alignment = Alignment(horizontal="center")
