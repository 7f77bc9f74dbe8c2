"""The whole-person assignment LP of fixed sites in independent blocks, kept warm (issue 21).

With the sites (x) fixed, and the backup flags (z) they imply, the assignment LP falls apart: every row that
is left (demand, capacity, door queue, no-swap, corridor, exit-door, expected-share) joins assignment
columns of one scenario only, so each scenario, or each part of the station no row joins to another, is an
LP of its own. `AssignBlocks` builds the assignment arrays once for a set of sites (`base`), splits them into
such blocks (connected components of the rows and the columns other than x and z, packed into at most
`BLOCKS_MAX`), and keeps one HiGHS object per block: an assignment for any subset of `base` is the same
arrays with the other sites' columns fixed to 0 (their assignment columns' upper bounds 0, x and z moved into
the rows' bounds), solved from the block's last basis (HiGHS's simplex without presolve, a few hundred to a
few thousand iterations), the blocks on two threads at once (HiGHS releases the GIL while it solves).

Same optimum as the LP on the subset's own arrays (`assign.assign_fixed`'s cold LP): the subset's rows are
all among `base`'s (a row is only left out of a model when its columns' upper bounds cannot make it bind,
and `base` has the same columns and more), and a row `base` has in addition cannot bind either once the
other sites' columns are 0. Each block's answer is a simplex vertex, so the whole one is a vertex of the
subset's system (whole persons where that system is totally unimodular, as before). Station Unity (three
scenarios, three blocks of about 9,000 rows and 30,000 columns): 0.25 to 0.45 s of CPU per warm assignment
where the whole LP took 1.1 to 2.2 s.
"""

from __future__ import annotations

import os
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from planner.model.arrays import Arrays, build_arrays, fill_penalty_slacks
from planner.model.compile import Compiled, group_walk
from planner.model.highs import HIGHS_STATUS, highs_lp, new_highs
from planner.model.options import SolveOptions
from planner.model.warm import BASIC, LOWER, UPPER, AssignBasis, row_blocks

BLOCKS_MAX = 6
"""At most so many blocks (HiGHS objects) per model: smaller components are packed together."""


_POOL: tuple[int, int, ThreadPoolExecutor] | None = None
_POOL_LOCK = threading.Lock()


def _share(fn: Callable[[_Block], str], blocks: list[_Block], workers: int) -> list[str]:
    """``[fn(b) for b in blocks]``, the blocks taken in order by this thread and `workers` - 1 of the
    process's threads (`_pool`) as each becomes free."""
    if workers <= 1:
        return [fn(b) for b in blocks]
    out: list[str | None] = [None] * len(blocks)
    todo = iter(range(len(blocks)))
    lock = threading.Lock()

    def drain() -> None:
        while True:
            with lock:
                k = next(todo, None)
            if k is None:
                return
            out[k] = fn(blocks[k])

    helpers = [_pool(workers - 1).submit(drain) for _ in range(workers - 1)]
    drain()
    for f in helpers:
        f.result()
    return [str(s) for s in out]


