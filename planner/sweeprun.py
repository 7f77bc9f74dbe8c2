"""Running a sweep's budget solves (`planner.sweep`): one budget (`solve_budget`), a run of budgets one after
the other from each other's LP basis (a warm chain), on a local process pool or a Dask cluster, with the
cache of solved budgets (`_Cache`, `.cache/whatif`). Budgets in currency, times in seconds."""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import pickle
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from planner import __version__
from planner.corridorrounds import limits_of
from planner.errors import InfeasibleError, InputError, SolverError
from planner.jsoncache import JsonCache
from planner.margins import margin_table
from planner.model.highs import highs_threads_reset
from planner.model.warm import LpWarm
from planner.pipeline import ModelInputs, plan_station
from planner.progress import bar, log
from planner.station import Station

if TYPE_CHECKING:
    from planner.network import ReachTable

# ------------------------------------------------------------------ solving one budget
_SOLVE_LOCK = threading.Lock()


def _station_for(station: Station, spec: dict) -> Station:
    """A shallow copy of the station whose parameters carry the spec's budget/objective/limits."""
    threads = int(spec.get("threads") or 1)
    p = station.params.replace(budget=spec["budget"], objective=spec["objective"], threads=threads,
                               time_limit_s=float(spec["time_limit_s"]))
    if spec.get("corridor_rounds") is not None:
        p = p.replace(corridor_rounds=int(spec["corridor_rounds"]))
    return dataclasses.replace(station, params=p)


def solve_budget(station: Station, reach: ReachTable, spec: dict, inputs: ModelInputs | None = None,
                 warm: LpWarm | None = None, keep_warm: bool = False, warm_branch: bool = False) -> dict:
    """Solve one sweep task; `spec`: budget (currency or None), objective, start (site ids or None),
    time_limit_s (s), check (bool), corridor_limits (plan.json `solver.corridor.limits` rows: corridor rows
    known before the first solve, or None), corridor_rounds (the station's `corridor_rounds` when None),
    estimate (False: plans without `predicted_s`, `pipeline.finish_plan`; default True). `inputs`: `pipeline.model_inputs_for` the station, reach table and
    the spec's margins, made once for every budget (None: built here); `warm`: an LP basis to start from
    (`solve_chain`). Returns a dict: spec fields, plan (plan.json dict), chosen, seconds (wall time), error
    (text or None); with `keep_warm` also warm (the LP basis of the plan's first solve, before its corridor
    rounds, or None), for the next budget. `warm_branch`: `plan_station`'s (branch after the warm LP when the start
    plan is outside the gap: a chain's first budget)."""
    t0 = time.perf_counter()
    st = _station_for(station, spec)
    out = {k: spec[k] for k in ("budget", "objective", "start_from", "round")}
    margins = margin_table(spec["margins"], "sweep margins") if spec.get("margins") else None
    try:
        with highs_threads_reset():
            run = plan_station(st, fallback_max_cover=True, reach=reach, start=spec.get("start"),
                               check=bool(spec.get("check", False)), phases=False, margins=margins, inputs=inputs,
                               corridor_limits=limits_of(spec.get("corridor_limits")),
                               estimate=bool(spec.get("estimate", True)), warm=warm, warm_branch=warm_branch)
    except (InfeasibleError, SolverError) as exc:  # no plan: the caller decides (retry, carry, report)
        out.update(plan=None, chosen=None, seconds=time.perf_counter() - t0, error=str(exc))
        return out
    out.update(plan=run.plan, chosen=sorted(str(s) for s in run.solution.chosen),
               seconds=time.perf_counter() - t0, error=None)
    if keep_warm:   # the first solve's: the next budget's first solve has the same rows (its rounds add others)
        out["warm"] = run.first_warm if run.first_warm is not None else run.solution.warm
    return out


