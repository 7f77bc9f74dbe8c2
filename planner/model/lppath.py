"""The LP path: the LP relaxation gives the bound and guides a start plan; HiGHS branches from it
when the start is not already within the gap; the chosen sites get a whole-person assignment.

Steps (see `planner.model.orchestrate` for the model):

0. small cover-all models: capacity cuts (`planner.model.capcuts`); a plan they prove within the gap is
   the answer, else their plan competes with the start plan and their bound with the LP's (for plans
   without swap penalty);
1. the LP relaxation (HiGHS simplex; by column generation when there are many assignment columns,
   `lp_colgen`); an LP stopped by its time limit still gives a bound from its duals (`dual_bound`);
2. cover-all: every site the LP opens at all (feasible: the LP's assignment fits), then a local
   search closes sites whose people fit elsewhere (`improve_plan`); max-cover: an LP-weighted greedy;
3. the MIP from that start (with the tightening rows the LP violates), unless the start is already
   within the gap of the LP bound, or the LP did not finish (then its root could not either);
4. max-cover: a second solve for least cost at the coverage found;
5. the whole-person assignment of the chosen sites (`assign_fixed`), then `finish`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.errors import SolverError
from planner.model.arrays import Arrays, build_arrays, fill_penalty_slacks, full_vector
from planner.model.assign import assign_fixed
from planner.model.assignwarm import WarmAssign
from planner.model.bounds import capacity_bound
from planner.model.budgetlag import BudgetBound, budget_bound
from planner.model.capcuts import CutResult, applies, capacity_cuts
from planner.model.colgen import lp_colgen
from planner.model.compile import Compiled
from planner.model.flowsearch import applies as flows_apply
from planner.model.flowsearch import FlowCheck, flow_drop
from planner.model.heuristic import greedy_compiled, improve_plan
from planner.model.mcswap import swap_search
from planner.model.highs import Run, dual_bound, highs_version, run_model, solve_highspy
from planner.model.options import CUT_MASTER_GAP, MAX_COVER_LP_SHARE, STAGE2_SMALL_SHARE, SolveOptions, time_left
from planner.model.problem import INF, ModelInfeasible, Problem, Solution
from planner.model.result import corridor_penalty_paid, coverage, finish, objective_value, swap_penalty_paid
from planner.model.roundline import line_search
from planner.model.warm import LpWarm

Fixed = tuple[np.ndarray, np.ndarray, Arrays, Run]
"""A plan with its whole-person assignment: (sites 0/1, column vector, its arrays, its run)."""


@dataclass
class _Path:
    """The state of one solve on the LP path (seconds, currency, objective units)."""

    p: Problem
    o: SolveOptions
    c: Compiled
    ar: Arrays
    t_all: float
    timings: dict[str, float]
    say: Callable[[str], None]
    stats: dict[str, Any] = field(default_factory=dict)
    highs_s: float = 0.0
    lp_run: Run | None = None
    lp_bound: float | None = None
    start_vec: np.ndarray | None = None
    start_fixed: Fixed | None = None
    rounded: Fixed | None = None
    warm: LpWarm | None = None
    """The LP relaxation's start (an earlier solve's `LpWarm`); after it, this solve's own."""
    cut: CutResult | None = None
    """The capacity cuts' result (step 0), when they ran; its bound holds for plans without penalty."""
    cut_fixed: Fixed | None = None
    """The capacity cuts' plan with its whole-person assignment, when it pays no penalty."""
    assigning: WarmAssign = field(default_factory=WarmAssign)
    """The whole-person assignments' LP blocks, kept warm from one assignment of this solve to the next."""
    lag: BudgetBound | None = None
    """max-cover with a budget: the Lagrangian that keeps the budget whole (`budgetlag`), when it ran."""

    def assign_limit(self) -> float:
        """Time limit of a start plan's assignment (seconds)."""
        return max(time_left(self.o, self.t_all, 5.0, self.o.limit_s / 4), self.o.limit_s / 6)


def solve_lp_path(p: Problem, o: SolveOptions, c: Compiled, start: list[str] | None, t_all: float,
                  timings: dict[str, float], say: Callable[[str], None], warm: LpWarm | None = None,
                  keep: Solution | None = None) -> Solution:
    """The LP path for `p` compiled as `c` (`start`: site ids of a known plan, or None; `warm`: the LP
    relaxation's column set and basis from an earlier solve of the same model with other corridor rows;
    `keep`: a plan of this model with fewer or looser corridor rows, kept when still within the gap,
    `_keep_sites`).
    With both `start` and `warm` (an earlier run's plan and final basis, `planner.reuse`) the warm LP is
    solved for the bound and the start plan kept as after a warm LP (`_mip`). Raises `ModelInfeasible`
    when the model has no solution, `SolverError` when no plan came out; the solution carries its own
    LP's `LpWarm` (column generation only)."""
    t = time.perf_counter()
    ar = build_arrays(c)
    if p.objective == "max-cover" and not c.tighten and ar.ny < o.tighten_max_cover_below:
        c.tighten = True                 # small max-cover model: every tightening row (SolveOptions)
        ar = build_arrays(c)
    timings["build_s"] = time.perf_counter() - t
    st = _Path(p=p, o=o, c=c, ar=ar, t_all=t_all, timings=timings, say=say, stats=dict(c.stats), warm=warm)
    st.assigning.start = keep.assign_basis if keep is not None else None
    st.stats.update(variables=int(ar.A.shape[1]), rows=int(ar.A.shape[0]), nonzeros=int(ar.A.nnz),
                    binaries=int(ar.integer.sum()))
    if keep is not None:
        kept = _keep_sites(st, keep)
        if kept is not None:
            return kept
        st.assigning = WarmAssign()       # the rest of the solve as without `keep` (its assignments from scratch)
    if (start is None and o.capacity_cuts and applies(c) and ar.ny < o.capacity_cuts_below
            and o.solver_name == "highs" and not o.uses_pulp):      # (HiGHS's own MIP: not for CBC or PuLP)
        proven = _capacity_cuts(st)
        if proven is not None:
            return proven
    x0 = _start_plan(st, start)
    if x0 is not None:
        _start_assignment(st, x0)
    _cut_start(st)
    run = _mip(st)
    values = run.values
    if values is None and st.start_vec is not None and run.status != "infeasible":
        values = st.start_vec  # the solver found nothing better within the limit
    if st.lp_bound is not None and np.isfinite(st.lp_bound):
        run.bound = max(run.bound, st.lp_bound) if np.isfinite(run.bound) else st.lp_bound
    if values is None:
        if run.status == "infeasible":
            raise ModelInfeasible("the MIP")
        raise SolverError(f"the solver returned no plan (status: {run.status}); "
                          f"raise the time limit (now {o.limit_s:.0f} s) or try --solver cbc")
    primary = dict(objective=run.objective, bound=run.bound, gap=run.gap, status=run.status)
    if np.isfinite(run.bound):
        st.stats["model_bound"] = float(run.bound)   # the model's objective scale (`_keep_sites`)
    x = (values[:c.J] > 0.5).astype(float)
    if p.objective == "max-cover" and o.lexicographic and c.G > 0:
        x = _stage2(st, values, x)
    sol = _whole_persons(st, x, run, primary)
    sol.warm = st.warm if st.warm is not warm else None
    return sol