def _pool(workers: int) -> ThreadPoolExecutor:
    """The process's helper threads for the blocks (made once per process and count). Threads made anew for
    every assignment each took a malloc arena of their own: a Station Unity solve peaked at 837 MB (650 MB
    with MALLOC_ARENA_MAX=2); with the calling thread and one kept helper, 645 MB (main without blocks:
    585 MB)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL[0] != os.getpid() or _POOL[1] != workers:
            if _POOL is not None and _POOL[0] == os.getpid():
                _POOL[2].shutdown(wait=False)
            _POOL = (os.getpid(), workers, ThreadPoolExecutor(max_workers=workers, thread_name_prefix="assign"))
        return _POOL[2]


@dataclass
class _Block:
    """One independent part of the assignment LP: its rows and columns (indices into `AssignBlocks.ar`),
    its matrix, and its HiGHS object once solved (None before: the first solve is cold, with presolve)."""

    rows: np.ndarray
    cols: np.ndarray
    A: sp.csc_matrix
    h: Any = None
    seconds: float = 0.0
    iterations: int = 0
    start: tuple[np.ndarray, np.ndarray] | None = None
    """A basis (column and row status codes) for the first solve, from an earlier model (`take`)."""


@dataclass
class BlockRun:
    """One assignment by blocks: the column vector on `AssignBlocks.ar` (None unless every block is optimal),
    the status ("optimal", "infeasible", or the first other status of a block), seconds, whether warm."""

    values: np.ndarray | None
    status: str
    seconds: float
    warm: bool
    iterations: int


def fixed_values(c: Compiled, ar: Arrays, x: np.ndarray) -> np.ndarray:
    """The fixed columns' values (x, then the backup flags z they imply, as `build_arrays(x_fixed=)`)."""
    v = np.zeros(ar.ycol0)
    v[:ar.nx] = x
    if ar.nz:
        cnt = np.bincount(c.rg, weights=x[c.rj], minlength=c.G)
        v[ar.nx:ar.ycol0] = (cnt[ar.z_groups] >= c.m[ar.z_groups] - 1e-9).astype(float)
    return v


