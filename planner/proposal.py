"""The construction proposal: one call from a validated station to a report folder.

`propose` runs reach -> solve -> check, then writes into `out_root/` a new folder
named after the station, the scenario and the time::

    reports/<station>-<scenario>-<YYYYmmdd-HHMMSS>/
        proposal-<station>-<scenario>-<time>.xlsx   the director's workbook
        plan.json                                   machine-readable plan
        plan.gpkg                                   rooms with their role, assignment lines
        map-deck-<d>.png                            one map per deck
        map-deck-<d>-sector-<s>.png                 one zoomed map per sector (labels readable in print)
        placards-deck-<d>.pdf, map.html,            briefing material (planner.briefing); a failure
        briefing-sheet.pdf                          there is logged and the proposal written without it

Everything is written into a hidden temporary folder first and moved into
place at the end: a failed run leaves `out_root` exactly as it was, and an
earlier proposal is never overwritten.
"""

from __future__ import annotations

import multiprocessing as mp
import re
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from planner.files import staged_folder
from planner.network.parallel import _fork_map, _Forked, _reach_workers
from planner.pipeline import PlanRun, add_target_speed, plan_station
from planner.plan import write_json_atomic
from planner.sharecost import add_expected_share_cost
from planner.progress import log, stage
from planner.station import Station

if TYPE_CHECKING:
    from planner.simulate import SimulationResult


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "station"


def proposal_name(station: Station, scenario_name: str | None, when: datetime | None = None) -> str:
    """`<station title>-<scenario>-<YYYYmmdd-HHMMSS>` (UTC); the title is `[station] station_title`,
    else the folder's name."""
    when = when or datetime.now(timezone.utc)
    scen = _slug(Path(scenario_name).stem) if scenario_name else (
        "scenario" if "scenario" in station.files else "defaults")
    return f"{_slug(station.title)}-{scen}-{when:%Y%m%d-%H%M%S}"


def write_outputs(run: PlanRun, folder: Path, name: str, sweep: pd.DataFrame | None = None,
                  tradeoff: pd.DataFrame | None = None, simulation: SimulationResult | None = None,
                  early: EarlyOutputs | None = None) -> dict[str, Path]:
    """Write plan.json, maps, GeoPackage, workbook and briefing of a run into `folder` (which exists);
    with a `simulation` of the plan also simulation.json, the arrival curve and agents.csv
    (`planner.simulate.write_simulation`), and the workbook gets its Verification sheets.

    The maps (per deck, and per deck and sector), the GeoPackage, the briefing material and the
    workbook are independent of each other, except that the workbook embeds the deck maps: up to
    `output_workers()` forked processes draw them at once (the workbook right after the deck maps, in
    the same process; each output exactly as drawn in this process; where forking is not possible, here
    one after the other). The plan per room (`room_roles`) is worked out once, before the fork.
    `early`: those of them already being drawn (`EarlyOutputs`, started by `propose` as soon as the plan
    was made): collected here, while this process draws the others."""
    out: dict[str, Path] = {}
    with stage("plan.json"):
        out["plan"] = write_json_atomic(folder / "plan.json", run.plan)
    if simulation is not None:   # before the briefing, whose sheet shows its arrival curve
        from planner.simulate import write_simulation

        with stage("simulation results (simulation.json, arrival curve)"):
            out.update({f"simulation_{k}": v for k, v in write_simulation(simulation, folder).items()})
    decks = sorted(int(d) for d in pd.unique(run.station.rooms["deck"]))
    roles = early.roles if early is not None else _roles(run)
    draw = _Drawing(run, folder, name, roles, sweep, tradeoff, simulation)
    tasks = output_tasks(run)
    workers = output_workers()
    parts: dict[str, dict[str, Any]] = {}
    if early is not None:
        with stage(f"maps, GeoPackage, briefing and workbook ({len(early.tasks)} of them begun before, "
                   f"in {early.workers} processes)"):
            parts.update({t: draw(t) for t in tasks if t not in early.tasks})   # here, beside the workers
            parts.update(early.results())
    else:
        with stage(f"maps, GeoPackage, briefing and workbook ({workers} process{'es' if workers > 1 else ''})"):
            parts.update(zip(tasks, _fork_map(draw, tasks, workers, what="maps, briefing and workbook")))
    drawn: dict[str, Any] = {}
    for t in tasks:   # in the tasks' order, wherever they were drawn
        drawn.update(parts[t])
    if drawn.get("briefing-error"):
        _briefing_warning(str(drawn.pop("briefing-error")))
    maps = [drawn[f"map{i}"] for i in range(len(decks)) if f"map{i}" in drawn]
    out["workbook"] = drawn["workbook"]
    for i, m in enumerate(p for k, p in drawn.items() if k.startswith("sector_map:")):
        out[f"sector_map{i}"] = m
    out["gpkg"] = drawn["gpkg"]
    for i, m in enumerate(maps):
        out[f"map{i}"] = m
    out.update({k[len("briefing:"):]: v for k, v in drawn.items() if k.startswith("briefing:")})
    return out


