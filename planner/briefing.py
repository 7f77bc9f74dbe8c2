"""The briefing folder: door placards per deck, the interactive map and the briefing sheet.

`write_briefing` is what `planner brief` and the proposal call::

    <out>/placards-deck-<d>.pdf   one page per occupied room of deck d (A4 or Letter)
    <out>/map.html                the offline interactive map (one self-contained file)
    <out>/briefing-sheet.pdf      one page for delegations

Every file is written under a temporary name and moved into place.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from planner.brief import add_routes, read_simulation, room_briefs, strings
from planner.errors import OutputError
from planner.network import ReachTable, WalkGraph
from planner.placards import write_briefing_sheet, write_placards
from planner.station import Station
from planner.webmap import write_webmap

logger = logging.getLogger(__name__)


def write_briefing(station: Station, plan: dict, reach: ReachTable, out_dir: Path, lang: str = "en",
                   paper: str = "a4", rooms: list[str] | None = None, placards: bool = True,
                   simulation: Path | None = None, graph: WalkGraph | None = None) -> dict[str, Path]:
    """Write the briefing material of a plan into `out_dir` (created when missing).

    Parameters
    ----------
    station, plan, reach : the station, plan.json's dict, the station's reach table.
    out_dir : the folder to write into.
    lang : strings file (`planner/strings/<lang>.toml`).
    paper : "a4" or "letter".
    rooms : placards for these room ids only (None: every occupied room); the map and the
        sheet always cover the whole station.
    placards : False skips the placards.
    simulation : a `simulation.json` (arrival curves for the sheet); None or missing: no curve.
    graph : the station's walking graph (`planner.network.paths.walk_graph`) when the caller has it
        (the routes are drawn on it; None: built here).

    Returns
    -------
    {name: path} of the files written; `timings` are logged (seconds per part).
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot create the briefing folder ({exc}). Fix: choose a writable folder") \
            from None
    tx = strings(lang)
    t0, c0 = time.perf_counter(), time.process_time()
    briefs = room_briefs(station, plan, reach)
    briefs, routes = add_routes(briefs, station, graph=graph)
    t1 = time.perf_counter()
    out: dict[str, Path] = {}
    if placards:
        sel = briefs if rooms is None else briefs[briefs["room_id"].isin(
            room_briefs(station, plan, reach, rooms=rooms)["room_id"].unique())]
        for deck, rows in sel.groupby("deck", sort=True):
            path = out_dir / f"placards-deck-{int(deck)}.pdf"
            write_placards(path, station, plan, rows, routes, tx, paper=paper)
            out[f"placards{int(deck)}"] = path
    t2 = time.perf_counter()
    out["map"] = write_webmap(out_dir / "map.html", station, plan, briefs, routes, tx)
    t3 = time.perf_counter()
    sim = read_simulation(simulation) if simulation is not None else None
    out["sheet"] = write_briefing_sheet(out_dir / "briefing-sheet.pdf", station.title, plan, sim, tx, paper=paper)
    t4 = time.perf_counter()
    logger.info("briefing: rows and routes %.1f s, placards %.1f s (%d rooms), map %.1f s, sheet %.1f s; "
                "%.1f s elapsed, %.1f s CPU in this process", t1 - t0, t2 - t1,
                briefs["room_id"].nunique() if placards and rooms is None else len(rooms or []), t3 - t2, t4 - t3,
                t4 - t0, time.process_time() - c0)
    return out