class AssignBlocks:
    """The whole-person assignment LP of the sites `base` (0/1 per site of `c`) in independent blocks, each
    with its HiGHS object kept between solves (`solve`: any subset of `base`). `ar`: `base`'s assignment arrays
    when the caller has them already."""

    def __init__(self, c: Compiled, o: SolveOptions, base: np.ndarray, ar: Arrays | None = None) -> None:
        self.c, self.o = c, o
        self.base = np.asarray(base) > 0.5
        if ar is None:
            ar = build_arrays(c, x_fixed=self.base.astype(float), walk_obj=group_walk(c), only_sites=self.base,
                              all_scen=True)
        self.ar = ar
        A = ar.A.tocsc()
        f = ar.ycol0
        self.A_fixed = A[:, :f].tocsr()
        free = A[:, f:].tocoo()
        m, n = A.shape[0], A.shape[1] - f
        graph = sp.coo_matrix((np.ones(free.nnz), (free.row, m + free.col)), shape=(m + n, m + n))
        k, lab = connected_components(graph, directed=False)
        row_lab, col_lab = lab[:m], lab[m:]
        has_col = np.zeros(k, bool)
        has_col[col_lab] = True
        self.fixed_rows = np.flatnonzero(~has_col[row_lab])      # rows of x and z only (a budget row)
        comps = np.flatnonzero(has_col)
        size = np.bincount(col_lab, minlength=k) + np.bincount(row_lab, minlength=k)
        comps = comps[np.argsort(-size[comps], kind="stable")]
        nb = min(len(comps), BLOCKS_MAX)
        pack = np.zeros(k, np.int64)
        load = np.zeros(nb)
        for comp in comps:                                   # largest first, each into the lightest block
            b = int(np.argmin(load))
            pack[comp] = b
            load[b] += size[comp]
        self.blocks: list[_Block] = []
        for b in range(nb):
            rows = np.flatnonzero(has_col[row_lab] & (pack[row_lab] == b))
            cols = f + np.flatnonzero(pack[col_lab] == b)
            self.blocks.append(_Block(rows, cols, A[rows][:, cols].tocsc()))
        self.col_site = np.full(A.shape[1], -1, np.int64)      # site of each assignment column
        self.col_site[ar.ycol0:ar.ycol0 + ar.ny] = c.qj[ar.yq]
        self.solves = 0
        self.taken = 0

    def covers(self, c: Compiled, x: np.ndarray) -> bool:
        """Whether these blocks take the sites `x` (0/1) of the model `c`: the same model, `x` within `base`."""
        return c is self.c and bool(np.all(self.base[np.asarray(x) > 0.5]))

    def solve(self, x: np.ndarray, time_limit: float) -> BlockRun:
        """The assignment LP of the sites `x` (a subset of `base`) on `ar`'s columns, every block from its
        last basis (the first solve of a block cold), the blocks on `o.n_threads` threads."""
        t0 = time.perf_counter()
        ar, open_ = self.ar, np.asarray(x) > 0.5
        xv = fixed_values(self.c, ar, open_.astype(float))
        act = self.A_fixed @ xv
        fr = self.fixed_rows
        if len(fr) and ((act[fr] < ar.row_lo[fr] - 1e-6).any() or (act[fr] > ar.row_hi[fr] + 1e-6).any()):
            return BlockRun(None, "infeasible", time.perf_counter() - t0, False, 0)
        hi = ar.hi.copy()
        closed = (self.col_site >= 0) & ~open_[np.maximum(self.col_site, 0)]
        hi[closed] = 0.0
        row_lo, row_hi = ar.row_lo - act, ar.row_hi - act
        warm = all(b.h is not None for b in self.blocks)
        deadline = t0 + time_limit

        def one(b: _Block) -> str:
            return self._run(b, hi, row_lo, row_hi, max(deadline - time.perf_counter(), 0.5))

        order = sorted(self.blocks, key=lambda b: -b.A.nnz)
        workers = min(max(self.o.n_threads, 1), len(order))
        status = _share(one, order, workers)
        self.solves += 1
        its = sum(b.iterations for b in self.blocks)
        bad = [s for s in status if s != "optimal"]
        if bad:
            for b, s in zip(order, status):
                if s != "optimal" and b.h is not None:
                    b.h.clearSolver()              # no basis from a stopped or infeasible run: cold next time
            st = "infeasible" if "infeasible" in bad else bad[0]
            return BlockRun(None, st, time.perf_counter() - t0, warm, its)
        v = np.zeros(ar.A.shape[1])
        v[:ar.ycol0] = xv
        for b in order:
            v[b.cols] = np.asarray(b.h.getSolution().col_value)
        f = ar.ycol0
        v[f:] = np.clip(v[f:], ar.lo[f:], hi[f:])
        return BlockRun(v, "optimal", time.perf_counter() - t0, warm, its)

    def _run(self, b: _Block, hi: np.ndarray, row_lo: np.ndarray, row_hi: np.ndarray, limit: float) -> str:
        """Solve block `b` under the column upper bounds `hi` and row bounds (HiGHS status, ours)."""
        ar, t = self.ar, time.perf_counter()
        lo_b, hi_b = ar.lo[b.cols], hi[b.cols]
        rlo, rhi = row_lo[b.rows], row_hi[b.rows]
        if b.h is None:
            h = new_highs(self.o.msg)
            h.setOptionValue("output_flag", bool(self.o.msg))
            h.setOptionValue("solver", "simplex")         # a vertex: whole persons on a TU system
            h.setOptionValue("threads", int(self.o.n_threads))
            h.passModel(highs_lp(b.A, ar.c[b.cols], lo_b, hi_b, rlo, rhi))
            if b.start is not None and _set_basis(h, b.start):
                self.taken += 1
            b.start = None
            b.h = h
        else:
            h = b.h
            nc, nr = len(b.cols), len(b.rows)
            h.changeColsBounds(nc, np.arange(nc, dtype=np.int32), lo_b, hi_b)
            if nr:
                inf = highspy.kHighsInf
                h.changeRowsBounds(nr, np.arange(nr, dtype=np.int32), np.where(np.isfinite(rlo), rlo, -inf),
                                   np.where(np.isfinite(rhi), rhi, inf))
        h.setOptionValue("time_limit", float(limit))
        h.run()
        key = str(h.getModelStatus()).split(".")[-1]
        b.seconds += time.perf_counter() - t
        b.iterations = int(h.getInfo().simplex_iteration_count)
        return HIGHS_STATUS.get(key, key)


    def basis(self) -> AssignBasis | None:
        """The blocks' last bases by column and row key (None before any block was solved)."""
        solved = [b for b in self.blocks if b.h is not None]
        if not solved:
            return None
        ck, rk = column_keys(self.c, self.ar), row_keys(self.ar, column_keys(self.c, self.ar))
        cols, cst, rows, rst = [], [], [], []
        for b in solved:
            hb = b.h.getBasis()
            if not hb.valid:
                continue
            cols.append(b.cols)
            cst.append(np.array([int(v) for v in hb.col_status], np.int8))
            rows.append(b.rows)
            rst.append(np.array([int(v) for v in hb.row_status], np.int8))
        if not cols:
            return None
        c_all, r_all = np.concatenate(cols), np.concatenate(rows)
        oc, orr = np.argsort(ck[c_all], kind="stable"), np.argsort(rk[r_all], kind="stable")
        return AssignBasis(tuple(map(str, self.c.site_ids)), self.base.copy(), ck[c_all][oc],
                           np.concatenate(cst)[oc], rk[r_all][orr], np.concatenate(rst)[orr])

    def take(self, w: AssignBasis) -> None:
        """Start every block from `w` (the bases of the same sites under other corridor rows): a column or row
        `w` has keeps its status, a new column (a corridor row's slack) is nonbasic at 0, a new row basic; a
        block whose count of basic variables then differs from its rows is rebalanced as `warm._rebalance`
        does, and starts cold when HiGHS refuses the basis."""
        ck = column_keys(self.c, self.ar)
        rk = row_keys(self.ar, ck)
        for b in self.blocks:
            col = _lookup(w.col_key, w.col_status, ck[b.cols], LOWER)
            row = _lookup(w.row_key, w.row_status, rk[b.rows], BASIC)
            extra = int((col == BASIC).sum() + (row == BASIC).sum()) - len(row)
            if extra > 0:
                hi_f = np.isfinite(self.ar.row_hi[b.rows])
                can = np.flatnonzero((row == BASIC) & (hi_f | np.isfinite(self.ar.row_lo[b.rows])))[-extra:]
                row[can] = np.where(hi_f[can], UPPER, LOWER)
            elif extra < 0:
                row[np.flatnonzero(row != BASIC)[extra:]] = BASIC
            if int((col == BASIC).sum() + (row == BASIC).sum()) == len(row):
                b.start = (col, row)


