"""The "Displacement" sheet: who has to move to which safe room, and the cost/displacement trade-off."""

from __future__ import annotations

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment
from openpyxl.worksheet.worksheet import Worksheet

from planner.cells import put
from planner.displacement import TRADEOFF_COLUMNS, displacement_summary, tradeoff_station
from planner.station import Station
from planner.workbook.style import (
    SUB_FONT,
    TITLE_FONT,
    TOTAL_FONT,
    _header,
    _header_row,
    _money_fmt,
    _print_setup,
    _scatter_chart,
    _py,
    _widths,
)


def _displacement_section(ws: Worksheet, r: int, station: Station, plan: dict) -> int:
    """Summary rows: modes per kind, and who is displaced by sector and where they go. Returns the next row."""
    d = displacement_summary(station, plan)
    put(ws, row=r, column=1, value="Conversion modes and displacement").font = SUB_FONT
    r += 1
    _header_row(ws, r, ["Kind", "Mode", "Rooms converted", "Residents sheltering in place", "Residents displaced"])
    r += 1
    for row in d["modes"].itertuples(index=False):
        put(ws, row=r, column=1, value=str(row.kind))
        put(ws, row=r, column=2, value=str(row.mode))
        put(ws, row=r, column=3, value=int(row.rooms)).number_format = "#,##0"
        put(ws, row=r, column=4, value=int(row.residents_in_place)).number_format = "#,##0"
        put(ws, row=r, column=5, value=int(row.residents_moved)).number_format = "#,##0"
        r += 1
    r += 1
    put(ws, row=r, column=1, value="Who is displaced, by sector, and where they go").font = SUB_FONT
    r += 1
    bs = d["by_sector"]
    if not len(bs):
        put(ws, row=r, column=1, value=(
            "Nobody is displaced." + (" There is no spare bed on the station to move anyone into."
                                      if d["spare_beds"] == 0 else "")
            + " See the Displacement sheet for what moving people would change."))
        return r + 2
    _header_row(ws, r, ["From sector", "To sector", "Residents", "Rooms they leave", "Rooms they move to"])
    r += 1
    for row in bs.itertuples(index=False):
        put(ws, row=r, column=1, value=str(row.from_sector))
        put(ws, row=r, column=2, value=str(row.to_sector))
        put(ws, row=r, column=3, value=int(row.residents)).number_format = "#,##0"
        put(ws, row=r, column=4, value=int(row.rooms_from)).number_format = "#,##0"
        put(ws, row=r, column=5, value=int(row.rooms_to)).number_format = "#,##0"
        r += 1
    put(ws, row=r, column=1, value="Total").font = TOTAL_FONT
    put(ws, row=r, column=3, value=int(bs["residents"].sum())).font = TOTAL_FONT
    put(ws, row=r, column=3).number_format = "#,##0"
    return r + 2


def tradeoff_words(tradeoff: pd.DataFrame, cur: str) -> str:
    """What the trade-off shows, in words: how much moving people buys (the costs and the solver's
    bounds), or why the points are the same."""
    df = tradeoff[pd.to_numeric(tradeoff["cost"], errors="coerce").notna()] if len(tradeoff) else tradeoff
    if not len(df):
        return "No point of the trade-off has a plan."
    costs = pd.to_numeric(df["cost"]).to_numpy(dtype=float)
    moved = pd.to_numeric(df["displaced"]).to_numpy(dtype=float)
    first, last = df.iloc[0], df.iloc[-1]
    if np.ptp(costs) < 0.5 and moved.max() == 0:
        bound = pd.to_numeric(df["bound"], errors="coerce") if "bound" in df else pd.Series(dtype=float)
        b = float(bound.min()) if bound.notna().any() else float("nan")
        if not (df["status"].astype(str) == "optimal").all():
            return (f"No plan that moves anyone was found cheaper than moving nobody ({costs[0]:,.0f} {cur}), "
                    "but the solver did not finish proving it within [model] tradeoff_time_limit_s (see the status "
                    "column): give it more time for a proven answer.")
        text = (f"Moving residents buys nothing here: the least-cost plan moves nobody at every cap "
                f"({costs[0]:,.0f} {cur}).")
        if np.isfinite(b) and b > 0:
            text += (f" The solver proved that no plan allowed to move up to {int(last['max_displaced']):,} residents "
                     f"costs less than {b:,.0f} {cur}: moving people could save at most "
                     f"{costs[0] - b:,.0f} {cur} ({100 * (costs[0] - b) / costs[0]:.2f} %), and would cost the "
                     "displaced their homes. Hardening quarters in place (dual use) is the cheaper choice.")
        return text
    saved = float(first["cost"]) - float(last["cost"])
    text = (f"Allowing up to {int(last['max_displaced']):,} residents to move saves {saved:,.0f} {cur} "
            f"({100 * saved / float(first['cost']):.2f} %) against moving nobody; the plan then moves "
            f"{int(last['displaced']):,}.")
    if str(last["status"]) != "optimal":
        b = pd.to_numeric(pd.Series([last.get("bound")]), errors="coerce").iloc[0]
        text += (" That plan is the best found (see how it was found), not proven least"
                 + (f": no plan at that cap costs less than {float(b):,.0f} {cur}, so moving could save at most "
                    f"{float(first['cost']) - float(b):,.0f} {cur} against moving nobody." if b == b and b > 0 else "."))
    return text


