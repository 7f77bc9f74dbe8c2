"""Searches for large pure cover models: max-cover by LP, core MIP and reduced-cost fixing; cover-all
by solution merging over random covers."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from planner.model.arrays import Arrays
from planner.model.compile import Compiled
from planner.model.highs import Run, highs_version, solve_highspy, with_upper
from planner.model.options import (COVER_ALL_CORE_DUAL, COVER_ALL_CORE_STALE, COVER_ALL_IDLE, COVER_ALL_IDLE_PARALLEL, COVER_ALL_KEEP, COVER_ALL_MERGES,
                                   COVER_ALL_POOL, COVER_ALL_PROOF_OPTIONS, COVER_ALL_SETTLE,
                                   COVER_ALL_PROOF_STEPS,
                                   COVER_ALL_ROUNDS,
                                   COVER_ALL_SLICE_LP, COVER_CORE_SHARE, COVER_HIGHS_OPTIONS,
                                   COVER_LP_OPTIONS, COVER_SEARCH_OPTIONS, SolveOptions, time_left)
from planner.model.constants import INF
from planner.model.coverswap import swap_search
from planner.model.setcover import cover_price, finish_cover, random_covers


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
       time limit: a good plan (the LP support held 43 of the 45 optimal sites, MCLP at 10,000
       rooms; the core's optimum was 8 persons short of the whole model's).
    3. Swaps over every site from the core's plan (`planner.model.coverswap.swap_search`, under a
       second; on that MCLP from the core's 51,434 persons to the optimum's 51,442): value v.
    4. Reduced-cost fixing: any solution with site j open costs at least z + d_j (all terms of
       c x - z = d (x - x_LP) + y (A x - A x_LP) are >= 0 for optimal duals), so a site with
       d_j > v - z cannot be in a plan better than v; it is fixed closed (kept if the plan uses
       it). The whole model's optimum is the reduced model's, and so is any bound.
    5. The reduced MIP from that plan.
    The MIPs of steps 2 and 5 are races of two HiGHS runs with 2 or more threads (`race`; in step 5
    the second without HiGHS's primal heuristics, as the set-cover proofs).
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
    core_run = race(o, with_upper(ar, J, core), max(1.0, COVER_CORE_SHARE * remaining), start_vec, opts)
    seconds += core_run.seconds
    start = core_run.values if core_run.values is not None else start_vec
    t = time.perf_counter()
    swapped = swap_search(ar, J, start) if start is not None else None
    swap = dict(swap_s=round(time.perf_counter() - t, 3))
    if swapped is not None and start is not None and float(ar.c @ swapped) < float(ar.c @ start) - 1e-9:
        swap["swap_objective"] = float(ar.c @ swapped)
        start = swapped
    keep = usable
    if start is not None:
        v = float(ar.c @ start)
        tol = 1e-6 * max(1.0, abs(v))
        keep = usable & ((d[:J] <= v - z + tol) | (start[:J] > 0.5) | fixed)
    stats["cover_search"] = dict(lp_bound=z, lp_s=round(lp.seconds, 3), core_sites=int(core.sum()),
                                 core_objective=float(core_run.objective), core_status=core_run.status,
                                 core_s=round(core_run.seconds, 3), sites_kept=int(keep.sum()),
                                 sites_usable=int(usable.sum()), **swap)
    remaining = time_left(o, t_all, 1.0, INF)
    run = race(o, with_upper(ar, J, keep), remaining, start, opts, COVER_ALL_PROOF_OPTIONS)
    seconds += run.seconds
    if run.values is None and start is not None:   # time limit before the MIP had a plan: the core's
        run.values, run.objective = start, float(ar.c @ start)
        run.status = "time limit"
    if np.isfinite(run.bound):
        run.bound = max(run.bound, z) if np.isfinite(z) else run.bound
    return run, seconds


def race(o: SolveOptions, ar: Arrays, limit: float, start: np.ndarray | None, options: dict[str, Any],
         second: dict[str, Any] | None = None) -> Run:
    """The MIP `ar` within `limit` seconds from `start`. With 2 or more threads, a race: two HiGHS runs at
    once (Python threads; HiGHS releases the GIL), each on half the threads with its own random seed
    (the options' and `_proof_seed`'s next; the second also with the HiGHS options `second` under the
    caller's), the first proof interrupting the other; the better plan and the better bound of the two
    (both valid for `ar`). HiGHS's MIP search uses about one core whatever its thread count, and how
    long it takes to prove an optimum varies by half or more with its random seed."""
    if o.n_threads < 2:
        return solve_highspy(ar, limit, o.gap, o.n_threads, start, o.msg, True, options)
    seed = int(options.get("random_seed", o.seed))
    done = threading.Event()
    runs: list[Run | None] = [None, None]
    errors: list[BaseException] = []

    def one(k: int) -> None:
        try:
            run = solve_highspy(ar, limit, o.gap, max(1, o.n_threads // 2), start, o.msg, True,
                                {**((second or {}) if k else {}), **options, "random_seed": _proof_seed(seed, k)},
                                done.is_set)
            runs[k] = run
            if run.status not in ("time limit", "interrupted", "unproven"):
                done.set()            # proven (or a status that ends the search: the other's is no better)
        except BaseException as exc:  # pragma: no cover - re-raised below
            errors.append(exc)
            done.set()

    workers = [threading.Thread(target=one, args=(k,), daemon=True) for k in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise errors[0]
    done_ = [r for r in runs if r is not None]
    first = next((r for r in done_ if r.status not in ("time limit", "interrupted", "unproven")), None)
    with_plan = [r for r in done_ if r.values is not None]
    best = first if first is not None and (first.status != "optimal" or first.values is not None) else \
        min(with_plan, key=lambda r: r.objective) if with_plan else done_[0]
    bounds = [r.bound for r in done_ if np.isfinite(r.bound)]
    if best.status != "optimal" and bounds:
        best.bound = max(bounds)
        if best.values is not None:
            best.gap = (best.objective - best.bound) / max(abs(best.objective), 1e-9)
            if best.objective - best.bound <= o.gap * max(abs(best.objective), 1e-9):
                best.status = "optimal"
        if best.status == "interrupted":
            best.status = "time limit"
    best.seconds = max(r.seconds for r in done_)
    return best


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
    """The pure cover-all model (set covering) through solution merging and restarted proof attempts;
    (run, HiGHS s).

    HiGHS alone spends most of its time on large set covers *finding* the optimal cover, and even
    given it, *proving* it takes 2.4 s or more than 60 s by HiGHS's random seed (LSCP at 10,000 rooms:
    90 sites, LP bound 87.95; the proof must show that no 89-site cover exists, and some seeds' root
    cuts lift the bound above 89 at once while others branch for a minute). So:
    1. LP relaxation (primal simplex): values and reduced costs, to guide the random covers.
    2. Rounds (the searcher): `COVER_ALL_MERGES` small merges, each a MIP over the union of
       `COVER_ALL_POOL` random covers (`planner.model.setcover`: unions of about 380 sites, plans 1 to
       3 sites above the optimum, 0.1 to 0.5 s each); then a MIP over the union of the plans of the
       newest `COVER_ALL_KEEP` small merges and the best plan.
    3. Proof attempts: the whole MIP from the best plan, without HiGHS's primal heuristics
       (`COVER_ALL_PROOF_OPTIONS`), with a fresh HiGHS seed each time and time limits that grow as
       `COVER_ALL_PROOF_STEPS` (restarts cut the long tail of the proof times);
       a better plan found meanwhile interrupts the attempt and the next starts from it. With two or
       more HiGHS threads a second worker (a Python thread: HiGHS releases the GIL) runs rounds of its
       own until the best plan has outlived `COVER_ALL_SETTLE` rounds begun after it, then makes proof attempts
       alongside the searcher's rounds, each MIP on half the threads; the searcher makes one after
       every `COVER_ALL_IDLE_PARALLEL` rounds of its own in a row that did not improve the best plan, and
       only attempts once the rounds are over.
       Alone (one thread), an attempt follows every round. The first proof ends the search.
    4. The core bound (`_core_bound`; first thing of the prover, or of the searcher alone): the MIP over the
       rows with a positive LP dual only (the LP bound rests on them), every site: a relaxation of the
       whole model, small enough to prove at its root (LSCP at 10,000 rooms: 322 of 2,447 rows, 90 sites
       proven in 0.4 to 1.1 s CPU, where the whole model's proof took 2.4 to more than 15 s by HiGHS
       seed). Its bound is the whole model's; a plan that reaches it is proven at once, whoever finds it.
    Every plan is the whole model's; the bound is the best of the core's and the attempts' (at least the
    LP's). With two workers the plan returned (not its cost) may depend on which worker proved first.
    """

    J = c.J
    lp, fallback = _cover_lp(o, ar, t_all, start_vec, options, "cover_all_search", stats)
    if fallback is not None:
        return fallback
    parallel = o.n_threads >= 2
    m = _Merging(o=o, ar=ar, J=J, t_all=t_all, slice_s=max(2.0, COVER_ALL_SLICE_LP * lp.seconds), options=options,
                 threads=max(1, o.n_threads // 2) if parallel else o.n_threads, seconds=lp.seconds)
    best = _Best(m.cost, start_vec[:J] > 0.5 if start_vec is not None else None,
                 float(options.get("mip_abs_gap", 1e-6)), o.gap)
    attempts: list[dict[str, Any]] = []
    log: list[dict[str, Any]] = []
    core: dict[str, Any] = {}
    if parallel:   # both in new threads: HiGHS's thread pool is per thread, and this one's has o.n_threads
        workers = [threading.Thread(target=_searcher, args=(m, rows, lp, best, attempts, log, False, core),
                                    daemon=True),
                   threading.Thread(target=_prover, args=(m, rows, lp, best, attempts, log, core), daemon=True)]
        for w in workers:
            w.start()
        try:
            for w in workers:
                w.join()
        finally:
            best.done.set()
    else:
        _searcher(m, rows, lp, best, attempts, log, True, core)
    if best.error is not None:
        stats["cover_all_search_error"] = best.error
    stats["cover_all_search"] = dict(lp_bound=float(lp.objective), lp_s=round(lp.seconds, 3), rounds=log,
                                     attempts=attempts, workers=2 if parallel else 1, core=core,
                                     proven_by="core bound" if best.bound_proof else
                                     "attempt" if best.proof is not None else None)
    bound = max(best.bound, float(lp.objective))
    if best.proof is not None:
        run = best.proof
    elif best.plan is not None:
        run = Run(m.vec(best.plan), "optimal" if best.bound_proof else "time limit", best.value, bound,
                  max(best.value - bound, 0.0) / max(abs(best.value), 1e-9), m.seconds, "HiGHS", highs_version())
    else:
        run = Run(None, "time limit", INF, bound, INF, m.seconds, "HiGHS", highs_version())
    if np.isfinite(run.bound):
        run.bound = max(run.bound, bound)
    return run, m.seconds


def _searcher(m: _Merging, rows: tuple[sp.csr_matrix, np.ndarray], lp: Run, best: _Best,
              attempts: list[dict[str, Any]], log: list[dict[str, Any]], alone: bool, core: dict[str, Any]) -> None:
    """The first worker of `cover_all_search`: (alone: the core bound, into `core`,) the rounds, then proof
    attempts until the search ends."""
    try:
        if alone:
            core.update(_core_bound(m, rows, lp, best))
        k, n = _merge_rounds(m, rows, lp, best, attempts, log, alone)
        while not best.done.is_set() and time_left(m.o, m.t_all, 0.0, INF) > 0.5:
            if _attempt(m, best, k, _proof_seed(m.o.seed, 2 * n + (not alone)), attempts, "searcher"):
                break
            k, n = k + 1, n + 1
    finally:
        best.done.set()


def _proof_seed(seed: int, n: int) -> int:
    """HiGHS's random seed for proof attempt `n` (0, 1, ...) of the search seeded `seed`: the seed
    itself first, then others (0 .. 2^31 - 1)."""
    return (int(seed) + 7919 * n) % 2_147_483_647


class _Best:
    """The best plan of `cover_all_search` (shared by its workers, under a lock): the plan, its cost,
    a version counted up at every improvement, the best bound (the core's or any attempt's), the proving
    run, and whether the bound proved the plan (`bound_proof`: its cost within `abs_gap`, or `rel_gap`
    of it, of the bound; HiGHS's own gaps), which ends the search as a proving run does."""

    def __init__(self, cost: np.ndarray, plan: np.ndarray | None, abs_gap: float = 1e-6,
                 rel_gap: float = 0.0) -> None:
        self.lock = threading.Lock()
        self.abs_gap, self.rel_gap = abs_gap, rel_gap
        self.bound_proof = False
        self.cost = cost
        self.plan = plan
        self.value = float(cost @ plan) if plan is not None else INF
        self.version = 0
        self.bound = -INF
        self.proof: Run | None = None
        self.error: str | None = None         # a HiGHS status that ends the search (not a limit)
        self.done = threading.Event()
        self.found = threading.Event()
        self.settled = threading.Event()      # the best plan has outlived `COVER_ALL_SETTLE` rounds begun after it
        self.stale = threading.Event()        # ... and `COVER_ALL_CORE_STALE` rounds
        self.outlived = 0                     # rounds begun after the best plan that ended without a better one
        if plan is not None:
            self.found.set()

    def get(self) -> tuple[np.ndarray | None, float, int]:
        with self.lock:
            return self.plan, self.value, self.version

    def offer(self, plan: np.ndarray) -> bool:
        """Keep `plan` (a cover) if it is cheaper than the best; whether it was."""
        v = float(self.cost @ plan)
        with self.lock:
            if v < self.value - 1e-9:
                self.plan, self.value = plan.copy(), v
                self.version += 1
                self.outlived = 0
                self.found.set()
                self._bound_proves()
                return True
        return False

    def _bound_proves(self) -> None:
        """(Under the lock.) End the search when the bound proves the best plan."""
        if self.plan is not None and self.proves(self.bound, self.value):
            self.bound_proof = self.proof is None
            self.done.set()

    def proves(self, bound: float, value: float | None = None) -> bool:
        """Whether `bound` proves a plan of cost `value` (default: the best plan's) optimal."""
        value = self.value if value is None else value
        return bool(np.isfinite(value) and value - bound <= max(self.abs_gap, self.rel_gap * abs(value)))

    def reaches(self, value: float) -> bool:
        """Whether a plan of cost `value` would be proven by the bound so far."""
        return self.proves(self.bound, value)

    def raise_bound(self, bound: float) -> None:
        """A lower bound on every plan's cost (the core bound)."""
        with self.lock:
            self.bound = max(self.bound, float(bound))
            self._bound_proves()

    def outlive(self, version: int) -> None:
        """A round begun at `version` ended without a better plan."""
        with self.lock:
            if version == self.version and self.plan is not None:
                self.outlived += 1
                if self.outlived >= COVER_ALL_SETTLE:
                    self.settled.set()
                if self.outlived >= COVER_ALL_CORE_STALE:
                    self.stale.set()

    def proved(self, run: Run) -> None:
        with self.lock:
            if np.isfinite(run.bound):
                self.bound = max(self.bound, float(run.bound))
            if run.status == "optimal" and self.proof is None and not self.bound_proof:
                self.proof = run
                self.done.set()
            elif run.status not in ("time limit", "interrupted", "unproven", "optimal"):
                self.error = run.status
                self.done.set()
            else:
                self._bound_proves()


def _core_bound(m: _Merging, rows: tuple[sp.csr_matrix, np.ndarray], lp: Run, best: _Best) -> dict[str, Any]:
    """The core bound of `cover_all_search`: the MIP over the cover rows whose LP dual is positive
    (`COVER_ALL_CORE_DUAL`), every site, from the best plan, within a slice. Any subset of the rows is a
    relaxation of the whole model, so its MIP's bound is a bound of the whole model (raised in `best`);
    on these rows the LP bound is the whole model's (the duals are feasible and sum to it), and what the
    core's integer optimum adds to it is what the whole model's proof has to show. The core's plan is
    offered when it covers every row (then it is optimal), else completed greedily (cost x (1 + reduced
    cost), as the random covers) and offered. Its log entry."""
    assert lp.values is not None and lp.row_dual is not None
    core = np.abs(lp.row_dual) > COVER_ALL_CORE_DUAL
    if best.done.is_set() or not core.any() or core.all():
        return dict(rows=int(core.sum()), skipped=True)
    t = time.perf_counter()
    ar = m.ar
    sub = dataclasses.replace(ar, A=sp.csc_matrix(ar.A[core]), row_lo=ar.row_lo[core], row_hi=ar.row_hi[core],
                              row_names=[nm for nm, k in zip(ar.row_names, core) if k],
                              rows_by_kind={"cover": int(core.sum())}, cover_row=None)
    run = m.mip(sub, m.slice_limit(), None, stop=best.done.is_set, stop_at=lambda _p, d: best.proves(d))
    if np.isfinite(run.bound):
        best.raise_bound(run.bound)
    entry = dict(rows=int(core.sum()), of=int(len(core)), status=run.status, bound=float(run.bound),
                 objective=float(run.objective), s=round(time.perf_counter() - t, 3))
    if run.values is not None and not best.done.is_set():
        A, req = rows
        J = m.J
        x = run.values[:J] > 0.5
        covers = bool((np.asarray(A @ x.astype(np.float64)).ravel() >= req).all())
        usable = ar.hi[:J] > 0.5
        if covers or finish_cover(A, sp.csr_matrix(A.T), cover_price(m.cost, (ar.c - ar.A.T @ lp.row_dual)[:J], usable),
                                  m.cost, req, usable, x, np.random.default_rng(int(m.o.seed)), ar.lo[:J] > 0.5):
            entry.update(covers_all=covers, plan=float(m.cost @ x), improved=best.offer(x))
    return entry


def _attempt(m: _Merging, best: _Best, k: int, seed: int, log: list[dict[str, Any]], who: str) -> bool:
    """Proof attempt `k` of one worker: the whole MIP from the best plan with HiGHS seed `seed`, limited to
    `COVER_ALL_PROOF_STEPS[k]` slices (all the time left when that is less than twice as much);
    interrupted when the search ends or the best plan improves. Whether it proved the optimum."""
    plan, value, version = best.get()
    left = time_left(m.o, m.t_all, 0.0, INF)
    limit = m.slice_s * COVER_ALL_PROOF_STEPS[min(k, len(COVER_ALL_PROOF_STEPS) - 1)]
    limit = left if left < 2 * limit else limit
    run = m.mip(m.ar, limit, plan, seed=seed, stop=lambda: best.done.is_set() or best.version != version,
                extra=COVER_ALL_PROOF_OPTIONS)
    if run.values is not None:
        best.offer(run.values[:m.J] > 0.5)
    log.append(dict(by=who, seed=seed, limit_s=round(limit, 2), start=value, status=run.status,
                    bound=float(run.bound), s=round(run.seconds, 3)))
    best.proved(run)
    return best.proof is not None


def _prover(m: _Merging, rows: tuple[sp.csr_matrix, np.ndarray], lp: Run, best: _Best, log: list[dict[str, Any]],
            rounds: list[dict[str, Any]], core: dict[str, Any]) -> None:
    """The second worker of `cover_all_search`: the core bound (`_core_bound`, into `core`), rounds of its own
    (`_round`, its own random covers, logged in `rounds`; a round is left when the plan settles) until the
    best plan is `_Best.settled` (with a core bound: `_Best.stale`, `COVER_ALL_CORE_STALE`: a plan the core
    bound does not prove is more likely above the optimum than proven by an attempt; LSCP at 10,000 rooms:
    91 sites on a plateau of the rounds while the searcher alone took five more rounds to find 90), then
    proof attempts from the best plan until the search ends; after an improvement the attempts start again
    from the first step and from the search's own seed (`SolveOptions.seed`: its first attempt on every plan
    is the one the search made before the prover existed). An attempt needs a plan that is optimal (LSCP at
    10,000 rooms: 91 sites when the rounds had not yet found 90, a proof attempt of 15 s stopped by the 90
    the searcher found)."""
    try:
        core.update(_core_bound(m, rows, lp, best))
    except BaseException:
        best.done.set()
        raise
    leave = best.stale if np.isfinite(core.get("bound", np.nan)) else best.settled
    rng = np.random.default_rng([int(m.o.seed), 1])
    found: list[np.ndarray] = []
    for _ in range(COVER_ALL_ROUNDS):
        if leave.is_set() or _rounds_over(m, best):
            break
        r = _round(m, rows, lp, best, rng, found, "prover", lambda: best.done.is_set() or leave.is_set())
        if r is None:
            break
        rounds.append(r[0])
        found = r[2]
    while not best.found.wait(0.05):
        if best.done.is_set():
            return
    k = n = 0
    try:
        while not best.done.is_set() and time_left(m.o, m.t_all, 0.0, INF) > 0.5:
            version = best.version
            if _attempt(m, best, k, _proof_seed(m.o.seed, 2 * n), log, "prover"):
                return
            k, n = (0, 0) if best.version != version else (k + 1, n + 1)
    finally:
        best.done.set()


@dataclass
class _Merging:
    """The MIPs of `cover_all_search` on the whole model `ar` (sites: its first `J` columns), each
    limited to `slice_s` seconds and the time left, on `threads` HiGHS threads; `seconds` adds up their
    HiGHS time (of every worker)."""

    o: SolveOptions
    ar: Arrays
    J: int
    t_all: float
    slice_s: float
    options: dict[str, Any]
    threads: int
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

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

    def mip(self, ar: Arrays, limit: float, start: np.ndarray | None, seed: int | None = None,
            stop: Callable[[], bool] | None = None, extra: dict[str, Any] | None = None,
            stop_at: Callable[[float, float], bool] | None = None) -> Run:
        """The MIP `ar` from the site choice `start` (or none) within `limit` seconds; `seed`: HiGHS's
        random seed (else the options'); `stop`, `stop_at`: see `solve_highspy`; `extra`: HiGHS options
        under the search's own (the caller's `highs_options` stay on top)."""
        options = {**(extra or {}), **self.options}
        if seed is not None:
            options["random_seed"] = int(seed)
        run = solve_highspy(ar, limit, self.o.gap, self.threads, self.vec(start) if start is not None else None,
                            self.o.msg, True, options, stop, stop_at)
        with self.lock:
            self.seconds += run.seconds
        return run

    def merge(self, plans: list[np.ndarray], stop: Callable[[], bool] | None = None,
              enough: Callable[[float], bool] | None = None) -> tuple[np.ndarray, int]:
        """The best plan over the union of `plans` (MIP from the cheapest of them), union size; `enough`:
        whether a cost ends the MIP (a plan the search's bound proves)."""
        cost = self.cost
        union = np.any(plans, axis=0)
        first = min(plans, key=lambda x: float(cost @ x))
        sub = self.mip(with_upper(self.ar, self.J, union), self.slice_limit(), first, stop=stop,
                       stop_at=(lambda p, _d: enough(p)) if enough is not None else None)
        plan = sub.values[:self.J] > 0.5 if sub.values is not None else first
        return (plan if cost @ plan <= cost @ first else first), int(union.sum())


def _round(m: _Merging, rows: tuple[sp.csr_matrix, np.ndarray], lp: Run, best: _Best, rng: np.random.Generator,
           found: list[np.ndarray], who: str, stop: Callable[[], bool] | None = None
           ) -> tuple[dict[str, Any], bool, list[np.ndarray]] | None:
    """One round of `cover_all_search`: `COVER_ALL_MERGES` small merges of random covers, then a big merge of
    their plans, the newest `found` before them and the best plan; offered to `best`, which is `settled`
    when `COVER_ALL_SETTLE` rounds (of either worker) begun at its plan have ended without a better one.
    (Log entry, improved, the newest plans), or None when no random cover was found or `stop` (asked
    between the merges and inside them; default: the search ended) said so."""
    A, req = rows
    J, cost = m.J, m.cost
    usable = m.ar.hi[:J] > 0.5
    fixed = m.ar.lo[:J] > 0.5
    assert lp.values is not None and lp.row_dual is not None
    d = (m.ar.c - m.ar.A.T @ lp.row_dual)[:J]
    stop = stop or best.done.is_set
    t = time.perf_counter()
    version = best.version
    plans = []
    for _m in range(COVER_ALL_MERGES):
        if stop():
            return None
        covers = random_covers(A, cost, req, usable, lp.values[:J], d, COVER_ALL_POOL, rng, fixed)
        if covers:
            plans.append(m.merge(covers, stop, best.reaches)[0])
            if best.reaches(float(cost @ plans[-1])):
                best.offer(plans[-1])             # proven by the bound: the search ends
    if not plans or stop():
        return None
    found = (found + plans)[-COVER_ALL_KEEP:]
    plan_, _, _ = best.get()
    plan, size = m.merge(found + ([plan_] if plan_ is not None else []), stop, best.reaches)
    improved = best.offer(plan)
    if not improved:
        best.outlive(version)
    entry = dict(by=who, plans=[float(cost @ x) for x in plans], union_sites=size, merged=float(cost @ plan),
                 merge_s=round(time.perf_counter() - t, 3), improved=improved)
    return entry, improved, found


def _rounds_over(m: _Merging, best: _Best) -> bool:
    """Whether no round should begin: the search ended, or one more slice would pass half the time limit."""
    return best.done.is_set() or time.perf_counter() - m.t_all + m.slice_s > 0.5 * m.o.limit_s


def _merge_rounds(m: _Merging, rows: tuple[sp.csr_matrix, np.ndarray], lp: Run, best: _Best,
                  attempts: list[dict[str, Any]], log: list[dict[str, Any]], alone: bool) -> tuple[int, int]:
    """The rounds of `cover_all_search` (`_round`; logged in `log`), with a proof attempt after every
    `COVER_ALL_IDLE` rounds in a row that did not improve the best plan (`COVER_ALL_IDLE_PARALLEL` when not
    `alone`: the prover makes attempts meanwhile) and, when `alone`, after a round that did. (The next
    attempt's limit step, the searcher's attempts so far.)"""
    rng = np.random.default_rng(m.o.seed)
    found: list[np.ndarray] = []              # plans of the newest small merges
    k = n = 0                                 # this worker's proof attempts: limit step, count
    idle = 0                                  # rounds since the last improvement or attempt
    for _ in range(COVER_ALL_ROUNDS):
        if _rounds_over(m, best):
            break
        r = _round(m, rows, lp, best, rng, found, "searcher")
        if r is None:
            break
        entry, improved, found = r
        log.append(entry)
        idle = 0 if improved else idle + 1
        if improved:
            k = 0
            if not alone:
                continue                      # the prover starts again from it
        elif idle < (COVER_ALL_IDLE if alone else COVER_ALL_IDLE_PARALLEL):
            continue
        idle = 0
        if _attempt(m, best, k, _proof_seed(m.o.seed, 2 * n + (not alone)), attempts, "searcher"):
            break
        k, n = k + 1, n + 1
    return k, n
