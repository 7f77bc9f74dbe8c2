"""The integer program: which candidate rooms to convert, and who shelters where.

Model (docs/model.md, section 4), written in linear size:

- `x_j` binary: convert site `j` (1 for `existing` and `required`, absent for protected).
- `y_gjs >= 0`: residents of room group `g` sheltered at `j` in scenario `s`.
- demand: `sum_j y_gjs = d_gs` (cover-all) or `<= d_gs` (max-cover).
- capacity: `sum_g y_gjs <= c_j x_j`; tightening `y_gjs <= min(d_gs, q) x_j`.
- door queue (fluid queue at the site's door, arrivals binned: each walk is
  rounded UP to its bin edge `tau_b`, which keeps the plan safe): suffix sums
  chained through auxiliaries `S_jbs = S_j,b+,s + arrivals in bin b`,
  `S_jbs <= floor(r_j (T - tau_b))`. Only bins where the bound can bind get an
  `S` (the others are merged into the next binding bin), so the queue costs one
  non-zero per assignment plus two per binding bin instead of one per pair and bin.
  Shelter-in-place pairs (room == site, 0 s) count against capacity, not the queue.
- budget: `sum_j f_j x_j <= B` (existing sites cost 0).
- backup: every room with residents has `min(k, #sites in reach)` converted
  sites within reach (cover-all: hard; max-cover: a room counts as sheltered
  only if it has them, through a binary `z_g`).
- objectives: cover-all = min cost (+ a displacement tie-break worth < 1
  currency unit); max-cover = max priority-weighted sheltered persons summed
  over scenarios, then (second solve, coverage fixed at the value found) least
  cost with the displacement tie-break.

Rooms with identical reach sets (same sites, same arrival bins, same
shelter-in-place flag) and the same priority are aggregated into one group;
the group's assignment is split back to its rooms integrally afterwards.
Identical scenarios merge (weighted by their count); for cover-all, a scenario
whose demand is everywhere at most another's is implied by it and dropped from
the MIP (the final whole-person assignment still covers every scenario).

When no capacity and no door queue can bind (every site and every queue bin admits all the
residents in its reach, `Compiled.uncapacitated`; spopt's LSCP/MCLP), the pure set-cover /
max-cover model on the sites alone is solved instead (`build_cover_model`: dominated cover
rows and sites removed first), and everyone goes to the nearest chosen site
(`assign_nearest`). Otherwise:

How a plan is found fast (measured in bench/bench_model.py and docs/performance.md):

0. small cover-all models (below `SolveOptions.capacity_cuts_below` assignment columns): capacity
   cuts (`planner.model.capcuts`): a MIP over the sites alone with the capacity knapsack and the
   Hall rows of maximum flows' minimum cuts; a plan that fits everyone within the gap of that MIP's
   bound is the answer (no LP, no branching), else plan and bound join the LP path;
1. the LP relaxation (HiGHS simplex, arrays passed in bulk; by column generation on the
   assignment columns when there are many, `lp_colgen`) gives a bound; an LP stopped by
   its time limit still gives one from its duals (`dual_bound`), and then no MIP is
   started (its root LP could not finish either);
2. cover-all: every site the LP opens at all is converted (feasible by
   construction: the LP's assignment fits), then a local search closes sites
   whose people fit elsewhere; max-cover: an LP-weighted greedy within budget;
3. if that plan is within `mip_gap` of the LP bound, no branching is needed;
   otherwise the tightening rows the LP violates are added (a few rounds) and
   HiGHS branches from the plan (a MIP start), under the time limit;
4. the plan's whole-person assignment is solved with the sites fixed, and the
   solution is verified.

Cover-all models too large for one LP in time (at least `SolveOptions.lagrange_min_columns` assignment
columns: 30,000 rooms) take the Lagrangian path instead (`solve_lagrangian`, `planner.model.lagrange`):
knapsack prices choose the first sites, maximum flows find whom they cannot shelter, prices
rise there until nearly everyone fits, a small MIP shelters the rest; the bound is the
capacity knapsack strengthened by the Hall rows of the flows' minimum cuts.

Whole persons: with `x` fixed, the assignment rows (room supply; per site the
capacity row and the nested queue suffixes) are two laminar families, so the
matrix is totally unimodular; the queue capacities are floored to integers, so
the fixed-x re-solve (simplex, `y` declared integer) returns whole persons.
Every solution is verified (capacity, queue replayed on real walk times,
budget, backup) before it is returned.
"""


