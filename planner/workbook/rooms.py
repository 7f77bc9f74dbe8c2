"""The "Safe rooms" sheet (live cost formulas per site) and the "Coverage" sheet (who shelters
where, per scenario)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.formatting.rule import CellIsRule, FormulaRule
from openpyxl.styles import Border, Font
from openpyxl.utils import get_column_letter

from planner import costs as cost_model
from planner import xlsxrows
from planner.cells import put
from planner.network import ReachTable
from planner.station import Station
from planner.workbook.style import (
    AMBER,
    INPUT_FILL,
    RED,
    SAFE_SHEET,
    THIN,
    TOTAL_FILL,
    TOTAL_FONT,
    _auto_widths,
    _body,
    _fcell,
    _header,
    _money_fmt,
    _print_setup,
    _py,
    _ref,
    _sheet,
)


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
