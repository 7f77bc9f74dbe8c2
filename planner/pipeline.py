"""One planning run: candidate sites -> reach table -> costs -> model -> plan (-> check).

`plan_station` returns a `PlanRun` holding every intermediate table, so the
proposal, the sweep and the tests can use them without recomputing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from planner.errors import InfeasibleError, SolverError
from planner.progress import log, stage
from planner.station import Station


@dataclass
class PlanRun:
    """Everything one planning run produced (plain data)."""

    station: Station
    sites: pd.DataFrame
    reach: Any
    costs: pd.DataFrame
    problem: Any
    solution: Any
    plan: dict
    notes: list[str] = field(default_factory=list)
    full_cover_cost: float | None = None
    """Least cost of a full plan when the budget fell short (currency), else None."""
    breaches: list = field(default_factory=list)
    full_cover_plan: dict | None = None
    """plan.json dict of the least-cost full plan when the budget fell short (the what-if reuses it)."""

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
        gap = s.get("gap")
        lines.append(f"  solver {s.get('name')} {s.get('status')}, gap "
                     + (f"{100 * gap:.2f} %" if isinstance(gap, (int, float)) else str(gap))
                     + f", {s.get('seconds', 0):.1f} s")
        for n in self.notes:
            lines.append(f"  note: {n}")
        return "\n".join(lines)


def prepare(station: Station, reach: Any = None) -> tuple[pd.DataFrame, Any, pd.DataFrame]:
    """(sites, reach table, costs) for a station; `reach` may be passed in to reuse it."""
    from planner.costs import site_costs
    from planner.network import reach_table
    from planner.sites import candidate_sites

    with stage("candidate sites"):
        sites = candidate_sites(station)
        log(f"[planner]   {len(sites)} candidate sites, {int(sites['capacity'].sum()):,} places in all")
    if reach is None:
        with stage("reach table (walking times)"):
            reach = reach_table(station, sites)
            log(f"[planner]   {len(reach.pairs):,} room-site pairs within {station.params.reach_s:.0f} s")
    with stage("cost model"):
        costs = site_costs(sites, station)
    return sites, reach, costs


def plan_station(station: Station, *, fallback_max_cover: bool = True, reach: Any = None,
                 start: list[str] | None = None, check: bool = True, phases: bool = True) -> PlanRun:
    """Plan a station with its parameters.

    With `fallback_max_cover`, a cover-all that the budget cannot pay for falls back to
    max-cover at the budget, and the note says what full coverage would cost.
    With `check`, the plan goes through the independent checker; a breach is a bug
    and raises SolverError. With `phases` (and phases declared in the scenario), the
    chosen rooms are staged into the declared phases (plan.json `phases`); a budget
    sweep turns it off, its plans are compared by coverage only.
    """
    from planner.model import Problem, solve
    from planner.plan import build_plan

    sites, reach, costs = prepare(station, reach)
    problem = Problem.from_station(station, reach, sites, costs["total_cost"])
    notes: list[str] = []
    full_cover_cost = None
    full_cover_solution = None
    with stage(f"optimisation ({problem.objective})"):
        try:
            solution = solve(problem, start=start)
        except InfeasibleError as exc:
            if not (fallback_max_cover and problem.objective == "cover-all" and problem.budget is not None):
                raise
            notes.append(str(exc))
            full_cover_cost = getattr(exc, "full_cover_cost", None) or _full_cover_cost(problem)
            free = getattr(exc, "full_cover_plan", None)
            full_cover_solution = free if free is not None and len(free.chosen) else None
            log(f"[planner] full coverage is not affordable: {exc}\n[planner] planning max-cover at the budget instead")
            problem = dataclasses.replace(problem, objective="max-cover")
            solution = solve(problem, start=start)
    if full_cover_cost is not None:
        notes.append(f"Full coverage would cost {full_cover_cost:,.0f} {station.params.currency}.")
    phase_of, phase_rows = _phases(station, problem, solution, costs) if phases else (None, None)
    plan = build_plan(station=station, sites=sites, costs=costs, reach=reach, solution=solution,
                      phases=phase_of, notes=notes)
    if phase_rows is not None:
        plan["phases"] = phase_rows
    if full_cover_cost is not None:
        plan["totals"]["full_cover_cost"] = round(full_cover_cost, 2)
    plan["objective"] = problem.objective
    run = PlanRun(station=station, sites=sites, reach=reach, costs=costs, problem=problem,
                  solution=solution, plan=plan, notes=notes, full_cover_cost=full_cover_cost)
    if full_cover_solution is not None:
        run.full_cover_plan = build_plan(station=station, sites=sites, costs=costs, reach=reach,
                                         solution=full_cover_solution)
        run.full_cover_plan["objective"] = "cover-all"
    if check:
        from planner.check import check_plan, format_breaches

        with stage("independent check of the plan"):
            run.breaches = check_plan(station, plan)
        if run.breaches:
            raise SolverError("the plan failed the independent check (a planner bug; nothing was written):\n"
                              + format_breaches(run.breaches))
    return run


def _phases(station: Station, problem: Any, solution: Any, costs: pd.DataFrame) -> tuple[pd.Series | None, list | None]:
    """Phase per chosen site and the per-phase table (plan.json `phases`) when phases are declared."""
    if not station.params.phases or not len(solution.chosen):
        return None, None
    from planner.phases import phase_table, plan_phases
    from planner.plan import jsonable

    with stage(f"phasing ({len(station.params.phases)} declared phases)"):
        phases = plan_phases(problem, list(solution.chosen), costs, station.params)
        table = phase_table(problem, phases, costs, station.params)
    return phases, jsonable(table.to_dict(orient="records"))


def _full_cover_cost(problem: Any) -> float | None:
    """Least cost of covering everyone, ignoring the budget (currency), or None if unknown."""
    from planner.model import solve

    try:
        sol = solve(dataclasses.replace(problem, budget=None, objective="cover-all"), progress=False)
    except Exception:  # the note is informative only
        return None
    cost = problem.sites["cost"].reindex(sol.chosen).fillna(0.0)
    existing = problem.sites["existing"].reindex(sol.chosen).fillna(False).astype(bool)
    return float(cost[~existing].sum())