from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from planner.errors import InfeasibleError, SolverError
from planner.model.arrays import assignment_columns, build_arrays
from planner.model.backupgoal import maximise_backup
from planner.model.compile import Compiled, compile_problem
from planner.model.cover import assign_nearest
from planner.model.highs import Run, highs_version, solve_highspy
from planner.model.lagpath import solve_lagrangian
from planner.model.lagsearch import exit_laminar
from planner.model.lppath import solve_lp_path
from planner.model.options import SolveOptions
from planner.model.problem import BudgetInfeasibleError, FullCover, ModelInfeasible, Problem, Solution
from planner.model.pure import solve_pure
from planner.model.result import finish
from planner.model.warm import LpWarm
from planner.progress import log


def solve(problem: Problem, start: list[str] | None = None, progress: bool = True,
          options: SolveOptions | None = None, warm: LpWarm | None = None, keep: Solution | None = None) -> Solution:
    """Solve the problem; returns the best plan found with its proven bound and gap.

    Parameters
    ----------
    problem
        The problem (`Problem.from_station` or `Problem.from_cost_matrix`).
    start
        Site ids of a known plan (a MIP start); None = LP rounding + local search.
    progress
        Progress lines on standard error.
    options
        How to solve it (`SolveOptions`); unset values (time limit, gap, threads, solver) are the
        problem's.
    warm
        `Solution.warm` of an earlier solve of the same problem with other corridor rows (a corridor
        round, issue 21): its LP relaxation's columns and basis start this one's (column generation;
        ignored when the models differ in more than their corridor rows). The solution carries its own.
    keep
        A plan of this problem with fewer or looser corridor rows (the last corridor round's, issue 21):
        its safe rooms with their whole-person assignment under this problem's rows are the answer when
        that is within the gap of `keep`'s own bound, which holds here too (rows only restrict); then
        no LP is solved and the answer carries `keep`'s bound and LP basis. Otherwise (or on a path
        other than the LP path) the problem is solved as without it.

    Raises
    ------
    InfeasibleError
        Cover-all is impossible (with `explain_infeasible`'s words); a `BudgetInfeasibleError` when
        the budget is the reason: its `full_cover` holds the cheapest plan that shelters everyone
        reachable and its cost (currency).
    SolverError
        The solver returned no plan.

    Cover-all with a budget is solved without the budget first: if that plan fits, it is the
    answer; if even its proven lower bound exceeds the budget, the budget is infeasible (and
    the director learns what full cover costs) without a long infeasibility proof.
    """
    p = problem
    o = p.solve_options(options)
    if p.objective == "cover-all" and p.budget is not None:
        free = solve(p.replace(budget=None), start=start, progress=progress,
                     options=o.replace(cover_budget=float(p.budget)), warm=warm, keep=keep)
        cost = float(free.stats["cost"])
        if cost <= p.budget + 1e-6:
            free.stats["budget_slack"] = float(p.budget - cost)
            return free
        bound = free.solver["bound"]
        if bound is not None and bound > p.budget + 1.0:
            raise BudgetInfeasibleError(
                f"Cover-all is impossible within the budget of {p.budget:,.0f}: the cheapest plan sheltering "
                f"everyone reachable costs {cost:,.0f} ({len(free.chosen)} rooms; no plan costs less than "
                f"{bound:,.0f}). Use --objective max-cover to shelter as many people as "
                "possible within the budget.", FullCover(cost=cost, solution=free, bound=float(bound)))
        # from the LP basis of the solve without the budget (the budget row comes in basic, `planner.model.warm`):
        # the same model but that row (Station Unity at 56.6 M CR: its LP started cold again, 15 s)
        return _solve(p, o, start, progress, budget_checked=free, warm=free.warm if free.warm is not None else warm,
                      keep=keep)
    return _solve(p, o, start, progress, warm=warm, keep=keep)