def _keep_sites(st: _Path, keep: Solution) -> Solution | None:
    """`keep`'s safe rooms with their whole-person assignment under this model's rows, when its objective is
    within the gap of `keep`'s bound on the model's objective (`stats["model_bound"]`), else None.

    `keep` is a plan of this model with fewer or looser corridor rows (the last corridor round's, issue 21):
    those rows are soft, so every plan's objective here is at least what it was there, and `keep`'s bound
    holds here too. Station Unity's what-ifs keep their safe rooms from round to round (only who walks
    where changes), and this assignment takes a few seconds where a round's LP, start plan and least-cost
    stage took 10 to 18 s. The answer carries `keep`'s bound and LP basis (`Solution.warm`)."""
    c, o = st.c, st.o
    raw = keep.stats.get("model_bound")
    gap = keep.solver.get("gap")
    if raw is None or not np.isfinite(raw) or gap is None or gap > o.gap:
        return None
    t = time.perf_counter()
    x = np.maximum(np.isin(c.site_ids, [str(s) for s in keep.chosen]).astype(float), c.fixed1)
    if c.budget is not None and float(c.cost @ x) > c.budget + 1e-6:
        return None
    v, ar0, run0 = assign_fixed(c, o, x, time_limit=st.assign_limit(), warm=st.assigning)
    st.highs_s += run0.seconds
    st.timings["keep_assign_s"] = time.perf_counter() - t
    if v is None:
        return None
    vec = full_vector(c, st.ar, ar0, v)
    obj = float(st.ar.c @ vec)
    bound = min(float(raw), obj)
    rel = (obj - bound) / max(abs(obj), 1e-9)
    if rel > o.gap:
        st.stats["kept_sites"] = dict(kept=False, objective=obj, bound=float(raw))
        return None
    st.stats.update(model_bound=float(raw), kept_sites=dict(kept=True, objective=obj, bound=float(raw)))
    st.start_fixed = (x, v, ar0, run0)
    run = Run(vec, "optimal", obj, bound, rel, 0.0, "HiGHS", highs_version())
    st.say(f"[planner] the last round's safe rooms with their assignment under the new rows are within the gap "
           f"of its bound ({rel:.2%}): kept, no LP")
    sol = _whole_persons(st, x, run, dict(objective=obj, bound=bound, gap=rel, status="optimal"))
    sol.warm = keep.warm
    return sol


def _capacity_cuts(st: _Path) -> Solution | None:
    """Step 0: capacity cuts for at most `cut_share` of the time limit. Returns the solution when their
    plan pays no penalty and is within the gap of their bound; else None (`st.cut`, `st.cut_fixed` set)."""
    c, o = st.c, st.o
    t = time.perf_counter()
    res = capacity_cuts(c, o.cut_share * o.limit_s, CUT_MASTER_GAP * o.gap, o.n_threads, obj=st.ar.c[:c.J])
    st.cut = res
    st.stats["capacity_cuts"] = dict(rounds=res.rounds, rows=res.rows, ended=res.ended, seconds=round(res.seconds, 3),
                                     bound=res.bound if np.isfinite(res.bound) else None,
                                     cost=res.cost if res.x is not None else None)
    if res.x is not None:
        v, ar0, run0 = assign_fixed(c, o, res.x, time_limit=st.assign_limit(), warm=st.assigning)
        st.highs_s += run0.seconds
        if v is not None and swap_penalty_paid(c, ar0, v) + corridor_penalty_paid(c, ar0, v) <= 1e-9:
            st.cut_fixed = (res.x.copy(), v, ar0, run0)
    st.timings["capacity_cuts_s"] = time.perf_counter() - t
    if st.cut_fixed is None or not res.proven(o.gap):
        return None
    x, v, ar0, run0 = st.cut_fixed
    vec = full_vector(c, st.ar, ar0, v)
    obj = float(st.ar.c @ vec)
    gap = max(res.cost - res.bound, 0.0) / max(abs(res.cost), 1e-9)
    run = Run(vec, "optimal", obj, res.bound, gap, res.seconds, "HiGHS", highs_version())
    st.start_fixed, st.start_vec = st.cut_fixed, vec
    st.stats.update(mip_skipped="capacity cuts", heuristic_cost=float(c.cost @ x), heuristic_sites=int(x.sum()))
    st.say(f"[planner] capacity cuts: {int(x.sum())} sites, cost {res.cost:,.0f}, within {gap:.2%} of their bound "
           f"{res.bound:,.0f} ({res.rounds} rounds; no LP relaxation or branching needed)")
    return _whole_persons(st, x, run, dict(objective=obj, bound=res.bound, gap=gap, status="optimal"))


