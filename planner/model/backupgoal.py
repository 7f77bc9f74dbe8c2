"""Backup coverage as an objective (spopt's LSCP-B, the station's "multiple shelter options"): after the
plan is found, a second MIP keeps its cost (cover-all) or its coverage within the budget (max-cover)
and maximises the residents who have at least `k` converted safe rooms in reach.

The model (docs/model.md, "Backup coverage as an objective"): the plan's MIP (`build_arrays`: sites,
assignments, capacity and door-queue rows, the hard backup rows) plus, per room group `g` that has at
least `k` sites in reach, a binary `u_g` with `sum_{j in reach(g)} x_j - k u_g >= 0`;

- cover-all: everyone sheltered, cost `sum_j f_j x_j <= C` (`C` the plan's cost);
- max-cover: the budget, and the priority-weighted persons sheltered at least the plan's;
- objective: maximise `sum_g b_g u_g` (`b_g`: the residents of the group's rooms, each room its
  busiest scenario, times its priority weight), then least cost (a tie-break worth less than half
  a resident).

spopt's LSCP-B is the special case of unit costs, one resident per demand point, no capacities and
`k = 2` (there the number of sites is fixed at the LSCP optimum; here the cost is).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from planner.model.arrays import Arrays, build_arrays, full_vector
from planner.model.assign import assign_fixed
from planner.model.compile import Compiled
from planner.model.constants import INF
from planner.model.cover import assign_nearest
from planner.model.highs import Run, run_model
from planner.model.options import SolveOptions, time_left
from planner.model.problem import Problem, Solution
from planner.model.result import coverage, finish


def group_residents(c: Compiled, p: Problem) -> np.ndarray:
    """Per group: its rooms' residents, each room at its busiest scenario, times the room's priority
    weight (persons): what having the backup is worth."""
    dem = p.demand.reindex(c.room_group.index).fillna(0).to_numpy(dtype=float)
    busiest = dem.max(axis=1) if dem.shape[1] else np.zeros(len(c.room_group))
    w = p.weight.reindex(c.room_group.index).fillna(1.0).to_numpy(dtype=float) if p.weight is not None else 1.0
    return np.bincount(c.room_group.to_numpy(), weights=busiest * w, minlength=c.G)


def options_per_group(c: Compiled, x: np.ndarray) -> np.ndarray:
    """Per group: converted sites (`x` 0/1 per site) within reach."""
    return np.bincount(c.rg, weights=x[c.rj], minlength=c.G)


def backup_arrays(c: Compiled, k: int, b: np.ndarray, cost_at_most: float | None,
                  cover_at_least: float | None) -> tuple[Arrays, np.ndarray]:
    """The plan's MIP with the backup flags `u_g` appended as the last columns (so a plan's column
    vector carries over). Returns (arrays, the groups of the u columns)."""
    ar = build_arrays(c, stage2=cover_at_least is not None, cover_at_least=cover_at_least)
    nreach = np.bincount(c.rg, minlength=c.G)
    ug = np.flatnonzero((nreach >= k) & (b > 0))
    n0 = ar.A.shape[1]
    nu = len(ug)
    upos = np.full(c.G, -1)
    upos[ug] = np.arange(nu)
    sel = upos[c.rg] >= 0
    # rows: sum_{j in reach(g)} x_j - k u_g >= 0 per flagged group; the cost cap (cover-all)
    r = np.r_[upos[c.rg[sel]], np.arange(nu)]
    col = np.r_[c.rj[sel], n0 + np.arange(nu)]
    val = np.r_[np.ones(int(sel.sum())), np.full(nu, -float(k))]
    rows = [sp.csr_matrix((val, (r, col)), shape=(nu, n0 + nu))]
    lo, hi = [np.zeros(nu)], [np.full(nu, INF)]
    if cost_at_most is not None:
        nzc = np.flatnonzero(c.cost > 0)
        rows.append(sp.csr_matrix((c.cost[nzc], (np.zeros(len(nzc), np.int64), nzc)), shape=(1, n0 + nu)))
        lo.append(np.array([-INF]))
        hi.append(np.array([cost_at_most]))
    A = sp.vstack([sp.hstack([ar.A, sp.csc_matrix((ar.A.shape[0], nu))]), *rows]).tocsc()
    # objective: - residents with the backup, + least cost as a tie-break worth < half the smallest weight
    bmin = float(b[ug].min()) if nu else 1.0
    tot = float(c.cost.sum()) + float(c.disp.sum()) + 1.0
    obj = np.r_[np.zeros(n0), -b[ug]]
    obj[:c.J] = (0.25 * bmin / tot) * (c.cost + c.disp / (float(c.disp.sum()) + 1.0))
    out = Arrays(c=obj, lo=np.r_[ar.lo, np.zeros(nu)], hi=np.r_[ar.hi, np.ones(nu)],
                 integer=np.r_[ar.integer, np.ones(nu, bool)], A=A,
                 row_lo=np.concatenate([ar.row_lo, *lo]), row_hi=np.concatenate([ar.row_hi, *hi]),
                 names=list(ar.names) + [f"u_{i}" for i in range(nu)],
                 row_names=list(ar.row_names) + [f"backup-goal_{i}" for i in range(nu)]
                 + (["cost-cap"] if cost_at_most is not None else []),
                 nx=ar.nx, nz=ar.nz, ny=ar.ny, ycol0=ar.ycol0, scol0=ar.scol0, yq=ar.yq, ys=ar.ys,
                 z_groups=ar.z_groups, cover_row=ar.cover_row,
                 rows_by_kind={**ar.rows_by_kind, "backup-goal": nu}, S_key=ar.S_key, ymult=ar.ymult)
    return out, ug


def _assign(c: Compiled, o: SolveOptions, x: np.ndarray, limit: float) -> tuple[np.ndarray | None, Arrays, Run | None]:
    """The whole-person assignment of the sites `x` as the plan's path makes it."""
    if o.pure_cover and c.uncapacitated:
        vn, arn = assign_nearest(c, x)
        return vn, arn, None
    return assign_fixed(c, o, x, time_limit=limit)


