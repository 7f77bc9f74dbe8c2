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

Cover-all models too large for one LP in time (at least `LAGRANGE_MIN_COLUMNS` assignment
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
from typing import Any

import numpy as np
import pandas as pd

from planner.errors import InfeasibleError, SolverError
from planner.model.arrays import Arrays, assignment_columns, build_arrays, full_vector
from planner.model.assign import assign_fixed
from planner.model.colgen import lp_colgen
from planner.model.compile import Compiled, compile_problem
from planner.model.heuristic import greedy_compiled, improve_plan
from planner.model.highs import Run, dual_bound, highs_version, run_model, solve_highspy
from planner.model.lagpath import solve_lagrangian
from planner.model.options import COLGEN_MIN_COLUMNS, LAGRANGE_MIN_COLUMNS, LP_SHARE, WALL_MARGIN, time_left
from planner.model.problem import INF, Problem, Solution
from planner.model.pure import solve_pure
from planner.model.result import coverage, finish, objective_value
from planner.progress import log

# ===================================================================== solve
def solve(problem: Problem, start: list[str] | None = None, progress: bool = True) -> Solution:
    """Solve the problem; returns the best plan found with its proven bound and gap.

    `start`: site ids of a known plan (a MIP start); None = LP rounding + local search.
    Raises `InfeasibleError` (with `explain_infeasible`'s words) when cover-all is impossible;
    when the budget is the reason, the error's `full_cover_cost` attribute holds the cost of
    the cheapest plan that shelters everyone reachable (currency).

    Cover-all with a budget is solved without the budget first: if that plan fits, it is the
    answer; if even its proven lower bound exceeds the budget, the budget is infeasible (and
    the director learns what full cover costs) without a long infeasibility proof.
    """
    p = problem
    if p.objective == "cover-all" and p.budget is not None:
        free = solve(p.replace(budget=None), start=start, progress=progress)
        cost = float(free.stats["cost"])
        if cost <= p.budget + 1e-6:
            free.stats["budget_slack"] = float(p.budget - cost)
            return free
        if free.solver["bound"] is not None and free.solver["bound"] > p.budget + 1.0:
            exc = InfeasibleError(
                f"Cover-all is impossible within the budget of {p.budget:,.0f}: the cheapest plan sheltering "
                f"everyone reachable costs {cost:,.0f} ({len(free.chosen)} rooms; no plan costs less than "
                f"{free.solver['bound']:,.0f}). Use --objective max-cover to shelter as many people as "
                "possible within the budget.")
            exc.full_cover_cost = cost  # type: ignore[attr-defined]
            exc.full_cover_plan = free  # type: ignore[attr-defined]
            raise exc
        return _solve(p, start, progress, budget_checked=free)
    return _solve(p, start, progress)


def _infeasible(p: Problem, c: Compiled, free: Solution | None) -> InfeasibleError:
    if free is not None and p.budget is not None:
        cost = float(free.stats["cost"])
        exc = InfeasibleError(
            f"Cover-all is impossible within the budget of {p.budget:,.0f}: the cheapest plan sheltering everyone "
            f"reachable costs {cost:,.0f} ({len(free.chosen)} rooms). Use --objective max-cover to shelter as "
            "many people as possible within the budget.")
        exc.full_cover_cost = cost  # type: ignore[attr-defined]
        exc.full_cover_plan = free  # type: ignore[attr-defined]
        return exc
    return InfeasibleError(explain_infeasible(p, _compiled=c))


def _solve(p: Problem, start: list[str] | None, progress: bool, budget_checked: Solution | None = None) -> Solution:  # noqa: C901  debt: issue 16 (complexity 41)
    t_all = time.perf_counter()
    timings: dict[str, float] = {}
    say = log if progress else (lambda *_: None)
    t = time.perf_counter()
    c = compile_problem(p)
    timings["compile_s"] = time.perf_counter() - t
    say(f"[planner] model: {c.stats['rooms_with_residents']} occupied rooms -> {c.G} groups, "
        f"{c.J} sites ({c.stats['sites_pruned']} pruned), {c.stats['usable_pairs']} pairs")
    if p.pure_cover and c.uncapacitated and c.G > 0:
        sol = solve_pure(p, c, start, t_all, timings, say)
        if sol is None:
            raise _infeasible(p, c, budget_checked)
        return sol
    if (p.lagrangian and start is None and p.objective == "cover-all" and p.solver == "highs"
            and (c.m < 2).all() and c.G > 0):
        t = time.perf_counter()
        cols = assignment_columns(c)
        if len(cols[0]) >= LAGRANGE_MIN_COLUMNS:   # the path needs the assignment columns only
            timings["build_s"] = time.perf_counter() - t
            sol = solve_lagrangian(p, c, cols, t_all, timings, dict(c.stats), say)
            if sol is not None:
                return sol
            say("[planner] the Lagrangian start did not give a plan: back to the LP relaxation")
        del cols
    t = time.perf_counter()
    ar = build_arrays(c)
    timings["build_s"] = time.perf_counter() - t
    stats: dict[str, Any] = dict(c.stats)
    stats.update(variables=int(ar.A.shape[1]), rows=int(ar.A.shape[0]), nonzeros=int(ar.A.nnz),
                 binaries=int(ar.integer.sum()))
    # ---- start: given, or LP-guided rounding + local search, or greedy
    x0: np.ndarray | None = None
    start_vec = None
    start_fixed = None
    lp_run = None
    lp_bound = None
    highs_s = 0.0
    rounded = None
    t = time.perf_counter()
    if start is not None:
        x0 = np.maximum(np.isin(c.site_ids, [str(s) for s in start]).astype(float), c.fixed1)
    elif p.use_heuristic and c.G > 0:

        guide = None
        if p.lp_guide:
            tl = time.perf_counter()
            # the LP is the bound and the guide: it may take up to LP_SHARE of the time limit
            lp_limit = max(5.0, LP_SHARE * p.time_limit_s - (time.perf_counter() - t_all))
            lp = None
            if p.lp_colgen and ar.ny >= COLGEN_MIN_COLUMNS and p.solver == "highs":
                lp = lp_colgen(c, ar, lp_limit, p.threads, p.msg)
                stats["lp_colgen"] = getattr(lp, "colgen", None)
                highs_s += lp.seconds
                if lp.status == "infeasible":   # artificials left: let the full LP decide
                    stats["lp_colgen_fallback"] = True
                    lp = None
            if lp is None:
                lp = solve_highspy(ar, max(5.0, LP_SHARE * p.time_limit_s - (time.perf_counter() - t_all)),
                                    0.0, p.threads, None, p.msg, mip=False)
                highs_s += lp.seconds
            timings["lp_s"] = time.perf_counter() - tl
            stats["lp_status"] = lp.status
            if lp.status == "infeasible":
                if p.objective == "cover-all":
                    raise _infeasible(p, c, budget_checked)
            elif lp.values is not None:
                guide = np.clip(lp.values[:c.J], 0.0, 1.0)
                if lp.status == "optimal":
                    lp_bound = lp.objective
                    stats["lp_bound"] = lp_bound
                    lp_run = lp
            if lp.status != "optimal" and np.isfinite(lp.bound) and lp.values is not None and "lp_colgen" in stats:
                lp_bound = lp.bound                       # column generation stopped early: its best dual bound
                stats["lp_bound"] = lp_bound
            elif lp.status != "optimal" and lp.row_dual is not None:
                lp_bound = dual_bound(ar, lp.row_dual)   # stopped early: still a valid bound
                stats["lp_bound"] = lp_bound
        if guide is not None and p.objective == "cover-all":
            x0 = np.maximum((guide > 1e-6).astype(float), c.fixed1)  # LP support: feasible by construction
            if c.budget is not None and c.cost @ x0 > c.budget + 1e-6:
                x0 = greedy_compiled(c, guide=guide)
        else:
            x0 = greedy_compiled(c, guide=guide)
        timings["heuristic_s"] = time.perf_counter() - t
        if x0 is not None:  # local search: close sites whose people fit elsewhere (same coverage, less cost)
            t2 = time.perf_counter()
            v0, ar0, run0 = assign_fixed(c, p, x0, time_limit=max(time_left(p, t_all, 5.0, p.time_limit_s / 4),
                                                                  p.time_limit_s / 6))
            t_assign = time.perf_counter() - t2
            highs_s += run0.seconds
            if v0 is not None:
                stats["rounded_cost"] = float(c.cost @ x0)
                rounded = (x0.copy(), v0, ar0, run0)          # a plan with its assignment: the fallback
                # stop closing sites in time for the plan's own assignment (about as long as this one)
                deadline = t_all + (1.0 - WALL_MARGIN) * p.time_limit_s - 2.0 * t_assign - 1.0
                x1 = improve_plan(c, x0, v0[ar0.ycol0:ar0.ycol0 + ar0.ny], ar0.yq, ar0.ys, guide,
                                  deadline=deadline)
                if np.array_equal(x1 > 0.5, x0 > 0.5):
                    start_fixed = rounded                      # nothing closed: keep this assignment
                x0 = x1
            timings["local_search_s"] = time.perf_counter() - t2
    timings.setdefault("heuristic_s", time.perf_counter() - t)
    if x0 is not None:
        t = time.perf_counter()
        if start_fixed is not None:
            v0, ar0, run0 = start_fixed[1], start_fixed[2], start_fixed[3]
        else:
            v0, ar0, run0 = assign_fixed(c, p, x0, time_limit=max(time_left(p, t_all, 5.0, p.time_limit_s / 4),
                                                                  p.time_limit_s / 6))
            highs_s += run0.seconds
            if v0 is None and rounded is not None:           # the improved plan's assignment failed in time:
                x0 = rounded[0]                              # keep the rounded plan and its assignment
                v0, ar0, run0 = rounded[1], rounded[2], rounded[3]
                stats["local_search_reverted"] = True
        timings["start_assign_s"] = time.perf_counter() - t
        if v0 is not None:
            start_fixed = (x0.copy(), v0, ar0, run0)
            start_vec = full_vector(c, ar, ar0, v0)
            stats["heuristic_cost"] = float(c.cost @ x0)
            stats["heuristic_sites"] = int(x0.sum())
            stats["heuristic_objective"] = objective_value(c, ar, start_vec)
            say(f"[planner] start plan: {int(x0.sum())} sites, cost {c.cost @ x0:,.0f}, "
                f"objective {stats['heuristic_objective']:,.1f} ({time.perf_counter() - t_all:.1f} s so far)")
    # ---- MIP (skipped when the start is already proved within the gap by the LP bound)
    remaining = time_left(p, t_all, 1.0, INF)
    t = time.perf_counter()
    start_obj = float(ar.c @ start_vec) if start_vec is not None else INF
    pulp_build = 0.0
    if (start_vec is not None and lp_bound is not None
            and start_obj - lp_bound <= p.mip_gap * max(abs(start_obj), 1e-9)):
        run = Run(start_vec, "optimal", start_obj, lp_bound, (start_obj - lp_bound) / max(abs(start_obj), 1e-9),
                   0.0, "HiGHS", highs_version())
        stats["mip_skipped"] = True
        say("[planner] the start plan is within the gap of the LP bound: no branching needed")
    elif start_vec is not None and lp_run is None and stats.get("lp_status") == "time limit":
        # the LP relaxation did not finish within its share of the time: the MIP's root (the same
        # LP, with cuts) cannot finish in the rest either, and HiGHS overruns its limit there
        # (measured 3x at 30,000 rooms). Keep the start plan and the bound from the LP's duals.
        run = Run(start_vec, "time limit", start_obj, lp_bound if lp_bound is not None else -INF, INF,
                   0.0, "HiGHS", highs_version())
        stats["mip_skipped"] = True
        say("[planner] the LP relaxation did not finish in time: the start plan is kept, no branching")
    else:
        if lp_run is not None and p.lazy_tighten and not p.tighten:
            ar, lp2 = _lazy_tighten(c, p, ar, lp_run, t_all, timings)
            highs_s += timings.get("lazy_tighten_highs_s", 0.0)
            if lp2 is not lp_run:
                lp_bound = max(lp_bound, lp2.objective) if lp_bound is not None else lp2.objective
                stats["lp_bound_tightened"] = lp2.objective
            stats.update(rows=int(ar.A.shape[0]), nonzeros=int(ar.A.nnz),
                         tighten_rows=int(ar.rows_by_kind.get("tighten", 0)))
            remaining = time_left(p, t_all, 1.0, INF)
        say(f"[planner] solving {p.objective}: {ar.A.shape[1]} variables, {ar.A.shape[0]} rows, "
            f"{ar.A.nnz} non-zeros, time limit {remaining:.0f} s, gap {p.mip_gap:.1%}")
        run, pulp_build = run_model(ar, p, max(1.0, remaining - WALL_MARGIN * p.time_limit_s),
                               start_vec if p.mip_start else None)
        highs_s += run.seconds
        if run.values is not None and start_vec is not None and float(ar.c @ start_vec) < run.objective - 1e-9:
            run.values, run.objective = start_vec, float(ar.c @ start_vec)  # ours was better
    timings["mip_s"] = time.perf_counter() - t
    if pulp_build:
        timings["pulp_build_s"] = pulp_build
    values = run.values
    if values is None and start_vec is not None and run.status != "infeasible":
        values = start_vec  # the solver found nothing better within the limit
    if lp_bound is not None and np.isfinite(lp_bound):
        run.bound = max(run.bound, lp_bound) if np.isfinite(run.bound) else lp_bound
    if values is None:
        if run.status == "infeasible":
            raise _infeasible(p, c, budget_checked)
        raise SolverError(f"the solver returned no plan (status: {run.status}); "
                          f"raise the time limit (now {p.time_limit_s:.0f} s) or try --solver cbc")
    primary = dict(objective=run.objective, bound=run.bound, gap=run.gap,
                   status=run.status)
    x = (values[:c.J] > 0.5).astype(float)
    # ---- max-cover second stage: least cost at the coverage found
    if p.objective == "max-cover" and p.lexicographic and c.G > 0:
        cover = coverage(c, ar, values)
        remaining = time_left(p, t_all, 1.0, INF)
        t = time.perf_counter()
        ar2 = build_arrays(c, stage2=True, cover_at_least=cover - 1e-6)
        v2 = np.asarray(values, dtype=float).copy()
        run2, _ = run_model(ar2, p, min(remaining, max(5.0, 0.1 * p.time_limit_s)), v2)
        highs_s += run2.seconds
        timings["stage2_s"] = time.perf_counter() - t
        if run2.values is not None and (c.cost @ (run2.values[:c.J] > 0.5)) <= c.cost @ x + 1e-6:
            x = (run2.values[:c.J] > 0.5).astype(float)
        stats["stage2"] = dict(status=run2.status, cost=float(c.cost @ x), bound=run2.bound, gap=run2.gap)
    # ---- whole persons
    t = time.perf_counter()
    if start_fixed is not None and np.array_equal(start_fixed[0] > 0.5, x > 0.5):
        vf, arf, runf = start_fixed[1], start_fixed[2], start_fixed[3]  # the start's assignment, reused
    else:
        vf, arf, runf = assign_fixed(c, p, x, time_limit=max(10.0, p.time_limit_s / 2))
        highs_s += runf.seconds
    timings["assign_s"] = time.perf_counter() - t
    stats["highs_s"] = round(highs_s, 3)
    if vf is None:
        raise SolverError(f"the final whole-person assignment failed (status {runf.status}); this is a bug, "
                          "please report it with the station files")
    return finish(c, p, x, vf, arf, run, primary, stats, timings, t_all, say)


def _lazy_tighten(c: Compiled, p: Problem, ar: Arrays, lp: Run, t_all: float,
                  timings: dict[str, float]) -> tuple[Arrays, Run]:
    """Add the rows y <= min(d, q) x that the LP solution violates, re-solve, a few rounds.

    Valid inequalities only (the capacity rows already make the model exact): they raise the
    LP bound where capacities are tight, at a fraction of the cost of writing them all.
    """
    mask = np.zeros(ar.ny, bool)
    ar0, lp0 = ar, lp
    t = time.perf_counter()
    yj = c.qj[ar.yq]
    for _ in range(4):
        if time.perf_counter() - t_all > p.time_limit_s / 3:
            break
        v = lp.values
        y = v[ar.ycol0:ar.ycol0 + ar.ny]
        x = v[:ar.nx]
        ub = ar.hi[ar.ycol0:ar.ycol0 + ar.ny]
        viol = (y > ub * x[yj] + 1e-6 * np.maximum(ub, 1.0)) & (ub < c.cap[yj] - 1e-9) & ~mask
        if not viol.any():
            break
        mask |= viol
        ar2 = build_arrays(c, tight_cols=mask)
        left = max(2.0, p.time_limit_s / 3 - (time.perf_counter() - t_all))
        lp2 = solve_highspy(ar2, left, 0.0, p.threads, None, p.msg, mip=False)
        timings["lazy_tighten_highs_s"] = timings.get("lazy_tighten_highs_s", 0.0) + lp2.seconds
        if lp2.status != "optimal" or lp2.values is None:
            break
        ar, lp = ar2, lp2
    timings["lazy_tighten_s"] = time.perf_counter() - t
    # keep the rows only if they raised the bound noticeably: measured, a handful of rows that
    # do not move the bound can still change HiGHS's search for the worse (300 rooms: 4 s -> 10 s)
    if lp is not lp0 and lp.objective - lp0.objective <= 0.1 * p.mip_gap * max(abs(lp0.objective), 1e-9):
        return ar0, lp0
    return ar, lp


# ============================================================ infeasibility
def explain_infeasible(problem: Problem, _compiled: Compiled | None = None) -> str:
    """Why cover-all is impossible, in words a director understands."""
    p = problem
    c = _compiled or compile_problem(p)
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
        cm = compile_problem(p.replace(objective="max-cover", budget=None, backup_k=1, weight=None))
        arm = build_arrays(cm, all_scen=True)
        lp = solve_highspy(arm, max(10.0, p.time_limit_s / 2), 0.0, p.threads, None, False, mip=False)
        if lp.values is not None:
            y = lp.values[arm.ycol0:arm.ycol0 + arm.ny]
            got = np.zeros((cm.G, S))
            np.add.at(got, (cm.qg[arm.yq], arm.ys), y)
            lack = np.maximum(cm.D - got, 0.0)
            lack[lack < 1e-6] = 0.0
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
        free = p.replace(budget=None, time_limit_s=min(p.time_limit_s, 120.0), objective="cover-all")
        try:
            sol = solve(free, progress=False)
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
    return "Cover-all is impossible: " + " ".join(lines)