def solve_chain(station: Station, reach: ReachTable, specs: list[dict], inputs: ModelInputs | None = None,
                head: LpWarm | None = None) -> list[dict]:
    """Solve a run of budgets one after the other (`specs` in increasing budget), each from the LP basis of the
    budget before it (a budget changes one row's bound, so the basis fits and the LP takes about a second
    where it takes 10-20 s cold on Station Unity); the first, cold, within `spec["chain_first_s"]` seconds (its
    LP must finish for the others to start from it). Returns `solve_budget`'s results in `specs` order, each
    with its first solve's basis (`warm`, or None; `_Cache` does not keep it). `head`: a basis for the first
    budget (the what-if sheet's nearest, `planner.reuse.nearest_sheet_basis`; it still has `chain_first_s`)."""
    warm: LpWarm | None = head
    out = []
    for n, spec in enumerate(specs):
        first = n == 0 or warm is None
        run_spec = dict(spec, time_limit_s=max(float(spec["time_limit_s"]), float(spec.get("chain_first_s") or 0.0))) \
            if first else spec
        res = solve_budget(station, reach, run_spec, inputs, warm=warm, keep_warm=True, warm_branch=first)
        warm = res.get("warm") or warm
        out.append(res)
    return out


CHAIN_STEEPNESS = 17.0
"""How much more a budget at the top of a sweep costs to solve than one near nothing (`budget_work`): Station
Unity's 12-budget sweep (quiet, 2026-12-07) took 3.2 to 4.4 s per warm budget up to half the full-cover cost
and 8, 12, 21, 28 and 51 s at 55, 64, 73, 82 and 91 % of it (its corridor rounds), about
3.5 s x (1 + 17 f^4) at the share f of the sweep's largest budget."""


def budget_work(budgets: list[float] | np.ndarray, rounds: bool = True) -> np.ndarray:
    """Expected relative work of solving each budget (currency) of a sweep: with corridor rounds (`rounds`)
    1 + `CHAIN_STEEPNESS` x f^4, f the budget's share of the largest; without them 1 each (the what-if sheet's
    budgets, `corridor_rounds=0`: equal counts gave Station Unity's 5 two chains of 31 and 33 s). A unitless
    weight; only ratios matter."""
    b = np.maximum(np.asarray(budgets, dtype=float), 0.0)
    top = b.max(initial=0.0)
    f = b / top if top > 0 and rounds else np.zeros_like(b)
    return 1.0 + CHAIN_STEEPNESS * f ** 4


