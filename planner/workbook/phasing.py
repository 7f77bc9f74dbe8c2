"""The "Phases" sheet: the construction phases, their rooms, costs and who is covered after each."""

from __future__ import annotations

from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from planner.cells import put
from planner.station import Station
from planner.workbook.style import (
    TITLE_FONT,
    _fcell,
    _header,
    _money_fmt,
    _print_setup,
    _widths,
)


def _phase_names(station: Station, phases: list[int]) -> dict[int, str]:
    """Declared phase names; the phase after the last declared one holds the remaining rooms."""
    declared = station.params.phases
    return {k: (declared[k - 1].name if 0 < k <= len(declared) else
                ("Remaining" if declared and k == len(declared) + 1 else f"Phase {k}")) for k in phases}


def _phasing_line(info: Any) -> str:
    """How the phases were chosen, from plan.json `phasing`: method, objective, bound, gap, seconds."""
    if not isinstance(info, dict) or not info.get("method"):
        return ""
    text = f"Phasing: {info['method']}"
    obj, bound, gap = info.get("objective"), info.get("bound"), info.get("gap")
    if isinstance(obj, (int, float)):
        text += f"; objective {obj:,.0f} weighted person-days"
    if isinstance(bound, (int, float)) and isinstance(gap, (int, float)):
        text += f", proven bound {bound:,.0f} (gap {100 * gap:.2f} %)"
    else:
        text += ", no proven bound"
    if isinstance(info.get("seconds"), (int, float)):
        text += f"; {info['seconds']:.1f} s"
    return text + "."


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
    how = _phasing_line(plan.get("phasing"))
    if how:
        put(ws, row=3, column=1, value=how).font = Font(italic=True)
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
