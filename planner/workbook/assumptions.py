"""The "Assumptions" sheet: every parameter of the station with its unit and source; the cost
formulas of the other sheets refer to its value cells."""

from __future__ import annotations

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from planner import costs as cost_model
from planner.cells import put
from planner.station import Station
from planner.workbook.style import (
    ASSUMPTIONS,
    INPUT_FILL,
    _header,
    _param_cell_value,
    _print_setup,
    _ref,
    _widths,
)


# ------------------------------------------------------------------ sheets
def _assumptions(wb: Workbook, station: Station) -> dict[str, str]:
    """The Assumptions sheet; returns parameter name -> absolute cell reference of its value."""
    ws = wb.create_sheet(ASSUMPTIONS)
    p = station.params
    _header(ws, 1, ["Section", "Parameter", "Value", "Unit", "Description", "Source"])
    refs: dict[str, str] = {}
    used = set(cost_model.parameter_names())
    rows = p.describe()
    for i, r in enumerate(rows, start=2):
        val = _param_cell_value(r["value"])
        put(ws, row=i, column=1, value=r["section"])
        put(ws, row=i, column=2, value=r["name"])
        c = put(ws, row=i, column=3, value=val)
        money = bool(r["unit"]) and r["unit"].split("/")[0] == p.currency  # also for "none": a typed budget
        if money:
            c.number_format = "#,##0.00"
        elif isinstance(val, int) and not isinstance(val, bool):
            c.number_format = "#,##0"
        if r["name"] in used or r["name"] in ("budget", "reach_s", "crews", "backup_k"):
            c.fill = INPUT_FILL
        put(ws, row=i, column=4, value=r["unit"])
        put(ws, row=i, column=5, value=r["description"])
        put(ws, row=i, column=6, value=r["source"])
        refs[r["name"]] = _ref(ASSUMPTIONS, 3, i)
    n = len(rows) + 1
    note = n + 2
    put(ws, row=note, column=1, value="Yellow values feed the formulas of the Safe rooms, Phases and Summary "
                                      "sheets: edit them and the totals follow.").font = Font(italic=True)
    ws.freeze_panes = "C2"
    ws.auto_filter.ref = f"A1:F{n}"
    _widths(ws, [11, 32, 16, 16, 60, 50])
    for i in range(2, n + 1):
        put(ws, row=i, column=5).alignment = Alignment(wrap_text=True, vertical="top")
        put(ws, row=i, column=6).alignment = Alignment(wrap_text=True, vertical="top")
    _print_setup(ws, "1:1")
    return refs
