"""Whole-person assignment for a fixed set of sites (a totally unimodular system, until rows that are not
such as corridor rows join it: then its LP may end fractional, and only the groups it splits are solved
again as a MIP, `_residual_mip`)."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from planner.model.arrays import Arrays, build_arrays
from planner.model.assignwarm import AssignBlocks, WarmAssign, restrict
from planner.model.compile import Compiled, group_walk
from planner.model.highs import Run, highs_version, solve_highspy
from planner.model.options import SolveOptions
from planner.model.constants import INF

ASSIGN_GAP_SHARE = 0.01
"""Share of the solve's relative gap (`SolveOptions.gap`) within which a max-cover residual assignment MIP may stop
(`assign_tolerance`)."""


def assign_tolerance(c: Compiled, o: SolveOptions, lp_obj: float) -> float:
    """How far (in the model's objective) the whole-person assignment's residual MIPs (`_residual_mip`) may end
    from the best whole assignment: for max-cover (objective in weighted persons) the smaller of half the
    smallest priority weight and `ASSIGN_GAP_SHARE` x the solve's gap x |the LP's objective| (0.5 on Station
    Unity; 0.002 to 0.007 on the tests' instances); exact (1e-9 relative) for cover-all and for a solve at gap 0.

    With corridor rows the LP's value is out of reach and the MIPs ran until proven at gap 0: 9 to 18 s a call
    in a Station Unity sweep's budget at 50.9 M CR, its rounds 27, 24, 12 and 11 s; with this tolerance 1.5,
    1.4, 8.4, 0.9 and 0.9 s, the same safe rooms and persons sheltered per scenario (load 5 to 6). Only the
    tie-breaks (cost, walk) can be given up, never half a person's weight of coverage."""
    exact = 1e-9 * max(1.0, abs(lp_obj))
    if c.objective != "max-cover" or o.gap <= 0:
        return exact
    return max(exact, min(0.5 * float(np.min(c.w, initial=1.0)), ASSIGN_GAP_SHARE * o.gap * abs(lp_obj)))


# ==================================================================== assignment
def assign_fixed(c: Compiled, o: SolveOptions, x: np.ndarray, time_limit: float = 60.0,
                 warm: WarmAssign | None = None) -> tuple[np.ndarray | None, Arrays, Run]:
    """Whole-person assignment for a fixed set of sites (y integer; a TU system, solved at the root).

    The LP in independent blocks (`AssignBlocks`); `warm`: the blocks of an earlier call of the same solve,
    used when `x` is among their sites (the LP from their last bases), else replaced by this call's.
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
    run = _block_lp(c, o, x, ar, time_limit, warm)
    if run is None:                                    # a block stopped (time limit, ...): the whole LP, cold
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


def _block_lp(c: Compiled, o: SolveOptions, x: np.ndarray, ar: Arrays, time_limit: float,
              warm: WarmAssign | None) -> Run | None:
    """The assignment LP of `ar` (the sites `x`) by blocks (`AssignBlocks`): warm from `warm`'s blocks when
    they take `x`, else on new blocks of `x` (kept in `warm`). None when a block did not end optimal or
    infeasible (the caller solves the whole LP)."""
    t = time.perf_counter()
    blocks = warm.blocks_for(c, o, x, ar) if warm is not None else AssignBlocks(c, o, x, ar)
    res = blocks.solve(x, time_limit)
    if warm is not None:
        warm.stats["warm" if res.warm else "cold"] += 1
        warm.stats["taken"] += blocks.taken
        blocks.taken = 0
        warm.stats["seconds"] += time.perf_counter() - t
    if res.status == "infeasible":
        return Run(None, "infeasible", INF, INF, INF, time.perf_counter() - t, "HiGHS", highs_version())
    if res.values is None:
        if warm is not None:
            warm.stats["fallback"] += 1
        return None
    v = res.values if blocks.ar is ar else restrict(c, blocks.ar, res.values, ar)
    obj = float(ar.c @ v)
    return Run(v, "optimal", obj, obj, 0.0, time.perf_counter() - t, "HiGHS", highs_version())


def _residual_mip(c: Compiled, o: SolveOptions, ar: Arrays, v: np.ndarray, time_limit: float) -> Run:
    """The whole-person assignment when the LP's (`v`) is fractional: the groups whose every assignment is
    whole in the LP keep it (their y columns fixed), the groups it splits are solved as a MIP with the rest
    of the model (capacities, door queues, corridor rows). First only the split groups (Station Unity's
    corridor rounds: 9 to 14 groups, a MIP of about 1,500 columns, 0.04 to 0.09 s), which reached the LP's
    objective in every case measured (max-cover: within `assign_tolerance`, to which both MIPs are solved);
    when that MIP does not reach it, the split groups with those sharing a
    row with them (every group assigned to a site a split group uses: 6,600 to 12,000 integer columns,
    0.3 to 7 s), the better of the two kept. Not proven optimal for the whole assignment unless it meets the
    LP's objective: its bound is the LP's, reported as such. Returns the run (values None: no plan, then the
    whole MIP decides).

    Only the part of the model the free groups reach is handed to HiGHS (`_reached`): the rows and free
    columns (the groups' y, queue suffixes, penalty slacks) joined to a free y through rows with a free
    column, the fixed columns in the rows' bounds; every other free column keeps the LP's value (its rows
    hold only whole assignments, which the LP met). The same MIP as with every other column fixed in bounds
    (HiGHS's presolve removed them), without a presolve of the whole model."""
    t = time.perf_counter()
    y = v[ar.ycol0:ar.ycol0 + ar.ny]
    split = np.abs(y - np.rint(y)) > 1e-6
    lp_obj = float(ar.c @ v)
    tol = 1e-9 * max(1.0, abs(lp_obj))
    near_enough = assign_tolerance(c, o, lp_obj)
    narrow = _fix_and_solve(c, o, ar, v, np.unique(c.qg[ar.yq[split]]), time_limit, near_enough)
    if narrow.values is not None and narrow.objective - lp_obj <= near_enough:
        best = narrow
    else:
        ycols = ar.A.tocsc()[:, ar.ycol0:ar.ycol0 + ar.ny]
        rows = np.unique(ycols[:, np.flatnonzero(split)].indices)          # the rows a split column is in
        near = np.zeros(ar.ny, bool)
        near[np.unique(ycols.tocsr()[rows].indices)] = True                 # the columns in those rows
        wide = _fix_and_solve(c, o, ar, v, np.unique(c.qg[ar.yq[split | near]]),
                              max(time_limit - (time.perf_counter() - t), 1.0), near_enough)
        best = min((r for r in (narrow, wide) if r.values is not None), key=lambda r: r.objective, default=wide)
    if best.values is None:
        return best
    obj = best.objective
    return dataclasses.replace(best, status="optimal" if obj - lp_obj <= tol else "feasible", bound=lp_obj,
                               gap=(obj - lp_obj) / max(abs(obj), 1e-9), seconds=time.perf_counter() - t)


def _fix_and_solve(c: Compiled, o: SolveOptions, ar: Arrays, v: np.ndarray, groups: np.ndarray,
                   time_limit: float, abs_gap: float = 1e-6) -> Run:
    """The MIP of `ar` with every y column outside `groups` fixed at its (whole) value in `v`, over the part
    those groups reach (`_reached`), to the absolute gap `abs_gap` (`assign_tolerance`): a run whose values
    (None: no plan) are on `ar`'s columns, objective `ar`'s."""
    y = v[ar.ycol0:ar.ycol0 + ar.ny]
    keep = ~np.isin(c.qg[ar.yq], groups)
    lo, hi = ar.lo.copy(), ar.hi.copy()
    cols = ar.ycol0 + np.flatnonzero(keep)
    lo[cols] = hi[cols] = np.rint(y[keep])
    base = np.where(lo == hi, lo, v)
    sub_rows, sub_cols = _reached(ar, lo < hi)
    A = ar.A.tocsc()[sub_rows]
    fixed = base.copy()
    fixed[sub_cols] = 0.0
    act = A @ fixed
    sub = dataclasses.replace(ar, c=ar.c[sub_cols], lo=lo[sub_cols], hi=hi[sub_cols], integer=ar.integer[sub_cols],
                              A=A[:, sub_cols].tocsc(), row_lo=ar.row_lo[sub_rows] - act,
                              row_hi=ar.row_hi[sub_rows] - act)
    run = solve_highspy(sub, time_limit, 0.0, o.n_threads, None, o.msg, mip=True,
                        options={"mip_abs_gap": max(float(abs_gap), 1e-6)})
    if run.values is None:
        return run
    full = base.copy()
    full[sub_cols] = run.values
    return dataclasses.replace(run, values=full, objective=float(ar.c @ full))


def _reached(ar: Arrays, free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows and free columns (`free`: a mask over `ar`'s columns) connected, through rows and free
    columns, to a free assignment column: (rows, columns), sorted."""
    cols = np.flatnonzero(free)
    m, n = ar.A.shape[0], len(cols)
    part = ar.A.tocsc()[:, cols].tocoo()
    graph = sp.coo_matrix((np.ones(part.nnz), (part.row, m + part.col)), shape=(m + n, m + n))
    _, lab = connected_components(graph, directed=False)
    is_y = (cols >= ar.ycol0) & (cols < ar.ycol0 + ar.ny)
    hit = np.zeros(lab.max() + 1 if len(lab) else 0, bool)
    hit[lab[m:][is_y]] = True
    rows = np.flatnonzero(hit[lab[:m]] & (np.diff(ar.A.tocsr().indptr) > 0))
    return rows, cols[hit[lab[m:]]]
