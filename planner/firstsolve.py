"""The first solve of a planning run, and what it keeps for the next run (issue 21).

`first_solve` solves the objective asked: from the last run's final state on the same inputs when
there is one (`planner.reuse`: its plan as the start, its LP basis), falling back to max-cover at the
budget when cover-all does not fit it, or straight to max-cover when an earlier run showed that full
cover costs more than the budget (`skip_cover_all`). `remember_run` keeps the run's final state and
full coverage's figures for the next run. Costs are in the station's currency.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from planner.corridorrounds import limits_of, rounds_fallback, rows_optional
from planner.errors import InfeasibleError
from planner.model import BudgetInfeasibleError, Problem, SolveOptions
from planner.model.warm import LpWarm
from planner.progress import log, stage
from planner.reuse import (RunState, known_full_cover, load_state, nearest_sheet_basis, nearest_sheet_plan,
                           remember_full_cover, save_state, state_key)
from planner.share import share_errors
from planner.station import Station

if TYPE_CHECKING:
    from planner.model import Solution


@dataclass
class FirstSolve:
    """The first solve of `planner.pipeline.plan_station` (`first_solve`): its problem (objective after any fallback),
    solution, notes, and what it learnt about full coverage (currency)."""

    problem: Problem
    solution: Solution
    notes: list[str] = field(default_factory=list)
    fell_back: bool = False
    full_cover_cost: float | None = None
    full_cover_solution: Solution | None = None
    fallback_notes: list[str] = field(default_factory=list)
    """The words of a budget's fallback to max-cover (kept with the run's final state)."""
    free: dict | None = None
    """{"cost", "rooms", "bound"} (currency) of a cover-all solve without corridor rows, when this was one
    (kept for the what-ifs on the same inputs: `planner.reuse.known_full_cover`)."""
    round_notes: list[str] = field(default_factory=list)
    """The words of a fallback to max-cover in the corridor rounds (`after_rounds`), for the plan's notes."""


def after_rounds(first: FirstSolve, objective: str, corridor: dict) -> FirstSolve:
    """`first` as the corridor rounds leave it: when a round fell back to max-cover (`corridor_rounds`'
    `fallback`; the problem they return has `objective` max-cover where `first`'s had cover-all), it fell back
    with that round's words and full-cover cost (currency), kept with the run's final state like a first
    solve's fallback."""
    if objective == first.problem.objective:
        return first
    words, cost = rounds_fallback(corridor)
    return dataclasses.replace(first, fell_back=True, full_cover_cost=cost, full_cover_solution=None,
                               fallback_notes=first.fallback_notes + words, round_notes=words)


def first_solve(station: Station, problem: Problem, solve: Callable[..., Any], options: SolveOptions | None,
                 start: list[str] | None, state: RunState | None, skip: Skip | None, fallback: bool,
                 share_on: bool, warm: LpWarm | None = None, fallback_warm: LpWarm | None = None) -> FirstSolve:
    """`planner.pipeline.plan_station`'s first solve: the objective asked, from the last run's final state when there is one
    (its plan as the start, its LP basis), falling back to max-cover at the budget when cover-all does not
    fit it (`fallback`), or straight to max-cover when that is known already (`skip`). `warm`: an LP basis to
    start from when there is no state (`plan_station(warm=)`); `fallback_warm`: a max-cover LP basis at a budget
    near this one (the what-if sheet's, `fallback_basis`) for the fallback's LP (a cover-all basis does not fit
    a max-cover model: it started cold)."""
    warm = state.warm if state is not None else warm
    with stage(f"optimisation ({'max-cover' if skip is not None else problem.objective})"):
        if skip is not None:   # full cover known to cost more than the budget (issue 21): max-cover at once
            log(f"[planner] full coverage is not possible: {skip.notes[0]}\n[planner] planning max-cover at the "
                "budget instead" + (f", from the what-if sheet's plan at {skip.start_budget:,.0f}" if skip.start_budget
                                    is not None else ""))
            problem = dataclasses.replace(problem, objective="max-cover")
            warm = warm if warm is not None else skip.warm   # (the sheet's basis: its LP in seconds, not 20 s)
            return FirstSolve(problem, solve(problem, start=skip.start, warm=warm), list(skip.notes), True,
                          skip.full_cover_cost, None, list(skip.notes))
        rowless = problem.corridor_cuts is None and not share_on and problem.objective == "cover-all"
        try:
            sol = share_errors(rows_optional(functools.partial(solve, warm=warm)), options)(
                problem, start=state.chosen if state is not None else start)
            return FirstSolve(problem, sol, free=_free(sol.stats.get("cost", sol.cost), sol) if rowless else None)
        except InfeasibleError as exc:   # (expected share: no fallback, the error says what the most is)
            if not (fallback and problem.objective == "cover-all") or share_on:
                raise
            words, fc_cost, fc_solution = [str(exc)], None, None
            budgeted = problem.budget is not None
            if budgeted:
                known = exc.full_cover if isinstance(exc, BudgetInfeasibleError) else None
                fc_cost = (known.cost if known is not None else None) or _full_cover_cost(problem, solve)
                if known is not None and len(known.solution.chosen):
                    fc_solution = known.solution
                log(f"[planner] full coverage is not possible: {exc}\n[planner] planning max-cover at the budget instead")
                problem = dataclasses.replace(problem, objective="max-cover")
            else:
                every = _all_candidates_cost(problem)
                words.append(f"No budget was given: the plan shelters as many residents as possible with up to "
                             f"every candidate room converted ({every:,.0f} {station.params.currency}).")
                log(f"[planner] cover-all is not possible: {exc}\n[planner] planning max-cover instead")
                problem = dataclasses.replace(problem, objective="max-cover", budget=every)
            return FirstSolve(problem, solve(problem, start=start, warm=fallback_warm), words, True, fc_cost, fc_solution,
                          [str(exc)] if budgeted else [],
                          _free(fc_cost, fc_solution) if rowless and fc_cost is not None and fc_solution else None)


