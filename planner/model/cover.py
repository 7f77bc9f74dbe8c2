"""The pure set-cover / max-cover model on the sites alone (when no capacity or door queue can bind)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from planner.model.arrays import Arrays, Rows, backup_rows
from planner.model.compile import Compiled, group_walk
from planner.model.constants import INF

# ============================================================ pure cover model
@dataclass
class CoverModel:
    """The pure set-cover / max-cover model (only when `Compiled.uncapacitated`).

    Columns: x (sites, `J`), z (max-cover backup flags), u (max-cover: one per cover row,
    0..1, "this row's residents are within reach of an open site"). Cover rows are
    groups (cover-all: after removing dominated and already-covered rows; max-cover:
    groups with identical usable-site sets merged, weight = sum of priority x persons
    over the scenarios). Sites are never removed from the column layout: a dominated
    site gets the upper bound 0.
    """

    ar: Arrays
    A_cover: sp.csr_matrix        # (rows, J) 0/1: usable sites of each remaining cover row
    row_weight: np.ndarray        # (rows,) max-cover: priority-weighted persons over scenarios
    ucol0: int
    dropped_sites: np.ndarray     # (J,) bool: dominated (x_j = 0 in every optimum kept)
    stats: dict[str, Any] = field(default_factory=dict)


def _row_hash(A: sp.csr_matrix, seed: int = 7) -> np.ndarray:
    """Two random projections and the row count per row: equal for identical 0/1 rows."""
    rng = np.random.default_rng(seed)
    R = rng.random((A.shape[1], 2))
    h = np.asarray(A @ R)
    return np.c_[h, np.diff(A.indptr)]


def _block_edges(work: np.ndarray, n: int, block_nnz: float) -> np.ndarray:
    """Row ranges [edges[i], edges[i+1]) of 0..n whose summed `work` is about `block_nnz` each."""
    edges = np.r_[0, np.searchsorted(np.cumsum(work), np.arange(block_nnz, work.sum() + block_nnz, block_nnz)), n]
    return np.unique(np.clip(edges, 0, n))


def _dominated_rows(A: sp.csr_matrix, block_nnz: float = 2e6) -> np.ndarray:
    """Rows g whose 0/1 set contains another row's set (cover-all: implied); ties keep the lowest index.

    Vectorised in blocks: (A[blk] A^T)[g, h] = |Q(g) & Q(h)| equals |Q(h)| iff Q(h) is in Q(g).
    """
    n = A.shape[0]
    out = np.zeros(n, bool)
    if n <= 1:
        return out
    cnt = np.diff(A.indptr)
    AT = A.T.tocsr()
    colcnt = np.diff(AT.indptr).astype(np.float64)
    # work per row ~ sum over its columns of the column counts; blocks of bounded work
    work = np.asarray(A @ colcnt).ravel()
    edges = _block_edges(work, n, block_nnz)
    At = A.T.tocsc()
    for a, b in zip(edges[:-1], edges[1:]):
        if a >= b:
            continue
        M = (A[a:b] @ At).tocoo()
        g = M.row + a
        h = M.col
        sub = (M.data == cnt[h]) & (h != g) & ((cnt[h] < cnt[g]) | (h < g))
        out[np.unique(g[sub])] = True
    return out


def _dominated_sites(A: sp.csr_matrix, cost: np.ndarray, objc: np.ndarray, fixed: np.ndarray,
                     active: np.ndarray, block_nnz: float = 2e6) -> np.ndarray:
    """Sites j (not fixed) whose covered rows are a subset of another active site k's at no higher
    cost (currency) and objective coefficient; fixed sites dominate at any cost (they are open anyway).
    A strict total order (fixed first, cost, objective, more rows, index) rules out cycles, so the
    undominated sites of every chain survive. Returns a (J,) bool mask."""
    J = A.shape[1]
    C = A.T.tocsr()                                          # (J, rows)
    n = np.diff(C.indptr)
    order = np.lexsort((np.arange(J), -n, objc, cost, ~fixed))
    rank = np.empty(J, np.int64)
    rank[order] = np.arange(J)
    out = (n == 0) & ~fixed & active
    Ct = C.T.tocsc()
    rowcnt = np.diff(A.indptr).astype(np.float64)
    work = np.asarray(C @ rowcnt).ravel()
    edges = _block_edges(work, J, block_nnz)
    for a, b in zip(edges[:-1], edges[1:]):
        if a >= b:
            continue
        M = (C[a:b] @ Ct).tocoo()
        j = M.row + a
        k = M.col
        sub = ((M.data == n[j]) & (k != j) & active[k] & active[j] & ~fixed[j] & (rank[k] < rank[j])
               & (fixed[k] | ((cost[k] <= cost[j] + 1e-9) & (objc[k] <= objc[j] + 1e-12))))
        out[np.unique(j[sub])] = True
    return out


def _reduce(A: sp.csr_matrix, c: Compiled, objc: np.ndarray, active: np.ndarray, rows_keep: np.ndarray,
            cover_all: bool) -> tuple[np.ndarray, sp.csr_matrix]:
    """Drop dominated cover rows (cover-all) and dominated sites (`active` set False in place), a few
    rounds while something changes (one round for max-cover); returns (rows kept, their matrix)."""
    for _ in range(6):
        changed = False
        if cover_all:
            dr = _dominated_rows(A)
            if dr.any():
                rows_keep, A = rows_keep[~dr], A[np.flatnonzero(~dr)]
                changed = True
        ds = _dominated_sites(A, c.cost, objc, c.fixed1, active)
        if ds.any():
            active &= ~ds
            A = A @ sp.diags(active.astype(float))
            A.eliminate_zeros()
            changed = True
        if not changed or not cover_all:
            break
    return rows_keep, A


def build_cover_model(c: Compiled, reduce: bool = True, stage2: bool = False,
                      cover_at_least: float | None = None) -> CoverModel:
    """The pure cover model as arrays (see `CoverModel`); `stage2`: max-cover's least-cost solve at
    coverage >= `cover_at_least` (priority-weighted persons summed over the scenarios)."""
    J, G = c.J, c.G
    cover_all = c.objective == "cover-all"
    A = sp.csr_matrix((np.ones(len(c.qg)), (c.qg, c.qj)), shape=(G, J))
    A.sum_duplicates()
    A.data[:] = 1.0
    tot_cost = float(c.cost.sum()) + 1.0
    tot_disp = float(c.disp.sum()) + 1.0
    if cover_all or stage2:
        objc = c.cost + (0.5 / tot_disp) * c.disp
    else:
        wmin = float(c.w[c.w > 0].min()) if (c.w > 0).any() else 1.0
        objc = (0.25 * wmin / tot_cost) * c.cost + (0.25 * wmin / tot_disp) * c.disp
    mult = c.scen_mult if len(c.scen_mult) else np.ones(len(c.scen))
    rw = c.w * (c.D.astype(float) @ np.where(mult > 0, mult, 0.0)) if not cover_all else np.zeros(G)
    need = np.flatnonzero(c.m >= 2)
    has_backup = len(need) > 0
    active = np.ones(J, bool)
    st: dict[str, Any] = dict(cover_rows_in=G, sites_in=J)
    t0 = time.perf_counter()
    rows_keep = np.arange(G)
    zgroups = np.zeros(0, np.int64)
    if cover_all:
        covered = np.asarray(A @ c.fixed1.astype(float)).ravel() > 0   # a fixed (open) site covers them
        rows_keep = np.flatnonzero(~covered)
        A = A[rows_keep]
    else:
        # merge groups with the same usable sites (and no backup requirement) into one row
        zgroups = need
        if reduce and G:
            key = np.c_[_row_hash(A), (c.m >= 2) * (np.arange(G) + 1.0)]
            _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
            inv = np.asarray(inv).ravel()
            rw = np.bincount(inv, weights=rw, minlength=len(first))
            rows_keep = first
            A = A[first]
            gz = np.full(G, -1)
            gz[need] = np.arange(len(need))
            zrow = gz[first]                                  # z of each row (-1: none)
        else:
            zrow = np.full(G, -1)
            zrow[need] = np.arange(len(need))
    if reduce and not has_backup:
        rows_keep, A = _reduce(A, c, objc, active, rows_keep, cover_all)
    A = sp.csr_matrix(A)
    A.eliminate_zeros()
    st.update(cover_rows=int(A.shape[0]), sites_active=int(active.sum()), reduce_s=round(time.perf_counter() - t0, 3))
    nrow = A.shape[0]
    nz_ = len(zgroups)
    ucol0 = J + nz_
    nu = 0 if cover_all else nrow
    ncol = ucol0 + nu
    R = Rows()
    coo = A.tocoo()
    if cover_all:
        R.add(coo.row, coo.col, np.ones(coo.nnz), np.ones(nrow), np.full(nrow, INF), "cover")
    else:
        R.add(np.r_[coo.row, np.arange(nrow)], np.r_[coo.col, ucol0 + np.arange(nrow)],
              np.r_[-np.ones(coo.nnz), np.ones(nrow)], np.full(nrow, -INF), np.zeros(nrow), "cover")
        zr = np.flatnonzero(zrow >= 0)
        R.add(np.r_[np.arange(len(zr)), np.arange(len(zr))], np.r_[ucol0 + zr, J + zrow[zr]],
              np.r_[np.ones(len(zr)), -np.ones(len(zr))], np.full(len(zr), -INF), np.zeros(len(zr)), "cover-z")
    if has_backup:
        backup_rows(R, c, need, G, None if cover_all else J + np.arange(len(need)))
    if c.budget is not None:
        nzc = np.flatnonzero(c.cost > 0)
        R.add(np.zeros(len(nzc), np.int64), nzc, c.cost[nzc], np.array([-INF]), np.array([float(c.budget)]), "budget")
    obj = np.zeros(ncol)
    obj[:J] = objc
    if not cover_all and not stage2:
        obj[ucol0:] = -rw
    if stage2 and cover_at_least is not None and not cover_all:
        R.add(np.zeros(nrow, np.int64), ucol0 + np.arange(nrow), rw, np.array([cover_at_least]), np.array([INF]),
              "coverage")
    M, rlo, rhi = R.matrix(ncol)
    lo = np.zeros(ncol)
    lo[:J] = c.fixed1.astype(float)
    hi = np.ones(ncol)
    hi[:J] = np.where(active | c.fixed1, 1.0, 0.0)
    integer = np.zeros(ncol, bool)
    integer[:ucol0] = True
    names = [f"x_{i}" for i in range(J)] + [f"z_{i}" for i in range(nz_)] + [f"u_{i}" for i in range(nu)]
    row_names = [f"{kind}_{i}" for kind, k in R.kind for i in range(k)]
    ar = Arrays(c=obj, lo=lo, hi=hi, integer=integer, A=M, row_lo=rlo, row_hi=rhi, names=names,
                row_names=row_names, nx=J, nz=nz_, ny=0, ycol0=ncol, scol0=ncol, yq=np.zeros(0, np.int64),
                ys=np.zeros(0, np.int64), z_groups=zgroups, rows_by_kind=dict((kind, k) for kind, k in R.kind))
    return CoverModel(ar=ar, A_cover=A, row_weight=rw[:nrow] if not cover_all else np.zeros(nrow), ucol0=ucol0,
                      dropped_sites=~active, stats=st)


def assign_nearest(c: Compiled, x: np.ndarray) -> tuple[np.ndarray, Arrays]:
    """Whole-person assignment when nothing can bind (`Compiled.uncapacitated`): every group, in every
    scenario, goes whole to its nearest open usable site (shortest binned walk, seconds). For
    max-cover, a group short of its backup requirement (open sites in reach) is left unsheltered.

    Returns (values, arrays) in the layout `make_solution` reads: y columns only.
    """
    openx = x > 0.5
    ok_g = np.ones(c.G, bool)
    if c.objective != "cover-all" and (c.m >= 2).any():
        cnt = np.bincount(c.rg, weights=openx[c.rj].astype(float), minlength=c.G)
        ok_g = cnt >= c.m - 1e-9
    q = np.flatnonzero(openx[c.qj] & ok_g[c.qg])
    walk = group_walk(c)
    q = q[np.lexsort((c.qj[q], walk[q], c.qg[q]))]
    first = q[np.r_[True, c.qg[q][1:] != c.qg[q][:-1]]] if len(q) else q     # nearest open site per group
    Dq = c.D[c.qg[first]]                                                      # (n, S)
    qi, si = np.nonzero(Dq > 0)
    yq = first[qi]
    o = np.lexsort((si, yq))
    yq, ys = yq[o].astype(np.int64), si[o].astype(np.int64)
    y = Dq[qi, si][o].astype(float)
    ny = len(yq)
    ar = Arrays(c=np.zeros(ny), lo=np.zeros(ny), hi=y.copy(), integer=np.ones(ny, bool),
                A=sp.csc_matrix((0, ny)), row_lo=np.zeros(0), row_hi=np.zeros(0), names=[], row_names=[],
                nx=0, nz=0, ny=ny, ycol0=0, scol0=ny, yq=yq, ys=ys, z_groups=np.zeros(0, np.int64),
                ymult=np.ones(ny))
    return y, ar


def cover_start(c: Compiled, cm: CoverModel, x0: np.ndarray) -> np.ndarray:
    """A full column vector of the pure cover model from site choices `x0` (z and u filled in)."""
    ar = cm.ar
    v = np.zeros(ar.A.shape[1])
    v[:c.J] = x0
    if ar.nz:
        cnt = np.bincount(c.rg, weights=x0[c.rj], minlength=c.G)
        v[c.J:c.J + ar.nz] = (cnt[ar.z_groups] >= c.m[ar.z_groups] - 1e-9).astype(float)
    nu = ar.A.shape[1] - cm.ucol0
    if nu:
        u = np.minimum(np.asarray(cm.A_cover @ x0).ravel(), 1.0)
        v[cm.ucol0:] = u
        k = ar.rows_by_kind.get("cover-z", 0)
        if k:
            rows = ar.A.tocsr()[cm.A_cover.shape[0]:cm.A_cover.shape[0] + k]
            ucols = rows[:, cm.ucol0:].tocoo()
            zcols = rows[:, c.J:c.J + ar.nz].tocoo()
            zval = np.zeros(k)
            zval[zcols.row] = v[c.J + zcols.col]
            v[cm.ucol0 + ucols.col] = np.minimum(v[cm.ucol0 + ucols.col], zval[ucols.row])
    return v

