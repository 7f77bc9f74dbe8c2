"""Searches for large pure cover models: max-cover by LP, core MIP and reduced-cost fixing; cover-all
by solution merging over random covers."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from planner.model.arrays import Arrays
from planner.model.compile import Compiled
from planner.model.highs import Run, solve_highspy, with_upper
from planner.model.options import (COVER_ALL_KEEP, COVER_ALL_MERGES, COVER_ALL_POOL, COVER_ALL_ROUNDS,
                                   COVER_ALL_SLICE_LP, COVER_CORE_SHARE, COVER_HIGHS_OPTIONS,
                                   COVER_LP_OPTIONS, COVER_SEARCH_OPTIONS, SolveOptions, time_left)
from planner.model.constants import INF
from planner.model.setcover import random_covers


def _cover_lp(o: SolveOptions, ar: Arrays, t_all: float, start_vec: np.ndarray | None, options: dict[str, Any],
              name: str, stats: dict[str, Any]) -> tuple[Run, tuple[Run, float] | None]:
    """The LP relaxation (primal simplex) that the cover searches start from, and, when it gives no
    optimal values and duals, the plain MIP in its place: (LP run, None) or (LP run, (MIP run, HiGHS s));
    the LP's status is then in `stats[name]`."""
    lp = solve_highspy(ar, time_left(o, t_all, 1.0, INF), 0.0, o.n_threads, None, o.msg, mip=False,
                        options={**COVER_LP_OPTIONS, **o.highs_options})
    if lp.status == "optimal" and lp.values is not None and lp.row_dual is not None:
        return lp, None
    stats[name] = dict(lp_status=lp.status)
    run = solve_highspy(ar, time_left(o, t_all, 1.0, INF), o.gap, o.n_threads, start_vec, o.msg, True, options)
    return lp, (run, lp.seconds + run.seconds)


def cover_search(o: SolveOptions, c: Compiled, ar: Arrays, start_vec: np.ndarray | None, t_all: float,
                  stats: dict[str, Any]) -> tuple[Run, float]:
    """The pure cover model (minimisation form `ar`) solved through its LP relaxation; (run, HiGHS s).

    1. LP relaxation (primal simplex): bound z, reduced costs d = c - A^T y.
    2. Core MIP: only the sites the LP opens at all (and the start plan's), for a share of the
       time limit: a good plan, value v (the LP support held 43 of the 45 optimal sites, MCLP at
       10,000 rooms; the core's optimum was 8 persons short of the whole model's).
    3. Reduced-cost fixing: any solution with site j open costs at least z + d_j (all terms of
       c x - z = d (x - x_LP) + y (A x - A x_LP) are >= 0 for optimal duals), so a site with
       d_j > v - z cannot be in a plan better than the core's; it is fixed closed (kept if the
       core plan uses it). The whole model's optimum is the reduced model's, and so is any bound.
    4. The reduced MIP from the core's plan.
    """
    J = c.J
    usable = ar.hi[:J] > 0.5
    opts = {**COVER_HIGHS_OPTIONS, **COVER_SEARCH_OPTIONS, **({"random_seed": int(o.seed)} if o.seed else {}),
            **o.highs_options}
    lp, fallback = _cover_lp(o, ar, t_all, start_vec, opts, "cover_search", stats)
    if fallback is not None:
        return fallback
    assert lp.values is not None and lp.row_dual is not None       # `_cover_lp`: optimal, with duals
    seconds = lp.seconds
    z = float(lp.objective)
    d = ar.c - ar.A.T @ lp.row_dual
    fixed = ar.lo[:J] > 0.5
    core = usable & ((lp.values[:J] > 1e-9) | fixed)
    if start_vec is not None:
        core |= usable & (start_vec[:J] > 0.5)
    remaining = time_left(o, t_all, 1.0, INF)
    core_run = solve_highspy(with_upper(ar, J, core), max(1.0, COVER_CORE_SHARE * remaining), o.gap,
                              o.n_threads, start_vec, o.msg, True, opts)
    seconds += core_run.seconds
    start = core_run.values if core_run.values is not None else start_vec
    keep = usable
    if start is not None:
        v = float(ar.c @ start)
        tol = 1e-6 * max(1.0, abs(v))
        keep = usable & ((d[:J] <= v - z + tol) | (start[:J] > 0.5) | fixed)
    stats["cover_search"] = dict(lp_bound=z, lp_s=round(lp.seconds, 3), core_sites=int(core.sum()),
                                 core_objective=float(core_run.objective), core_status=core_run.status,
                                 core_s=round(core_run.seconds, 3), sites_kept=int(keep.sum()),
                                 sites_usable=int(usable.sum()))
    remaining = time_left(o, t_all, 1.0, INF)
    run = solve_highspy(with_upper(ar, J, keep), remaining, o.gap, o.n_threads, start, o.msg, True, opts)
    seconds += run.seconds
    if run.values is None and start is not None:   # time limit before the MIP had a plan: the core's
        run.values, run.objective = start, float(ar.c @ start)
        run.status = "time limit"
    if np.isfinite(run.bound):
        run.bound = max(run.bound, z) if np.isfinite(z) else run.bound
    return run, seconds



