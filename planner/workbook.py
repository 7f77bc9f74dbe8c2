"""The proposal workbook (openpyxl): what the director reads, edits and forwards.

Sheets, in order: Summary, Safe rooms, Coverage, Phases, Budget what-if,
Displacement, Assumptions, Map. The cost lines on "Safe rooms" are live formulas written from
`planner.costs` (one definition for Python and the spreadsheet): each refers to
the room's driver cells and to the parameter cells of "Assumptions", so a
director who edits a unit cost sees every total follow, and a spreadsheet
recalculating the file shows the totals the planner printed, to the cent.
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Callable
from xml.sax.saxutils import escape as xml_escape

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference, ScatterChart, Series
from openpyxl.formatting.rule import CellIsRule, FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.worksheet import Worksheet

from planner import costs as cost_model
from planner import xlsxrows
from planner.displacement import TRADEOFF_COLUMNS, displacement_summary
from planner.cells import put
from planner.files import write_atomic
from planner.network import ReachTable
from planner.station import Station

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


def _safe_rooms_table(plan: dict, costs: pd.DataFrame, sites: pd.DataFrame, station: Station) -> pd.DataFrame:
    """One row per safe room of the plan, with site data, drivers and Python cost lines."""
    sr = pd.DataFrame(plan.get("safe_rooms", []))
    if sr.empty:
        sr = pd.DataFrame(columns=["room_id", "name", "sector", "deck", "kind", "area_m2", "capacity",
                                   "door_flow_pps", "cost", "existing", "phase", "mode"])
    if "mode" not in sr.columns:   # a plan written before conversion modes: every room kept its use
        sr["mode"] = "dual_use"
    sr["room_id"] = sr["room_id"].astype(str)
    sr = sr.set_index("room_id", drop=False)
    sr.index.name = None
    site_cols = [c for c in ("n_doors", "door_width_m", "perimeter_m", "usable_area_m2") if c in sites.columns]
    sr = sr.join(sites[site_cols].reindex(sr.index))
    drv = costs.reindex(sr.index)
    missing = drv["total_cost"].isna() if "total_cost" in drv else pd.Series(True, index=sr.index)
    if missing.any():  # a safe room outside `costs`: compute its drivers from the sites table
        sub = sites.reindex(sr.index[missing])
        if sub["perimeter_m"].notna().all():
            extra = cost_model.site_costs(sub, station)
            drv.loc[extra.index, extra.columns] = extra
    for c in cost_model.DRIVER_COLUMNS + cost_model.OUTPUT_COLUMNS:
        if c in drv.columns and c not in ("capacity",):
            sr[f"_{c}"] = drv[c].to_numpy()
    sr["_capacity"] = drv["capacity"].fillna(sr["capacity"]).to_numpy() if "capacity" in drv else sr["capacity"]
    sr["phase"] = pd.to_numeric(sr.get("phase"), errors="coerce").fillna(1).astype(int)
    # people sheltered per scenario (assignments to the room)
    a = pd.DataFrame(plan.get("assignments", []))
    scen = list(station.scenarios)
    for s in scen:
        if len(a):
            got = a[a["scenario"] == s].groupby("safe_room_id")["residents"].sum()
            sr[f"_shelter_{s}"] = got.reindex(sr.index).fillna(0).astype(int).to_numpy()
        else:
            sr[f"_shelter_{s}"] = 0
    sheltered = sr[[f"_shelter_{s}" for s in scen]].max(axis=1) if scen else pd.Series(0, index=sr.index)
    tot = sr["_total_cost"].astype(float) if "_total_cost" in sr else sr["cost"].astype(float)
    sr["_value"] = sheltered / tot.where(tot > 0, np.nan)
    # build order: by phase, then people sheltered per unit cost (existing rooms first)
    sr["_existing_sort"] = ~sr["existing"].astype(bool)
    sr = sr.sort_values(["phase", "_existing_sort", "_value", "room_id"], ascending=[True, True, False, True],
                        na_position="first", kind="stable")
    sr["order"] = np.arange(1, len(sr) + 1)
    return sr


def _safe_rooms(wb: Workbook, station: Station, plan: dict, costs: pd.DataFrame, sites: pd.DataFrame,  # noqa: C901  debt: issue 16 (complexity 15)
                prefs: dict[str, str]) -> dict[str, Any]:
    """The Safe rooms sheet with live cost formulas; returns cell references for the other sheets."""
    ws = wb.create_sheet(SAFE_SHEET)
    p = station.params
    cur = p.currency
    sr = _safe_rooms_table(plan, costs, sites, station)
    scen = list(station.scenarios)
    # (header, key, number format); key "_x" = driver value, "=name" = formula from costs
    money_c = _money_fmt(cur, cents=True)
    cols: list[tuple[str, str, str | None]] = [
        ("Order", "order", "0"), ("Room id", "room_id", None), ("Name", "name", None), ("Sector", "sector", None),
        (station.params.deck_word.capitalize(), "deck", "0"), ("Kind", "kind", None), ("Conversion mode", "mode", None),
        ("Existing safe room", "existing", None),
        ("Phase", "phase", "0"), ("Floor area", "area_m2", '#,##0.0 "m²"'),
        ("Capacity (persons)", "_capacity", "#,##0"), ("Doors", "n_doors", "0"),
        ("Door width (total)", "door_width_m", '0.00 "m"'), ("Door flow", "door_flow_pps", '0.00 "p/s"'),
    ]
    cols += [(f"Sheltered ({s})", f"_shelter_{s}", "#,##0") for s in scen]
    cols += [
        ("To convert (1) / existing (0)", "_converted", "0"), ("Perimeter", "_perimeter_m", '#,##0.0 "m"'),
        ("Pressure doors kept", "_doors_kept", "0"), ("Doors to seal", "_doors_sealed", "0"),
        ("Residents displaced", "_displaced_residents", "#,##0"),
        ("Recreation area lost", "_recreation_area_m2", '#,##0.0 "m²"'),
    ]
    labels = {ln.name: ln.label for ln in cost_model.cost_formulas()}
    cols += [(labels["wall_area_m2"], "=wall_area_m2", '#,##0.0 "m²"')]
    cols += [(labels[n], f"={n}", money_c) for n in cost_model.COST_COLUMNS]
    cols += [("Total cost", "=total_cost", money_c), (labels["labour_h"], "=labour_h", '#,##0.0 "h"'),
             (labels["crew_days"], "=crew_days", '#,##0.00 "d"')]
    _header(ws, 1, [c[0] for c in cols], height=45)
    col_of = {key: j for j, (_, key, _) in enumerate(cols, 1)}
    driver_col = {"capacity": col_of["_capacity"]}
    for d in cost_model.DRIVER_COLUMNS:
        if f"_{d}" in col_of:
            driver_col[d] = col_of[f"_{d}"]
    for ln in cost_model.cost_formulas():
        driver_col[ln.name] = col_of[f"={ln.name}"]
    first_line, last_line = col_of[f"={cost_model.COST_COLUMNS[0]}"], col_of[f"={cost_model.COST_COLUMNS[-1]}"]
    n = len(sr)
    driver_keys = {f"_{d}" for d in cost_model.DRIVER_COLUMNS} | {"_capacity"}
    # formula templates, one per computed column: "{row}" stands for the row number
    refs = {k: f"{get_column_letter(j)}{{row}}" for k, j in driver_col.items()}
    refs.update(prefs)
    exprs = {ln.name: ln.expr for ln in cost_model.cost_formulas()}
    templates: dict[str, str] = {
        name: cost_model.excel_formula(expr, refs) for name, expr in exprs.items()}
    templates["total_cost"] = (f"=ROUND(SUM({get_column_letter(first_line)}{{row}}:"
                               f"{get_column_letter(last_line)}{{row}}),2)")
    # column values as plain Python lists (no per-cell pandas lookups)
    data: dict[str, list] = {}
    for _, key, _ in cols:
        if key.startswith("="):
            col = "_" + key[1:]
            data[key] = [_py(v) for v in sr[col]] if col in sr else [None] * len(sr)
        elif key == "existing":
            data[key] = ["yes" if bool(v) else "no" for v in sr["existing"]]
        else:
            vals = [_py(v) for v in sr[key]] if key in sr else [None] * len(sr)
            if key.startswith("_") and key != "_capacity":
                vals = [0 if v is None else v for v in vals]
            data[key] = vals
    # the table body as XML text (planner.xlsxrows): formulas with their cached values, yellow drivers
    body = []
    for _, key, fmt in cols:
        style = xlsxrows.style_id(ws, fmt, INPUT_FILL if key in driver_keys else None)
        if key.startswith("="):
            formulas = [templates[key[1:]].replace("{row}", str(i + 2)) for i in range(n)]
            body.append(xlsxrows.Column(formulas, style, cached=data[key], keep_empty=True, formula=True))
        else:
            body.append(xlsxrows.Column(data[key], style, keep_empty=True))
    _body(ws, 1, body)
    last = n + 1
    total_row = last + 1
    put(ws, row=total_row, column=col_of["room_id"], value="Total").font = TOTAL_FONT
    sum_keys = [k for k in col_of if k.startswith("=")] + ["_capacity", "_displaced_residents",
                                                          "_recreation_area_m2"] + [f"_shelter_{s}" for s in scen]
    for key in sum_keys:
        j = col_of[key]
        L = get_column_letter(j)
        f = f"=SUM({L}2:{L}{last})" if n else "=0"
        col_name = "_" + key[1:] if key.startswith("=") else key
        value = float(pd.to_numeric(sr[col_name], errors="coerce").fillna(0).sum()) if n and col_name in sr else 0.0
        if key in ("=total_cost",) + tuple(f"={c}" for c in cost_model.COST_COLUMNS):
            f = f"=ROUND(SUM({L}2:{L}{last}),2)" if n else "=0"
            value = round(value, 2)
        _fcell(ws, total_row, j, f, value, cols[j - 1][2] or "General")
    put(ws, row=total_row, column=col_of["order"], value=n).number_format = '0 "rooms"'
    for j in range(1, len(cols) + 1):
        c = put(ws, row=total_row, column=j)
        c.font, c.fill = TOTAL_FONT, TOTAL_FILL
        c.border = Border(top=THIN)
    # formula columns in a soft tint: they are computed
    ws.freeze_panes = "C2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{last}"
    _auto_widths(ws, 1, len(cols), lo=7, hi=28, body=body)
    for key in ("order", "deck", "phase", "n_doors"):
        ws.column_dimensions[get_column_letter(col_of[key])].width = 7
    for key in [k for k in col_of if k.startswith("=")]:
        ws.column_dimensions[get_column_letter(col_of[key])].width = 15
    _print_setup(ws, "1:1")
    colref = lambda key: _ref(SAFE_SHEET, col_of[key], total_row)  # noqa: E731
    rng = lambda key: (f"{_sheet(SAFE_SHEET)}!${get_column_letter(col_of[key])}$2:"  # noqa: E731
                       f"${get_column_letter(col_of[key])}${max(last, 2)}")
    return {"table": sr, "total_row": total_row, "total": colref("=total_cost"), "labour": colref("=labour_h"),
            "crew_days": colref("=crew_days"), "displaced": colref("_displaced_residents"),
            "phase_range": rng("phase"), "total_range": rng("=total_cost"), "labour_range": rng("=labour_h"),
            "crew_days_range": rng("=crew_days"), "converted_range": rng("_converted"), "n": n,
            "line_totals": {c: colref(f"={c}") for c in cost_model.COST_COLUMNS}}


def _joined(keys: pd.Series, values: pd.Series) -> pd.Series:
    """Per key, its values as text joined by ", " in their order (a groupby-join without a call per group)."""
    out: dict[Any, list[str]] = {}
    for k, v in zip(keys.tolist(), values.tolist()):
        out.setdefault(k, []).append(str(v))
    return pd.Series({k: ", ".join(v) for k, v in out.items()}, dtype=object)


def _coverage(wb: Workbook, station: Station, plan: dict, reach: ReachTable | None, prefs: dict[str, str]) -> None:
    ws = wb.create_sheet("Coverage")
    scen = list(station.scenarios)
    demand = station.demand()
    rooms = station.rooms.set_index("room_id")
    occupied = demand.index[(demand[scen] > 0).any(axis=1)] if scen else demand.index[:0]
    a = pd.DataFrame(plan.get("assignments", []), columns=["room_id", "scenario", "safe_room_id", "residents",
                                                           "walk_s"])
    u = pd.DataFrame(plan.get("unsheltered", []), columns=["room_id", "scenario", "residents", "reason"])
    chosen = {str(r["room_id"]) for r in plan.get("safe_rooms", [])}
    t = pd.DataFrame(index=pd.Index(occupied, name="room_id"))
    t["name"] = rooms["name"].reindex(t.index).to_numpy()
    t["sector"] = rooms["sector"].reindex(t.index).to_numpy()
    t["deck"] = rooms["deck"].reindex(t.index).to_numpy()
    t["kind"] = rooms["kind"].reindex(t.index).to_numpy()
    for s in scen:
        t[f"res_{s}"] = demand[s].reindex(t.index).to_numpy()
        sa = a[a["scenario"] == s].sort_values(["room_id", "walk_s"])
        t[f"room_{s}"] = _joined(sa["room_id"], sa["safe_room_id"]).reindex(t.index)
        t[f"walk_{s}"] = sa.groupby("room_id")["walk_s"].max().reindex(t.index)
        su = u[u["scenario"] == s].groupby("room_id").agg(residents=("residents", "sum"),
                                                          reason=("reason", "first"))
        t[f"uns_{s}"] = su["residents"].reindex(t.index).fillna(0).astype(int)
        t[f"why_{s}"] = su["reason"].reindex(t.index)
    have_reach = reach is not None
    if reach is not None:
        pr = reach.pairs
        t["in_reach"] = pr[pr["site_id"].isin(chosen)].groupby("room_id").size().reindex(t.index).fillna(0).astype(int)
        t["cands"] = pr.groupby("room_id").size().reindex(t.index).fillna(0).astype(int)
        if reach.rooms is not None and "best_walk_s" in reach.rooms:
            t["best"] = reach.rooms["best_walk_s"].reindex(t.index)
    header = ["Room id", "Name", "Sector", "Deck", "Kind"]
    keys = ["name", "sector", "deck", "kind"]
    fmts: list[str | None] = [None, None, None, "0", None]
    for s in scen:
        header += [f"Residents ({s})", f"Safe room ({s})", f"Walk ({s})", f"Unsheltered ({s})", f"Why ({s})"]
        keys += [f"res_{s}", f"room_{s}", f"walk_{s}", f"uns_{s}", f"why_{s}"]
        fmts += ["#,##0", None, '0.0 "s"', "#,##0", None]
    if have_reach:
        header += ["Safe rooms in reach", "Candidates in reach"]
        keys += ["in_reach", "cands"]
        fmts += ["0", "0"]
        if "best" in t:
            header.append("Best walk to any candidate")
            keys.append("best")
            fmts.append('0.0 "s"')
    _header(ws, 1, header, height=45)
    t = t.sort_values(["deck", "sector"], kind="stable") if len(t) else t
    body = [xlsxrows.Column([str(rid) for rid in t.index])]
    body += [xlsxrows.Column([_py(v) for v in t[k]], xlsxrows.style_id(ws, fmt)) for k, fmt in zip(keys, fmts[1:])]
    _body(ws, 1, body)
    last = max(len(t) + 1, 2)
    ncol = len(header)
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{get_column_letter(ncol)}{last}"
    reach_ref, k_ref = prefs.get("reach_s"), prefs.get("backup_k")
    for s in scen:
        jw = keys.index(f"walk_{s}") + 2
        L = get_column_letter(jw)
        rng = f"{L}2:{L}{last}"
        if reach_ref:
            ws.conditional_formatting.add(rng, CellIsRule(operator="greaterThan", formula=[reach_ref], fill=RED))
            ws.conditional_formatting.add(rng, CellIsRule(operator="between",
                                                          formula=[f"0.8*{reach_ref}", reach_ref], fill=AMBER))
        ju = get_column_letter(keys.index(f"uns_{s}") + 2)
        ws.conditional_formatting.add(f"{ju}2:{ju}{last}",
                                      CellIsRule(operator="greaterThan", formula=["0"], fill=RED))
    if have_reach and k_ref:
        jr = get_column_letter(keys.index("in_reach") + 2)
        ws.conditional_formatting.add(f"{jr}2:{jr}{last}", FormulaRule(formula=[f"{jr}2<{k_ref}"], fill=AMBER))
    _auto_widths(ws, 1, ncol, lo=8, hi=30, body=body)
    nrow = last + 2
    put(ws, row=nrow, column=1, value=(
        "Walks are from the farthest point of the room to the safe room's door, reaction time included. "
        "Amber: at least 80 % of the reach time; red: beyond it, or people left unsheltered. "
        "A room in a safe room shelters in place (0 s).")).font = Font(italic=True)
    _print_setup(ws, "1:1")


def _phase_names(station: Station, phases: list[int]) -> dict[int, str]:
    """Declared phase names; the phase after the last declared one holds the remaining rooms."""
    declared = station.params.phases
    return {k: (declared[k - 1].name if 0 < k <= len(declared) else
                ("Remaining" if declared and k == len(declared) + 1 else f"Phase {k}")) for k in phases}


def _phases(wb: Workbook, station: Station, plan: dict, sr: pd.DataFrame, safe: dict[str, Any],
            prefs: dict[str, str]) -> dict[str, Any]:
    ws = wb.create_sheet("Phases")
    p = station.params
    scen = list(station.scenarios)
    put(ws, row=1, column=1, value="Construction phases").font = TITLE_FONT
    declared = bool(p.phases) or sr["phase"].nunique() > 1
    put(ws, row=2, column=1, value=(
        "Rooms of a phase stay converted in the next. Duration = crew-days of the phase / crews working in "
        "parallel (at least the longest room / crews allowed per room); phases follow one another."
        + ("" if declared else
        " No phases were declared in scenario.toml: every room is in phase 1 (declare [[phases]] to stage the work).")
    )).font = Font(italic=True)
    header = ["Phase", "Name", "Rooms", "Rooms to convert", "Room ids", "Cost", "Cumulative cost", "Labour",
              "Crew-days", "Crews", "Duration", "Start day", "End day"]
    header += [f"Sheltered at end ({s})" for s in scen] + [f"Share ({s})" for s in scen]
    header += ["Days allowed", "Room limit", "Budget by the end"]
    hr = 4
    _header(ws, hr, header, height=45)
    phases = sorted(sr["phase"].unique().tolist()) or [1]
    names = _phase_names(station, phases)
    a = pd.DataFrame(plan.get("assignments", []), columns=["room_id", "scenario", "safe_room_id", "residents",
                                                           "walk_s"])
    phase_of = sr["phase"]
    a["phase"] = phase_of.reindex(a["safe_room_id"].astype(str)).to_numpy() if len(a) else []
    totals = plan.get("totals", {}).get("scenarios", {})
    table_rows = {int(r["phase"]): r for r in (plan.get("phases") or []) if "phase" in r}
    cur = p.currency
    first = hr + 1
    num = lambda col: pd.to_numeric(sr[col], errors="coerce").fillna(0.0) if col in sr else pd.Series(0.0, index=sr.index)  # noqa: E731
    tot_c, lab_c, cd_c, conv_c = num("_total_cost"), num("_labour_h"), num("_crew_days"), num("_converted")
    per_room_max = int(getattr(p, "crews_per_room_max", 1))
    values: dict[int, dict[str, float]] = {}
    cum = end_day = 0.0
    pr = safe["phase_range"]
    for i, k in enumerate(phases):
        row = first + i
        in_k = (sr["phase"] == k).to_numpy()
        rooms_k = sr[in_k]
        ph = p.phases[k - 1] if 0 < k <= len(p.phases) else None
        put(ws, row=row, column=1, value=int(k))
        put(ws, row=row, column=2, value=names[k])
        v = {"rooms": int(in_k.sum()), "cost": float(tot_c[in_k].sum()), "crew_days": float(cd_c[in_k].sum())}
        _fcell(ws, row, 3, f"=COUNTIF({pr},A{row})", v["rooms"])
        _fcell(ws, row, 4, f'=SUMIF({pr},A{row},{safe["converted_range"]})', float(conv_c[in_k].sum()))
        ids = ", ".join(rooms_k["room_id"].astype(str).tolist())
        put(ws, row=row, column=5, value=ids if len(ids) < 2000 else ids[:1990] + " ...")
        cum += v["cost"]
        _fcell(ws, row, 6, f'=SUMIF({pr},A{row},{safe["total_range"]})', v["cost"], _money_fmt(cur))
        _fcell(ws, row, 7, f"=SUM($F${first}:F{row})", cum, _money_fmt(cur))
        _fcell(ws, row, 8, f'=SUMIF({pr},A{row},{safe["labour_range"]})', float(lab_c[in_k].sum()), '#,##0 "h"')
        _fcell(ws, row, 9, f'=SUMIF({pr},A{row},{safe["crew_days_range"]})', v["crew_days"], '#,##0.0 "d"')
        n_crews = int(ph.crews) if ph is not None and ph.crews else int(p.crews)
        _fcell(ws, row, 10, n_crews if ph is not None and ph.crews else f"={prefs['crews']}", n_crews, "0")
        # a room is worked by at most crews_per_room_max crews: the phase lasts at least its longest room
        longest = f'_xlfn.MAXIFS({safe["crew_days_range"]},{pr},A{row})'
        per_room = f"MIN({prefs['crews_per_room_max']},J{row})" if "crews_per_room_max" in prefs else "1"
        longest_v = float(cd_c[in_k].max()) if in_k.any() else 0.0
        duration = max(v["crew_days"] / n_crews, longest_v / max(1, min(per_room_max, n_crews)))
        _fcell(ws, row, 11, f"=MAX(I{row}/J{row},{longest}/{per_room})", duration, '0.0 "days"')
        if ph is not None:
            for j, lim, fmt in ((14 + 2 * len(scen), ph.max_days, '0.0 "days"'),
                                (15 + 2 * len(scen), ph.max_rooms, "0"),
                                (16 + 2 * len(scen), ph.budget, _money_fmt(cur))):
                if lim is not None:
                    put(ws, row=row, column=j, value=lim).number_format = fmt
        start_day = end_day
        end_day = start_day + duration
        _fcell(ws, row, 12, 0 if i == 0 else f"=M{row - 1}", start_day, "0.0")
        _fcell(ws, row, 13, f"=L{row}+K{row}", end_day, "0.0")
        v["end_day"] = end_day
        values[k] = v
        for j, sc in enumerate(scen):
            # the phasing's own figure (best shelter with the rooms built by then) when plan.json has it;
            # otherwise the final assignment restricted to rooms built by the end of the phase
            if k in table_rows and f"sheltered_{sc}" in table_rows[k]:
                got = int(table_rows[k][f"sheltered_{sc}"])
            else:
                got = int(a[(a["scenario"] == sc) & (a["phase"] <= k)]["residents"].sum()) if len(a) else 0
            put(ws, row=row, column=14 + j, value=got).number_format = "#,##0"
            res = totals.get(sc, {}).get("residents") or 0
            L = get_column_letter(14 + j)
            _fcell(ws, row, 14 + len(scen) + j, f"={L}{row}/{res}" if res else 1, got / res if res else 1.0, "0.0%")
    last = first + len(phases) - 1
    ncol = len(header)
    ws.freeze_panes = put(ws, row=first, column=3)
    ws.auto_filter.ref = f"A{hr}:{get_column_letter(ncol)}{last}"
    _widths(ws, [7, 18, 8, 10, 40, 16, 16, 12, 11, 7, 11, 9, 9] + [13] * (2 * len(scen)) + [10, 10, 16])
    put(ws, row=2, column=1).alignment = Alignment(wrap_text=False)
    # Gantt-like chart: invisible bar up to the start, visible bar for the duration
    chart = BarChart()
    chart.type = "bar"
    chart.grouping = "stacked"
    chart.overlap = 100
    chart.title = "Construction schedule (days)"
    chart.y_axis.title = "day"
    cats = Reference(ws, min_col=2, min_row=first, max_row=last)
    start = Reference(ws, min_col=12, min_row=hr, max_row=last)
    dur = Reference(ws, min_col=11, min_row=hr, max_row=last)
    chart.add_data(start, titles_from_data=True)
    chart.add_data(dur, titles_from_data=True)
    chart.set_categories(cats)
    chart.series[0].graphicalProperties.noFill = True
    chart.series[0].graphicalProperties.line.noFill = True
    chart.series[1].graphicalProperties.solidFill = "2E75B6"
    chart.x_axis.scaling.orientation = "maxMin"
    chart.x_axis.delete = False  # openpyxl 3.1 hides axes unless told
    chart.y_axis.delete = False
    chart.legend = None
    chart.height, chart.width = 7 + 0.5 * len(phases), 20
    ws.add_chart(chart, f"A{last + 3}")
    _print_setup(ws, f"{hr}:{hr}")
    return {"first": first, "phases": phases, "names": names, "values": values}


def budget_whatif(wb: Workbook, station: Station, sweep: pd.DataFrame | None) -> None:  # noqa: C901  debt: issue 16 (complexity 16)
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
              "source": "Plan from", "weighted_sheltered": "Sheltered (priority-weighted, all scenarios)"}
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
            elif c.startswith("sheltered_") or c == "rooms":
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
        chart = ScatterChart()
        chart.title = "People sheltered vs budget"
        chart.style = 13
        chart.x_axis.title = f"budget ({cur})"
        chart.y_axis.title = "people sheltered"
        chart.x_axis.number_format = "#,##0"
        xs = Reference(ws, min_col=xcol, min_row=hr + 1, max_row=last)
        for j, c in enumerate(cols, start=1):
            if c.startswith("sheltered_"):
                ys = Reference(ws, min_col=j, min_row=hr, max_row=last)
                ser = Series(ys, xs, title_from_data=True)
                ser.marker.symbol = "circle"
                chart.series.append(ser)
        chart.x_axis.delete = False
        chart.y_axis.delete = False
        chart.height, chart.width = 9, 20
        ws.add_chart(chart, f"A{last + 3}")
    _print_setup(ws, f"{hr}:{hr}")


def _map(wb: Workbook, map_png: Path | list[Path] | None) -> None:
    from openpyxl.drawing.image import Image

    ws = wb.create_sheet("Map")
    put(ws, row=1, column=1, value="Maps of the plan (one per deck)").font = TITLE_FONT
    paths = [] if map_png is None else ([Path(map_png)] if isinstance(map_png, (str, Path)) else
                                        [Path(x) for x in map_png])
    paths = [q for q in paths if q.exists()]
    if not paths:
        put(ws, row=3, column=1, value="No map was drawn (planner.maps.plot_maps writes one PNG per deck).")
        return
    row = 3
    for q in paths:
        img = Image(str(q))
        scale = min(1.0, 1100 / max(img.width, 1))
        img.width, img.height = int(img.width * scale), int(img.height * scale)
        put(ws, row=row, column=1, value=q.name).font = SUB_FONT
        ws.add_image(img, f"A{row + 1}")
        row += 3 + int(img.height / 20)
    _print_setup(ws)


# ------------------------------------------------------------------ verification (simulation)
def _text(ws: Worksheet, row: int, column: int, value: Any) -> Any:
    """A cell holding `value`; text is always text (a room id like '=A1' never becomes a formula)."""
    c = put(ws, row=row, column=column, value=value)
    if isinstance(value, str):
        c.data_type = "s"
    return c


def verification_sheets(wb: Workbook, sim: dict) -> None:
    """Add the "Verification" and "Arrival curve" sheets of a pedestrian simulation to `wb`.

    `sim` is the `simulation.json` content (`planner.simulate.SimulationResult.to_dict()`): per
    scenario the share secured within the reach and within 1, 2 and 4 minutes, the last arrival and
    the deadlocked agents (worst seed); the late rooms with their cause; every walking assignment
    with its predicted and simulated arrival times. "Arrival curve" holds the share secured against
    time (seconds) per scenario, with a chart.
    """
    par = sim.get("parameters", {})
    reach = float(par.get("reach_s", 60.0))
    ws = wb.create_sheet("Verification")
    put(ws, row=1, column=1, value="Verification: the plan replayed in a pedestrian simulation").font = TITLE_FONT
    note = (f"{par.get('engine', 'JuPedSim')}, model {par.get('model', '')}, {par.get('seeds', '')} seed(s) per "
            f"scenario (the worst shown), walking speed {par.get('speed_m_s', '')} m/s"
            + (f" (standard deviation {par.get('speed_sd_m_s')} m/s)" if par.get("speed_sd_m_s") else "")
            + f", reaction {par.get('reaction_s', 0)} s, agent radius {par.get('radius_m', '')} m. "
            "Residents sheltering in their own room count as secured at 0 s; residents the plan leaves "
            "out, and agents that never arrive (deadlocked), count as not secured.")
    _text(ws, 2, 1, note).alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=10)
    ws.row_dimensions[2].height = 45
    labels = ["Scenario", "Residents", "Walk", "Shelter in place", f"Secured within {reach:.0f} s",
              "Within 1 min", "Within 2 min", "Within 4 min", "Last arrival (s)", "Deadlocked", "Worst seed"]
    _header(ws, 4, labels)
    row = 5
    for sc, d in sim.get("scenarios", {}).items():
        within = d.get("within_s", {})
        vals = [sc, d.get("residents"), d.get("agents"), d.get("sheltered_in_place"), d.get("share_within_reach"),
                within.get("60"), within.get("120"), within.get("240"), d.get("last_arrival_s"),
                d.get("deadlocked"), d.get("worst_seed")]
        for j, v in enumerate(vals, 1):
            c = _text(ws, row, j, v)
            if j in (5, 6, 7, 8) and v is not None:
                c.number_format = "0.0%"
                if j == 5 and float(v) < 0.995:
                    c.fill = AMBER if float(v) >= 0.95 else RED
        row += 1
    row += 1
    late = sim.get("late_rooms", [])
    put(ws, row=row, column=1, value=f"Rooms whose last resident arrived after {reach:.0f} s: {len(late)}").font = SUB_FONT
    row += 1
    _header(ws, row, ["Room", "Scenario", "Safe room", "Late by (s)", "Cause", "Late residents (all seeds)",
                      "Waiting at own door (s)", "In corridors (s)", "At the safe-room door (s)", "On stairs (s)"])
    for r in late:
        row += 1
        w = r.get("wait_s", {})
        vals = [r.get("room_id"), r.get("scenario"), r.get("safe_room_id"),
                "never arrived" if r.get("late_s") is None else r.get("late_s"), r.get("cause"),
                r.get("late_agents"), w.get("own door"), w.get("corridor"), w.get("safe-room door"), w.get("stairs")]
        for j, v in enumerate(vals, 1):
            _text(ws, row, j, v)
    row += 2
    put(ws, row=row, column=1, value="Every walking assignment: predicted and simulated arrival (s, over all seeds)"
            ).font = SUB_FONT
    row += 1
    _header(ws, row, ["Room", "Scenario", "Safe room", "Residents", "Predicted (s)", "First (s)", "Median (s)",
                      "Last (s)", "Last - predicted (s)", "Never arrived"])
    for a in sim.get("assignments", []):
        row += 1
        pred, last = a.get("predicted_s"), a.get("sim_last_s")
        vals = [a.get("room_id"), a.get("scenario"), a.get("safe_room_id"), a.get("residents"), pred,
                a.get("sim_first_s"), a.get("sim_median_s"), last,
                None if pred is None or last is None else round(float(last) - float(pred), 2), a.get("deadlocked")]
        for j, v in enumerate(vals, 1):
            _text(ws, row, j, v)
    _widths(ws, [14, 11, 14, 11, 14, 12, 12, 12, 14, 12, 11])
    ws.freeze_panes = "A5"
    # --- the arrival curve: share secured against time, per scenario
    cs = wb.create_sheet("Arrival curve")
    cs.cell(row=1, column=1, value="Share of residents inside a safe room against time (worst seed)").font = TITLE_FONT
    scen = list(sim.get("scenarios", {}))
    curves = {sc: {float(t): float(v) for t, v in sim["scenarios"][sc].get("curve", [])} for sc in scen}
    times = sorted({t for c in curves.values() for t in c})
    _header(cs, 3, ["Time (s)"] + scen)
    last_val = {sc: 0.0 for sc in scen}
    for i, t in enumerate(times):
        cs.cell(row=4 + i, column=1, value=t)
        for j, sc in enumerate(scen, 2):
            last_val[sc] = curves[sc].get(t, last_val[sc])
            cs.cell(row=4 + i, column=j, value=last_val[sc]).number_format = "0.0%"
    if times and scen:
        ch = ScatterChart()
        ch.title = "Residents secured against time"
        ch.x_axis.title = "seconds after the alarm"
        ch.y_axis.title = "share secured"
        ch.y_axis.scaling.min, ch.y_axis.scaling.max = 0, 1
        ch.style = 13
        xs = Reference(cs, min_col=1, min_row=4, max_row=3 + len(times))
        for j in range(2, 2 + len(scen)):
            ys = Reference(cs, min_col=j, min_row=3, max_row=3 + len(times))
            se = Series(ys, xs, title_from_data=True)
            se.marker.symbol = "none"
            ch.series.append(se)
        ch.height, ch.width = 9, 18
        cs.add_chart(ch, f"{get_column_letter(len(scen) + 3)}3")
    _widths(cs, [10] + [12] * len(scen))
    for name, colour in (("Verification", "C00000"), ("Arrival curve", "C00000")):
        wb[name].sheet_properties.tabColor = colour


def write_verification_workbook(path: Path, title: str, sim: dict) -> Path:
    """A workbook of its own with the Verification and Arrival curve sheets (`planner simulate`)."""
    path = Path(path)
    wb = Workbook()
    verification_sheets(wb, sim)
    wb.remove(wb.worksheets[0])
    wb.properties.title = f"Simulation {title}"
    wb.properties.creator = "safe-room planner"
    write_atomic(path, wb.save, overwrite=True, what="workbook")  # the same file name as before: replaced whole
    return path


# ------------------------------------------------------------------ summary
def _n(k: int, word: str) -> str:
    """'1 room', '3 rooms'."""
    return f"{k:,} {word}{'' if k == 1 else 's'}"


def _share(sh: int, res: int) -> float:
    return sh / res if res else 1.0


def recommendation(station: Station, plan: dict, sr: pd.DataFrame) -> str:  # noqa: C901  debt: issue 16 (complexity 18)
    """A plain-language paragraph from the plan's numbers (figures as planned)."""
    p = station.params
    cur = p.currency
    tot = plan.get("totals", {})
    n_new = int((~sr["existing"].astype(bool)).sum()) if len(sr) else 0
    n_old = int(sr["existing"].astype(bool).sum()) if len(sr) else 0
    kinds = Counter(sr.loc[~sr["existing"].astype(bool), "kind"]) if len(sr) else Counter()
    kind_txt = ", ".join(f"{v} {k}" for k, v in kinds.most_common())
    cost = float(tot.get("cost", 0.0) or 0.0)
    budget = tot.get("budget", p.budget)
    parts = [f"Convert {n_new} room{'s' if n_new != 1 else ''}" + (f" ({kind_txt})" if kind_txt else "")
             + (f", besides the {n_old} existing safe room{'s' if n_old != 1 else ''}," if n_old else "")
             + f" for {cost:,.0f} {cur}"]
    if isinstance(budget, (int, float)) and budget:
        parts[0] += f", {100 * cost / budget:.0f} % of the {budget:,.0f} {cur} budget"
    parts[0] += "."
    scen = tot.get("scenarios", {})
    worst = None
    for s, v in scen.items():
        sh, res = int(v.get("sheltered", 0)), int(v.get("residents", 0))
        if worst is None or _share(sh, res) < worst[1]:
            worst = (s, _share(sh, res), sh, res)
    if worst:
        if all(int(v.get("sheltered", 0)) >= int(v.get("residents", 0)) for v in scen.values()):
            parts.append(f"Everyone is sheltered in every occupancy scenario ({', '.join(scen)}): "
                         f"the longest walk to a safe room is {float(tot.get('max_walk_s', 0)):.0f} s "
                         f"against a limit of {p.reach_s:.0f} s.")
        else:
            short = {s: int(v.get("residents", 0)) - int(v.get("sheltered", 0)) for s, v in scen.items()}
            parts.append(f"The plan leaves people unsheltered: in the worst scenario ({worst[0]}) "
                         f"{worst[2]:,} of {worst[3]:,} residents ({100 * worst[1]:.1f} %) reach a safe room within "
                         f"{p.reach_s:.0f} s; short by " + ", ".join(f"{v:,} ({s})" for s, v in short.items()) + ".")
            reasons = Counter(str(u.get("reason", "")).split(" (")[0] for u in plan.get("unsheltered", []))
            if reasons:
                parts.append("Why: " + "; ".join(f"{r} ({n} room-scenario{'s' if n != 1 else ''})"
                                                 for r, n in reasons.most_common(3)) + ".")
        full = tot.get("full_cover_cost", tot.get("full_coverage_cost"))
        if isinstance(full, (int, float)) and full > cost:
            more = (f", {full - budget:,.0f} {cur} more than the budget"
                    if isinstance(budget, (int, float)) and full > budget else "")
            parts.append(f"Sheltering everyone would cost about {full:,.0f} {cur}{more}.")
    k = int(tot.get("min_options_in_reach", 0) or 0)
    if k:
        parts.append(f"Every occupied room has at least {k} safe room{'s' if k != 1 else ''} within reach.")
    parts.append(_modes_sentence(station, plan))
    if len(sr):
        phases = sorted(sr["phase"].unique())
        if len(phases) > 1:
            p1 = sr[sr["phase"] == phases[0]]
            new1 = int(pd.to_numeric(p1["_converted"], errors="coerce").fillna(1).sum()) if "_converted" in p1 else len(p1)
            rows = {int(r["phase"]): r for r in (plan.get("phases") or []) if "phase" in r}
            name1 = p.phases[0].name if p.phases else "Phase 1"
            text = (f"{name1} (phase 1) converts {_n(new1, 'room')} for {p1['_total_cost'].sum():,.0f} {cur} "
                    f"({p1['_crew_days'].sum():,.1f} crew-days)")
            r1 = rows.get(int(phases[0]))
            if r1:
                got = [int(v) for k_, v in r1.items() if k_.startswith("sheltered_")]
                if got:
                    text += f" and shelters at least {min(got):,} people by day {float(r1.get('end_day', 0)):,.0f}"
            parts.append(text + ".")
            last = rows.get(int(phases[-1]))
            if last and last.get("end_day") is not None:
                parts.append(f"The phased programme ends on day {float(last['end_day']):,.0f}.")
        days = sr["_crew_days"].sum() / max(p.crews, 1)
        parts.append(f"The work takes about {sr['_labour_h'].sum():,.0f} labour hours, "
                     f"{_n(max(1, math.ceil(days)), 'day')} of work with {_n(p.crews, 'crew')}.")
    sol = plan.get("solver", {})
    gap = sol.get("gap")
    if isinstance(gap, (int, float)) and math.isfinite(gap) and gap <= 0.05:
        parts.append(f"The solver ({sol.get('name', '?')}, status {sol.get('status', '?')}) proved this plan "
                     f"within {100 * gap:.2f} % of the best possible.")
    elif isinstance(gap, (int, float)) and math.isfinite(gap):
        parts.append(f"The solver ({sol.get('name', '?')}) stopped ({sol.get('status', '?')}) with this plan "
                     f"{100 * gap:.1f} % from the best bound it proved: the plan is feasible and passed the "
                     "independent check, but a better one may exist; a longer time limit (--time-limit) "
                     "narrows the gap.")
    elif sol:
        parts.append(f"Solver status: {sol.get('status', '?')} (no optimality gap proved).")
    return " ".join(parts)