def _infeasible(p: Problem, o: SolveOptions, c: Compiled, free: Solution | None,
                lack: np.ndarray | None = None) -> InfeasibleError:
    """The error for an infeasible model: the budget's (with the full-cover plan `free`) or explained (`lack`:
    `ModelInfeasible.lack`)."""
    if free is not None and p.budget is not None:
        cost = float(free.stats["cost"])
        bound = free.solver.get("bound")
        return BudgetInfeasibleError(
            f"Cover-all is impossible within the budget of {p.budget:,.0f}: the cheapest plan sheltering everyone "
            f"reachable costs {cost:,.0f} ({len(free.chosen)} rooms). Use --objective max-cover to shelter as "
            "many people as possible within the budget.",
            FullCover(cost=cost, solution=free, bound=float(bound) if bound is not None else None))
    return InfeasibleError(explain_infeasible(p, _compiled=c, options=o, _lack=lack))


def _solve(p: Problem, o: SolveOptions, start: list[str] | None, progress: bool,
           budget_checked: Solution | None = None, warm: LpWarm | None = None,
           keep: Solution | None = None) -> Solution:
    """Compile, then the path that fits: pure cover, Lagrangian (very large cover-all) or the LP path."""
    t_all = time.perf_counter()
    timings: dict[str, float] = {}
    say: Callable[[str], None] = log if progress else (lambda *_: None)
    t = time.perf_counter()
    c = compile_problem(p, o)
    timings["compile_s"] = time.perf_counter() - t
    say(f"[planner] model: {c.stats['rooms_with_residents']} occupied rooms -> {c.G} groups, "
        f"{c.J} sites ({c.stats['sites_pruned']} pruned), {c.stats['usable_pairs']} pairs")
    if c.G == 0:
        return _nothing_to_place(p, o, c, t_all, timings, say)
    try:
        if o.pure_cover and c.uncapacitated and c.G > 0:
            sol = solve_pure(p, o, c, start, t_all, timings, say)
        else:
            sol = (_lagrangian(p, o, c, start, t_all, timings, say)
                   or solve_lp_path(p, o, c, start, t_all, timings, say, warm, keep))
    except ModelInfeasible as exc:
        raise _infeasible(p, o, c, budget_checked, exc.lack) from None
    if p.backup_goal >= 2:
        sol = maximise_backup(p, o, c, sol, t_all, timings, say)
    return sol


def _nothing_to_place(p: Problem, o: SolveOptions, c: Compiled, t_all: float, timings: dict[str, float],
                      say: Callable[[str], None]) -> Solution:
    """No occupied room has a usable candidate site in reach: the plan is the sites that must be
    converted, every resident is reported unsheltered ("unreachable")."""
    say("[planner] no occupied room has a usable candidate site within reach: nothing to place")
    x = c.fixed1.astype(float)
    vf, arf = assign_nearest(c, x)
    cost = float(c.cost @ x)
    value = cost if p.objective == "cover-all" else 0.0
    run = Run(vf, "optimal", value, value, 0.0, 0.0, "HiGHS", highs_version())
    stats: dict[str, Any] = dict(c.stats, highs_s=0.0)
    primary = dict(objective=value, bound=value, gap=0.0, status="optimal")
    return finish(c, p, o, x, vf, arf, run, primary, stats, timings, t_all, say)


def _lagrangian(p: Problem, o: SolveOptions, c: Compiled, start: list[str] | None, t_all: float,
                timings: dict[str, float], say: Callable[[str], None]) -> Solution | None:
    """The Lagrangian path when it applies (cover-all, or max-cover whose budget cannot bind: every site costs
    no more; no start, no backup rows, HiGHS, at least `o.lagrange_min_columns` assignment columns) and gives
    a plan; else None."""
    free = c.budget is None or c.budget >= float(c.cost.sum())        # converting every site fits
    if not (o.lagrangian and start is None and (p.objective == "cover-all" or free) and o.solver_name == "highs"
            and (c.m < 2).all() and c.G > 0 and exit_laminar(c)   # exit-door rows: one flow node per row
            and not c.share):                                     # no expected-share rows
        return None
    t = time.perf_counter()
    cols = assignment_columns(c)
    if len(cols[0]) < o.lagrange_min_columns:   # the path needs the assignment columns only
        return None
    timings["build_s"] = time.perf_counter() - t
    sol = solve_lagrangian(p, o, c, cols, t_all, timings, dict(c.stats), say)
    if sol is None:
        say("[planner] the Lagrangian start did not give a plan: back to the LP relaxation")
    return sol