def cover_all_arrays(ar: Arrays, J: int) -> tuple[sp.csr_matrix, np.ndarray] | None:
    """The cover rows (0/1, sites only) and each row's required count, or None when `ar` is not a
    pure set cover (other columns, rows with an upper limit or coefficients other than 1)."""
    if ar.A.shape[1] != J or ar.nz or ar.A.shape[0] == 0 or not np.isinf(ar.row_hi).all():
        return None
    A = sp.csr_matrix(ar.A)
    if A.nnz == 0 or not (A.data == 1.0).all() or not (ar.row_lo >= 1).all():
        return None
    return A, np.ceil(ar.row_lo - 1e-9)


def cover_all_search(o: SolveOptions, c: Compiled, ar: Arrays, rows: tuple[sp.csr_matrix, np.ndarray],
                      start_vec: np.ndarray | None, t_all: float, options: dict[str, Any],
                      stats: dict[str, Any]) -> tuple[Run, float]:
    """The pure cover-all model (set covering) through solution merging; (run, HiGHS s).

    HiGHS alone spends most of its time on large set covers *finding* the optimal cover (LSCP at
    10,000 rooms: 24 to 88 s by random seed, against 2.4 s to prove it once given). A MIP over the
    union of a few plans is small and quick, and the better the plans the better its optimum:
    1. LP relaxation (primal simplex): values and reduced costs, to guide the random covers.
    2. Rounds: `COVER_ALL_MERGES` small merges, each a MIP over the union of `COVER_ALL_POOL` random
       covers (`planner.model.setcover`; measured: unions of about 380 sites, plans 1 to 3 sites above the
       optimum, 0.1 to 0.5 s each); then a MIP over the union of the plans of the newest
       `COVER_ALL_KEEP` small merges and the best plan; if that improved the best plan, a proof attempt:
       the whole MIP from it. A proof ends the search.
    3. Otherwise the whole MIP from the best plan for the time left.
    Each merge MIP and proof attempt is limited to `COVER_ALL_SLICE_LP` LP times. Every plan is the
    whole model's; the bound is the whole MIP's (at least the LP's).
    """

    J = c.J
    lp, fallback = _cover_lp(o, ar, t_all, start_vec, options, "cover_all_search", stats)
    if fallback is not None:
        return fallback
    m = _Merging(o=o, ar=ar, J=J, t_all=t_all, slice_s=max(2.0, COVER_ALL_SLICE_LP * lp.seconds), options=options,
                 seconds=lp.seconds)
    best = start_vec[:J] > 0.5 if start_vec is not None else None
    run, best, log = _merge_rounds(m, rows, lp, best)
    stats["cover_all_search"] = dict(lp_bound=float(lp.objective), lp_s=round(lp.seconds, 3), rounds=log)
    if run is None or run.status != "optimal":
        last = m.mip(ar, time_left(o, t_all, 1.0, INF), best)
        if last.values is None and best is not None:
            last.values, last.objective = m.vec(best), float(m.cost @ best)
        run = last
    if np.isfinite(run.bound):
        run.bound = max(run.bound, float(lp.objective))
    return run, m.seconds