def _modes_sentence(station: Station, plan: dict) -> str:
    """Conversion modes and displacement in words: which kinds keep their use, who moves, where to."""
    d = displacement_summary(station, plan)
    m = d["modes"]
    if not len(m):
        return "No room is converted, so nobody is displaced."
    words = {"dual_use": ("keeps its use", "keep their use"), "repurpose": ("is repurposed", "are repurposed")}
    by = [f"{int(r.rooms)} {r.kind} room{'s' if r.rooms != 1 else ''} "
          + words.get(r.mode, (r.mode, r.mode))[int(r.rooms != 1)] for r in m.itertuples(index=False)]
    text = ("Conversion: " + "; ".join(by) + " (dual use: hardened and equipped, its occupants shelter in place; "
            "repurposed: emptied, its residents move to spare beds).")
    if d["in_place"]:
        text += f" {d['in_place']:,} residents of converted rooms stay in their homes and shelter there."
    moved = d["moved"]
    if moved:
        bs = d["by_sector"]
        same = int(bs.loc[bs["from_sector"] == bs["to_sector"], "residents"].sum())
        frm = bs.groupby("from_sector")["residents"].sum()
        text += (f" {moved:,} residents are displaced: they move out of repurposed rooms into rooms with spare beds "
                 f"({same:,} within their own sector), from sector " + ", ".join(f"{k} ({v:,})" for k, v in frm.items())
                 + "; the plan shelters them where they now live, in every scenario.")
    else:
        text += " Nobody is displaced."
    return text


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