def output_tasks(run: PlanRun) -> list[str]:
    """`write_outputs`' drawing tasks, longest first: the briefing, the deck maps then the workbook, one
    task per sector map (a third of a second each, which keeps the processes evenly busy), the GeoPackage."""
    from planner.maps import sector_keys

    return ["briefing", "decks", *[f"sector:{d}:{s}" for d, s in sector_keys(run.station)], "gpkg"]


def _roles(run: PlanRun) -> pd.DataFrame:
    """The plan per room (`maps.room_roles`), and the rooms' outlines as matplotlib paths made
    (`maps.prepare_drawing`): both once, before the processes that draw the outputs are forked."""
    from planner.maps import prepare_drawing, room_roles

    prepare_drawing(run.station)
    return room_roles(run.station, run.plan)


class _Drawing:
    """One of `write_outputs`' tasks (`output_tasks`) drawn into the folder: {key: path} (the briefing's warning
    as "briefing-error", logged by the caller)."""

    def __init__(self, run: PlanRun, folder: Path, name: str, roles: pd.DataFrame, sweep: pd.DataFrame | None,
                 tradeoff: pd.DataFrame | None, simulation: SimulationResult | None) -> None:
        self.run, self.folder, self.name, self.roles = run, folder, name, roles
        self.sweep, self.tradeoff, self.simulation = sweep, tradeoff, simulation

    def __call__(self, task: str) -> dict[str, Any]:
        from planner.maps import plot_maps, plot_sector_maps, write_plan_gpkg
        from planner.workbook import write_workbook

        run, folder, roles = self.run, self.folder, self.roles
        if task == "briefing":   # its warning is logged by the caller, in the calling process
            paths, error = _briefing(run, folder)
            return {f"briefing:{k}": v for k, v in paths.items()} | ({"briefing-error": error} if error else {})
        if task == "decks":   # then the workbook, which embeds them
            with stage("maps (one PNG per deck)"):
                maps = plot_maps(run.station, run.plan, folder, roles=roles)
            with stage("workbook"):
                sim = self.simulation
                book = write_workbook(folder / f"proposal-{self.name}.xlsx", run.station, run.plan, run.costs,
                                      run.sites, run.reach, sweep=self.sweep, map_png=maps, tradeoff=self.tradeoff,
                                      simulation=sim.to_dict() if sim is not None else None)
            return {f"map{i}": m for i, m in enumerate(maps)} | {"workbook": book}
        if task == "gpkg":
            with stage("GeoPackage of the plan"):
                return {"gpkg": write_plan_gpkg(run.station, run.plan, folder / "plan.gpkg", roles=roles)}
        _, deck, sector = task.split(":", 2)   # one zoomed PNG (no stage line each: there are many)
        return {f"sector_map:{m.name}": m for m in plot_sector_maps(run.station, run.plan, folder, roles=roles,
                                                                    only=[(int(deck), sector)])}


class EarlyOutputs:
    """The outputs of a proposal that depend on its plan's rooms, safe rooms and assignments alone -- the
    briefing material and the zoomed sector maps, about 11 of the 16 CPU seconds of Station Unity's
    outputs -- drawn in `output_workers()` forked processes from the moment the plan is made, while this
    process works out what 99.5 % of slower walkers would take, the expected share's cost and the
    displacement trade-off (which only add to plan.json's totals and the workbook) and then draws the deck
    maps, the workbook and the GeoPackage itself (`write_outputs(early=)`). Each output exactly as drawn
    in `write_outputs` alone. Not started (`start` returns None) with one process or without "fork", and
    without the briefing when a simulation is to be written first (its sheet reads simulation.json).

    One `network.parallel._Forked` call per process (`_parts`: the briefing in one, the sector maps in the
    others): a worker that fails or cannot start leaves its part to this process (drawn at `results`).
    `cancel` (or dropping the object) kills the workers."""

    def __init__(self, run: PlanRun, folder: Path, name: str, tasks: list[str], workers: int) -> None:
        self.roles = _roles(run)
        self.tasks = tasks
        draw = _Drawing(run, folder, name, self.roles, None, None, None)
        parts = _parts(tasks, workers)
        self.workers = len(parts)
        self._calls = [_Forked(partial(_draw_all, draw, part), what="maps and briefing") for part in parts]

    @classmethod
    def start(cls, run: PlanRun, folder: Path, name: str, simulation: SimulationResult | None = None
              ) -> EarlyOutputs | None:
        """The early outputs of `run` begun in `folder`, or None (see the class)."""
        workers = output_workers()
        if workers < 2 or "fork" not in mp.get_all_start_methods():
            return None
        tasks = [t for t in output_tasks(run) if t.startswith("sector:") or (t == "briefing" and simulation is None)]
        return cls(run, folder, name, tasks, workers)

    def results(self) -> dict[str, dict[str, Any]]:
        """{task: what it drew}: the workers', or drawn here where they failed."""
        out: dict[str, dict[str, Any]] = {}
        for call in self._calls:
            out.update(call.result())
        return out

    def cancel(self) -> None:
        """Kill the workers (their files are in the folder being written, which the caller removes)."""
        for call in self._calls:
            call.cancel()