# ============================================================ infeasibility
def explain_infeasible(problem: Problem, _compiled: Compiled | None = None, options: SolveOptions | None = None,
                       _lack: np.ndarray | None = None) -> str:
    """Why cover-all is impossible, in words a director understands (`options`: time limit and threads
    of the checks; default the problem's). `_lack`: (groups of `_compiled`, scenarios) persons left without
    a place with every candidate converted, when known (the Lagrangian path's flow): no LP then."""
    p = problem
    o = p.solve_options(options)
    c = _compiled or compile_problem(p, o)
    lines: list[str] = []
    if c.unreachable:
        lines.append(f"{len(c.unreachable)} occupied room(s) have no candidate safe room within "
                     f"{p.reach_s:.0f} s (e.g. {', '.join(c.unreachable[:5])}); they are reported as unsheltered "
                     "and do not block the plan.")
    # where: the most people that can be sheltered with every candidate converted (an LP; no budget,
    # no backup) -- the rooms it leaves short are where capacity or door throughput is lacking
    short: list[str] = []
    S = len(c.scen)
    try:
        if _lack is not None:
            cm, lack = c, np.asarray(_lack, float)
        else:
            cm = compile_problem(p.replace(objective="max-cover", budget=None, backup_k=1, weight=None,
                                           swap_penalty=0.0, swap_penalty_persons=0.0), o)
            arm = build_arrays(cm, all_scen=True)
            lp = solve_highspy(arm, max(10.0, o.limit_s / 2), 0.0, o.n_threads, None, False, mip=False)
            lack = None
            if lp.values is not None:
                y = lp.values[arm.ycol0:arm.ycol0 + arm.ny]
                got = np.zeros((cm.G, S))
                np.add.at(got, (cm.qg[arm.yq], arm.ys), y)
                lack = np.maximum(cm.D - got, 0.0)
                lack[lack < 1e-6] = 0.0
        if lack is not None:
            rooms_of = pd.Series(cm.room_group.index.to_numpy(), index=cm.room_group.to_numpy())
            sector = p.room_sector
            for s in range(S):
                tot = float(lack[:, s].sum())
                if tot < 0.5:
                    continue
                gs = np.flatnonzero(lack[:, s] > 0)
                gs = gs[np.argsort(-lack[gs, s])]
                rooms = [r for g in gs for r in np.atleast_1d(rooms_of.loc[g]).tolist()]
                where = ""
                if sector is not None:
                    per = pd.Series(lack[gs, s], index=[str(sector.get(np.atleast_1d(rooms_of.loc[g])[0], "?"))
                                                         for g in gs]).groupby(level=0).sum().sort_values(ascending=False)
                    where = " in sector(s) " + ", ".join(f"{k} ({v:.0f})" for k, v in per.head(4).items())
                short.append(f"in scenario '{c.scen[s]}', even with every candidate room converted about "
                             f"{tot:.0f} residents cannot reach a safe room with space and get through its door "
                             f"within {p.reach_s:.0f} s{where} (rooms {', '.join(map(str, rooms[:6]))}"
                             f"{', ...' if len(rooms) > 6 else ''}).")
    except Exception as exc:  # the explanation must never hide the infeasibility itself
        short.append(f"(the capacity check failed: {exc})")
    lines += short
    if not short and p.budget is not None:
        free = p.replace(budget=None, objective="cover-all")
        try:
            sol = solve(free, progress=False, options=o.replace(time_limit_s=min(o.limit_s, 120.0)))
            lines.append(f"the budget of {p.budget:,.0f} is too small: the cheapest plan sheltering everyone "
                         f"reachable costs {sol.stats['cost']:,.0f} ({len(sol.chosen)} rooms, gap "
                         f"{sol.solver['gap']:.1%}).")
        except InfeasibleError as exc:
            lines.append(str(exc))
        except SolverError:
            lines.append(f"the budget of {p.budget:,.0f} may be too small (no plan found without it either "
                         "within the time limit)")
    if not short and (p.backup_k or 0) >= 2:
        lines.append(f"the backup rule (every room needs {p.backup_k} safe rooms within reach) may be what cannot "
                     "be met within the budget; try --backup 1.")
    if not lines or (len(lines) == 1 and c.unreachable):
        lines.append("the residents cannot all be sheltered: capacities and door queues of the safe rooms near "
                     "them are too small together (several rooms compete for the same safe rooms).")
    lines.append("Use --objective max-cover to shelter as many people as possible within the budget.")
    return "Cover-all is impossible: " + " ".join(x[:1].upper() + x[1:] for x in lines)