def _cut_start(st: _Path) -> None:
    """The capacity cuts' plan replaces the start plan when its objective is lower."""
    if st.cut_fixed is None:
        return
    x, v, ar0, run0 = st.cut_fixed
    vec = full_vector(st.c, st.ar, ar0, v)
    if st.start_vec is None or float(st.ar.c @ vec) < float(st.ar.c @ st.start_vec) - 1e-6:
        st.start_fixed, st.start_vec = st.cut_fixed, vec
        st.stats.update(heuristic_cost=float(st.c.cost @ x), heuristic_sites=int(x.sum()), start_from="capacity cuts",
                        heuristic_objective=objective_value(st.c, st.ar, vec))


def _cut_bound(st: _Path, vec: np.ndarray | None) -> float:
    """The capacity cuts' bound when it holds for the plan `vec` (a column vector of `st.ar`): the plan
    pays no penalty (the bound is on the cost of every plan without one); else -inf."""
    if st.cut is None or vec is None or not np.isfinite(st.cut.bound):
        return -INF
    ar = st.ar
    pen = ar.c[ar.vcol0:ar.vcol0 + ar.nv] @ vec[ar.vcol0:ar.vcol0 + ar.nv] + ar.c[ar.ucol0:ar.ucol0 + ar.nu] @ \
        vec[ar.ucol0:ar.ucol0 + ar.nu]
    return float(st.cut.bound) if pen <= 1e-9 else -INF


def _start_plan(st: _Path, start: list[str] | None) -> np.ndarray | None:
    """The start plan's sites (0/1): the given one, or LP-guided rounding and local search, or a greedy."""
    c, o = st.c, st.o
    t = time.perf_counter()
    x0: np.ndarray | None = None
    if start is not None:
        x0 = np.maximum(np.isin(c.site_ids, [str(s) for s in start]).astype(float), c.fixed1)
        if (st.warm is not None or o.start_lp) and o.lp_guide:
            # a plan and an LP basis from an earlier run on the same model (issue 21, `planner.reuse`): the
            # warm LP gives the bound in seconds, and the plan is kept unless HiGHS may branch (`_mip`)
            _lp_relaxation(st)
    elif o.use_heuristic and c.G > 0:
        guide = _lp_relaxation(st) if o.lp_guide else None
        _budget_lagrangian(st)
        pre: Fixed | None = None
        if guide is not None and st.p.objective == "cover-all":
            x0 = np.maximum((guide > 1e-6).astype(float), c.fixed1)  # LP support: feasible by construction
            if c.budget is not None and c.cost @ x0 > c.budget + 1e-6:
                x0 = greedy_compiled(c, guide=guide)
            elif (xf := _flow_start(st, guide, x0)) is not None:
                x0 = xf
            elif c.swap_rule or c.share:   # (expected share: a rounding's assignment must meet its rows)
                x0, pre = _swap_rounding(st, guide, x0)
        else:
            x0 = greedy_compiled(c, guide=guide)
            if st.p.objective == "max-cover" and o.mc_swap and guide is not None and st.ar.ny < o.mc_swap_below:
                x0, st.stats["mc_swap"] = swap_search(c, o, st.ar, st.lp_run, x0, guide,
                                                      time.perf_counter() + o.mc_swap_share * o.limit_s, st.lp_bound)
        st.timings["heuristic_s"] = time.perf_counter() - t
        if x0 is not None:
            x0 = _local_search(st, x0, guide, pre)
    st.timings.setdefault("heuristic_s", time.perf_counter() - t)
    return x0


FLOW_PASSES_UNTIL = 0.5
"""`_flow_start` starts another pass of the flow drop only before this share of the time limit."""


def _flow_start(st: _Path, guide: np.ndarray, support: np.ndarray) -> np.ndarray | None:
    """Cover-all models the flows describe (`flowsearch.applies`) below `flow_start_below` columns: the LP's
    support (repaired first when it leaves someone without a place) with its sites closed one at a time while
    everyone still has a place with no swap (`flowsearch.flow_drop`; the LP's least liked first, then the most
    expensive); None when the option is off, for other models, or when no repair fits in time (then the
    rounding as before). Measured (generated 1,000-room station, seed 3): 157 -> 143 sites, 20.05 M with no
    swap in 1.4 s (load 4), where the swap rounding's plan cost 20.84 M plus 4 persons' swap penalty after 2.7 s.
    Three orders of closing, the cheapest plan kept (the same flows): over seeds 1 to 5 the first order gave
    19.815, 21.424, 20.051, 20.351, 20.746 M, the best of the three 19.717, 21.405, 20.051, 20.329, 20.746 M."""
    c, o = st.c, st.o
    if not (o.flow_start and flows_apply(c) and st.ar.ny < o.flow_start_below):
        return None
    cand = np.flatnonzero((support > 0.5) & ~c.fixed1.astype(bool))
    per_place = guide[cand] * np.maximum(c.cap[cand], 1) / np.maximum(c.cost[cand], 1e-9)
    orders = [cand[np.lexsort((-c.cost[cand], guide[cand]))],         # the LP's least liked, then the dearest
              cand[np.argsort(per_place, kind="stable")],             # the LP's value per place bought
              cand[np.lexsort((-c.cost[cand], guide[cand] >= 0.999))]]  # all but the LP's whole sites, dearest
    fc = FlowCheck(c)
    best: tuple[float, np.ndarray | None, dict] = (INF, None, {})
    for k, order in enumerate(orders):
        # the first pass may take until 0.7 of the limit (as the rounding), the others only start before half
        if k and time.perf_counter() > st.t_all + FLOW_PASSES_UNTIL * o.limit_s:
            break
        x, info = flow_drop(c, support, order, st.t_all + 0.7 * o.limit_s, fc)
        if x is None:
            return None
        val = float(st.ar.c[:c.J] @ x)
        if val < best[0] - 1e-9:
            best = (val, x, dict(info, order=k))
    info = dict(best[2], passes=k + 1 if best[1] is not None else 0, flows=fc.flows)
    st.stats["flow_drop"] = info
    return best[1]


