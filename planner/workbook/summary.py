"""The "Summary" sheet: the recommendation in words, the promise and the headline figures."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import quote_sheetname

from planner.cells import put
from planner.displacement import displacement_summary
from planner.plan import expected_share_words, late_words, population_words, swap_words
from planner.station import Station
from planner.workbook.displacement_sheet import _displacement_section
from planner.workbook.style import (
    ASSUMPTIONS,
    SAFE_SHEET,
    SUB_FONT,
    TITLE_FONT,
    TOTAL_FONT,
    _fcell,
    _header_row,
    _money_fmt,
    _print_setup,
    _py,
    _widths,
)


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
        parts += _late_sentence(tot)
        full = tot.get("full_cover_cost", tot.get("full_coverage_cost"))
        if isinstance(full, (int, float)) and full > cost:
            more = (f", {full - budget:,.0f} {cur} more than the budget"
                    if isinstance(budget, (int, float)) and full > budget else "")
            parts.append(f"Sheltering everyone would cost about {full:,.0f} {cur}{more}.")
    k = int(tot.get("min_options_in_reach", 0) or 0)
    if k:
        parts.append(f"Every occupied room has at least {k} safe room{'s' if k != 1 else ''} within reach.")
    opts = tot.get("options_in_reach") or {}
    if 2 <= p.backup_goal <= 3 and opts:
        keys = [str(n) for n in range(p.backup_goal, 3)] + ["3+"]
        have = {sc: sum(int(per.get(key, 0)) for key in keys) for sc, per in opts.items()}
        parts.append("Backup coverage, maximised at this cost: residents with " + f"{p.backup_goal} or more safe rooms "
                     "within reach: " + ", ".join(f"{v:,} of {int(sum(opts[sc].values())):,} ({sc})"
                                                  for sc, v in have.items()) + ".")
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


def _late_sentence(tot: dict) -> list[str]:
    """The recommendation's sentence on the residents the replay of the corridor queues finds late (plan.json
    `totals.late_by_corridors`), when there are any."""
    late = tot.get("late_by_corridors") or {}
    if int(late.get("residents", 0) or 0) <= 0:
        return []
    per = late.get("by_scenario") or {}
    return [f"Replaying the queues at the corridor openings on this plan, {int(late['residents']):,} residents arrive "
            "late (" + ", ".join(f"{int(n):,} {s}" for s, n in per.items() if int(n)) + "): the optimiser limits the "
            "people through an opening round by round and stops after its last round; planner check names the openings."]


def _late_figure(plan: dict) -> list[tuple[str, Any, Any, str | None, str]]:
    """The key figure "Residents late by the corridor queues" (persons, all scenarios), when the plan has it."""
    words = late_words(plan)
    if not words:
        return []
    return [("Residents late by the corridor queues", int(plan["totals"]["late_by_corridors"]["residents"]), None,
             "#,##0", words)]


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


def _verification_section(ws: Any, r: int, plan: dict) -> int:
    """The simulation loop's lines (plan.json `verification.summary`, `planner.verify`) from row `r`;
    returns the next free row."""
    ver = plan.get("verification")
    if not (isinstance(ver, dict) and ver.get("summary")):
        return r
    put(ws, row=r, column=1, value="Verified in a pedestrian simulation (planner propose --verify)").font = SUB_FONT
    for line in ver["summary"]:
        r += 1
        put(ws, row=r, column=1, value=str(line))
    return r + 1


def _swaps_section(ws: Any, r: int, plan: dict) -> int:
    """Swaps per scenario (issue 17: a safe room's own residents sent elsewhere while others come in,
    where the replayed plans deadlocked) and why they remain, from row `r`; returns the next free row."""
    words = swap_words(plan)
    ts = (plan.get("totals") or {}).get("swaps")
    if words is None or not isinstance(ts, dict):
        return r
    r += 1
    put(ws, row=r, column=1, value="Swaps: a safe room's own residents sent elsewhere while others come in"
        ).font = SUB_FONT
    r += 1
    _header_row(ws, r, ["Scenario", "Safe rooms", "Residents leaving", "Residents coming in"])
    r += 1
    for s, v in ts.items():
        put(ws, row=r, column=1, value=s)
        for col, key in enumerate(("sites", "residents_leaving", "residents_incoming"), start=2):
            put(ws, row=r, column=col, value=int(v.get(key, 0))).number_format = "#,##0"
        r += 1
    put(ws, row=r, column=1, value=("Why they remain: " if words[0] != "none" else "") + words[1] + ".").font = \
        Font(italic=True, color="595959")
    return r + 1


def _summary(wb: Workbook, station: Station, plan: dict, safe: dict[str, Any], prefs: dict[str, str],  # noqa: C901  debt: issue 16 (complexity 21)
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
    figures += _late_figure(plan)
    promise = promise_text(plan, p.reach_s)
    if promise:
        figures.append((f"The {p.reach_s:.0f}-second promise holds for", promise[0], None, None, promise[1]))
    pop = population_words(plan, p.reach_s)
    if pop:
        pm = tot.get("promise") or {}
        target = float(pm.get("target_share", p.verify_target_share))
        short = pm.get("short_at_target_speed")
        blocked = isinstance(short, dict) and any(int(n) > 0 for n in short.values())
        figures.append((f"Guaranteeing {100 * target:.1f} % of walkers with spread speeds",
                        "no budget buys it" if blocked else "cost not computed", None, None, pop))
    ew = expected_share_words(plan, p.reach_s)
    if ew:
        target = float(((tot.get("promise") or {}).get("expected_share_cost") or {}).get("target", p.verify_target_share))
        figures.append((f"Bringing an expected {100 * target:.1f} % of residents with spread speeds into a safe "
                        f"room in {p.reach_s:.0f} s", ew[0], None, None, ew[1]))
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
    r = _swaps_section(ws, r, plan)
    # backup coverage: residents by the number of safe rooms within reach of their room
    opts = tot.get("options_in_reach") or {}
    if opts:
        r += 1
        goal = (f" (backup coverage maximised for {p.backup_goal} or more)" if p.backup_goal >= 2 else "")
        put(ws, row=r, column=1, value="Residents by safe rooms within reach of their room" + goal).font = SUB_FONT
        r += 1
        _header_row(ws, r, ["Scenario", "None", "1", "2", "3 or more"])
        r += 1
        for s, per in opts.items():
            put(ws, row=r, column=1, value=s)
            for col, key in enumerate(("0", "1", "2", "3+"), start=2):
                put(ws, row=r, column=col, value=int(per.get(key, 0))).number_format = "#,##0"
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
    _verification_section(ws, r + 2, plan)
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