@dataclass
class _Merging:
    """The MIPs of `cover_all_search` on the whole model `ar` (sites: its first `J` columns), each
    limited to `slice_s` seconds and the time left; `seconds` adds up their HiGHS time."""

    o: SolveOptions
    ar: Arrays
    J: int
    t_all: float
    slice_s: float
    options: dict[str, Any]
    seconds: float = 0.0

    @property
    def cost(self) -> np.ndarray:
        return self.ar.c[:self.J]

    def vec(self, x: np.ndarray) -> np.ndarray:
        """The column vector of the site choice `x`."""
        v = np.zeros(self.ar.A.shape[1])
        v[:self.J] = x
        return v

    def slice_limit(self) -> float:
        return min(self.slice_s, time_left(self.o, self.t_all, 1.0, INF))

    def mip(self, ar: Arrays, limit: float, start: np.ndarray | None) -> Run:
        """The MIP `ar` from the site choice `start` (or none) within `limit` seconds."""
        run = solve_highspy(ar, limit, self.o.gap, self.o.n_threads, self.vec(start) if start is not None else None,
                            self.o.msg, True, self.options)
        self.seconds += run.seconds
        return run

    def merge(self, plans: list[np.ndarray]) -> tuple[np.ndarray, int]:
        """The best plan over the union of `plans` (MIP from the cheapest of them), union size."""
        cost = self.cost
        union = np.any(plans, axis=0)
        first = min(plans, key=lambda x: float(cost @ x))
        sub = self.mip(with_upper(self.ar, self.J, union), self.slice_limit(), first)
        plan = sub.values[:self.J] > 0.5 if sub.values is not None else first
        return (plan if cost @ plan <= cost @ first else first), int(union.sum())


def _merge_rounds(m: _Merging, rows: tuple[sp.csr_matrix, np.ndarray], lp: Run,
                  best: np.ndarray | None) -> tuple[Run | None, np.ndarray | None, list[dict[str, Any]]]:
    """The rounds of `cover_all_search` (small merges of random covers, a big merge, a proof attempt
    when the best plan improved): (the last proof run or None, the best plan, the round log)."""
    A, req = rows
    J, cost = m.J, m.cost
    usable = m.ar.hi[:J] > 0.5
    fixed = m.ar.lo[:J] > 0.5
    assert lp.values is not None and lp.row_dual is not None
    d = (m.ar.c - m.ar.A.T @ lp.row_dual)[:J]
    rng = np.random.default_rng(m.o.seed)
    log: list[dict[str, Any]] = []
    run: Run | None = None
    found: list[np.ndarray] = []              # plans of the newest small merges
    for _ in range(COVER_ALL_ROUNDS):
        if time.perf_counter() - m.t_all + 4 * m.slice_s > 0.5 * m.o.limit_s:
            break
        t = time.perf_counter()
        plans = []
        for _m in range(COVER_ALL_MERGES):
            covers = random_covers(A, cost, req, usable, lp.values[:J], d, COVER_ALL_POOL, rng, fixed)
            if covers:
                plans.append(m.merge(covers)[0])
        if not plans:
            break
        found = (found + plans)[-COVER_ALL_KEEP:]
        plan, size = m.merge(found + ([best] if best is not None else []))
        entry: dict[str, Any] = dict(plans=[float(cost @ x) for x in plans], union_sites=size,
                                     merged=float(cost @ plan), merge_s=round(time.perf_counter() - t, 3))
        log.append(entry)
        if best is not None and cost @ plan >= cost @ best - 1e-9:
            continue                      # no better plan than the one a proof attempt already failed on
        best = plan
        run = m.mip(m.ar, m.slice_limit(), best)
        entry.update(proof_status=run.status, proof_s=round(run.seconds, 3))
        if run.values is not None and m.ar.c @ run.values < cost @ best - 1e-9:
            best = run.values[:J] > 0.5
        if run.status == "optimal":
            break
    return run, best, log
