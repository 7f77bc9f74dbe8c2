"""One planning run: candidate sites -> reach table -> costs -> model -> plan (-> check).

`plan_station` returns a `PlanRun` holding every intermediate table, so the
proposal, the sweep and the tests can use them without recomputing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from planner.check import check_plan, format_breaches
from planner.corridorrounds import (Replay, carried_rows, corridor_cache, corridor_rounds, first_corridor_rows, plan_rows,
                                    remember_rows)
from planner.corridors import late_of_plan, openings_cache
from planner.costs import site_costs
from planner.errors import SolverError
from planner.model import Problem, SolveOptions, solve
from planner.model.warm import LpWarm
from planner.model.relocation import (RelocationInputs, RelocationLP, demand_after, relocation_cost_bound, relocation_lp,
                                      solve_relocating, swap_penalty_paid)
from planner.estimate import distance_cache, estimated_arrivals
from planner.firstsolve import (after_rounds, fallback_basis, first_options, first_solve, from_proposal, known_rows,
                                remember_run, reused_words, skip_cover_all,
                                usable_state)
from planner.latecomers import late_destinations
from planner.margins import margin_rows, margin_table, pair_margin_s
from planner.network import WalkGraph, reach_table
from planner.network.paths import EXIT_DOOR_PARAMETERS, Paths, exit_doors, walk_graph
from planner.phases import phase_table, plan_phases
from planner.plan import build_plan, expected_share_words, jsonable, late_words, population_words, short_reason, swap_words
from planner.progress import log, stage
from planner.queues import (door_flows, exit_door_caps, model_pairs, multi_door_exits, predicted_arrivals, promise_of_plan,
                            room_bound, room_exit_flow, short_of_time, site_queue_flow)
from planner.relocation import relocation_tables
from planner.reuse import RunState, load_state, reuse_dir, state_key
from planner.share import note_share, share_problem, share_rounds
from planner.sites import candidate_sites
from planner.station import Station

if TYPE_CHECKING:
    from planner.model import Problem, Solution
    from planner.network import ReachTable


@dataclass
class PlanRun:
    """Everything one planning run produced (plain data)."""

    station: Station
    sites: pd.DataFrame
    reach: ReachTable
    costs: pd.DataFrame
    problem: Problem
    solution: Solution
    plan: dict
    notes: list[str] = field(default_factory=list)
    full_cover_cost: float | None = None
    """Least cost of a full plan when the budget fell short (currency), else None."""
    breaches: list = field(default_factory=list)
    full_cover_plan: dict | None = None
    """plan.json dict of the least-cost full plan when the budget fell short (the what-if reuses it)."""
    margins: pd.DataFrame | None = None
    """Measured margins the plan was made with (`planner.margins`; seconds per pair), or None."""
    graph: WalkGraph | None = None
    """The walking graph the corridor rounds used (`walk_graph`; the briefing draws its routes on it), or None."""
    first_warm: LpWarm | None = field(default=None, repr=False, compare=False)
    """The first solve's LP basis (`Solution.warm`, before the corridor rounds' rows), or None: a neighbouring
    budget's first solve, with the same rows known before it, starts from it (`sweeprun.solve_chain`)."""

    def describe(self) -> str:
        """A few lines for the terminal: cost, sheltered per scenario, worst walk, solver gap."""
        t = self.plan["totals"]
        s = self.plan["solver"]
        cur = t["currency"]
        lines = [f"{self.station.title}: {len(self.plan['safe_rooms'])} safe rooms "
                 f"({t['rooms_converted']} to convert), cost {t['cost']:,.0f} {cur}"
                 + (f" of budget {t['budget']:,.0f} {cur}" if t.get("budget") is not None else "")]
        for name, sc in t["scenarios"].items():
            lines.append(f"  {name:>10}: {sc['sheltered']:,} of {sc['residents']:,} sheltered ({100 * sc['share']:.1f} %)")
        lines.append(f"  worst walk {t['max_walk_s']:.1f} s; at least {t['min_options_in_reach']} safe room(s) in reach of every occupied room")
        lines += [f"  {w}"] if (w := late_words(self.plan)) else []
        for name, per in (t.get("options_in_reach") or {}).items():
            lines.append(f"  {name:>10}: residents with 1 / 2 / 3+ safe rooms in reach {per['1']:,} / {per['2']:,} / "
                         f"{per['3+']:,}")
        gap = s.get("gap")
        lines.append(f"  solver {s.get('name')} {s.get('status')}, gap "
                     + (f"{100 * gap:.2f} %" if isinstance(gap, (int, float)) else str(gap))
                     + f", {s.get('seconds', 0):.1f} s")
        pm = t.get("promise")
        if isinstance(pm, dict) and isinstance(pm.get("slowest_speed_m_s"), (int, float)):
            lines.append(f"  the {self.station.params.reach_s:.0f}-second promise holds for walkers of at least "
                         f"{pm['slowest_speed_m_s']:.2f} m/s reacting within {max(0.0, pm['longest_reaction_s']):.0f} s "
                         f"(about {100 * pm['share_fast_enough']:.0f} % of residents walk that fast)")
        for pw in (population_words(self.plan, self.station.params.reach_s),
                   (expected_share_words(self.plan, self.station.params.reach_s) or ("", ""))[1]):
            lines += [f"  {pw}"] if pw else []
        lines += swap_lines(self.plan)
        for n in self.notes:
            lines.append(f"  note: {n}")
        return "\n".join(lines)