def _displacement(wb: Workbook, station: Station, plan: dict, tradeoff: pd.DataFrame | None) -> None:
    """The Displacement sheet: least cost at 0, 25, 50 and 100 % of today's displacement, table and chart."""
    ws = wb.create_sheet("Displacement")
    cur = station.params.currency
    d = displacement_summary(station, plan)
    put(ws, row=1, column=1, value="What does moving residents out of their homes buy?").font = TITLE_FONT
    intro = (f"Today's displacement: {d['today']:,} residents live in the rooms with beds this plan converts "
             "(earlier proposals counted them all as relocated). Each row is the least cost of a plan that "
             "shelters everyone when at most that many residents may be moved out of repurposed rooms into spare "
             f"beds (the rest are hardened in place, dual use). Spare beds on the station: {d['spare_beds']:,}. "
             f"The proposal itself moves {d['moved']:,}.")
    c = put(ws, row=2, column=1, value=intro)
    c.alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells("A2:I2")
    ws.row_dimensions[2].height = 75
    hr = 4
    labels = ["Share of today's displacement", "At most moved (persons)", f"Least cost ({cur})",
              "Residents moved", "Safe rooms", "Rooms repurposed", "Solver status", "Solver gap", "Note"]
    _header(ws, hr, labels, height=45)
    df = tradeoff if tradeoff is not None else pd.DataFrame(columns=TRADEOFF_COLUMNS)
    if not len(df):
        put(ws, row=hr + 1, column=1, value="(no trade-off was computed with this proposal: planner propose computes it)")
    fmts = ["0%", "#,##0", _money_fmt(cur), "#,##0", "#,##0", "#,##0", None, "0.00%", None]
    for i, rec in enumerate(df[TRADEOFF_COLUMNS].itertuples(index=False), start=hr + 1):
        for j, (v, f) in enumerate(zip(rec, fmts), start=1):
            cell = put(ws, row=i, column=j, value=_py(v))
            if f:
                cell.number_format = f
    last = hr + len(df)
    _widths(ws, [16, 16, 18, 14, 12, 12, 18, 10, 60])
    if len(df):
        chart = ScatterChart()
        chart.title = "Least cost vs residents who may be moved"
        chart.style = 13
        chart.x_axis.title = "residents who may be moved (persons)"
        chart.y_axis.title = f"least cost ({cur})"
        chart.x_axis.number_format = "#,##0"
        chart.y_axis.number_format = "#,##0"
        xs = Reference(ws, min_col=2, min_row=hr + 1, max_row=last)
        ys = Reference(ws, min_col=3, min_row=hr, max_row=last)
        ser = Series(ys, xs, title_from_data=True)
        ser.marker.symbol = "circle"
        chart.series.append(ser)
        chart.x_axis.delete = False
        chart.y_axis.delete = False
        chart.height, chart.width = 9, 20
        ws.add_chart(chart, f"A{last + 3}")
    _print_setup(ws, f"{hr}:{hr}")


