"""Whole-person assignment for a fixed set of sites (a totally unimodular system)."""

from __future__ import annotations

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
    run = solve_highspy(ar, time_limit, 0.0, o.n_threads, None, o.msg, mip=True)
    return run.values, ar, run