_STATUS = sorted(highspy.HighsBasisStatus.__members__.values(), key=int)


def _set_basis(h: Any, basis: tuple[np.ndarray, np.ndarray]) -> bool:
    """Hand HiGHS the basis (column and row status codes); whether it took it."""
    hb = highspy.HighsBasis()
    hb.col_status = [_STATUS[v] for v in basis[0].tolist()]
    hb.row_status = [_STATUS[v] for v in basis[1].tolist()]
    hb.valid = True
    return bool(h.setBasis(hb) == highspy.HighsStatus.kOk)


def _lookup(keys: np.ndarray, status: np.ndarray, wanted: np.ndarray, missing: int) -> np.ndarray:
    """The status of each of `wanted` among `keys` (sorted), `missing` where it is not there."""
    if not len(keys):
        return np.full(len(wanted), missing, np.int8)
    pos = np.searchsorted(keys, wanted).clip(max=len(keys) - 1)
    return np.where(keys[pos] == wanted, status[pos], missing).astype(np.int8)


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _hash(v: np.ndarray) -> np.ndarray:
    """splitmix64 of each value (uint64, wrapping)."""
    z = v.astype(np.uint64) + _MIX
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def column_keys(c: Compiled, ar: Arrays) -> np.ndarray:
    """A key per column of `ar` that is the same for the same column of another model of the station (other
    corridor rows, other sites): x and z by index, y by (usable pair, scenario), queue suffixes by chain and
    bin, no-swap slacks by (site, scenario), corridor slacks by cut id; the kind in the low 3 bits."""
    S = len(c.scen)
    key = np.zeros(ar.A.shape[1], np.int64)
    key[:ar.ycol0] = np.arange(ar.ycol0) * 8
    key[ar.ycol0:ar.ycol0 + ar.ny] = (ar.yq.astype(np.int64) * S + ar.ys) * 8 + 1
    ns = ar.vcol0 - ar.scol0
    key[ar.scol0:ar.vcol0] = ar.S_key[:ns].astype(np.int64) * 8 + 2
    key[ar.vcol0:ar.vcol0 + ar.nv] = ar.v_key.astype(np.int64) * 8 + 3
    key[ar.ucol0:ar.ucol0 + ar.nu] = ar.u_cut.astype(np.int64) * 8 + 4
    return key