def _displacement(wb: Workbook, station: Station, plan: dict, tradeoff: pd.DataFrame | None) -> None:
    """The Displacement sheet: least cost at 0, 25, 50 and 100 % of today's displacement, table and chart."""
    ws = wb.create_sheet("Displacement")
    cur = station.params.currency
    d = displacement_summary(station, plan)
    _, beds = tradeoff_station(station)
    put(ws, row=1, column=1, value="What does moving residents out of their homes buy?").font = TITLE_FONT
    if station.params.today_displaced is not None:
        today = (f"Today's displacement: {d['today']:,} residents ([model] today_displaced: the figure the director "
                 f"compares with; the rooms with beds this plan converts house {d['converted_residents']:,}).")
    else:
        today = (f"Today's displacement: {d['today']:,} residents live in the rooms with beds this plan converts "
                 "(earlier proposals counted them all as relocated).")
    intro = (f"{today} Each row is the least cost of a plan that "
             "shelters everyone when at most that many residents may be moved out of repurposed rooms into spare "
             f"beds (the rest are hardened in place, dual use). {beds} "
             f"The proposal itself moves {d['moved']:,}.")
    c = put(ws, row=2, column=1, value=intro)
    c.alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells("A2:J2")
    ws.row_dimensions[2].height = 90
    df = tradeoff if tradeoff is not None else pd.DataFrame(columns=TRADEOFF_COLUMNS)
    df = df.reindex(columns=TRADEOFF_COLUMNS)
    if len(df):
        c = put(ws, row=3, column=1, value=tradeoff_words(df, cur))
        c.alignment = Alignment(wrap_text=True, vertical="top")
        ws.merge_cells("A3:J3")
        ws.row_dimensions[3].height = 60
    hr = 5
    labels = ["Share of today's displacement", "At most moved (persons)", f"Least cost ({cur})",
              "Residents moved", "Safe rooms", "Rooms repurposed", "Solver status", "Solver gap", "How it was found",
              f"Proven lower bound ({cur}; cost + cross-sector preference)"]
    _header(ws, hr, labels, height=45)
    if not len(df):
        put(ws, row=hr + 1, column=1, value="(no trade-off was computed with this proposal: planner propose computes it)")
    fmts = ["0%", "#,##0", _money_fmt(cur), "#,##0", "#,##0", "#,##0", None, "0.00%", None, _money_fmt(cur)]
    for i, rec in enumerate(df[TRADEOFF_COLUMNS].itertuples(index=False), start=hr + 1):
        for j, (v, f) in enumerate(zip(rec, fmts), start=1):
            cell = put(ws, row=i, column=j, value=_py(v))
            if f:
                cell.number_format = f
    last = hr + len(df)
    _widths(ws, [16, 16, 18, 14, 12, 12, 18, 10, 60, 20])
    if len(df):
        _scatter_chart(ws, "Least cost vs residents who may be moved", "residents who may be moved (persons)",
                       f"least cost ({cur})", 2, [3, 10], hr, last, y_format="#,##0")
    _print_setup(ws, f"{hr}:{hr}")