def promise_text(plan: dict, reach_s: float) -> tuple[str, str] | None:
    """("walkers of at least X m/s reacting within Y s", how it was computed) from plan.json's
    `totals.promise` (`planner.queues.promise_margin`), or None when the plan has none."""
    pm = (plan.get("totals") or {}).get("promise")
    if not isinstance(pm, dict):
        return None
    v, r = pm.get("slowest_speed_m_s"), pm.get("longest_reaction_s")
    if not isinstance(v, (int, float)) or not isinstance(r, (int, float)):
        return ("no walker: some residents cannot make it at any speed", "")
    share = pm.get("share_fast_enough")
    text = f"walkers of at least {v:.2f} m/s reacting within {max(0.0, r):.0f} s"
    note = (f"slowest speed at reaction {pm.get('reaction_s', 0):g} s, longest reaction at "
            f"{pm.get('design_speed_m_s', 0):g} m/s; own-door and safe-room door queues included")
    if isinstance(share, (int, float)):
        note = (f"about {100 * share:.1f} % of residents walk at least that fast (speeds N({pm.get('mean_speed_m_s', 1.2):g}, "
                f"{pm.get('speed_sd_m_s', 0.2):g}) m/s); ") + note
    exp = pm.get("expected_share")
    if isinstance(exp, dict) and exp:
        note += ("; expected in their safe room in time with such speeds: "
                 + ", ".join(f"{k} {100 * v:.1f} %" for k, v in exp.items() if isinstance(v, (int, float))))
    return text, note


