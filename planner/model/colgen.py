"""The LP relaxation by column generation on the assignment columns."""

from __future__ import annotations

import time
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp

from planner.model.arrays import Arrays
from planner.model.compile import Compiled, group_walk
from planner.model.highs import HIGHS_STATUS, Run, dual_bound, highs_lp, highs_version, new_highs
from planner.model.constants import INF
from planner.model.warm import LpWarm, fits, keep, warm_basis

def lp_colgen(c: Compiled, ar: Arrays, time_limit: float, threads: int, msg: bool, k0: int = 8,
               k_add: int = 4, rebuild: bool = False, warm: LpWarm | None = None) -> Run:
    """The LP relaxation of `ar` by column generation on the assignment columns (seconds; objective units).

    Most assignment columns are zero in the LP optimum (people go to a few cheap sites near them),
    and HiGHS's simplex on all of them is slow (10,000 rooms: 1.4 M columns, not finished in 200 s).
    Start from the `k0` cheapest sites per group and scenario (cost per place, then walk), solve,
    price every left-out column with the row duals (d = c - A'pi), add the `k_add` most negative per
    demand row, re-solve from the last basis (columns added to the same HiGHS instance), until no
    column prices out. Cover-all demand rows get an artificial column at a high cost so that every
    restricted LP is feasible. Every round's duals give a valid bound on the full LP (`dual_bound`),
    so a run stopped by the time limit still reports one. Returns a run over `ar`'s columns.

    `warm`: the `LpWarm` of an earlier solve of the same model with other corridor rows (`run.warm` of
    that solve): its columns join the first restricted LP and its basis, extended to the new rows
    (`planner.model.warm.warm_basis`), starts HiGHS's dual simplex; ignored when it does not fit `ar`.
    A run that ends optimal or at its time limit returns its own `LpWarm` in `run.warm` (its last basis;
    `cold_s`: the seconds of the first, cold solve of the model).
    """

    t0 = time.perf_counter()
    S = len(c.scen)
    n = ar.A.shape[1]
    yc = np.arange(ar.ycol0, ar.ycol0 + ar.ny)
    yj = c.qj[ar.yq]
    # demand row of each y column (rows of kind "demand" come first, one per (g, s) with D > 0)
    gs_key = c.qg[ar.yq].astype(np.int64) * S + ar.ys
    _, drow = np.unique(gs_key, return_inverse=True)
    drow = np.asarray(drow).ravel()
    n_dem = int(drow.max()) + 1 if len(drow) else 0
    percap = c.cost[yj] / np.maximum(c.cap[yj], 1) + 1e-3 * group_walk(c)[ar.yq]
    o = np.lexsort((percap, drow))
    start = np.r_[0, np.flatnonzero(np.diff(drow[o])) + 1]
    rank = np.arange(len(o)) - np.repeat(start, np.diff(np.r_[start, len(o)]))
    in_set = np.zeros(n, bool)
    in_set[:ar.ycol0] = True
    in_set[ar.scol0:] = True
    in_set[yc[o[rank < k0]]] = True
    o = np.lexsort((percap, group_walk(c)[ar.yq], drow))        # and the k0 nearest (door queues favour them)
    in_set[yc[o[rank < k0]]] = True
    cover_all = c.objective == "cover-all"
    # cost of an unserved person: above what opening any site for one person costs, so that
    # artificials are used only where the restricted columns cannot serve the row
    big = 10.0 * float(np.max(np.abs(ar.c[:ar.nx]), initial=1.0)) + 1.0
    A = ar.A.tocsc()
    # (expected share: its rows, "at most so many expected late", get an artificial too)
    art_rows = np.r_[np.arange(n_dem if cover_all else 0), ar.share_rows].astype(np.int64)
    n_art = len(art_rows)
    art_val = np.r_[np.ones(n_dem if cover_all else 0), -np.ones(len(ar.share_rows))]
    art = sp.csc_matrix((art_val, (art_rows, np.arange(n_art))), shape=(A.shape[0], n_art))

    def fresh(cols: np.ndarray) -> Any:
        """A HiGHS instance holding the restricted LP on `cols` (+ artificials), presolved from scratch."""
        sub = sp.hstack([A[:, cols], art]).tocsc() if n_art else A[:, cols]
        h = new_highs(msg)
        h.setOptionValue("output_flag", bool(msg))
        h.setOptionValue("threads", int(threads))
        h.setOptionValue("solver", "simplex")
        h.passModel(highs_lp(sub, np.r_[ar.c[cols], np.full(n_art, big)], np.r_[ar.lo[cols], np.zeros(n_art)],
                             np.r_[ar.hi[cols], np.full(n_art, np.inf)], ar.row_lo, ar.row_hi))
        return h

    if warm is not None and fits(warm, ar, n_art):
        in_set[:ar.ucol0] |= warm.col_status >= 0           # the columns the earlier solve ended with
    cols = np.flatnonzero(in_set)
    h = fresh(cols)
    t_h = time.perf_counter()           # HiGHS's clock starts with the instance
    hcol = np.r_[cols, np.full(n_art, -1)].astype(np.int64)   # ar column of each HiGHS column (-1: artificial)
    warmed = _set_basis(h, warm_basis(warm, ar, n_art, hcol))
    best = -INF
    status, obj, values, duals = "time limit", INF, None, None
    rounds = 0
    AT = A.T.tocsr()
    tol = 1e-7 * max(1.0, float(np.abs(ar.c).max(initial=1.0)))
    while True:
        left = time_limit - (time.perf_counter() - t0)
        if left <= 0.5:
            break
        # HiGHS's clock runs over all runs of one instance
        h.setOptionValue("time_limit", float(max(0.5, left + (time.perf_counter() - t_h))))
        h.run()
        rounds += 1
        key = str(h.getModelStatus()).split(".")[-1]
        sol_ = h.getSolution()
        if key != "kOptimal" or not getattr(sol_, "dual_valid", False):
            status = HIGHS_STATUS.get(key, "time limit")
            break
        pi = np.asarray(sol_.row_dual, dtype=float)
        cv = np.asarray(sol_.col_value, dtype=float)
        duals = pi
        d = ar.c - AT @ pi
        best = max(best, dual_bound(ar, pi))
        obj = float(h.getInfo().objective_function_value)
        real = hcol >= 0
        values = np.zeros(n)
        values[hcol[real]] = cv[real]
        art_sum = float(cv[~real].sum())
        neg = (~in_set[yc]) & (d[yc] < -tol)
        if not neg.any():
            status = "optimal" if art_sum <= 1e-6 else "infeasible"
            break
        ni = np.flatnonzero(neg)
        oo = ni[np.lexsort((d[yc[ni]], drow[ni]))]
        st_ = np.r_[0, np.flatnonzero(np.diff(drow[oo])) + 1]
        rk = np.arange(len(oo)) - np.repeat(st_, np.diff(np.r_[st_, len(oo)]))
        new = yc[oo[rk < k_add]]
        in_set[new] = True
        if rebuild:   # large models: presolve the restricted LP again (a warm start on all rows is slower)
            cols = np.flatnonzero(in_set)
            h = fresh(cols)
            t_h = time.perf_counter()
            hcol = np.r_[cols, np.full(n_art, -1)].astype(np.int64)
        else:         # columns added to the same instance: HiGHS continues from the last basis
            blk = A[:, new]
            h.addCols(len(new), ar.c[new], ar.lo[new], ar.hi[new], int(blk.nnz), blk.indptr[:-1].astype(np.int32),
                      blk.indices.astype(np.int32), blk.data.astype(float))
            hcol = np.r_[hcol, new]
    bound = best
    if status == "optimal":
        bound = max(best, obj) if np.isfinite(best) else obj
    seconds = time.perf_counter() - t0
    run = Run(values, status, obj if status == "optimal" else INF, bound, 0.0, seconds, "HiGHS",
               highs_version(), 0, duals)
    run.colgen = dict(rounds=rounds, columns=int(in_set[yc].sum()), of=int(ar.ny), warm=int(warmed))
    if status in ("optimal", "time limit") and not rebuild:   # stopped: the next solve goes on from here
        b = h.getBasis()
        if b.valid:
            run.warm = keep(ar, n_art, hcol, np.array([int(v) for v in b.col_status], np.int8),
                            np.array([int(v) for v in b.row_status], np.int8),
                            warm.cold_s if warmed and warm is not None else seconds)
    return run


_STATUS = sorted(highspy.HighsBasisStatus.__members__.values(), key=int)
"""HiGHS's basis statuses by code."""


def _set_basis(h: highspy.Highs, basis: tuple[np.ndarray, np.ndarray] | None) -> bool:
    """Hand HiGHS the basis (column and row status codes); whether it took it."""
    if basis is None:
        return False
    b = highspy.HighsBasis()
    b.col_status = [_STATUS[v] for v in basis[0].tolist()]
    b.row_status = [_STATUS[v] for v in basis[1].tolist()]
    b.valid = True
    return h.setBasis(b) == highspy.HighsStatus.kOk


