"""The "Budget what-if" sheet: the budget sweep table with its chart."""

from __future__ import annotations

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter

from planner.cells import put
from planner.station import Station
from planner.workbook.style import (
    TITLE_FONT,
    _header,
    _money_fmt,
    _print_setup,
    _scatter_chart,
    _py,
    _widths,
)


def budget_whatif(wb: Workbook, station: Station, sweep: pd.DataFrame | None) -> None:
    ws = wb.create_sheet("Budget what-if")
    cur = station.params.currency
    put(ws, row=1, column=1, value="What if the budget were different?").font = TITLE_FONT
    if sweep is None or len(sweep) == 0:
        put(ws, row=3, column=1, value=(
            "No budget sweep was run with this proposal. To fill this sheet, run `make sweep` "
            "(or `planner sweep STATION_DIR --budgets 2e6,4e6,...`), which writes the budget-coverage "
            "table and chart for a range of budgets, or `make whatif BUDGET=X` for one budget."))
        put(ws, row=3, column=1).alignment = Alignment(wrap_text=True, vertical="top")
        ws.merge_cells("A3:H6")
        _widths(ws, [14] * 8)
        _print_setup(ws)
        return
    df = sweep.reset_index(drop=True)
    df = df.drop(columns=[c for c in ("chosen",) if c in df.columns])  # site lists: the plans hold them
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = [", ".join(map(str, v)) if isinstance(v, (list, tuple, set)) else v for v in df[c]]
    labels = {"budget": "Budget", "cost": "Cost", "rooms": "Rooms converted", "max_walk_s": "Worst walk",
              "gap": "Solver gap", "status": "Solver status", "seconds": "Solve time", "objective": "Objective",
              "source": "Plan from", "weighted_sheltered": "Sheltered (priority-weighted, all scenarios)",
              "late_by_corridors": "Late by corridor queues (residents)"}
    head = []
    for c in df.columns:
        c = str(c)
        if c.startswith("sheltered_"):
            head.append(f"Sheltered ({c[len('sheltered_'):]})")
        elif c.startswith("share_"):
            head.append(f"Share ({c[len('share_'):]})")
        else:
            head.append(labels.get(c, c.replace("_", " ")))
    hr = 3
    _header(ws, hr, head, height=40)
    for i, rec in enumerate(df.itertuples(index=False), start=hr + 1):
        for j, (c, v) in enumerate(zip(df.columns, rec), start=1):
            cell = put(ws, row=i, column=j, value=_py(v))
            c = str(c)
            if c in ("budget", "cost"):
                cell.number_format = _money_fmt(cur)
            elif c.startswith("sheltered_") or c in ("rooms", "late_by_corridors"):
                cell.number_format = "#,##0"
            elif c in ("max_walk_s", "seconds"):
                cell.number_format = '0.0 "s"'
            elif c == "gap" or c.startswith("share_"):
                cell.number_format = "0.0%"
    last = hr + len(df)
    ws.freeze_panes = f"A{hr + 1}"
    ws.auto_filter.ref = f"A{hr}:{get_column_letter(len(head))}{last}"
    _widths(ws, [16] * len(head))
    cols = list(map(str, df.columns))
    if "budget" in cols:
        xcol = cols.index("budget") + 1
        _scatter_chart(ws, "People sheltered vs budget", f"budget ({cur})", "people sheltered", xcol,
                       [j for j, c in enumerate(cols, start=1) if c.startswith("sheltered_")], hr, last)
    _print_setup(ws, f"{hr}:{hr}")