def _lp_relaxation(st: _Path) -> np.ndarray | None:
    """The LP relaxation (the bound and the guide: it may take `lp_share` of the time limit); sets
    `st.lp_run` (when optimal) and `st.lp_bound`; returns the sites' LP values (the guide) or None."""
    c, o, ar, stats = st.c, st.o, st.ar, st.stats
    tl = time.perf_counter()
    share = o.lp_share
    if st.p.objective == "max-cover" and ar.ny < o.max_cover_small_below:
        share = max(share, MAX_COVER_LP_SHARE)   # small max-cover: without its LP the rest is of little use
    lp_limit = max(5.0, share * o.limit_s - (time.perf_counter() - st.t_all))
    lp = None
    many = ar.ny >= o.colgen_min_columns or (st.p.objective == "max-cover" and not c.tighten
                                             and ar.ny >= o.colgen_max_cover_min_columns)
    if o.lp_colgen and many and o.solver_name == "highs":
        lp = lp_colgen(c, ar, lp_limit, o.n_threads, o.msg, warm=st.warm)
        stats["lp_colgen"] = lp.colgen
        st.highs_s += lp.seconds
        st.warm = lp.warm
        if lp.status == "infeasible":   # artificials left: let the full LP decide
            stats["lp_colgen_fallback"] = True
            lp = None
    if lp is None:
        lp = solve_highspy(ar, max(5.0, share * o.limit_s - (time.perf_counter() - st.t_all)),
                           0.0, o.n_threads, None, o.msg, mip=False)
        st.highs_s += lp.seconds
    st.timings["lp_s"] = time.perf_counter() - tl
    stats["lp_status"] = lp.status
    guide = None
    if lp.status == "infeasible":
        if st.p.objective == "cover-all":
            raise ModelInfeasible("the LP relaxation")
    elif lp.values is not None:
        guide = np.clip(lp.values[:c.J], 0.0, 1.0)
        if st.p.objective == "max-cover" and not c.tighten and ar.ny < o.max_cover_small_below:
            guide = _implied_guide(c, ar, lp.values, guide)
        if lp.status == "optimal":
            st.lp_bound = lp.objective
            stats["lp_bound"] = lp.objective
            st.lp_run = lp
    if lp.status != "optimal" and np.isfinite(lp.bound) and lp.values is not None and "lp_colgen" in stats:
        st.lp_bound = lp.bound                       # column generation stopped early: its best dual bound
        stats["lp_bound"] = lp.bound
    elif lp.status != "optimal" and lp.row_dual is not None:
        st.lp_bound = dual_bound(ar, lp.row_dual)   # stopped early: still a valid bound
        stats["lp_bound"] = st.lp_bound
    return guide


def _implied_guide(c: Compiled, ar: Arrays, values: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """The sites' LP values as the tightening rows y <= min(d, q) x would have them: per site at least its
    largest assignment's share of that column's upper bound. Without the rows the LP opens a site by
    a sliver and fills it (capacity only binds through c x); the greedy then underrates the sites it
    uses. Measured (generated 1,000-room station, seed 2, max-cover at 25 %): start plan 3,004 -> 3,036
    persons, proven within 0.5 % at the root in 2.2 s instead of 1.55 % at 10 s (the LP with every
    tightening row gives the same plan, but took 5 times as long)."""
    y = values[ar.ycol0:ar.ycol0 + ar.ny]
    ub = np.maximum(ar.hi[ar.ycol0:ar.ycol0 + ar.ny], 1e-9)
    implied = np.zeros(c.J)
    np.maximum.at(implied, c.qj[ar.yq], y / ub)
    return np.clip(np.maximum(guide, implied), 0.0, 1.0)


SWAP_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5)
"""LP values above which a site is rounded open (`_swap_rounding`), in increasing order."""


