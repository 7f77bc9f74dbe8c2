"""Expected share in the optimiser (issue 17): the least-cost plan whose walkers, with speeds drawn from
N(walk_speed_m_s, walk_speed_sd_m_s), are expected in a safe room in time at a target share.

`share_problem` puts the rows into a `planner.model.Problem`: per model pair the probability that its
walkers are fast enough with no one else at the safe room's door (`queues.pair_share_probabilities`),
per scenario one row ``sheltered in place + sum(prob x persons) >= target x residents``. The door
queues a plan shares between rooms are known only once the plan is: `share_rounds` replays the plan
(`queues.expected_share_probabilities`, the same computation as the plan's `totals.promise`), lowers the
probability of every pair the replay finds lower, and re-solves, a few rounds (docs/model.md,
"Expected share"). The plan returned meets the target by that replay, or says by how much it misses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from planner.errors import InfeasibleError, InputError, SolverError
from planner.model import BudgetInfeasibleError, Problem, Solution, SolveOptions
from planner.model.share import most_expected_share
from planner.queues import expected_share_probabilities, expected_shares, pair_share_probabilities
from planner.station import Station

__all__ = ["ExpectedShareInfeasible", "share_problem", "share_rounds", "lower_probabilities", "plan_shares",
           "share_infeasible", "share_errors", "note_share"]


class ExpectedShareInfeasible(InfeasibleError):
    """No plan within the budget reaches the expected share (exit code 3 like every `InfeasibleError`).

    `most`: per scenario an upper bound on the expected share any plan within the budget reaches (0..1,
    `planner.model.share.most_expected_share`; `with_budget`: computed within the budget, else with every
    candidate open: no budget buys it); `cost`: the least cost of a plan reaching the target without the
    budget (currency) when only the budget stands in the way, else None."""

    def __init__(self, message: str, most: dict[str, float], cost: float | None = None,
                 rooms: int | None = None, with_budget: bool = True) -> None:
        super().__init__(message)
        self.most = most
        self.cost = cost
        self.rooms = rooms
        self.with_budget = with_budget


def share_problem(problem: Problem, station: Station, timed: pd.DataFrame, target: float | None = None,
                  relocating: bool = False) -> Problem:
    """`problem` (cover-all) with the expected-share rows at `target` (default `expected_share_target`; 0:
    returned unchanged): each of the problem's pairs with its probability in each scenario (`timed`,
    `queues.model_pairs`' rows of those pairs; the room's own-door queue and batch of that scenario's
    residents: `pair_share_probabilities` with `persons`) and the station's residents per scenario (all of them: those no plan brings in
    count 0). An `InputError` for a max-cover objective (the rows count everyone reachable sheltered) and
    when `relocating` (the station's repurposed rooms have residents: the relocation model has no
    expected-share rows)."""
    t = float(station.params.expected_share_target if target is None else target)
    if t <= 0.0:
        return problem
    where = str(station.files.get("scenario", "scenario.toml")) if station.files else "<station>"
    if problem.objective != "cover-all":
        raise InputError(where, "[model] expected_share_target", f"is {t:g} with the objective {problem.objective!r}",
                         "use the objective cover-all (the expected share counts everyone reachable sheltered)")
    if relocating:
        raise InputError(where, "[model] expected_share_target",
                         f"is {t:g}, but rooms to be repurposed have residents who move out (the relocation model)",
                         "set the rooms' mode to dual_use, or leave expected_share_target at 0")
    dem = station.demand()
    room = timed["room_id"].astype(str).to_numpy()
    pairs = pd.concat([pd.DataFrame({"room_id": room, "site_id": timed["site_id"].astype(str).to_numpy(),
                                     "scenario": str(s), "prob": pair_share_probabilities(
                                         timed, station.params, dem[s].reindex(room).fillna(0).to_numpy(dtype=float))})
                       for s in dem.columns], ignore_index=True)
    residents = station.demand().sum(axis=0).astype(float)
    residents.index = residents.index.astype(str)
    return problem.replace(share_target=t, share_pairs=pairs, share_residents=residents)


def plan_shares(station: Station, rows: pd.DataFrame) -> tuple[dict[str, float], np.ndarray]:
    """(expected share per scenario, probability per row) of a plan's assignment rows (plan.json's
    columns: room_id, safe_room_id, scenario, residents, walk_s, door_id, margin_s, exit_door_id), every
    queue replayed (`queues.expected_share_probabilities`)."""
    if not len(rows):
        return expected_shares(station, pd.DataFrame({"scenario": [], "residents": []}), np.zeros(0)), np.zeros(0)
    q, prob = expected_share_probabilities(station, rows)
    return expected_shares(station, q, prob), prob


def lower_probabilities(share_pairs: pd.DataFrame, rows: pd.DataFrame, prob: np.ndarray) -> tuple[pd.DataFrame, int]:
    """(`share_pairs` with each pair's probability (per scenario where `share_pairs` has one) lowered to the
    least a plan's replay gives it (its rows `rows`: room_id, safe_room_id, scenario; `prob` per row), the
    number of probabilities lowered)."""
    by = ["room_id", "safe_room_id"] + (["scenario"] if "scenario" in share_pairs.columns else [])
    got = pd.Series(np.asarray(prob, dtype=float), index=pd.MultiIndex.from_arrays(
        [rows[c].astype(str).to_numpy() for c in by])).groupby(level=list(range(len(by)))).min()
    key = pd.MultiIndex.from_arrays([share_pairs[c].astype(str).to_numpy()
                                     for c in ["room_id", "site_id"] + by[2:]])
    replay = got.reindex(key).to_numpy(dtype=float)
    old = share_pairs["prob"].to_numpy(dtype=float)
    lower = np.isfinite(replay) & (replay < old - 1e-9)
    return share_pairs.assign(prob=np.where(lower, replay, old)), int(lower.sum())


def share_rounds(station: Station, problem: Problem, solution: Solution, solve: Callable[..., Any],
                 plan_rows: Callable[[Solution, Problem], pd.DataFrame], time_limit_s: float
                 ) -> tuple[Problem, Solution, dict[str, Any] | None]:
    """Lazy tightening of the expected-share rows (docs/model.md): replay the plan's expected share
    (`plan_shares`); while a scenario is below the target, lower the probabilities of the pairs the replay
    finds lower (`lower_probabilities`) and re-solve (`solve(problem)`, each within `time_limit_s`
    seconds), at most `expected_share_rounds` times. `plan_rows(solution, problem)`: the solution's
    assignments as plan.json rows. Returns the (problem, solution) of the round that meets the target at
    the least cost (none meeting it: the one short by least) and plan.json's `solver.expected_share`
    (target, each round's shares, cost and pairs lowered, the chosen round, met); without expected-share
    rows (`Problem.share_on`) the problem and solution unchanged and None."""
    if not problem.share_on:
        return problem, solution, None
    target = float(problem.share_target)
    rounds: list[dict[str, Any]] = []
    best: tuple[tuple[float, float], Problem, Solution, int] | None = None
    tl = float(problem.time_limit_s)
    for k in range(int(station.params.expected_share_rounds) + 1):
        rows = plan_rows(solution, problem)
        shares, prob = plan_shares(station, rows)
        short = max((target - v for v in shares.values()), default=0.0)
        cost = float(solution.stats.get("cost", 0.0))
        rounds.append({"round": k, "cost": round(cost, 2), "rooms": len(solution.chosen),
                       "expected_share": {s: round(v, 6) for s, v in shares.items()}})
        score = (max(short, 0.0), cost)
        if best is None or score < best[0]:
            best = (score, problem, solution, k)
        if short <= 1e-9 or k == int(station.params.expected_share_rounds):
            break
        assert problem.share_pairs is not None
        pairs, n = lower_probabilities(problem.share_pairs, rows, prob)
        rounds[-1]["pairs_lowered"] = n
        if not n:
            break
        problem = problem.replace(share_pairs=pairs, time_limit_s=min(tl, float(time_limit_s)))
        try:
            solution = solve(problem)
        except (InfeasibleError, SolverError) as exc:
            rounds.append({"round": k + 1, "stopped": str(exc).splitlines()[0][:300]})
            break
    assert best is not None
    (short, _), problem, solution, chosen = best
    info = {"target": target, "rounds": rounds, "chosen_round": chosen, "met": short <= 1e-9,
            "short_by": round(short, 6)}
    return problem.replace(time_limit_s=tl), solution, info


def share_errors(solve: Callable[..., Any], options: SolveOptions | None = None) -> Callable[..., Any]:
    """`solve(problem, start=None, progress=True)` whose `InfeasibleError` on an expected-share problem
    becomes `share_infeasible`'s (what the most is, what the target would cost without the budget)."""
    def solve_share(problem: Problem, start: list[str] | None = None, progress: bool = True) -> Any:
        if problem.share_on:   # first the ceiling (one LP): the solver's own proof of "no plan" can be slow
            most = most_expected_share(problem.replace(budget=None), options)
            if min(most.values(), default=1.0) < float(problem.share_target) - 1e-9:
                raise ExpectedShareInfeasible(_no_plan_words(problem.replace(budget=None), most, None, None), most,
                                              with_budget=False)
        try:
            return solve(problem, start=start, progress=progress)
        except InfeasibleError as exc:
            if not problem.share_on or isinstance(exc, ExpectedShareInfeasible):
                raise
            raise share_infeasible(problem, exc, options) from None
    return solve_share


def share_infeasible(problem: Problem, exc: InfeasibleError, options: SolveOptions | None = None
                     ) -> ExpectedShareInfeasible:
    """The error for an expected-share problem without a plan (`exc`, the solver's): the most any plan
    within the budget can expect per scenario (`most_expected_share`) and, when the budget is what stands
    in the way, the least cost of a plan reaching the target without it."""
    most = most_expected_share(problem, options)
    cost = rooms = None
    if isinstance(exc, BudgetInfeasibleError) and exc.full_cover is not None:
        cost, rooms = float(exc.full_cover.cost), len(exc.full_cover.solution.chosen)
    return ExpectedShareInfeasible(_no_plan_words(problem, most, cost, rooms), most, cost, rooms,
                                   with_budget=problem.budget is not None)


def _no_plan_words(problem: Problem, most: dict[str, float], cost: float | None, rooms: int | None) -> str:
    """The message of `ExpectedShareInfeasible`."""
    t = float(problem.share_target)
    worst = min(most, key=lambda s: most[s]) if most else ""
    return (f"No plan expects {100 * t:.2f} % of every scenario's residents in a safe room in time"
            + (f" within the budget of {problem.budget:,.0f}" if problem.budget is not None else ", whatever the budget")
            + (f": the least-cost plan that does costs {cost:,.0f} ({rooms} rooms)." if cost is not None else ".")
            + " At most " + ", ".join(f"{100 * v:.2f} % ({s})" for s, v in most.items())
            + (f" (the model's ceiling: each walk in time at the design speed counted with the probability "
               f"that its walkers are fast enough); {worst} is the scenario furthest from it" if worst else "") + ".")


def note_share(plan: dict) -> None:
    """plan.json `totals.promise` (additive, with `solver.expected_share` from `share_rounds`):
    `expected_share_target`, `expected_share_met` and `expected_share_short_by` (share points short in
    the worst scenario, 0 when met). Nothing without an expected-share solve."""
    info = (plan.get("solver") or {}).get("expected_share")
    pm = (plan.get("totals") or {}).get("promise")
    if not isinstance(info, dict) or not isinstance(pm, dict):
        return
    t = float(info["target"])
    exp = pm.get("expected_share") or {}
    short = max((t - float(v) for v in exp.values()), default=0.0)
    pm["expected_share_target"] = t
    pm["expected_share_met"] = bool(short <= 1e-9)
    pm["expected_share_short_by"] = round(max(short, 0.0), 6)