def _free(cost: float, solution: Solution) -> dict[str, Any]:
    """A cover-all solve's {"cost", "rooms", "bound"} (currency; bound None when the solver proved none)."""
    bound = solution.solver.get("bound")
    return {"cost": float(cost), "rooms": len(solution.chosen),
            "bound": float(bound) if isinstance(bound, (int, float)) and np.isfinite(bound) else None}


@dataclass
class Skip:
    """A cover-all the budget cannot pay for, known from an earlier run (`skip_cover_all`)."""

    notes: list[str]
    full_cover_cost: float | None
    plan: dict | None
    """plan.json of the full-cover plan, when known."""
    start: list[str] | None
    start_budget: float | None
    warm: LpWarm | None = None
    """The what-if sheet's LP basis at the budget nearest this one (`planner.reuse.nearest_sheet_basis`), or None."""


def first_options(options: SolveOptions | None, state: RunState | None, skip: Skip | None,
                  warm_branch: bool, rounds_follow: bool = False) -> SolveOptions | None:
    """The first solve's options (`options` itself when nothing changes): a start plan from the last run or the
    what-if sheet comes with its LP (`start_lp`: the bound, and the basis for the rounds); after an LP started
    from another budget's basis (`warm_branch`, or the what-if sheet's basis, `Skip.warm`), not from this
    model's last run, HiGHS branches when the start is outside the gap (`SolveOptions.warm_branch`); a
    cover-all first solve that corridor rounds follow (`rounds_follow`: each round re-plans it) does not branch
    after a cold LP by column generation (`SolveOptions.cold_branch`; small models still do)."""
    out = options
    if state is not None or (skip is not None and skip.start is not None):
        out = dataclasses.replace(out or SolveOptions(), start_lp=True)
    if state is None and (warm_branch or (skip is not None and skip.warm is not None)):
        out = dataclasses.replace(out or SolveOptions(), warm_branch=True)
    if rounds_follow and state is None and skip is None:
        out = dataclasses.replace(out or SolveOptions(), cold_branch=False)
    return out


def known_rows(given: Mapping[tuple[str, str], float] | None, state: RunState | None,
                cached: Any) -> Mapping[tuple[str, str], float]:
    """The corridor rows of the first solve: the caller's (`given`), the last run's final state's (in its
    cut-id order) or the corridor cache's (`cached`: {"limits": plan.json rows}). (Not the full-cover
    plan's for a what-if: its limits come from that plan's streams, and on a small station they kept 8
    of 44 residents out of a what-if plan that the replay finds in time without them.)"""
    if given is not None:
        return given
    if state is not None:
        log(f"[planner] starting from the last run's final state on the same inputs ({len(state.chosen)} safe rooms, "
            f"{len(state.limits)} corridor row(s){', LP basis' if state.warm is not None else ''})")
        return state.limits
    return limits_of(cached.get("limits") if isinstance(cached, dict) else None)