def _swap_rounding(st: _Path, guide: np.ndarray, support: np.ndarray) -> tuple[np.ndarray, Fixed | None]:
    """With the no-swap rows, the LP spreads people over more sites (its support converted whole cost
    Station Unity 2.4 M CR more than its LP cost): round at thresholds (the sites the LP opens more than
    that), each with its whole-person assignment, while the time allows, and keep
    the plan with the least cost plus swap penalty (the model's objective; every rounding is feasible:
    the swap rows are soft, and a plan that leaves someone without an open site fails its assignment).
    After the support (threshold 0), `SWAP_THRESHOLDS` are searched as a line from 0.3 (the best on Station
    Unity without corridor rows) and 0.2, on in the direction that improved until a threshold does not
    (`roundline.line_search`, shared with the trade-off's rounding; when neither 0.3 nor 0.2 has a plan, 0.1): the
    objective over the thresholds has had one minimum in every case measured (Station Unity with corridor
    rows: best at 0.1, then 0.2, 0.3, 0.4, 0.5 each worse; the generated 1,000-room station: best at 0.3), so
    the walk finds the plan trying all of them finds, with 3 or 4 assignments instead of 6 (on Station Unity
    1 to 2 s each as one cold LP; by blocks from the support's bases, `assignwarm.AssignBlocks`, 0.2 to 0.5 s,
    both cores working inside each). Returns (sites 0/1, their assignment or None when only the support was
    tried)."""
    c, o = st.c, st.o
    best: tuple[float, np.ndarray, Fixed | None] = (INF, support, None)
    deadline = st.t_all + 0.7 * o.limit_s             # the rest for the local search, the MIP and the assignment
    tried: list[tuple[float, int, float]] = []
    by_count: dict[int, float] = {}                   # (a threshold opening as many sites opens the same ones)

    def value(th: float) -> float:
        nonlocal best
        x = np.maximum((guide > th).astype(float), c.fixed1)
        n = int(x.sum())
        if n in by_count:
            return by_count[n]
        v, ar0, run0 = assign_fixed(c, o, x, time_limit=st.assign_limit(), warm=st.assigning)
        st.highs_s += run0.seconds
        val = INF if v is None else float(st.ar.c @ full_vector(c, st.ar, ar0, v))
        by_count[n] = val
        if v is not None:
            tried.append((th, n, val))
            if val < best[0] - 1e-6:
                best = (val, x, (x.copy(), v, ar0, run0))
        return val

    value(1e-6)
    line_search(value, sorted(SWAP_THRESHOLDS, reverse=True), 0.3, deadline)
    st.stats["swap_rounding"] = [dict(threshold=th, sites=n, objective=round(val, 2)) for th, n, val in tried]
    return best[1], best[2]


def _local_search(st: _Path, x0: np.ndarray, guide: np.ndarray | None, pre: Fixed | None = None) -> np.ndarray:
    """Close sites whose people fit elsewhere (same coverage, less cost); keeps the rounded plan and
    its assignment as the fallback (`st.rounded`); `pre`: `x0` with its assignment, when known."""
    c, o = st.c, st.o
    t2 = time.perf_counter()
    v0: np.ndarray | None
    if pre is not None and np.array_equal(pre[0] > 0.5, x0 > 0.5):
        _, v0, ar0, run0 = pre
        t_assign = max(run0.seconds, 1.0)
    else:
        v0, ar0, run0 = assign_fixed(c, o, x0, time_limit=st.assign_limit(), warm=st.assigning)
        t_assign = time.perf_counter() - t2
        st.highs_s += run0.seconds
    if v0 is not None:
        st.stats["rounded_cost"] = float(c.cost @ x0)
        st.rounded = (x0.copy(), v0, ar0, run0)
        # stop closing sites in time for the plan's own assignment (about as long as this one)
        deadline = st.t_all + (1.0 - o.wall_margin) * o.limit_s - 2.0 * t_assign - 1.0
        # (the local search knows no expected-share rows: with them the rounded plan is the start)
        x1 = x0 if c.share else improve_plan(c, x0, v0[ar0.ycol0:ar0.ycol0 + ar0.ny], ar0.yq, ar0.ys, guide,
                                             deadline=deadline)
        if np.array_equal(x1 > 0.5, x0 > 0.5):
            st.start_fixed = st.rounded                # nothing closed: keep this assignment
        x0 = x1
    st.timings["local_search_s"] = time.perf_counter() - t2
    return x0


def _start_assignment(st: _Path, x0: np.ndarray) -> None:
    """The start plan's whole-person assignment and its column vector (`st.start_vec`)."""
    c = st.c
    t = time.perf_counter()
    v0: np.ndarray | None
    if st.start_fixed is not None:
        _, v0, ar0, run0 = st.start_fixed
    else:
        v0, ar0, run0 = assign_fixed(c, st.o, x0, time_limit=st.assign_limit(), warm=st.assigning)
        st.highs_s += run0.seconds
        if v0 is None and st.rounded is not None:           # the improved plan's assignment failed in time:
            x0, v0, ar0, run0 = st.rounded                   # keep the rounded plan and its assignment
            st.stats["local_search_reverted"] = True
        elif v0 is None and c.objective == "cover-all" and c.budget is None and st.stats.get("lp_status") != "optimal":
            # an LP stopped by its time limit: its support need not shelter everyone (generated 3,000 rooms at 10 s,
            # load 7: no start plan, and HiGHS found none in the 2 s left: no plan at all); the greedy's sites added
            x0 = np.maximum(x0, greedy_compiled(c))
            v0, ar0, run0 = assign_fixed(c, st.o, x0, time_limit=st.assign_limit(), warm=st.assigning)
            st.highs_s += run0.seconds
            st.stats["start_greedy_added"] = v0 is not None
    st.timings["start_assign_s"] = time.perf_counter() - t
    if v0 is None:
        return
    vec = full_vector(c, st.ar, ar0, v0)
    if c.swap_rule and st.rounded is not None and not np.array_equal(st.rounded[0] > 0.5, x0 > 0.5):
        # the local search closes sites by capacity and queue alone: keep the rounded plan when its cost
        # plus swap penalty is lower (the model's objective)
        xr, vr, arr, runr = st.rounded
        vec_r = full_vector(c, st.ar, arr, vr)
        if float(st.ar.c @ vec_r) < float(st.ar.c @ vec) - 1e-6:
            x0, v0, ar0, run0, vec = xr, vr, arr, runr, vec_r
            st.stats["local_search_reverted"] = "swap penalty"
    st.start_fixed = (x0.copy(), v0, ar0, run0)
    st.start_vec = vec
    st.stats["heuristic_cost"] = float(c.cost @ x0)
    st.stats["heuristic_sites"] = int(x0.sum())
    st.stats["heuristic_objective"] = objective_value(c, st.ar, st.start_vec)
    st.say(f"[planner] start plan: {int(x0.sum())} sites, cost {c.cost @ x0:,.0f}, "
           f"objective {st.stats['heuristic_objective']:,.1f} ({time.perf_counter() - st.t_all:.1f} s so far)")