def _summary(wb: Workbook, station: Station, plan: dict, safe: dict[str, Any], prefs: dict[str, str],  # noqa: C901  debt: issue 16 (complexity 15)
             phase_info: dict[str, Any]) -> None:
    ws = wb.active
    ws.title = "Summary"
    p = station.params
    cur = p.currency
    sr: pd.DataFrame = safe["table"]
    tot = plan.get("totals", {})
    money = _money_fmt(cur)
    put(ws, row=1, column=1, value=f"Safe-room construction proposal: {station.title}"
            ).font = TITLE_FONT
    put(ws, row=2, column=1, value=(f"Planned {plan.get('created', '')} with planner {plan.get('planner_version', '')}"
                                    f"; objective {plan.get('objective', p.objective)}; reach {p.reach_s:.0f} s at {p.walk_speed_m_s} m/s."
                                    )).font = Font(italic=True, color="595959")
    # recommendation
    put(ws, row=4, column=1, value="Recommendation").font = SUB_FONT
    rec = put(ws, row=5, column=1, value=recommendation(station, plan, sr))
    rec.alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells("A5:F5")
    ws.row_dimensions[5].height = 150
    # key figures (live where they come from the cost model)
    r = 7
    put(ws, row=r, column=1, value="Key figures").font = SUB_FONT
    put(ws, row=r, column=2, value=(
        "Costs, labour and days are live formulas: edit a unit cost on the Assumptions sheet and they follow. "
        "The choice of rooms does not change: for a new plan at another budget, run make whatif BUDGET=X."
    )).font = Font(italic=True, color="595959")
    r += 1
    budget_ref = prefs["budget"]
    num = lambda col: float(pd.to_numeric(sr[col], errors="coerce").fillna(0).sum()) if col in sr else 0.0  # noqa: E731
    total_v = round(num("_total_cost"), 2)
    budget_v = p.budget
    has_b = budget_v is not None
    conv_v = num("_converted")
    figures: list[tuple[str, Any, Any, str | None, str]] = [
        ("Total cost", f"={safe['total']}", total_v, money, "sum of the Safe rooms sheet (live formula)"),
        ("Budget", f'=IF(ISNUMBER({budget_ref}),{budget_ref},"no budget")', budget_v if has_b else "no budget",
         money, "Assumptions: budget"),
        ("Budget left", f'=IF(ISNUMBER({budget_ref}),{budget_ref}-B{r},"")', budget_v - total_v if budget_v is not None else "",
         money, "budget - total cost"),
        ("Share of budget", f'=IF(ISNUMBER({budget_ref}),IF({budget_ref}>0,B{r}/{budget_ref},""),"")',
         (total_v / budget_v if budget_v else "") if has_b else "", "0.0%", ""),
        ("Safe rooms to convert", f"=SUM({safe['converted_range']})" if len(sr) else 0, conv_v, "#,##0", ""),
        ("Existing safe rooms kept", f"=COUNTIF({safe['converted_range']},0)" if len(sr) else 0,
         float(len(sr) - conv_v), "#,##0", ""),
        ("Residents displaced", f"={safe['displaced']}", num("_displaced_residents"), "#,##0",
         "moved out of repurposed rooms into spare beds (see below)"),
        ("Labour", f"={safe['labour']}", num("_labour_h"), '#,##0 "h"', "all rooms"),
        ("Crew-days", f"={safe['crew_days']}", num("_crew_days"), '#,##0.0 "d"', "one crew"),
        ("Days with all crews", f"={safe['crew_days']}/{prefs['crews']}", num("_crew_days") / p.crews,
         '#,##0.0 "days"', "crew-days / crews (Assumptions)"),
        ("Worst walk to a safe room", _py(tot.get("max_walk_s", 0.0)), None, '0.0 "s"', f"limit {p.reach_s:.0f} s"),
        ("Fewest safe rooms within reach of an occupied room", _py(tot.get("min_options_in_reach", 0)), None, "0",
         f"required {p.backup_k}"),
    ]
    promise = promise_text(plan, p.reach_s)
    if promise:
        figures.append((f"The {p.reach_s:.0f}-second promise holds for", promise[0], None, None, promise[1]))
    full = tot.get("full_cover_cost", tot.get("full_coverage_cost"))
    if isinstance(full, (int, float)):
        figures.append(("Full coverage would cost", float(full), None, money, "everyone sheltered in every scenario"))
        full_row = r + len(figures) - 1
        figures.append(("Extra money needed for full coverage",
                        f'=IF(ISNUMBER({budget_ref}),MAX(0,B{full_row}-{budget_ref}),"")',
                        max(0.0, float(full) - budget_v) if budget_v is not None else "", money, "full coverage - budget"))
    for label, v, cached, fmt, note in figures:
        put(ws, row=r, column=1, value=label)
        c = _fcell(ws, r, 2, v, cached, fmt)
        c.font = TOTAL_FONT
        put(ws, row=r, column=3, value=note).font = Font(italic=True, color="595959")
        r += 1
    # people sheltered per scenario
    r += 1
    put(ws, row=r, column=1, value="People sheltered per occupancy scenario").font = SUB_FONT
    r += 1
    _header_row(ws, r, ["Scenario", "Residents", "Sheltered", "Share", "Unsheltered"])
    r += 1
    for s, v in tot.get("scenarios", {}).items():
        res, sh = int(v.get("residents", 0)), int(v.get("sheltered", 0))
        put(ws, row=r, column=1, value=s)
        put(ws, row=r, column=2, value=res).number_format = "#,##0"
        put(ws, row=r, column=3, value=sh).number_format = "#,##0"
        _fcell(ws, r, 4, f"=IF(B{r}>0,C{r}/B{r},1)", sh / res if res > 0 else 1, "0.0%")
        _fcell(ws, r, 5, f"=B{r}-C{r}", res - sh, "#,##0")
        r += 1
    # phase 1 vs full
    r += 1
    put(ws, row=r, column=1, value="Phases").font = SUB_FONT
    r += 1
    _header_row(ws, r, ["Phase", "Rooms", "Cost", "Crew-days", "End day"])
    r += 1
    first = phase_info["first"]
    for i, k in enumerate(phase_info["phases"]):
        pr_ = first + i
        pv = phase_info["values"].get(k, {})
        put(ws, row=r, column=1, value=phase_info["names"][k])
        _fcell(ws, r, 2, f"=Phases!C{pr_}", pv.get("rooms"), "0")
        _fcell(ws, r, 3, f"=Phases!F{pr_}", pv.get("cost"), money)
        _fcell(ws, r, 4, f"=Phases!I{pr_}", pv.get("crew_days"), '#,##0.0 "d"')
        _fcell(ws, r, 5, f"=Phases!M{pr_}", pv.get("end_day"), "0.0")
        r += 1
    # conversion modes, who is displaced and where they go
    r += 1
    r = _displacement_section(ws, r, station, plan)
    # rooms by kind and sector
    put(ws, row=r, column=1, value="Safe rooms by kind and sector").font = SUB_FONT
    r += 1
    if len(sr):
        piv = pd.crosstab(sr["kind"], sr["sector"].astype(str))
        _header_row(ws, r, ["Kind"] + [f"Sector {c}" for c in piv.columns] + ["All"])
        r += 1
        for kind, row in piv.iterrows():
            put(ws, row=r, column=1, value=str(kind))
            for j, v in enumerate(row.tolist(), start=2):
                put(ws, row=r, column=j, value=int(v))
            put(ws, row=r, column=len(piv.columns) + 2, value=int(row.sum())).font = TOTAL_FONT
            r += 1
    else:
        put(ws, row=r, column=1, value="(no safe rooms in this plan)")
        r += 1
    # solver
    r += 1
    put(ws, row=r, column=1, value="Solver").font = SUB_FONT
    r += 1
    sol = plan.get("solver", {})
    for key in ("name", "version", "status", "objective", "bound", "gap", "seconds"):
        put(ws, row=r, column=1, value=key)
        c = put(ws, row=r, column=2, value=_py(sol.get(key)) if not isinstance(sol.get(key), (list, dict)) else
                    str(sol.get(key)))
        if key == "gap" and isinstance(sol.get(key), (int, float)):
            c.number_format = "0.00%"
        elif key == "seconds":
            c.number_format = '0.0 "s"'
        elif key in ("objective", "bound"):
            c.number_format = "#,##0.00"
        r += 1
    notes = plan.get("notes") or []
    if notes:
        r += 1
        put(ws, row=r, column=1, value="Notes").font = SUB_FONT
        for n_ in notes:
            r += 1
            put(ws, row=r, column=1, value=str(n_))
    # contents, with links to the other sheets
    put(ws, row=7, column=8, value="In this workbook").font = SUB_FONT
    contents = [(SAFE_SHEET, "one row per safe room: what it costs (live formulas), labour, phase"),
                ("Coverage", "one row per occupied room: its safe room and walking time per scenario"),
                ("Phases", "what is built when, what it costs, who is sheltered at the end of each phase"),
                ("Budget what-if", "people sheltered for other budgets"),
                ("Displacement", "least cost if residents may be moved out of their homes"),
                (ASSUMPTIONS, "every parameter with its unit and source; edit the yellow cells"),
                ("Map", "one map per deck: safe rooms, walking times")]
    for i, (sheet, what) in enumerate(contents, start=8):
        c = put(ws, row=i, column=8, value=sheet)
        c.hyperlink = f"#{quote_sheetname(sheet)}!A1"
        c.font = Font(color="0563C1", underline="single")
        put(ws, row=i, column=9, value=what).font = Font(color="595959")
    _widths(ws, [44, 20, 20, 16, 14, 14, 12, 16, 12, 12])
    _print_setup(ws)
    ws.sheet_view.showGridLines = False


