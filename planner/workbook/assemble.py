"""The entry point: `write_workbook` builds every sheet, orders and colours the tabs, saves the
file atomically; also the "Map" sheet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook

from planner.cells import put
from planner.files import write_atomic
from planner.network import ReachTable
from planner.station import Station
from planner.workbook.assumptions import _assumptions
from planner.workbook.cached import _inject_cached
from planner.workbook.displacement_sheet import _displacement
from planner.workbook.phasing import _phases
from planner.workbook.rooms import _coverage, _safe_rooms
from planner.workbook.style import (
    ASSUMPTIONS,
    SAFE_SHEET,
    SUB_FONT,
    TITLE_FONT,
    _Book,
    _print_setup,
)
from planner.workbook.summary import _summary
from planner.workbook.verification import verification_sheets
from planner.workbook.whatif import budget_whatif


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