def _mip(st: _Path) -> Run:
    """The MIP from the start, or the start itself when the LP bound proves it within the gap or the
    LP did not finish (its root could not either)."""
    o, stats, start_vec = st.o, st.stats, st.start_vec
    remaining = time_left(o, st.t_all, 1.0, INF)
    t = time.perf_counter()
    start_obj = float(st.ar.c @ start_vec) if start_vec is not None else INF
    pulp_build = 0.0
    lower = max(st.lp_bound if st.lp_bound is not None else -INF, _cut_bound(st, start_vec))
    if start_vec is not None and np.isfinite(lower) and start_obj - lower <= o.gap * max(abs(start_obj), 1e-9):
        run = Run(start_vec, "optimal", start_obj, lower, (start_obj - lower) / max(abs(start_obj), 1e-9),
                  0.0, "HiGHS", highs_version())
        stats["mip_skipped"] = True
        st.say("[planner] the start plan is within the gap of the LP bound: no branching needed")
    elif start_vec is not None and "lp_colgen" in stats and (
            (not o.warm_branch and stats["lp_colgen"].get("warm")) or (not o.cold_branch and st.p.objective == "cover-all")):
        # a corridor round's re-solve, its LP started from the last round's basis, or the first solve of the
        # rounds (`cold_branch`): HiGHS's MIP on the whole model (presolve and root LP from scratch) did not
        # improve on the start plan in any measured round
        run = Run(start_vec, "no branching", start_obj,
                  st.lp_bound if st.lp_bound is not None else -INF,
                  (start_obj - st.lp_bound) / max(abs(start_obj), 1e-9) if st.lp_bound is not None else INF,
                  0.0, "HiGHS", highs_version())
        stats["mip_skipped"] = "warm" if stats["lp_colgen"].get("warm") else "cold_branch"
        st.say("[planner] the start plan is kept with the LP bound, no branching (a large model whose plan the "
               "corridor rounds re-plan: warm_branch, cold_branch)")
    elif (start_vec is not None and o.cover_budget is not None and st.lp_bound is not None
          and st.lp_bound > o.cover_budget + 1.0 and "lp_colgen" in stats):
        # a large cover-all solve only compared with a budget its LP bound already exceeds (`cover_budget`); small
        # ones branch on: in a second or less HiGHS finds what full cover costs
        run = Run(start_vec, "no branching", start_obj, st.lp_bound,
                  (start_obj - st.lp_bound) / max(abs(start_obj), 1e-9), 0.0, "HiGHS", highs_version())
        stats["mip_skipped"] = "over the budget"
        st.say(f"[planner] the LP bound {st.lp_bound:,.0f} exceeds the budget of {o.cover_budget:,.0f}: no plan within "
               "it shelters everyone; the start plan is kept, no branching")
    elif start_vec is not None and st.lp_run is None and stats.get("lp_status") == "time limit":
        # the LP relaxation did not finish within its share of the time: the MIP's root (the same
        # LP, with cuts) cannot finish in the rest either, and HiGHS overruns its limit there
        # (measured 3x at 30,000 rooms). Keep the start plan and the bound from the LP's duals.
        run = Run(start_vec, "time limit", start_obj, st.lp_bound if st.lp_bound is not None else -INF, INF,
                  0.0, "HiGHS", highs_version())
        stats["mip_skipped"] = True
        st.say("[planner] the LP relaxation did not finish in time: the start plan is kept, no branching")
    else:
        run, pulp_build = _branch(st, remaining)
    st.timings["mip_s"] = time.perf_counter() - t
    if pulp_build:
        st.timings["pulp_build_s"] = pulp_build
    return run


def _budget_lagrangian(st: _Path) -> None:
    """max-cover with a budget (below `budget_lagrangian_below` columns): the bound of the Lagrangian that keeps
    the budget whole (`budgetlag`) at the LP relaxation's duals raises `st.lp_bound` (`st.lag`)."""
    o, lp = st.o, st.lp_run
    if not (o.budget_lagrangian and st.p.objective == "max-cover" and st.c.budget is not None
            and st.ar.ny < o.budget_lagrangian_below and lp is not None and lp.row_dual is not None
            and st.lp_bound is not None):
        return
    st.lag = budget_bound(st.c, st.ar, lp.row_dual)
    if st.lag is not None:
        st.stats["budget_lagrangian"] = st.lag.stats()
        st.lp_bound = max(st.lp_bound, st.lag.bound)