def _header_row(ws: Worksheet, row: int, labels: list[str]) -> None:
    for j, lab in enumerate(labels, 1):
        c = put(ws, row=row, column=j, value=lab)
        c.fill, c.font = HEADER_FILL, HEADER_FONT
        c.alignment = Alignment(horizontal="center")


# ------------------------------------------------------------------ cached values
_CELL_F = re.compile(r'<c r="([A-Z]+[0-9]+)"([^>]*)><f>([^<]*)</f>(?:<v\s*/>|<v></v>)</c>')
"""A formula cell without a value as openpyxl writes it: ``<v/>`` (et_xmlfile) or ``<v></v>`` (lxml).
The formula text has no ``<`` (XML-escaped), so a cell that does not match fails fast instead of
scanning on to a later cell."""


def _inject_cached(path: Path, cache: dict[str, dict[str, Any]],
                   bodies: dict[str, tuple[int, str]] | None = None) -> None:
    """Give formula cells their cached values (openpyxl writes none), and splice in the table bodies, in place.

    Viewers that do not calculate (Excel's Protected View for a mailed file, previews,
    pandas) then show the planner's figures; Excel and LibreOffice still recalculate
    (fullCalcOnLoad is set).
    """
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
          "p": "http://schemas.openxmlformats.org/package/2006/relationships"}
    with zipfile.ZipFile(path) as zin:
        book = ET.fromstring(zin.read("xl/workbook.xml"))
        rels = ET.fromstring(zin.read("xl/_rels/workbook.xml.rels"))
        target = {r.get("Id"): r.get("Target") for r in rels.findall("p:Relationship", ns)}
        part_of: dict[str | None, str] = {}
        for sh in book.findall("m:sheets/m:sheet", ns):
            t = str(target[sh.get(f"{{{ns['r']}}}id")]).lstrip("/")
            part_of[sh.get("name")] = t if t.startswith("xl/") else "xl/" + t
        items = [(info, zin.read(info.filename)) for info in zin.infolist()]
    parts = {part_of[name]: vals for name, vals in cache.items() if name in part_of and vals}
    body_of = {part_of[name]: b for name, b in (bodies or {}).items() if name in part_of}

    def fill(vals: dict[str, Any]) -> Callable[[re.Match], str]:
        def sub(m: re.Match) -> str:
            v = vals.get(m.group(1))
            if v is None:
                return m.group(0)
            attrs = re.sub(r'\st="[^"]*"', "", m.group(2))
            if isinstance(v, bool):
                return f'<c r="{m.group(1)}"{attrs} t="b"><f>{m.group(3)}</f><v>{int(v)}</v></c>'
            if isinstance(v, (int, float)):
                return f'<c r="{m.group(1)}"{attrs}><f>{m.group(3)}</f><v>{repr(float(v)) if isinstance(v, float) else v}</v></c>'
            return f'<c r="{m.group(1)}"{attrs} t="str"><f>{m.group(3)}</f><v>{xml_escape(str(v))}</v></c>'
        return sub

    tmp = path.with_name(path.name + ".cache")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info, data in items:
            if info.filename in parts or info.filename in body_of:
                xml = data.decode("utf-8")
                if info.filename in parts:
                    xml = _CELL_F.sub(fill(parts[info.filename]), xml)
                if info.filename in body_of:  # after the cached values: the body has its own
                    xml = xlsxrows.splice(xml, *body_of[info.filename])
                data = xml.encode("utf-8")
            zout.writestr(info, data)
    os.replace(tmp, path)