def _draw_all(draw: _Drawing, tasks: list[str]) -> dict[str, dict[str, Any]]:
    return {t: draw(t) for t in tasks}


def _parts(tasks: list[str], workers: int) -> list[list[str]]:
    """`EarlyOutputs`' tasks for `workers` processes: the briefing alone (about 5 s of Station Unity's), the
    sector maps (a third of a second each, 6 s in all) cut into consecutive runs for the other processes
    (all of them without the briefing)."""
    head = [[t] for t in tasks if t == "briefing"]
    rest = [t for t in tasks if t != "briefing"]
    k = max(1, min(workers - len(head), len(rest)))
    return head + [rest[i * len(rest) // k:(i + 1) * len(rest) // k] for i in range(k) if rest]


def output_workers() -> int:
    """Processes that draw a proposal's maps and briefing at once: as many as the reach table uses
    (`PLANNER_REACH_WORKERS`, else up to 2, at most the CPUs this process may use)."""
    return _reach_workers()


def write_briefing_safely(run: PlanRun, folder: Path) -> dict[str, Path]:
    """The briefing material (placards, interactive map, briefing sheet) of a run into `folder`.

    The proposal does not depend on it: any error is logged as a warning (with the command that
    writes the material again) and an empty dict returned."""
    paths, error = _briefing(run, folder)
    if error:
        _briefing_warning(error)
    return paths


def _briefing(run: PlanRun, folder: Path) -> tuple[dict[str, Path], str | None]:
    """(paths written, None) or ({}, the error as text): the briefing material of a run."""
    from planner.briefing import write_briefing

    try:
        with stage("briefing (placards, interactive map, briefing sheet)"):
            return write_briefing(run.station, run.plan, run.reach, folder,
                                  simulation=folder / "simulation.json", graph=run.graph), None
    except Exception as exc:  # noqa: BLE001 - the proposal must not fail for its briefing
        return {}, f"{type(exc).__name__}: {exc}"


def _briefing_warning(error: str) -> None:
    log(f"[planner] warning: the briefing material was not written ({error}); "
        "the proposal is complete without it. Fix: once the cause is fixed, run "
        "`planner brief STATION PROPOSAL/plan.json --out PROPOSAL`")


def propose(station: Station, out_root: Path = Path("reports"), scenario_name: str | None = None,
            sweep: pd.DataFrame | None = None, run: PlanRun | None = None,
            tradeoff: pd.DataFrame | None = None, cache_dir: str | Path | None = None,
            simulation: SimulationResult | None = None) -> Path:
    """Plan the station and write the proposal folder: plan.json, maps, GeoPackage, workbook.

    Parameters
    ----------
    station : Station
        The station, with its parameters (budget in currency, reach in seconds, ...).
    out_root : Path
        Folder that receives the proposal folder ``<station>-<scenario>-<UTC time>``
        (created if needed; nothing in it is overwritten: the folder is written under a
        temporary name and moved into place).
    scenario_name : str, optional
        The scenario's name in the folder name.
    sweep : pandas.DataFrame, optional
        A budget sweep (`planner.sweep`) for the workbook's Budget what-if sheet.
    run : PlanRun, optional
        A planning run already made (`plan_station`); planned here when None.
    tradeoff : pandas.DataFrame, optional
        The displacement trade-off (`planner.displacement.displacement_tradeoff`, least cost
        in currency per share of today's displacement); None = computed here (the
        Displacement sheet).
    cache_dir : str or Path, optional
        Reach-table cache folder for the planning run (None: no cache).
    simulation : SimulationResult, optional
        A pedestrian simulation of `run`'s plan (`planner simulate`, `planner.verify`): written
        beside it (simulation.json, arrival-curve.png, agents.csv) and as the workbook's
        Verification and Arrival curve sheets.

    Returns
    -------
    Path
        The proposal folder.
    """
    name = proposal_name(station, scenario_name)
    if run is None:
        run = plan_station(station, cache_dir=cache_dir)
    with staged_folder(out_root, name) as folder:
        early = EarlyOutputs.start(run, folder.path, name, simulation)   # the briefing and sector maps, begun now
        try:
            with stage("what 99.5 % of slower walkers would take"):
                add_target_speed(run.plan, station, run.reach)
            with stage(f"what an expected {100 * station.params.verify_target_share:.1f} % of walkers with spread "
                       "speeds would cost"):
                add_expected_share_cost(run, cache_dir)
            log(run.describe())
            if tradeoff is None:
                from planner.displacement import displacement_tradeoff

                with stage("displacement trade-off (0, 25, 50, 100 % of today's displacement)"):
                    tradeoff = displacement_tradeoff(run, cache_dir=None if cache_dir is None else
                                                     Path(cache_dir).parent / "displacement")   # beside .cache/reach
            write_outputs(run, folder.path, name, sweep=sweep, tradeoff=tradeoff, simulation=simulation, early=early)
        except BaseException:
            if early is not None:   # before the folder is removed: no worker writes into it any more
                early.cancel()
            raise
    assert folder.final is not None
    return folder.final