def usable_state(state: RunState | None, problem: Problem) -> RunState | None:
    """The last run's final state when it is of `problem`'s objective, or of its budget's max-cover fallback."""
    if state is None:
        return None
    if state.objective == problem.objective or (state.fallback and problem.objective == "cover-all"
                                                and problem.budget is not None):
        return state
    return None


def skip_cover_all(station: Station, problem: Problem, state: RunState | None, reuse_at: Path | None,
                    margins: pd.DataFrame | None, fallback: bool) -> Skip | None:
    """How to go straight to max-cover (issue 21): the last run on the same inputs fell back at this budget
    (`state`), or full cover is known (`planner.reuse.known_full_cover`, e.g. from a proposal) to cost more
    than the budget by its proven bound; then the max-cover solve starts from the state's plan, or from the
    what-if sheet's plan at this very budget (`nearest_sheet_plan`), or from its own LP relaxation and greedy;
    its LP starts from the sheet's basis at the nearest budget when there is one (`nearest_sheet_basis`).
    None: solve cover-all first.

    (A sheet plan at a lower budget is not a start: on Station Unity at 47.5 M CR the 37.3 M plan as the
    start had HiGHS branch from it for the whole time limit, 62.8 s, to a plan sheltering 23,796 weighted
    residents with no bound, where the LP and its greedy gave 26,831 within 0.08 % of the bound in 42.8 s.)"""
    if problem.objective != "cover-all" or problem.budget is None or not fallback or reuse_at is None:
        return None
    fc = known_full_cover(reuse_at, station, margins) or {}
    if state is not None and state.fallback is not None:
        cost = state.fallback.get("full_cover_cost")
        return Skip([str(n) for n in state.fallback["notes"]], None if cost is None else float(cost),
                     fc.get("plan"), state.chosen, None)
    free = fc.get("first")
    if state is not None or free is None or free.get("bound") is None or free["bound"] <= problem.budget + 1.0:
        return None
    words = (f"Cover-all is impossible within the budget of {problem.budget:,.0f}: the cheapest plan sheltering "
             f"everyone reachable costs {free['cost']:,.0f} ({free['rooms']} rooms; no plan costs less than "
             f"{free['bound']:,.0f}). Use --objective max-cover to shelter as many people as possible within the "
             "budget.")   # the solver's words (`orchestrate.solve`) on the last run's solve without corridor rows
    near = nearest_sheet_plan(reuse_at, station, margins, float(problem.budget))
    near = near if near is not None and near["budget"] >= float(problem.budget) - 1.0 else None
    return Skip([words], float(free["cost"]), fc.get("plan"), near["chosen"] if near else None,
                 near["budget"] if near else None, nearest_sheet_basis(reuse_at, station, margins, float(problem.budget)))


def fallback_basis(problem: Problem, skip: Skip | None, reuse_at: Path | None, station: Station,
                   margins: pd.DataFrame | None, fallback: bool) -> LpWarm | None:
    """The LP basis a max-cover fallback at `problem`'s budget starts from: the what-if sheet's at the nearest
    budget (`nearest_sheet_basis`: max-cover bases; the one a cover-all solve leaves has its artificial columns
    and does not fit), when a cover-all within a budget may fall back (`first_solve`, the corridor rounds);
    None otherwise. (Station Unity at 56.6 M CR: the rounds' fallback LP took 30 s cold; a what-if started from
    the sheet's basis at 47.5 M took 3.7 s.)"""
    if not fallback or skip is not None or problem.objective != "cover-all" or problem.budget is None:
        return None
    return nearest_sheet_basis(reuse_at, station, margins, float(problem.budget))