def row_keys(ar: Arrays, col_key: np.ndarray) -> np.ndarray:
    """A key per row of `ar`: its kind and the keys of its columns other than x and z (a wrapping sum of
    their hashes), so the same row of another model of the station has the same key."""
    blocks = row_blocks(ar)
    kinds = np.repeat(np.array([zlib.crc32(k.encode()) for k, _ in blocks], np.uint64),
                      [n for _, n in blocks]) if blocks else np.zeros(ar.A.shape[0], np.uint64)
    A = ar.A.tocsr()
    h = np.where(A.indices >= ar.ycol0, _hash(col_key[A.indices]), np.uint64(0)).astype(np.uint64)
    cum = np.concatenate([[np.uint64(0)], np.cumsum(h, dtype=np.uint64)])
    sums = cum[A.indptr[1:]] - cum[A.indptr[:-1]]
    return _hash(kinds) + sums


def restrict(c: Compiled, big: Arrays, v_big: np.ndarray, small: Arrays) -> np.ndarray:
    """A column vector of `big` (the assignment arrays of more sites, the others' columns at 0) on the
    columns of `small` (those of a subset of its sites): x and z as `small` fixes them, assignment columns and
    queue suffixes by their keys, the penalty slacks at the least their values allow (`fill_penalty_slacks`,
    as the LP has them: each is charged)."""
    S = len(c.scen)
    out = np.zeros(small.A.shape[1])
    out[:small.ycol0] = small.lo[:small.ycol0]
    big_key = big.yq.astype(np.int64) * S + big.ys
    key = small.yq.astype(np.int64) * S + small.ys
    pos = np.searchsorted(big_key, key).clip(max=max(len(big_key) - 1, 0))
    if len(key) and not np.array_equal(big_key[pos], key):
        raise ValueError("restrict: the smaller model has assignment columns the larger lacks")
    out[small.ycol0:small.ycol0 + small.ny] = v_big[big.ycol0 + pos]
    ns = len(small.S_key)
    if ns:
        o = np.argsort(big.S_key, kind="stable")
        spos = o[np.searchsorted(big.S_key[o], small.S_key).clip(max=len(o) - 1)]
        if not np.array_equal(big.S_key[spos], small.S_key):
            raise ValueError("restrict: the smaller model has queue columns the larger lacks")
        out[small.scol0:small.scol0 + ns] = v_big[big.scol0 + spos]
    fill_penalty_slacks(c, small, out)
    return out


@dataclass
class WarmAssign:
    """The assignments of one solve (`assign.assign_fixed(warm=)`): the blocks of the last set of sites that
    was not within the one before (`AssignBlocks`), and what they did."""

    blocks: AssignBlocks | None = None
    start: AssignBasis | None = None
    """The bases of an earlier solve (the last corridor round's, `Solution.assign_basis`), for the first
    blocks of this one when its sites are among those the bases were built for (`AssignBlocks.take`)."""
    stats: dict[str, float] = field(default_factory=lambda: dict(cold=0, warm=0, fallback=0, taken=0, seconds=0.0))

    def blocks_for(self, c: Compiled, o: SolveOptions, x: np.ndarray, ar: Arrays) -> AssignBlocks:
        """The blocks that take the sites `x` of `c` (`ar`: their arrays): the current ones when they do, else
        new ones (kept): on the sites of `start` and from its bases when `x` is among them (used once), else
        on `x`."""
        if self.blocks is not None and self.blocks.covers(c, x):
            return self.blocks
        w, self.start = self.start, None
        open_ = np.asarray(x) > 0.5
        if w is not None and w.sites == tuple(map(str, c.site_ids)) and bool(np.all(w.base[open_])):
            blocks = AssignBlocks(c, o, w.base, ar if np.array_equal(w.base, open_) else None)
            blocks.take(w)
        else:
            blocks = AssignBlocks(c, o, x, ar)
        self.blocks = blocks
        return blocks