def maximise_backup(p: Problem, o: SolveOptions, c: Compiled, sol: Solution, t_all: float,
                    timings: dict[str, float], say: Callable[[str], None]) -> Solution:
    """The plan `sol` re-optimised for backup coverage (`p.backup_goal` sites in reach), at its cost
    (cover-all) or its coverage within the budget (max-cover). Returns a new `Solution` (the same
    plan when nothing better is found in time); `stats["backup_goal"]` says what was gained."""
    k = int(p.backup_goal)
    t = time.perf_counter()
    sidx = {s: i for i, s in enumerate(c.site_ids)}
    x0 = np.zeros(c.J)
    x0[[sidx[s] for s in sol.chosen if s in sidx]] = 1.0
    x0 = np.maximum(x0, c.fixed1)
    b = group_residents(c, p)
    before = float(b @ (options_per_group(c, x0) >= k))
    cover_all = p.objective == "cover-all"
    limit = time_left(o, t_all, 5.0, INF)
    v0, ar0, _ = assign_fixed(c, o, x0, time_limit=limit)   # on the model's columns: the MIP start
    stats: dict[str, Any] = dict(sol.stats)
    info: dict[str, Any] = dict(k=k, residents_before=before, residents=before, bound=None, status="not run")
    if v0 is None or c.G == 0:
        stats["backup_goal"] = info
        sol.stats = stats
        return sol
    at_least = None if cover_all else float(coverage(c, ar0, v0)) - 1e-6
    base = build_arrays(c, stage2=not cover_all, cover_at_least=at_least)
    ar, ug = backup_arrays(c, k, b, float(c.cost @ x0) + 1e-6 if cover_all else None, at_least)
    start = np.r_[full_vector(c, base, ar0, v0), (options_per_group(c, x0)[ug] >= k).astype(float)]
    run, _ = run_model(ar, o, limit, start if o.mip_start else None)
    x = x0
    if run.values is not None:
        x1 = np.maximum((run.values[:c.J] > 0.5).astype(float), c.fixed1)
        gain = float(b @ (options_per_group(c, x1) >= k))
        if gain > before + 1e-9 or (gain >= before - 1e-9 and c.cost @ x1 < c.cost @ x0 - 1e-6):
            x = x1
    after = float(b @ (options_per_group(c, x) >= k))
    bound = max(-float(run.bound) + 0.25 * float(b[ug].min() if len(ug) else 0.0), after) \
        if np.isfinite(run.bound) else None
    info.update(residents=after, bound=bound, status=run.status, seconds=round(time.perf_counter() - t, 3),
                gap=(bound - after) / max(after, 1e-9) if bound is not None else None)
    timings["backup_goal_s"] = time.perf_counter() - t
    say(f"[planner] backup coverage: residents with {k} or more safe rooms in reach {before:,.0f} -> {after:,.0f}"
        + (f" (bound {bound:,.0f})" if bound is not None else ""))
    if x is x0:
        stats["backup_goal"] = info
        sol.stats = stats
        return sol
    vf, arf, runf = _assign(c, o, x, max(10.0, o.limit_s / 2))
    if vf is None:   # cannot happen (the MIP's assignment fits); keep the plan found first
        info["status"] = "assignment failed: first plan kept"
        stats["backup_goal"] = info
        sol.stats = stats
        return sol
    stats["backup_goal"] = info
    first = sol.solver
    sign = 1.0 if cover_all else -1.0
    bnd = first.get("bound")
    prim = Run(None, str(first["status"]).removesuffix(": feasible"), sign * float(first["objective"]),
               sign * float(bnd) if bnd is not None else (-INF if cover_all else INF), 0.0, 0.0,
               str(first["name"]), str(first["version"]), nodes=int(stats.get("nodes") or 0))
    primary = dict(objective=prim.objective, bound=prim.bound, gap=first.get("gap"), status=prim.status)
    # `prim`'s bound is the first plan's, already on the cost scale (no swap penalty to take off)
    return finish(c, p, o, x, vf, arf, prim, primary, stats, timings, t_all, say, swaps_in_bound=False)