def proposal_state(station: Station, problem: Problem, reuse_at: Path | None, margins: pd.DataFrame | None,
                   options: SolveOptions | None) -> tuple[RunState, float] | None:
    """The final state of the proposal on the same inputs and parameters but the budget (`known_full_cover`'s
    plan, the full-cover plan: its safe rooms, corridor rows and LP basis) and that plan's cost (currency), for
    a cover-all within another budget (a what-if); None when there is none, or it is this run's own key.

    A what-if at a budget the proposal's plan fits is that plan (`plan_station` starts from its state: one
    solve, no rounds); below it, the what-if's first cover-all LP starts from its basis (the same model without
    the proposal's corridor rows: rebalanced, `planner.model.warm`), which started cold (Station Unity: 16 s)."""
    if reuse_at is None or problem.objective != "cover-all" or problem.budget is None:
        return None
    plan = (known_full_cover(reuse_at, station, margins) or {}).get("plan")
    budget = ((plan or {}).get("parameters") or {}).get("budget", "none")
    if plan is None or not isinstance(budget, (int, float, type(None))):
        return None
    params = station.params.replace(budget=None if budget is None else float(budget), objective="cover-all")
    if params == station.params:
        return None
    state = load_state(reuse_at, state_key(dataclasses.replace(station, params=params), margins, options))
    rooms = sorted(str(r.get("room_id")) for r in plan.get("safe_rooms", []) if isinstance(r, dict))
    if state is None or state.objective != "cover-all" or state.fallback is not None or sorted(state.chosen) != rooms:
        return None   # (not the state that made the stored plan)
    return state, float(plan["totals"]["cost"])


def from_proposal(station: Station, problem: Problem, state: RunState | None, reuse_at: Path | None,
                  margins: pd.DataFrame | None, options: SolveOptions | None) -> tuple[RunState | None, LpWarm | None, bool]:
    """(state, basis, from the proposal) for `plan_station`'s first solve: without a state of its own, a
    cover-all within a budget the proposal's plan fits starts from the proposal's final state (`proposal_state`);
    below that cost the proposal's LP basis is returned for its first cover-all LP (not for a max-cover one:
    `skip_cover_all`; a cover-all basis does not fit it)."""
    got = proposal_state(station, problem, reuse_at, margins, options) if state is None else None
    if got is None:
        return state, None, False
    if got[1] <= float(problem.budget or 0.0) + 1e-6:
        log(f"[planner] the proposal's plan on the same inputs costs {got[1]:,.0f}, within the budget: "
            "starting from its final state")
        return got[0], None, True
    return None, got[0].warm, False


def reused_words(state: RunState, proposal: bool = False) -> dict[str, Any]:
    """plan.json `solver.corridor.reused`: the plan and rows came from the last run's final state (`proposal`:
    from the final state of the proposal on the same inputs at another budget, `proposal_state`)."""
    whose = ("the proposal on the same inputs and parameters but the budget, whose plan fits this one" if proposal
             else "the last run on the same inputs and parameters")
    return {"note": f"solved once from the final state of {whose} (its "
                    "safe rooms as the start, its corridor rows" + (", its LP basis" if state.warm is not None else "")
                    + "); the rounds that found the rows are below",
            "rounds": state.record.get("rounds", []), "chosen_round": state.record.get("chosen_round")}


def remember_run(folder: Path, key: str, state: RunState | None, new: RunState, *, same: bool,
                 free: dict | None, station: Station, margins: pd.DataFrame | None, proposal: dict | None) -> None:
    """Keep what the next run on the same inputs reuses (`planner.reuse`): the final state (`new`, its rows
    and record those of the first run when it started from `state`; only when the plan is the corridor
    rounds' (`same`)), full coverage's figures without corridor rows (`free`: {"cost", "rooms", "bound"}
    in currency, or None) and the proposal's plan (`proposal`: plan.json) when it is the full-cover plan."""
    if same:
        if state is not None:
            new.record = state.record or new.record
            new.warm = new.warm if new.warm is not None else state.warm
        save_state(folder, key, new)
    remember_full_cover(folder, station, margins, first=free, plan=proposal)


def _all_candidates_cost(problem: Problem) -> float:
    """What converting every candidate room would cost (currency; existing safe rooms cost nothing)."""
    cost = problem.sites["cost"].astype(float)
    existing = problem.sites["existing"].astype(bool) if "existing" in problem.sites else False
    return float(cost[~existing].sum()) + 1.0


def _full_cover_cost(problem: Problem, solve: Callable[..., Any]) -> float | None:
    """Least cost of covering everyone, ignoring the budget (currency), or None if unknown."""
    try:
        sol = solve(dataclasses.replace(problem, budget=None, objective="cover-all"), progress=False)
    except Exception:  # the note is informative only
        return None
    return sol.cost   # every solve path's cost (existing rooms 0; the relocation model's repurposing included)