def swap_lines(plan: dict) -> list[str]:
    """The terminal's words on the plan's swaps (issue 17): how many, and why they remain."""
    words = swap_words(plan)
    if words is None:
        return []
    per, why = words
    return [f"  swaps (a safe room's own residents sent away while others come in): {per}"] + ([f"    {why}"] if why else [])


def prepare(station: Station, reach: ReachTable | None = None,
            cache_dir: str | Path | None = None) -> tuple[pd.DataFrame, ReachTable, pd.DataFrame]:
    """(sites, reach table, costs) for a station; `reach` may be passed in to reuse it.

    `cache_dir`: the reach-table cache folder (`planner.network.reach_table`); None: no cache.
    Costs are in the station's currency (`total_cost` per site).
    """
    with stage("candidate sites"):
        sites = candidate_sites(station)
        log(f"[planner]   {len(sites)} candidate sites, {int(sites['capacity'].sum()):,} places in all")
    if reach is None:
        with stage("reach table (walking times)"):
            reach = reach_table(station, sites, cache_dir=cache_dir)
            log(f"[planner]   {len(reach.pairs):,} room-site pairs within {station.params.reach_s:.0f} s")
    with stage("cost model"):
        costs = site_costs(sites, station)
    return sites, reach, costs


def model_inputs(station: Station, reach: Any, sites: pd.DataFrame,
                 margins: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(timed pairs, sites) as the optimiser sees them (`planner.queues.model_pairs`): each reach pair's
    `walk_s` becomes the time of the batch standing for the room's stream at the safe room's door
    (design-speed walk plus the batch offset of the room's busiest scenario; pairs whose last walker
    is out of the room and at the door after the reach time dropped), and each site's
    `door_flow_pps` the flow of the slowest door its pairs enter by (never the sum). `margins`
    (`planner.margins.margin_table`): measured seconds added to the arrival of the pairs they name."""
    pairs = reach.pairs if hasattr(reach, "pairs") else reach
    demand = station.demand()
    memo: dict[tuple, tuple[Any, pd.DataFrame, np.ndarray]] = station.derived("model inputs", dict,
                                                                          depends=MODEL_INPUT_PARAMETERS)
    key = (id(pairs), _frame_key(demand), _frame_key(sites["capacity"].to_frame()),
           None if margins is None else _frame_key(margins))
    got = memo.get(key)
    if got is None or got[0] is not pairs:
        sides = door_flows(station)
        timed_pairs = pairs if "door_id" in pairs.columns else pairs.assign(door_id="")
        timed = model_pairs(timed_pairs, demand, sides, station.params, margins=margins, capacity=sites["capacity"],
                            exit_doors=multi_door_exits(station, exit_doors(station)))
        got = memo[key] = (pairs, timed, site_queue_flow(timed, sides, sites.index).to_numpy())
    model_sites = sites.copy()
    model_sites["door_flow_pps"] = got[2]
    return got[1].copy(), model_sites


MODEL_INPUT_PARAMETERS = EXIT_DOOR_PARAMETERS + (
    "design_speed_m_s", "door_boundary_layer_m", "door_specific_flow_pps_m", "exit_queue", "stairs_flow_up_pps_m")
"""The parameters `model_inputs` reads besides the scenarios (tests/test_pipeline.py): its result is kept for
the station objects with the same rooms and doors tables, reach pairs (the same object), demand, site
capacities and margins and equal values of these (`Station.derived`; a what-if made it for the plan and
again for the displacement trade-off's relocation bound)."""


def _frame_key(frame: pd.DataFrame) -> tuple:
    """A frame's content as a key: its columns and the hash of its index and values."""
    return (tuple(map(str, frame.columns)),
            pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())


def model_problem(station: Station, reach: Any, sites: pd.DataFrame, costs: pd.DataFrame,
                  margins: pd.DataFrame | None = None, timing: tuple[pd.DataFrame, pd.DataFrame] | None = None,
                  **overrides: Any) -> tuple[Problem, pd.DataFrame, pd.DataFrame]:
    """(problem, timed pairs, residents short of time) for the optimiser: `model_inputs`' timing (with
    the measured `margins`, if any; `timing`: its result when already made for these inputs), and the
    residents no plan can bring in in time (persons per room and scenario) taken out of the demand
    (`finish_plan` lists them unsheltered). `overrides` go to `Problem.from_station`."""
    timed, model_sites = model_inputs(station, reach, sites, margins) if timing is None else timing
    problem = Problem.from_station(station, timed, model_sites, costs["total_cost"], **overrides)
    short = _short_of_time(station, timed, model_sites)
    if short.to_numpy().sum() > 0:
        problem = dataclasses.replace(problem, demand=problem.demand - short.reindex(
            index=problem.demand.index, columns=problem.demand.columns).fillna(0).astype(int))
    return problem, timed, short


@dataclass
class ModelInputs:
    """What `plan_station` builds before the model that depends on neither the budget, the objective,
    the solver's limits nor its threads (`model_inputs_for`): built once, it serves every budget of a
    sweep. Plain data; never changed by `plan_station`."""

    sites: pd.DataFrame
    costs: pd.DataFrame
    timed: pd.DataFrame
    """`model_inputs`' timed pairs (s)."""
    model_sites: pd.DataFrame
    """`model_inputs`' sites (door flow of the slowest door used, persons/s)."""


def model_inputs_for(station: Station, reach: ReachTable, margins: pd.DataFrame | None = None) -> ModelInputs:
    """The `ModelInputs` of a station (its parameters other than budget, objective, limits and threads
    decide them), its reach table and the measured `margins` (`planner.margins.margin_table` rows or
    table) every plan is made with."""
    sites, reach, costs = prepare(station, reach)
    timed, model_sites = model_inputs(station, reach, sites, margin_table(margins) if margins is not None else None)
    return ModelInputs(sites=sites, costs=costs, timed=timed, model_sites=model_sites)


def finish_plan(plan: dict, station: Station, short: pd.DataFrame, margins: pd.DataFrame | None = None,
                reach: Any = None, *, estimate: bool = True, replay: Replay | None = None) -> dict:
    """A built plan completed with the residents short of time (unsheltered, with the reason), each
    assignment's `planned_s` and `predicted_s` and the plan's margin (`totals.promise`). With measured `margins`
    (`planner.margins`): plan.json `margins` records them, each assignment they touch carries its
    seconds as `margin_s`, and `planned_s`, `predicted_s` and the promise include them. Given the reach table
    (`reach`, a ReachTable or its pairs): where the unsheltered go anyway (`planner.latecomers`).
    `estimate`: False leaves out `predicted_s` (`planner.estimate`, about 2.6 s of CPU per Station Unity
    plan), for plans that are only rows of a table (the proposal's budget what-if). `replay`: the last
    corridor round's replay of this plan (`corridor_rounds`): its paths and corridor delays go into the
    estimate instead of being computed again (the same figures). Returns `plan`."""
    _add_short(plan, short, station)
    _add_margins(plan, margins)
    _add_predictions(plan, station, estimate, replay)
    _explain_unreachable(plan, station)
    if reach is not None:
        plan["unsheltered"] = late_destinations(station, plan, reach.pairs if hasattr(reach, "pairs") else reach)
    return plan


def add_target_speed(plan: dict, station: Station, reach: Any) -> None:
    """Add to plan.json's `totals.promise` (about 2 s on Station Unity; the proposal calls it):
    `target_share` (`verify_target_share`), `target_speed_m_s` (the speed the slowest
    ``1 - target`` of walkers with speeds N(walk_speed_m_s, walk_speed_sd_m_s) stay under: a plan that
    times every walk at it brings at least the target share of them in) and `short_at_target_speed`
    (per scenario, residents no plan can bring into a safe room in time at that speed, every candidate
    converted: `queues.room_bound` with `slow_walker_speed_m_s` at the target speed)."""
    pm = plan["totals"].get("promise")
    p = station.params
    if not isinstance(pm, dict) or not 0.0 < p.verify_target_share < 1.0 or p.walk_speed_sd_m_s <= 0:
        return
    v = float(p.walk_speed_m_s + p.walk_speed_sd_m_s * ndtri(1.0 - p.verify_target_share))
    pm["target_share"] = float(p.verify_target_share)
    pm["target_speed_m_s"] = round(v, 3)
    if v <= 0.0:
        pm["short_at_target_speed"] = None
        return
    slow = dataclasses.replace(station, params=p.replace(slow_walker_speed_m_s=min(v, p.slow_walker_speed_m_s)))
    sites = candidate_sites(slow)
    timed, model_sites = model_inputs(slow, reach, sites)
    short = _short_of_time(slow, timed, model_sites)
    unreachable = station.demand().drop(index=timed["room_id"].astype(str).unique(), errors="ignore")
    pm["short_at_target_speed"] = {str(sc): int(short[sc].sum() + unreachable[sc].sum()) for sc in short.columns}


def _add_margins(plan: dict, margins: pd.DataFrame | None) -> None:
    """plan.json `margins` and each assignment's `margin_s` (seconds; only with margins)."""
    if margins is None or not len(margins):
        return
    plan["margins"] = margin_rows(margins)
    rows = plan.get("assignments") or []
    if rows:
        m = pair_margin_s(margins, [r["room_id"] for r in rows], [r["safe_room_id"] for r in rows])
        for r, x in zip(rows, m):
            sip = r["room_id"] == r["safe_room_id"] and float(r.get("walk_s") or 0.0) <= 1e-9
            r["margin_s"] = 0.0 if sip else round(float(x), 2)


def _explain_unreachable(plan: dict, station: Station) -> None:
    """Unreachable rooms whose walk alone is in time: say that their own door is what makes them late."""
    flow = room_exit_flow(station)
    dem = station.demand()
    for row in plan["unsheltered"]:
        reason = str(row.get("reason", ""))
        rid, sc = row["room_id"], row["scenario"]
        if not reason.startswith("no candidate safe room within") or rid not in dem.index or sc not in dem.columns:
            continue
        n, r = int(dem.loc[rid].max()), float(flow.get(rid, 0.0))   # the model times the busiest scenario
        if n > 0 and r > 0 and station.params.exit_queue:
            row["reason"] = (reason + f"; with the queue at its own door in its busiest scenario ({n} residents "
                             f"through a door passing {r:.2f} persons/s: {n / r:.0f} s) none is reached in time")


def plan_station(station: Station, *, fallback_max_cover: bool = True, reach: ReachTable | None = None,
                 start: list[str] | None = None, check: bool = True, phases: bool = True,
                 cache_dir: str | Path | None = None, options: SolveOptions | None = None,
                 margins: pd.DataFrame | None = None, inputs: ModelInputs | None = None,
                 corridor_limits: Mapping[tuple[str, str], float] | None = None, estimate: bool = True,
                 warm: LpWarm | None = None, warm_branch: bool = False) -> PlanRun:
    """Plan a station with its parameters: candidate sites, reach table, costs, solve, plan, check.

    Parameters
    ----------
    station : Station
        The station; its parameters decide the objective, budget (currency), reach (s), ...
    fallback_max_cover : bool
        A cover-all that the budget cannot pay for falls back to max-cover at the budget,
        and the notes say what full coverage would cost (currency).
    reach : ReachTable, optional
        The reach table, when already computed (walks in seconds).
    start : list of str, optional
        Site ids of a known plan, handed to the solver as a start.
    check : bool
        Run the independent checker on the plan; a breach is a planner bug and raises
        `SolverError`.
    phases : bool
        Stage the chosen rooms into the declared phases (plan.json `phases`); a budget sweep
        turns it off.
    cache_dir : str or Path, optional
        Reach-table cache folder (None: no cache, nothing written).
    options : SolveOptions, optional
        How to solve (e.g. the PuLP backend, another solver); unset values are the station's
        parameters.
    margins : pandas.DataFrame, optional
        Measured margins (`planner.margins.margin_table`: room_id, site_id, extra_s seconds),
        e.g. from `planner.verify`: added to the arrival time of the pairs they name in the model,
        recorded in plan.json `margins` and enforced by the check.
    inputs : ModelInputs, optional
        `model_inputs_for` the same station (up to budget, objective, limits and threads), reach
        table and margins: the model is built from them instead of again (a sweep's budgets);
        `reach` must be given with them.
    corridor_limits : mapping, optional
        Corridor rows known before the first solve (persons per (door_id, scenario), e.g. another
        plan's `solver.corridor.limits` through `limits_of`): the first solve has them, and the
        `corridor_rounds` rounds (if any) add to them. The relocation model (rooms whose residents
        move out) has them too, without rounds: the displacement trade-off's re-plans carry the
        proposal's rows, so that no re-plan is cheaper than the proposal only by ignoring the
        corridor queues the proposal had to respect.
    estimate : bool
        Each assignment's estimated arrival (`predicted_s`, `finish_plan`); False for plans that are
        only rows of a table.
    warm : LpWarm, optional
        The LP relaxation's column set and basis of an earlier solve of the same model up to its budget
        or corridor rows (`Solution.warm`, e.g. the sweep's budget below): the first solve's LP starts
        from it (the last run's final state, when there is one, comes first). The plan's `run.solution.warm`
        is its own.
    warm_branch : bool
        After an LP started from `warm`, the first solve branches (HiGHS's MIP, its root LP cold) when its
        start plan is not within the gap of the LP bound, as after a cold LP (e.g. a sweep's first budget,
        started from the what-if sheet's basis); False: it keeps that plan with the LP bound (the sweep's next
        budget, whose time limit is shorter than a cold root). A what-if started from the what-if sheet's basis
        (`planner.reuse.nearest_sheet_basis`) always may.

    Returns
    -------
    PlanRun
        Every intermediate table (sites, reach, costs, problem, solution) and the plan.json
        dict (`run.plan`).

    Raises
    ------
    InfeasibleError
        Cover-all is impossible (unreachable or over capacity), or over the budget without
        `fallback_max_cover`.
    SolverError
        The solver failed, or the plan failed the independent check.
    """
    sites, reach, costs, timing = _prepared(station, reach, cache_dir, inputs)
    margins = margin_table(margins) if margins is not None else None
    problem, timed, short = model_problem(station, reach, sites, costs, margins=margins, timing=timing)
    rel = _relocation_inputs(station, sites)
    if rel.active:
        rel.sources["extra_cost"] = _repurpose_extra(station, sites, costs, rel)
    share_on = station.params.expected_share_target > 0
    problem = share_problem(problem, station, timed, relocating=rel.active)
    solve = _solver_for(rel, options)
    notes: list[str] = list(rel.notes) + _relocation_goal_note(problem) if rel.active else []
    reuse_at = reuse_dir(cache_dir, station) if start is None and corridor_limits is None and not rel.active else None
    key = state_key(station, margins, options) if reuse_at is not None else ""
    state, basis, proposal_s = from_proposal(station, problem, usable_state(load_state(reuse_at, key), problem),
                                             reuse_at, margins, options)
    skip = skip_cover_all(station, problem, state, reuse_at, margins, fallback_max_cover and not share_on)
    warm = basis if warm is None and start is None and skip is None else warm   # (the proposal's, below its cost)
    rows_cache, rows_key = corridor_cache(station, cache_dir, margins)
    cached = rows_cache.get(rows_key) if rows_key else None
    cached, carried = (carried_rows(rows_cache, station, margins) if cached is None and state is None and
                       corridor_limits is None and problem.objective == "cover-all" else (cached, None))  # after an edit
    corridor_limits = known_rows(corridor_limits, state, cached)
    corridor_on = not rel.active and (station.params.corridor_rounds > 0 or bool(corridor_limits))
    rows_in = corridor_limits if corridor_on or rel.active else None   # (the relocation model: rows, no rounds)
    openings_cache(station, cache_dir if corridor_on or rows_in else None)   # the model pairs' openings, kept
    problem, graph, openings = first_corridor_rows(station, problem, rows_in)
    # (a start plan with its LP; branching after an LP started from another budget's basis: `first_options`)
    first_opts = first_options(options, state, skip, warm_branch, rounds_follow=corridor_on and
                               station.params.corridor_rounds > 0 and problem.objective == "cover-all")
    back_warm = fallback_basis(problem, skip, reuse_at, station, margins, fallback_max_cover and not share_on)
    first = first_solve(station, problem, solve if first_opts is options else _solver_for(rel, first_opts), options,
                        start, state, skip, fallback_max_cover and not share_on, share_on, warm, back_warm)
    problem, solution, notes = first.problem, first.solution, notes + first.notes
    kept: dict[tuple[str, str], float] = {}
    graph = walk_graph(station) if corridor_on and graph is None else graph   # kept for the briefing's routes
    problem, solution, corridor, replay = corridor_rounds(station, problem, solution, solve, reach, margins,
                                                          on=corridor_on, graph=graph, openings=openings,
                                                          limits=corridor_limits, max_rounds=0 if state else None,
                                                          kept=kept, fallback=fallback_max_cover and not share_on,
                                                          fallback_warm=back_warm)
    first = after_rounds(first, problem.objective, corridor)   # (a round's rows made full cover dearer than the budget)
    notes = notes + first.round_notes
    fell_back, full_cover_cost, full_cover_solution = first.fell_back, first.full_cover_cost, first.full_cover_solution
    if state is not None and corridor.get("corridor"):
        corridor["corridor"]["reused"] = reused_words(state, proposal=proposal_s)
    if carried is not None and corridor.get("corridor"):
        corridor["corridor"]["carried_over"] = carried
    rounds_solution = solution
    remember_rows(rows_cache, rows_key, corridor, station, margins)
    # expected share: its rows' lazy tightening (the plan's queues replayed; the estimate then recomputes paths)
    problem, share_sol, share_info = share_rounds(
        station, problem, solution, solve, lambda s, pb: plan_rows(s, reach, margins, pb.exit_rows),
        station.params.corridor_round_time_limit_s)
    corridor.update({"expected_share": share_info} if share_info else {})
    replay, solution = (replay if share_sol is solution else None), share_sol
    if full_cover_cost is not None:
        notes.append(f"Full coverage would cost {full_cover_cost:,.0f} {station.params.currency}.")
    sites, costs = _chosen_modes(station, sites, costs, solution)
    moved = solution.stats.get("relocations") if rel.active else None
    phase_problem = problem if moved is None else problem.replace(demand=demand_after(problem.demand, moved))
    phase_of, phase_rows = _phases(station, phase_problem, solution, costs) if phases else (None, None)
    plan = build_plan(station=station, sites=sites, costs=costs, reach=reach, solution=solution,
                      phases=phase_of, notes=notes, timed_pairs=timed)
    if phase_rows is not None:
        plan["phases"] = phase_rows
    if phase_of is not None and phase_of.attrs.get("solver"):
        plan["phasing"] = jsonable(dict(phase_of.attrs["solver"]))
    distances_kept = distance_cache(station, cache_dir if estimate else None)   # the estimate's room distances
    finish_plan(plan, station, short, margins, reach, estimate=estimate, replay=replay)
    if fell_back:
        who = unsheltered_summary(plan.get("unsheltered") or [], station)
        plan.setdefault("notes", []).extend(who)
        notes.extend(who)
    if full_cover_cost is not None:
        plan["totals"]["full_cover_cost"] = round(full_cover_cost, 2)
    plan["objective"] = problem.objective
    plan["parameters"]["objective"] = problem.objective  # max-cover when the budget could not cover all
    plan["solver"].update(corridor)
    # the residents late by the corridor replay of the plan's rows as written (walks to the hundredth), as the
    # checker counts them; the rounds' record counts on unrounded walks and may differ by a row at the edge
    plan["totals"].update({"late_by_corridors": late_of_plan(station, plan, graph)} if corridor.get("corridor") else {})
    note_share(plan)
    run = PlanRun(station=station, sites=sites, reach=reach, costs=costs, problem=problem,
                  solution=solution, plan=plan, notes=notes, full_cover_cost=full_cover_cost,
                  margins=margins, graph=graph, first_warm=first.solution.warm)
    if full_cover_solution is not None:
        run.full_cover_plan = build_plan(station=station, sites=sites, costs=costs, reach=reach,
                                         solution=full_cover_solution, timed_pairs=timed)
        run.full_cover_plan["objective"] = "cover-all"
        finish_plan(run.full_cover_plan, station, short, margins, reach, estimate=estimate)
    elif skip is not None:
        run.full_cover_plan = skip.plan
    distances_kept()
    if check:
        # the rules are the station's; only the objective may have fallen back to max-cover, after
        # the solver showed that full coverage does not fit the budget
        judged = dataclasses.replace(station, params=station.params.replace(objective=problem.objective))
        with stage("independent check of the plan"):
            run.breaches = check_plan(judged, plan, margins=margins)
        if run.breaches:
            raise SolverError("the plan failed the independent check (a planner bug; nothing was written):\n"
                              + format_breaches(run.breaches))
    if reuse_at is not None:
        proposal = plan.get("objective") == "cover-all" and full_cover_cost is None and not problem.share_on
        remember_run(reuse_at, key, state, RunState(
            limits=kept, chosen=sorted(str(c) for c in rounds_solution.chosen), objective=problem.objective,
            record={k: v for k, v in corridor.get("corridor", {}).items() if k != "reused"},
            fallback={"notes": first.fallback_notes, "full_cover_cost": full_cover_cost} if first.fallback_notes else None,
            warm=rounds_solution.warm), same=share_sol is rounds_solution, free=first.free, station=station,
            margins=margins, proposal=plan if proposal else None)
    return run


def relocation_problem(station: Station, reach: ReachTable, margins: pd.DataFrame | None = None) -> Problem:
    """The optimiser's problem `relocation_bound` and `relocation_guide` build for the station (without the
    relocation terms and corridor rows), to hand to both (and to a worker process) instead of building it twice."""
    sites, reach, costs = prepare(station, reach)
    return model_problem(station, reach, sites, costs, margins=margin_table(margins) if margins is not None
                         else None)[0]


def _relocation_model(station: Station, reach: ReachTable, margins: pd.DataFrame | None, problem: Problem | None,
                      priced: bool = True) -> tuple[Problem, RelocationInputs | None]:
    """(problem, relocation inputs) that `relocation_bound` and `relocation_guide` start from: the optimiser's
    problem without the relocation terms (`problem` when given, else built) and the relocation inputs with their
    `extra_cost` (currency; not worked out when not `priced`), None when the station moves nobody (no room that
    may be repurposed has residents) or its objective is not cover-all."""
    sites, reach, costs = prepare(station, reach)
    if problem is None:
        problem = model_problem(station, reach, sites, costs,
                                margins=margin_table(margins) if margins is not None else None)[0]
    rel = _relocation_inputs(station, sites)
    if not rel.active or problem.objective != "cover-all":
        return problem, None
    if priced:
        rel.sources["extra_cost"] = _repurpose_extra(station, sites, costs, rel)
    return problem, rel


def relocation_bound(station: Station, reach: ReachTable, time_limit_s: float,
                     margins: pd.DataFrame | None = None, known: float | None = None,
                     swaps_of: pd.DataFrame | None = None, problem: Problem | None = None
                     ) -> tuple[float | None, Problem]:
    """(bound, problem): a proven lower bound on the cost of every full (cover-all) plan of the station
    as `plan_station` would model it, moves of residents included (currency; the LP relaxation of the
    relocation model by column generation, `planner.model.relocation.relocation_cost_bound`, at most
    `time_limit_s` seconds, whatever the budget), and the optimiser's problem without the relocation
    terms (to judge a plan that moves nobody against it: `planner.model.verify`). The bound is None
    when the station moves nobody (no room that may be repurposed has residents) or its objective is
    not cover-all. `known`: the bound found before on the same inputs (a cache): returned, nothing solved.
    `swaps_of`: the assignments (room_id, scenario, site_id, residents) of a plan that moves nobody: with
    the no-swap rule on, the bound is then the LP bound on cost plus swap penalty less that plan's
    penalty, a lower bound on the cost of every plan with no more swap penalty (docs/model.md).
    `problem`: the problem this function returned before for the same station (up to `max_displaced`,
    which only the relocation terms use), reach table and margins: not built again."""
    if known is not None:    # (the cached bound: nothing solved, the relocation terms not priced)
        problem, rel = _relocation_model(station, reach, margins, problem, priced=False)
        return (float(known) if rel is not None else None), problem
    problem, rel = _relocation_model(station, reach, margins, problem)
    if rel is None:
        return None, problem
    if swaps_of is not None and problem.swap_penalty > 0:
        with stage("lower bound of the relocation model with the swap penalty (LP relaxation)"):
            bound = relocation_cost_bound(problem, rel, time_limit_s, station.params.threads, swaps=True)
        return bound - swap_penalty_paid(problem, rel, swaps_of), problem
    with stage("lower bound of the relocation model (LP relaxation)"):
        bound = relocation_cost_bound(problem, rel, time_limit_s, station.params.threads)
    return bound, problem


def relocation_guide(station: Station, reach: ReachTable, time_limit_s: float, margins: pd.DataFrame | None = None,
                     limits: Mapping[tuple[str, str], float] | None = None, problem: Problem | None = None,
                     solved: Callable[[], dict[str, Any] | None] | None = None
                     ) -> tuple[RelocationLP, Problem, RelocationInputs] | None:
    """(LP, problem, relocation inputs) for the displacement trade-off's re-plan of a large relocation model
    (`planner.model.relocround.rounded_relocation`): the LP relaxation of the relocation model with the corridor
    rows `limits` (persons per (door_id, scenario), the proposal's) and the objective cost + swap penalty +
    corridor penalty (the model's own, less its tie-breaks; at most `time_limit_s` seconds), its solution
    kept; the problem with those rows; the relocation inputs with `extra_cost`. None when the station moves
    nobody or is not cover-all. `problem`: `relocation_bound`'s problem for the same station (not built again);
    `solved`: gives `relocation_guide_values` of the same arguments (a worker's result, asked for once the model
    is built here): the LP is not solved again (when it gives None, it is solved here)."""
    problem, rel = _relocation_model(station, reach, margins, problem)
    if rel is None:
        return None
    rows, _graph, _openings = first_corridor_rows(station, problem, limits)
    if solved is not None:
        lp = relocation_lp(rows, rel, time_limit_s, station.params.threads, swaps=True, corridor=True, solved=solved)
        return lp, rows, rel
    with stage("LP relaxation of the relocation model with its swap and corridor penalties (the re-plan's guide)"):
        lp = relocation_lp(rows, rel, time_limit_s, station.params.threads, swaps=True, corridor=True)
    return lp, rows, rel


def relocation_guide_values(station: Station, reach: ReachTable, time_limit_s: float,
                            margins: pd.DataFrame | None = None, limits: Mapping[tuple[str, str], float] | None = None,
                            problem: Problem | None = None) -> dict[str, Any] | None:
    """`relocation_guide`'s LP as plain data (values, bound, status, seconds; None as there), for a worker
    process (`planner.network.parallel.Spawned`): the caller builds the model again around it
    (`relocation_guide(solved=)`). `problem`: `relocation_problem` of the same station (not built again)."""
    got = relocation_guide(station, reach, time_limit_s, margins, limits, problem=problem)
    if got is None:
        return None
    lp = got[0]
    return {"values": lp.values, "bound": lp.bound, "status": lp.status, "seconds": lp.seconds}


def _prepared(station: Station, reach: ReachTable | None, cache_dir: str | Path | None, inputs: ModelInputs | None
              ) -> tuple[pd.DataFrame, ReachTable, pd.DataFrame, tuple[pd.DataFrame, pd.DataFrame] | None]:
    """(sites, reach table, costs, timing or None) of `plan_station`: from `inputs` when given with the
    reach table, else `prepare`d here (the timing then made by `model_problem`)."""
    if inputs is None or reach is None:
        sites, reach, costs = prepare(station, reach, cache_dir)
        return sites, reach, costs, None
    return inputs.sites, reach, inputs.costs, (inputs.timed, inputs.model_sites)


def _short_of_time(station: Station, timed: pd.DataFrame, model_sites: pd.DataFrame) -> pd.DataFrame:
    """Residents per room and scenario whom no plan can bring into a safe room in time (`queues.room_bound`)."""
    bound = room_bound(timed, model_sites["capacity"], model_sites["door_flow_pps"], station.params.reach_s)
    short = short_of_time(station.demand(), bound)
    short.attrs["exit_doors"] = exit_door_caps(timed, short.index[short.to_numpy().sum(axis=1) > 0])
    return short


def _add_predictions(plan: dict, station: Station, estimate: bool = True, replay: Replay | None = None) -> None:
    """Each assignment's planned last arrival inside its safe room (`planned_s`, `queues.predicted_arrivals`:
    farthest point, whole exit queue, conservative), its estimated last arrival (`predicted_s`,
    `estimate.estimated_arrivals`: what a simulation should show, never later than `planned_s` but for the
    corridor delays) and the
    plan's margin (`totals.promise`, `queues.promise_of_plan`, from the planned times); without
    `estimate` no `predicted_s`."""
    a = pd.DataFrame(plan["assignments"])
    if len(a):
        planned = predicted_arrivals(station, a)
        for row, t in zip(plan["assignments"], planned):
            row["planned_s"] = round(float(t), 2)
        if estimate:
            paths, delay = _replayed(a, replay)
            for row, e in zip(plan["assignments"], estimated_arrivals(station, a, delay, conservative=planned,
                                                                      paths=paths)):
                row["predicted_s"] = round(float(e), 2)
    plan["totals"]["promise"] = promise_of_plan(station, a)


def _replayed(a: pd.DataFrame, replay: Replay | None) -> tuple[Paths | None, np.ndarray | None]:
    """(paths, corridor delays in seconds) of the assignment rows `a` (plan.json's, in its order) taken
    from a corridor round's `replay` of the same plan; (None, None) when there is none or its rows are not
    exactly those of `a` (each (room, safe room, scenario) once)."""
    if replay is None or replay[1].paths is None or not len(a):
        return None, None
    rows, cq = replay
    p = replay[1].paths
    cols = ["room_id", "safe_room_id", "scenario"]
    mine = pd.MultiIndex.from_frame(a[cols].astype(str))
    theirs = pd.MultiIndex.from_frame(rows[cols].astype(str).reset_index(drop=True))
    if len(mine) != len(theirs) or not mine.is_unique or not theirs.is_unique:
        return None, None
    idx = theirs.get_indexer(mine)            # replay row of each plan row
    if (idx < 0).any():
        return None, None
    inv = np.empty(len(idx), np.int64)
    inv[idx] = np.arange(len(idx))
    steps = p.steps.assign(row=inv[p.steps["row"].to_numpy()]).sort_values(["row", "step"], kind="stable")
    return (Paths(steps.reset_index(drop=True), p.walk_s[idx], p.exit_door[idx], p.entry_door[idx]),
            cq.delay_s[idx])


def _add_short(plan: dict, short: pd.DataFrame, station: Station) -> None:
    """List the residents no plan can bring in in time as unsheltered, with the reason."""
    if not short.to_numpy().sum():
        return
    flow = room_exit_flow(station)
    rows = short.stack()
    rows = rows[rows > 0]
    dem = station.demand()
    per_door = short.attrs.get("exit_doors") or {}
    for (rid, sc), k in rows.items():
        why = short_reason(int(dem.at[rid, sc]), int(k), float(flow.get(rid, 0.0)), per_door.get(str(rid), []),
                           station.params.reach_s)
        plan["unsheltered"].append({"room_id": rid, "scenario": sc, "residents": int(k), "reason": why})


def _phases(station: Station, problem: Problem, solution: Solution, costs: pd.DataFrame) -> tuple[pd.Series | None, list | None]:
    """Phase per chosen site and the per-phase table (plan.json `phases`) when phases are declared."""
    if not station.params.phases or not len(solution.chosen):
        return None, None
    with stage(f"phasing ({len(station.params.phases)} declared phases)"):
        phases = plan_phases(problem, list(solution.chosen), costs, station.params)
        table = phase_table(problem, phases, costs, station.params)
    return phases, jsonable(table.to_dict(orient="records"))


def _relocation_goal_note(problem: Problem) -> list[str]:
    """The plan's note when backup coverage is asked as an objective of the relocation model (not applied)."""
    if problem.backup_goal < 2:
        return []
    return [f"Backup coverage as an objective (backup_goal = {problem.backup_goal}) is not applied to the "
            "relocation model (rooms whose residents move out): the plan is the least-cost one."]


def _relocation_inputs(station: Station, sites: pd.DataFrame) -> RelocationInputs:
    """The relocation model's inputs for the station's candidate sites (docs/model.md)."""
    p = station.params
    sources, hosts, moves, notes = relocation_tables(station, sites.index)
    return RelocationInputs(sources=sources, hosts=hosts, moves=moves, scenarios=list(station.scenarios),
                            max_displaced=p.max_displaced, cross_sector_penalty=float(p.cross_sector_move_penalty),
                            notes=notes)


def _repurpose_extra(station: Station, sites: pd.DataFrame, costs: pd.DataFrame, rel: RelocationInputs) -> pd.Series:
    """Per relocation source: what repurposing adds to the cost the model charges (currency; `either`
    rooms are costed as dual_use, the optimiser pays the difference when it repurposes them)."""
    either = (sites["mode"] == "either").to_numpy()
    if not either.any():
        return pd.Series(0.0, index=rel.sources.index)
    rep = site_costs(sites.assign(mode=np.where(either, "repurpose", sites["mode"].to_numpy(dtype=object))), station)
    extra = (rep["total_cost"] - costs["total_cost"]).reindex(rel.sources.index).fillna(0.0)
    return extra.where(rel.sources["optional"].to_numpy(dtype=bool), 0.0)


def _chosen_modes(station: Station, sites: pd.DataFrame, costs: pd.DataFrame, solution: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sites and costs with the mode the plan chose for each converted `either` room (repurpose when
    the relocation model moved its residents out, else dual_use)."""
    either = (sites["mode"] == "either").to_numpy() & sites.index.isin(list(solution.chosen))
    if not either.any():
        return sites, costs
    rep = set(solution.stats.get("repurposed", []))
    mode = sites["mode"].to_numpy(dtype=object).copy()
    mode[either] = np.where(sites.index[either].isin(list(rep)), "repurpose", "dual_use")
    sites = sites.assign(mode=mode)
    return sites, site_costs(sites, station)


def _solver_for(rel: RelocationInputs, options: SolveOptions | None = None) -> Callable[..., Any]:
    """`planner.model.solve` with `options`, or the relocation model's solver when repurposed rooms have
    residents (`solve(problem, start=None, progress=True, warm=None, keep=None) -> Solution` either way; for
    the relocation model `start` is a plan without moves, completed by HiGHS, and `warm` and `keep` are not
    used)."""
    if not rel.active:
        def solve_with(problem: Any, start: list[str] | None = None, progress: bool = True,
                       warm: LpWarm | None = None, keep: Solution | None = None) -> Any:
            return solve(problem, start=start, progress=progress, options=options, warm=warm, keep=keep)
        return solve_with

    def solve_moving(problem: Any, start: list[str] | None = None, progress: bool = True,
                     warm: LpWarm | None = None, keep: Solution | None = None) -> Any:
        return solve_relocating(problem, rel, progress=progress, options=options, start=start)
    return solve_moving


def unsheltered_summary(unsheltered: list[dict], station: Station, limit: int = 8) -> list[str]:
    """Who cannot be sheltered and why, per scenario and reason (plan.json `unsheltered` rows):
    one line each, rooms named by id and name."""
    if not unsheltered:
        return ["Everyone can be sheltered by this plan."]
    u = pd.DataFrame(unsheltered)
    names = station.rooms.drop_duplicates("room_id").set_index("room_id")["name"].astype(str)
    out = []
    plain = {"capacity": "the safe rooms within their reach are full (capacity or door throughput)"}
    for (sc, why), grp in u.groupby(["scenario", "reason"], sort=False):
        why = plain.get(str(why), why)
        # a room's residents may be listed in several rows (sent to several safe rooms anyway: latecomers)
        per_room = grp.groupby("room_id", sort=False)["residents"].sum().sort_values(ascending=False)
        rooms = [f"{r} ({names.get(r, '')})" if names.get(r, "") not in ("", r) else str(r) for r in per_room.index]
        out.append(f"Cannot be sheltered in scenario '{sc}': {int(per_room.sum()):,} resident(s) in "
                   f"{len(per_room)} room(s), because: {why}. Rooms: {', '.join(rooms[:limit])}"
                   + (f" and {len(rooms) - limit} more." if len(rooms) > limit else "."))
    return out
