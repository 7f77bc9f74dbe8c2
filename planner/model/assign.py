"""Whole-person assignment for a fixed set of sites (a totally unimodular system, until rows that are not
such as corridor rows join it: then its LP may end fractional, and only the groups it splits are solved
again as a MIP, `_residual_mip`)."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from planner.model.arrays import Arrays, build_arrays
from planner.model.compile import Compiled, group_walk
from planner.model.highs import Run, highs_version, solve_highspy
from planner.model.options import SolveOptions
from planner.model.constants import INF

# ==================================================================== assignment
def assign_fixed(c: Compiled, o: SolveOptions, x: np.ndarray, time_limit: float = 60.0) -> tuple[np.ndarray | None, Arrays, Run]:
    """Whole-person assignment for a fixed set of sites (y integer; a TU system, solved at the root).

    Returns (full column vector or None if infeasible, arrays, run).
    """
    walk = group_walk(c)
    ar = build_arrays(c, x_fixed=x.astype(float), walk_obj=walk, only_sites=x > 0.5, all_scen=True)
    S = len(c.scen)
    if c.objective == "cover-all":
        need = np.flatnonzero(c.D.ravel() > 0)
        have = np.unique(c.qg[ar.yq].astype(np.int64) * S + ar.ys)
        if not np.isin(need, have).all():  # some occupied room reaches no open site
            return None, ar, Run(None, "infeasible", INF, INF, INF, 0.0, "HiGHS", highs_version())
    if ar.A.shape[1] == ar.nx + ar.nz or ar.A.shape[0] == 0:  # nothing to assign
        v = np.r_[ar.lo[:ar.ycol0], np.zeros(ar.A.shape[1] - ar.ycol0)]
        return v, ar, Run(v, "optimal", 0.0, 0.0, 0.0, 0.0, "HiGHS", highs_version())
    # LP first: a simplex vertex of this TU system is integral; integer y only as a fallback
    run = solve_highspy(ar, time_limit, 0.0, o.n_threads, None, o.msg, mip=False)
    v = run.values
    if v is not None:
        y = v[ar.ycol0:ar.ycol0 + ar.ny]
        if np.abs(y - np.rint(y)).max(initial=0.0) <= 1e-6:
            v = v.copy()
            v[:ar.scol0] = np.rint(v[:ar.scol0])
            return v, ar, run
    if run.status == "infeasible":
        return None, ar, run
    if v is not None and run.status == "optimal":
        t = time.perf_counter()
        res = _residual_mip(c, o, ar, v, time_limit)
        if res.values is not None:
            return res.values, ar, res
        time_limit = max(time_limit - (time.perf_counter() - t), 1.0)
    run = solve_highspy(ar, time_limit, 0.0, o.n_threads, None, o.msg, mip=True)
    return run.values, ar, run


def _residual_mip(c: Compiled, o: SolveOptions, ar: Arrays, v: np.ndarray, time_limit: float) -> Run:
    """The whole-person assignment when the LP's (`v`) is fractional: the groups whose every assignment is
    whole in the LP keep it (their y columns fixed), the groups it splits are solved as a MIP with the rest
    of the model (capacities, door queues, corridor rows). The MIP is small (Station Unity, max-cover at
    45 M CR with corridor rows: 16 fractional of 49,892 y columns), so it ends in well under a second where
    the whole MIP ran to its time limit (22 s) 5 weighted persons from its bound. Not proven optimal for
    the whole assignment: its bound is the LP's, reported as such. Returns the run (values None: no plan,
    then the whole MIP decides)."""
    y = v[ar.ycol0:ar.ycol0 + ar.ny]
    split = np.abs(y - np.rint(y)) > 1e-6
    ycols = ar.A.tocsc()[:, ar.ycol0:ar.ycol0 + ar.ny]
    rows = np.unique(ycols[:, np.flatnonzero(split)].indices)          # the rows a split column is in
    near = np.zeros(ar.ny, bool)
    near[np.unique(ycols.tocsr()[rows].indices)] = True                 # the columns in those rows
    groups = np.unique(c.qg[ar.yq[split | near]])
    keep = ~np.isin(c.qg[ar.yq], groups)
    lo, hi = ar.lo.copy(), ar.hi.copy()
    cols = ar.ycol0 + np.flatnonzero(keep)
    lo[cols] = hi[cols] = np.rint(y[keep])
    run = solve_highspy(dataclasses.replace(ar, lo=lo, hi=hi), time_limit, 0.0, o.n_threads, None, o.msg, mip=True)
    if run.values is None:
        return run
    lp_obj = float(ar.c @ v)
    obj = float(ar.c @ run.values)
    return dataclasses.replace(run, status="optimal" if obj - lp_obj <= 1e-9 * max(1.0, abs(lp_obj)) else "feasible",
                               objective=obj, bound=lp_obj,
                               gap=(obj - lp_obj) / max(abs(obj), 1e-9))
