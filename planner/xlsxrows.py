"""Table rows of a large sheet written as SpreadsheetML text and spliced into the file openpyxl saved.

openpyxl makes one Cell object per value and serialises it through lxml: about 15 µs a cell, most of
the workbook's time for Station Unity's 55,000 table cells. The sheet itself (header, totals, widths,
filters, conditional formats, charts) is still made and saved by openpyxl; only the rows of its table
are rendered here, column by column, with the style ids openpyxl registered for them (`style_id`) and
the cached values of their formulas, then inserted into the saved sheet after a given row (`splice`).

Cells come out as openpyxl writes them: strings inline (``t="inlineStr"``), numbers as ``"%.16g"``,
formulas without ``t`` and with their cached value as `planner.workbook` writes it, a styled empty
cell as an empty element; the same type rules (formula: a text starting with "=", error codes,
illegal control characters refused).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from openpyxl.cell import Cell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import IllegalCharacterError
from openpyxl.worksheet.worksheet import Worksheet

from planner.cells import safe_text


@dataclass
class Column:
    """One column of a table body: its values from the first body row down.

    `cached`: for formula columns, the value each formula evaluates to (None: no cached value);
    `keep_empty`: a None value still gets a cell (an empty one with the column's style), as openpyxl
    writes a styled cell without a value.
    """

    values: Sequence[Any]
    style: int = 0
    cached: Sequence[Any] | None = None
    keep_empty: bool = False
    formula: bool = False
    """The column's texts are formulas the planner made (a text starting with "="); in any other
    column every text is input text, written as text through `planner.cells.safe_text`."""


def style_id(ws: Worksheet, number_format: str | None = None, fill: Any = None, font: Any = None) -> int:
    """Register a cell style (number format, fill, font) with the workbook; its id for ``s="..."``."""
    c = Cell(ws)
    if number_format:
        c.number_format = number_format
    if fill is not None:
        c.fill = fill
    if font is not None:
        c.font = font
    return c.style_id


def _text(s: str) -> str:
    """XML character data as lxml writes it."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _string(s: str) -> str:
    """A string value as openpyxl checks it (at most 32,767 characters, no control characters)."""
    s = s[:32767]
    if ILLEGAL_CHARACTERS_RE.search(s):
        raise IllegalCharacterError(f"{s} cannot be used in worksheets.")
    return s


def _cached(v: Any) -> tuple[str, str]:
    """(type attribute, <v> text) of a formula's cached value."""
    if isinstance(v, bool):
        return ' t="b"', str(int(v))
    if isinstance(v, float):
        return "", repr(v)
    if isinstance(v, int):
        return "", str(v)
    return ' t="str"', _text(str(v))


def _cell(ref: str, s: str, v: Any, cached: Any, keep_empty: bool, formula: bool = False) -> str:
    """One ``<c>`` element; `s` is the style attribute ('' or ' s="N"')."""
    if v is None or v == "":
        if v is None and not (keep_empty and s):
            return ""
        return f'<c r="{ref}"{s} t="{"n" if v is None else "inlineStr"}"/>'
    if isinstance(v, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(v)}</v></c>'
    if isinstance(v, (int, float)):
        return f'<c r="{ref}"{s} t="n"><v>{"%.16g" % v}</v></c>'
    if not isinstance(v, str):
        raise ValueError(f"Cannot convert {v!r} to Excel")
    if not formula:  # input text: always a text cell, never a formula or an error code
        v = safe_text(v)
        space = ' xml:space="preserve"' if v != v.strip() else ""
        return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{_text(v)}</t></is></c>'
    v = _string(v)
    if len(v) > 1 and v[0] == "=":
        if cached is None:
            return f'<c r="{ref}"{s}><f>{_text(v[1:])}</f><v></v></c>'
        t, text = _cached(cached)
        return f'<c r="{ref}"{s}{t}><f>{_text(v[1:])}</f><v>{text}</v></c>'
    if v in ERROR_CODES:
        return f'<c r="{ref}"{s} t="e"><v>{v}</v></c>'
    space = ' xml:space="preserve"' if v != v.strip() else ""
    return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{_text(v)}</t></is></c>'


def render(first_row: int, columns: Sequence[Column]) -> str:
    """The ``<row>`` elements of a table body whose first row is `first_row` (columns from A)."""
    n = max((len(c.values) for c in columns), default=0)
    spec = [(get_column_letter(j), f' s="{c.style}"' if c.style else "", c) for j, c in enumerate(columns, 1)]
    out: list[str] = []
    for i in range(n):
        r = first_row + i
        cells = "".join(_cell(f"{L}{r}", s, c.values[i], c.cached[i] if c.cached is not None else None,
                              c.keep_empty, c.formula) for L, s, c in spec)
        out.append(f'<row r="{r}">{cells}</row>')
    return "".join(out)


def splice(sheet_xml: str, after_row: int, rows: str) -> str:
    """Insert rendered rows into a saved sheet's XML right after the row `after_row` (which must exist)."""
    at = sheet_xml.find(f'<row r="{after_row}"')
    if at < 0:
        raise ValueError(f"row {after_row} not found in the sheet")
    tag_end = sheet_xml.find(">", at) + 1
    end = tag_end if sheet_xml[tag_end - 2] == "/" else sheet_xml.find("</row>", tag_end) + len("</row>")
    return sheet_xml[:end] + rows + sheet_xml[end:]
