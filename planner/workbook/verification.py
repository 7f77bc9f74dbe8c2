"""The "Verification" and "Arrival curve" sheets of a pedestrian simulation, and the workbook of
their own that `planner simulate` writes."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import Reference, ScatterChart, Series
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter

from planner.cells import put
from planner.files import write_atomic
from planner.workbook.style import (
    AMBER,
    RED,
    SUB_FONT,
    TITLE_FONT,
    _header,
    _text,
    _widths,
)


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