# ------------------------------------------------------------------ entry point
def write_workbook(path: Path, station: Station, plan: dict, costs: pd.DataFrame, sites: pd.DataFrame,
                   reach: ReachTable | None = None, sweep: pd.DataFrame | None = None,
                   map_png: Path | list[Path] | None = None, tradeoff: pd.DataFrame | None = None,
                   simulation: dict | None = None, overwrite: bool = False) -> Path:
    """Write the proposal workbook to `path` (a temporary name in the same folder, then moved into place;
    an existing entry at `path` is an `OutputError` unless `overwrite`).

    `plan`: the plan.json dict; `costs`: `planner.costs.site_costs`; `sites`: candidate sites;
    `reach`: ReachTable (for "safe rooms in reach"), `sweep`: budget sweep table, `map_png`: map(s),
    `tradeoff`: `planner.displacement.displacement_tradeoff` (the Displacement sheet),
    `simulation`: the `simulation.json` content of a pedestrian simulation of this plan (adds the
    Verification and Arrival curve sheets).
    """
    path = Path(path)
    wb = _Book()
    wb.active.title = "Summary"
    prefs = _assumptions(wb, station)  # created first for the refs, moved to its place below
    safe = _safe_rooms(wb, station, plan, costs, sites, prefs)
    _coverage(wb, station, plan, reach, prefs)
    phase_info = _phases(wb, station, plan, safe["table"], safe, prefs)
    budget_whatif(wb, station, sweep)
    _displacement(wb, station, plan, tradeoff)
    _summary(wb, station, plan, safe, prefs, phase_info)
    _map(wb, map_png)
    order = ["Summary", SAFE_SHEET, "Coverage", "Phases", "Budget what-if", "Displacement", ASSUMPTIONS, "Map"]
    colours = ["1F3864", "2E75B6", "2E75B6", "2E75B6", "70AD47", "70AD47", "BF8F00", "7F7F7F"]
    if simulation is not None:
        verification_sheets(wb, simulation)
        order[1:1] = ["Verification", "Arrival curve"]
        colours[1:1] = ["C00000", "C00000"]
    for i, n in enumerate(order):
        wb.move_sheet(n, i - wb.sheetnames.index(n))
    for n, colour in zip(order, colours):
        wb[n].sheet_properties.tabColor = colour
    wb.active = 0
    wb.calculation.fullCalcOnLoad = True
    wb.properties.title = f"Safe-room proposal {station.title}"
    wb.properties.creator = "safe-room planner"

    def save(tmp: Path) -> None:
        wb.save(tmp)
        _inject_cached(tmp, wb.cached, wb.bodies)

    write_atomic(path, save, overwrite=overwrite, what="workbook")
    return path