def _branch(st: _Path, remaining: float) -> tuple[Run, float]:
    """HiGHS branches (after the lazy tightening rows) from the start; (run, PuLP build seconds)."""
    o, stats, start_vec = st.o, st.stats, st.start_vec
    mid = st.p.objective == "max-cover" and o.tighten_max_cover_below <= st.ar.ny < o.max_cover_small_below
    lp = st.lp_run                               # the LP relaxation of `st.ar` (for the reduced costs)
    if st.lp_run is not None and o.lazy_tighten and not o.tighten and not mid:
        # (max-cover between the two thresholds, the generated 1,000-room stations: the rows moved the LP
        # bound by 0 to 0.02 % in 3 cases, and the lazy rounds took 2.8 s of a 10 s limit)
        st.ar, lp2 = _lazy_tighten(st.c, o, st.ar, st.lp_run, st.t_all, st.timings)
        lp = lp2
        st.highs_s += st.timings.get("lazy_tighten_highs_s", 0.0)
        if lp2 is not st.lp_run:
            st.lp_bound = max(st.lp_bound, lp2.objective) if st.lp_bound is not None else lp2.objective
            stats["lp_bound_tightened"] = lp2.objective
        stats.update(rows=int(st.ar.A.shape[0]), nonzeros=int(st.ar.A.nnz),
                     tighten_rows=int(st.ar.rows_by_kind.get("tighten", 0)))
        remaining = time_left(o, st.t_all, 1.0, INF)
    ar = _fix_by_reduced_cost(st, st.ar, lp) if o.reduced_cost_fixing else st.ar
    if st.lag is not None and start_vec is not None and o.budget_lagrangian_fixing:
        closed = st.lag.closed_sites(start_vec)        # (budgetlag: no plan as good as the start opens them)
        st.stats["budget_lagrangian"] = st.lag.stats(closed)
        hi = ar.hi.copy()
        hi[:st.c.J][closed] = 0.0
        ar = dataclasses.replace(ar, hi=hi)
    st.say(f"[planner] solving {st.p.objective}: {ar.A.shape[1]} variables, {ar.A.shape[0]} rows, "
           f"{ar.A.nnz} non-zeros, time limit {remaining:.0f} s, gap {o.gap:.1%}")
    cut = _cut_bound(st, start_vec)
    target = ({"objective_target": cut / (1.0 - o.gap)}
              if st.cut_fixed is not None and cut > (st.lp_bound if st.lp_bound is not None else -INF) else None)
    run, pulp_build = run_model(ar, o, max(1.0, remaining - o.wall_margin * o.limit_s),
                                start_vec if o.mip_start else None, defaults=target)
    st.highs_s += run.seconds
    if run.values is not None and start_vec is not None and float(ar.c @ start_vec) < run.objective - 1e-9:
        run.values, run.objective = start_vec, float(ar.c @ start_vec)  # ours was better
    return run, pulp_build


def _fix_by_reduced_cost(st: _Path, ar: Arrays, lp: Run | None) -> Arrays:
    """`ar` with the sites fixed that no plan better than the start can change: by the LP relaxation's reduced
    costs d = c - A'y (y its row duals), every plan with site j open costs at least the LP bound + d_j when j is
    closed in the LP (d_j >= 0), at least the LP bound - d_j with j closed when the LP opens it whole (d_j <= 0);
    where that exceeds the start plan's objective, j is fixed as in the start plan (HiGHS's own reduced-cost
    fixing, done once before its presolve: it solves the root LP again, then restarts on the smaller model).
    Only after the whole LP solved to optimality (not by column generation: its duals price only its columns).
    The MIP's bound then holds for every plan (the start plan is among those left, and no other plan that was
    cut off is better). Measured (generated 300-room station, seed 2, max-cover at 75 %): 103 of 166 sites
    fixed, HiGHS's root LP 2.8 s before its restart."""
    c, start = st.c, st.start_vec
    if lp is None or lp.row_dual is None or lp.values is None or start is None or "lp_colgen" in st.stats \
            or lp.status != "optimal" or len(lp.row_dual) != ar.A.shape[0]:
        return ar
    J = c.J
    d = (ar.c - ar.A.T @ lp.row_dual)[:J]
    slack = float(ar.c @ start) - lp.objective
    margin = 1e-6 * max(1.0, abs(lp.objective)) + 1e-7 * np.abs(d)
    free = ar.lo[:J] < ar.hi[:J]
    xl, xs = lp.values[:J], start[:J]
    fix0 = free & (xl <= 1e-9) & (d > slack + margin) & (xs < 0.5)
    fix1 = free & (xl >= 1.0 - 1e-9) & (-d > slack + margin) & (xs > 0.5)
    st.stats["reduced_cost_fixed"] = dict(closed=int(fix0.sum()), opened=int(fix1.sum()), of=int(free.sum()))
    if not (fix0.any() or fix1.any()):
        return ar
    lo, hi = ar.lo.copy(), ar.hi.copy()
    hi[:J][fix0] = 0.0
    lo[:J][fix1] = 1.0
    return dataclasses.replace(ar, lo=lo, hi=hi)


def _skip_stage2(st: _Path, x: np.ndarray, why: str) -> np.ndarray:
    """The least-cost stage not run (`why`): the first stage's sites `x` stand; `stats["stage2"]` says so."""
    st.stats["stage2"] = dict(status="skipped", why=why, cost=float(st.c.cost @ x))
    st.timings["stage2_s"] = 0.0
    return x


