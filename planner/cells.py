"""Text cells for spreadsheets and CSV files: what the inputs say is written as text, never run.

Room names, sectors, ids, the station title, phase names, scenario column names and the
currency come from the station's files. A text beginning with ``=`` would become a live
formula in a workbook (``=HYPERLINK(...)``, DDE payloads), and spreadsheets also start
formulas with ``+``, ``-`` and ``@`` (or after a tab or carriage return) when they open a
CSV. Following OWASP's CSV-injection guidance, `safe_text` prefixes such a text with a
single quote, and every text cell of every sheet and CSV table that may carry input text
goes through it: `put` for openpyxl cells, `planner.xlsxrows` for the large table bodies,
`safe_csv_frame` for CSV tables. Characters a workbook cannot hold (control characters)
are replaced by U+FFFD instead of failing the write after a long solve.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:   # annotations only: reading a plan or a reach table needs no openpyxl at import time
    from openpyxl.cell import Cell
    from openpyxl.worksheet.worksheet import Worksheet

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection)."""
CONTROL_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
"""Control characters a workbook cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE)."""
MAX_CELL_CHARS = 32767
"""Longest text a workbook cell holds (characters)."""


def safe_text(value: Any) -> str:
    """`value` as text that no spreadsheet evaluates: a leading ``= + - @ tab CR`` gets a ``'``
    in front, control characters become U+FFFD, at most `MAX_CELL_CHARS` characters."""
    s = CONTROL_RE.sub("\ufffd", str(value))
    if s.startswith(FORMULA_START):
        s = "'" + s
    return s[:MAX_CELL_CHARS]


def put(ws: Worksheet, row: int, column: int, value: Any = None) -> Cell:
    """`ws.cell(row, column, value)` with every text written as text (`safe_text`), never as a formula
    or an error code; numbers, booleans and dates as they are. Formulas the planner makes itself
    are written by `planner.workbook.style._fcell`, not here."""
    c = ws.cell(row=row, column=column)
    if value is None:
        return c
    if isinstance(value, str):
        c.value = safe_text(value)
        c.data_type = "s"  # also for texts like "#N/A" that openpyxl would take for error codes
    else:
        c.value = value
    return c


def safe_row(values: list[Any]) -> list[Any]:
    """A row for `Worksheet.append`: texts through `safe_text`, other values as they are."""
    return [safe_text(v) if isinstance(v, str) else v for v in values]


def safe_csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with its text cells (and column names) through `safe_text`, for writing as CSV."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(lambda v: safe_text(v) if isinstance(v, str) else v)
    out.columns = [safe_text(c) if isinstance(c, str) else c for c in out.columns]
    return out