def chain_parts(budgets: list[float], k: int, rounds: bool = True) -> list[np.ndarray]:
    """The indices of `budgets` (increasing) split into at most `k` contiguous, non-empty runs whose largest total
    `budget_work` (`rounds`: whether the budgets run corridor rounds) is least (the chains of
    `_Runner._run_chains`, one per worker; the wall time of a sweep is its slowest chain's). Equal counts, as
    before, gave Station Unity's 11 budgets two chains of 44 and 120 s. Exact: the linear-partition recurrence
    over the prefix sums (k and the budgets are a few dozen at most), with the fewest runs that reach the least.
    Without rounds: equal counts (`numpy.array_split`, the earlier runs one longer), as before."""
    n = len(budgets)
    k = max(1, min(int(k), n))
    if n == 0:
        return []
    if not rounds:
        return [p for p in np.array_split(np.arange(n), k) if len(p)]
    cum = np.r_[0.0, np.cumsum(budget_work(budgets, rounds))]
    # best[j, i]: least largest part of budgets[:i] in j + 1 runs; cut[j, i]: where its last run starts
    best = np.full((k, n + 1), np.inf)
    cut = np.zeros((k, n + 1), dtype=np.int64)
    best[0, 1:] = cum[1:]
    for j in range(1, k):
        for i in range(j + 1, n + 1):
            starts = np.arange(j, i)                         # the last run is budgets[s:i]
            worst = np.maximum(best[j - 1, starts], cum[i] - cum[starts])
            at = int(np.argmin(worst))
            best[j, i], cut[j, i] = worst[at], starts[at]
    j = int(np.argmin(best[:, n]))                           # fewer runs when more cannot help
    bounds, i = [n], n
    while j > 0:
        i = int(cut[j, i])
        bounds.append(i)
        j -= 1
    bounds.append(0)
    bounds.reverse()
    return [np.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


CHAIN_HEAD_WORK = 1.0
"""Expected extra work of a chain's first budget (`budget_work` units, one a warm budget's solve, 3 to 4 s on
Station Unity): its LP starts from the what-if sheet's basis or cold, not from the budget below, and HiGHS may
branch after it (`solve_chain`). What a chain of its own costs (`chain_queue`)."""


def lpt_span(loads: list[float] | np.ndarray, workers: int) -> float:
    """Wall time (the loads' units) of `loads` run on `workers` workers that each take the next load, in the
    order given, when they are free: the largest of the workers' sums (longest first, this is LPT)."""
    finish = np.zeros(max(1, int(workers)))
    for load in loads:
        finish[int(np.argmin(finish))] += float(load)
    return float(finish.max())


def chain_queue(budgets: list[float], workers: int, rounds: bool = True, head: float = CHAIN_HEAD_WORK
                ) -> list[np.ndarray]:
    """The indices of `budgets` (increasing) split into contiguous warm chains for a pool of `workers` that
    takes the next chain whenever one is done (`_Runner._run_chains` submits them longest first). More chains
    than workers when that is expected to end sooner: each chain costs `head` more (its first budget's LP
    starts from the what-if sheet's basis or cold), but a budget near full cover whose corridor rounds take
    most of a sweep (Station Unity, 2026-12-07: 68 and 88 s against 2 to 10 s for each budget below) then
    starts at once on a worker of its own while the other works through the rest. For each number of chains
    m from `workers` to the number of budgets, `chain_parts(budgets, m)` (its heaviest chain lightest) run
    longest first (`lpt_span`); the m with the least expected wall time wins, the fewest chains on a tie.
    Without corridor rounds (`rounds` False): `chain_parts`' equal counts, one chain per worker, as before.
    Deterministic: each budget's warm start depends on its chain only, never on which worker ends first."""
    n = len(budgets)
    k = max(1, min(int(workers), n)) if n else 1
    if n == 0 or not rounds:
        return chain_parts(budgets, k, rounds)
    w = budget_work(budgets, rounds)
    best: tuple[float, list[np.ndarray]] | None = None
    for m in range(k, n + 1):
        parts = chain_parts(budgets, m, rounds)
        span = lpt_span(sorted((float(w[p].sum()) + head for p in parts), reverse=True), k)
        if best is None or span < best[0] * (1 - 1e-9):
            best = (span, parts)
    assert best is not None
    return best[1]


def _chain_task(payload: bytes, specs: list[dict], head: LpWarm | None = None) -> list[dict]:
    """A local pool worker's warm chain (`solve_chain`), the inputs pickled once as for `_pool_task`."""
    station, reach, inputs = pickle.loads(payload)
    return solve_chain(station, reach, specs, inputs, head)


def _pool_task(payload: bytes, spec: dict) -> dict:
    """A local pool worker's task: the station, reach table and model inputs arrive pickled once by
    the caller (the same bytes for every task), so the worker keeps no state between tasks."""
    station, reach, inputs = pickle.loads(payload)
    return solve_budget(station, reach, spec, inputs)


def _dask_task(station: Station, reach: ReachTable, spec: dict, inputs: ModelInputs | None = None) -> dict:
    with _SOLVE_LOCK:  # a Dask worker may run several tasks in threads: one HiGHS solve at a time
        return solve_budget(station, reach, spec, inputs)


def whatif_cache_dir(reach_cache_dir: str | Path | None) -> Path | None:
    """The cache of solved budgets beside the reach-table cache (`.cache/reach` -> `.cache/whatif`);
    None: no cache."""
    return None if reach_cache_dir is None else Path(reach_cache_dir).parent / "whatif"


class _Cache:
    """Solved budgets (`solve_budget` results: plan.json dicts, chosen site ids; JSON, data only) in
    a folder, keyed by the SHA-256 of the station's input files, its parameters as the solve sees
    them (budget, objective, time limit, ...), the start, the margins and the planner's version: a
    budget solved before on the same inputs is read back instead of solved again (`propose` twice,
    `propose` then `sweep` over the same grid). Only stations read from files are cached (in-memory
    ones have no inputs hash); unreadable entries are solved again."""

    def __init__(self, station: Station, folder: str | Path | None) -> None:
        self.store = JsonCache(folder if station.files else None, "what-if")
        self.inputs = station.inputs_sha256() if self.store.folder is not None else ""
        self.station = station

    def key(self, spec: dict) -> str:
        st = _station_for(self.station, spec)
        return JsonCache.key({"inputs": self.inputs, "parameters": dataclasses.asdict(st.params), "version": __version__,
                              "spec": {k: spec.get(k) for k in ("budget", "objective", "start", "time_limit_s",
                                                                "check", "margins", "corridor_limits",
                                                                "estimate", "chain")}})

    def get(self, spec: dict) -> dict | None:
        if self.store.folder is None:
            return None
        res = self.store.get(self.key(spec))
        solved = isinstance(res, dict) and isinstance(res.get("plan"), dict) and isinstance(res.get("chosen"), list)
        failed = isinstance(res, dict) and res.get("plan") is None and isinstance(res.get("error"), str)
        if not (solved or failed):
            return None
        assert isinstance(res, dict)
        res.update({k: spec[k] for k in ("budget", "objective", "start_from", "round")}, cached=True)
        return res

    def put(self, spec: dict, res: dict) -> None:
        """Keep a solved budget, and one without a plan in its time (its error): a second run on the same
        inputs then warm-starts it from its neighbour as the first did (issue 21)."""
        if self.store.folder is None or (res.get("plan") is None and not isinstance(res.get("error"), str)):
            return
        self.store.put(self.key(spec), {k: v for k, v in res.items() if k != "warm"})   # (JSON: no LP basis)


class _Runner:
    """Runs lists of specs on a local process pool or a Dask cluster; results in spec order (a spec
    solved before on the same inputs comes from `cache`, without a solve)."""

    def __init__(self, station: Station, reach: ReachTable, workers: int | None, scheduler: str | None,
                 cache: _Cache | None = None, inputs: ModelInputs | Callable[[], ModelInputs] | None = None,
                 heads: Callable[[float], LpWarm | None] | None = None) -> None:
        self.station, self.reach = station, reach
        self.heads = heads   # a warm chain's first basis by its first budget (currency), or None
        self._inputs = inputs      # (a function: made on the first solve; budgets all cached need none)
        self.workers, self.scheduler = workers, scheduler
        self.cache = cache
        self._pool: ProcessPoolExecutor | None = None
        self._client: Any = None  # a dask.distributed Client (optional dependency)
        self._remote: tuple[Any, Any, Any] | None = None
        self._payload: bytes | None = None  # the station and reach table, pickled once for the pool

    def __enter__(self) -> "_Runner":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._client is not None:
            self._client.close()

    def _n_workers(self, n_tasks: int) -> int:
        w = self.workers if self.workers else min(4, os.cpu_count() or 1)
        return max(1, min(int(w), n_tasks))

    def run(self, specs: list[dict], desc: str) -> list[dict]:
        if not specs:
            return []
        if self.cache is None:
            return self._solve(specs, desc)
        known = [self.cache.get(s) for s in specs]
        todo = [s for s, k in zip(specs, known) if k is None]
        if len(todo) < len(specs):
            log(f"[planner]   {len(specs) - len(todo)} of {len(specs)} {desc} read from the what-if cache")
        solved = iter(self._solve(todo, desc) if todo else [])
        out = []
        for s, k in zip(specs, known):
            if k is None:
                k = next(solved)
                self.cache.put(s, k)
            out.append(k)
        return out

    @property
    def inputs(self) -> ModelInputs | None:
        if callable(self._inputs):
            self._inputs = self._inputs()
        return self._inputs

    def _solve(self, specs: list[dict], desc: str) -> list[dict]:
        if self.scheduler:
            return self._run_dask(specs, desc)
        if all(s.get("chain") for s in specs):
            return self._run_chains(specs, desc)
        if self._n_workers(len(specs)) == 1 and self._pool is None:
            return [solve_budget(self.station, self.reach, s, self.inputs) for s in bar(specs, desc, len(specs))]
        if self._pool is None:
            # spawn: the parent may hold solver threads; forking those is unsafe
            self._pool = ProcessPoolExecutor(max_workers=self._n_workers(len(specs)),
                                             mp_context=mp.get_context("spawn"))
        if self._payload is None:
            self._payload = pickle.dumps((self.station, self.reach, self.inputs), protocol=pickle.HIGHEST_PROTOCOL)
        futs = {self._pool.submit(_pool_task, self._payload, s): i for i, s in enumerate(specs)}
        out: list[dict | None] = [None] * len(specs)
        for f in bar(as_completed(futs), desc, len(futs)):
            out[futs[f]] = f.result()
        return out  # type: ignore[return-value]

    def _run_chains(self, specs: list[dict], desc: str) -> list[dict]:
        """`specs` (increasing budgets) as contiguous warm chains (`chain_queue`: one per worker, or more when a
        budget's expected work is most of the sweep's), submitted longest first to a pool of the workers."""
        k = self._n_workers(len(specs))
        rounds = any(s.get("corridor_rounds") is None or int(s["corridor_rounds"]) > 0 for s in specs)
        budgets = [float(s["budget"] or 0.0) for s in specs]
        parts = chain_queue(budgets, k, rounds=rounds)
        chains = [[specs[i] for i in part] for part in parts]
        heads = [self.heads(float(ch[0]["budget"])) if self.heads is not None else None for ch in chains]
        if len(chains) == 1 and self._pool is None:
            return solve_chain(self.station, self.reach, chains[0], self.inputs, heads[0])
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=min(k, len(chains)), mp_context=mp.get_context("spawn"))
        if self._payload is None:
            self._payload = pickle.dumps((self.station, self.reach, self.inputs), protocol=pickle.HIGHEST_PROTOCOL)
        work = budget_work(budgets, rounds)
        order = sorted(range(len(chains)), key=lambda n: -float(work[parts[n]].sum()))   # longest first (stable)
        futs = {self._pool.submit(_chain_task, self._payload, chains[n], heads[n]): n for n in order}
        done: list[list[dict]] = [[] for _ in chains]
        for f in bar(as_completed(futs), desc, len(futs)):
            done[futs[f]] = f.result()
        return [r for part in done for r in part]

    def _run_dask(self, specs: list[dict], desc: str) -> list[dict]:
        try:
            from dask.distributed import Client, as_completed as das_completed
        except ImportError:
            raise InputError("--scheduler", str(self.scheduler), "needs dask.distributed, which is not installed",
                             'pip install "safe-room-planner[dask]" (or drop --scheduler for a local pool)') from None
        if self._client is None:
            try:
                self._client = Client(self.scheduler, timeout="30s")
            except OSError as exc:
                raise InputError("--scheduler", str(self.scheduler), f"cannot be reached ({exc})",
                                 "start the scheduler (dask scheduler) or give its tcp://HOST:PORT") from None
            st, rc, mi = self._client.scatter([self.station, self.reach, self.inputs], broadcast=True)
            self._remote = (st, rc, mi)
        assert self._remote is not None
        st, rc, mi = self._remote
        futs = [self._client.submit(_dask_task, st, rc, s, mi, pure=False) for s in specs]
        index = {f.key: i for i, f in enumerate(futs)}
        out: list[dict | None] = [None] * len(specs)
        for f in bar(das_completed(futs), desc, len(futs)):
            out[index[f.key]] = f.result()
        return out  # type: ignore[return-value]