def _stage2(st: _Path, values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """max-cover second stage: least cost at the coverage found; returns the sites (0/1)."""
    c, o = st.c, st.o
    small = st.ar.ny < o.max_cover_small_below
    if small and st.lp_run is None and st.stats.get("lp_status") == "time limit":
        # the first stage's LP did not finish: this stage's root (the same LP and a coverage row) cannot
        # either (measured: 1,000 rooms 3.9 s of a 10 s limit spent, the plan unchanged; 3,000 rooms 9.4 s of
        # 20 s: large models, Station Unity's what-ifs among them, go by the cold-LP rule below)
        return _skip_stage2(st, x, "the LP relaxation did not finish")
    remaining = time_left(o, st.t_all, 1.0, INF)
    # at most as long as the first stage took (at least 1 s): on small models the least-cost stage alone
    # took 1 to 3 s of a 3 s target; large ones (first stage over 5 s) keep their max(5 s, 10 % of the limit).
    # Small models (below `max_cover_small_below` columns) whose first stage took 1 s or more: a quarter of
    # it, none under 1 s (measured on generated 300- and 1,000-room stations: 1.1 to 4.8 s spent, no plan
    # cheaper in 9 solves); quick ones (tests, tiny stations) as before
    first = time.perf_counter() - st.t_all
    slow = small and first >= 1.0 and st.ar.ny >= o.stage2_timed_from   # (tiny models: never by the clock)
    limit = min(o.limit_s - first, STAGE2_SMALL_SHARE * first) if slow else \
        min(remaining, max(5.0, 0.1 * o.limit_s), max(1.0, first))
    if slow and limit < 1.0:
        # HiGHS's presolve and root alone take about that (measured: 1 s limits overrun by 0.5 to 1.6 s)
        return _skip_stage2(st, x, "no time")
    cold_lp = st.warm.cold_s if st.warm is not None else st.timings.get("lp_s", 0.0)
    if cold_lp > limit:
        # the whole model's MIP cannot finish its root LP when the first stage's LP, by column generation over
        # a part of the columns, took longer cold (Station Unity: LP 12 to 24 s, the stage's limit 6 s, which
        # it spent in presolve and the root: "time limit", no bound, the first stage's plan back every time)
        return _skip_stage2(st, x, f"the first stage's LP took {cold_lp:.1f} s cold, more than this stage's "
                                   f"{limit:.1f} s")
    cover = coverage(c, st.ar, values)
    t = time.perf_counter()
    swaps = None
    if st.ar.nv:   # the least-cost stage keeps the first stage's swaps (no more persons leaving)
        vv = np.asarray(values, dtype=float).copy()
        fill_penalty_slacks(c, st.ar, vv)
        values = vv
        mult = c.scen_mult if len(c.scen_mult) else np.ones(len(c.scen))
        swaps = float(mult[st.ar.v_key % len(c.scen)] @ vv[st.ar.vcol0:st.ar.vcol0 + st.ar.nv]) + 1e-6
    ar2 = build_arrays(c, stage2=True, cover_at_least=cover - 1e-6, swaps_at_most=swaps)
    v2 = np.asarray(values, dtype=float).copy()
    run2, _ = run_model(ar2, o, limit, v2)
    st.highs_s += run2.seconds
    st.timings["stage2_s"] = time.perf_counter() - t
    if run2.values is not None and (c.cost @ (run2.values[:c.J] > 0.5)) <= c.cost @ x + 1e-6:
        x = (run2.values[:c.J] > 0.5).astype(float)
    st.stats["stage2"] = dict(status=run2.status, cost=float(c.cost @ x), bound=run2.bound, gap=run2.gap)
    return x


def _whole_persons(st: _Path, x: np.ndarray, run: Run, primary: dict[str, Any]) -> Solution:
    """The chosen sites' whole-person assignment (the start's when the sites are the same), then `finish`."""
    c, o = st.c, st.o
    t = time.perf_counter()
    if st.start_fixed is not None and np.array_equal(st.start_fixed[0] > 0.5, x > 0.5):
        _, vf, arf, runf = st.start_fixed                  # the start's assignment, reused
        vf_: np.ndarray | None = vf
    else:
        vf_, arf, runf = assign_fixed(c, o, x, time_limit=max(10.0, o.limit_s / 2), warm=st.assigning)
        st.highs_s += runf.seconds
    st.timings["assign_s"] = time.perf_counter() - t
    st.stats["highs_s"] = round(st.highs_s, 3)
    st.stats["assign_lp"] = {k: round(v, 3) for k, v in st.assigning.stats.items()}
    if vf_ is None:
        raise SolverError(f"the final whole-person assignment failed (status {runf.status}); this is a bug, "
                          "please report it with the station files")
    knapsack = None
    if (st.cut is not None and np.isfinite(st.cut.bound)
            and swap_penalty_paid(c, arf, vf_) + corridor_penalty_paid(c, arf, vf_) <= 1e-9):
        knapsack = max(capacity_bound(c), float(st.cut.bound))   # the plan pays no penalty: the cuts' bound holds
        if knapsack > float(c.cost @ x) + 1.0 + 1e-6 * abs(float(c.cost @ x)):   # (+ the tie-break < 1): cannot be
            st.stats["capacity_cuts_bound_discarded"] = knapsack
            knapsack = None
    sol = finish(c, st.p, o, x, vf_, arf, run, primary, st.stats, st.timings, st.t_all, st.say, knapsack=knapsack)
    sol.assign_basis = st.assigning.blocks.basis() if st.assigning.blocks is not None else None
    return sol


def _lazy_tighten(c: Compiled, o: SolveOptions, ar: Arrays, lp: Run, t_all: float,
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
        if time.perf_counter() - t_all > o.limit_s / 3:
            break
        v = lp.values
        assert v is not None
        y = v[ar.ycol0:ar.ycol0 + ar.ny]
        x = v[:ar.nx]
        ub = ar.hi[ar.ycol0:ar.ycol0 + ar.ny]
        viol = (y > ub * x[yj] + 1e-6 * np.maximum(ub, 1.0)) & (ub < c.cap[yj] - 1e-9) & ~mask
        if not viol.any():
            break
        mask |= viol
        ar2 = build_arrays(c, tight_cols=mask)
        left = max(2.0, o.limit_s / 3 - (time.perf_counter() - t_all))
        lp2 = solve_highspy(ar2, left, 0.0, o.n_threads, None, o.msg, mip=False)
        timings["lazy_tighten_highs_s"] = timings.get("lazy_tighten_highs_s", 0.0) + lp2.seconds
        if lp2.status != "optimal" or lp2.values is None:
            break
        ar, lp = ar2, lp2
    timings["lazy_tighten_s"] = time.perf_counter() - t
    # keep the rows only if they raised the bound noticeably: measured, a handful of rows that
    # do not move the bound can still change HiGHS's search for the worse (300 rooms: 4 s -> 10 s)
    if lp is not lp0 and lp.objective - lp0.objective <= 0.1 * o.gap * max(abs(lp0.objective), 1e-9):
        return ar0, lp0
    return ar, lp
