"""The solver adapter: HiGHS through highspy (arrays in bulk) and PuLP (HiGHS with a MIP start, CBC)."""

from __future__ import annotations

import ctypes
import dataclasses
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import highspy
import numpy as np
import pulp
import scipy.sparse as sp

from planner.model.arrays import Arrays
from planner.model.options import SolveOptions
from planner.model.constants import INF
from planner.model.warm import LpWarm

# ======================================================================= solvers
HIGHS_STATUS = {"kOptimal": "optimal", "kInfeasible": "infeasible", "kUnboundedOrInfeasible": "infeasible",
           "kTimeLimit": "time limit", "kIterationLimit": "iteration limit", "kInterrupt": "interrupted",
           "kHighsInterrupt": "interrupted", "kSolutionLimit": "solution limit", "kMemoryLimit": "memory limit",
           "kObjectiveBound": "objective bound", "kObjectiveTarget": "objective target"}


def highs_version() -> str:
    """The installed highspy's version (package metadata: creating a `Highs` object to ask would
    print its banner)."""
    try:
        return version("highspy")
    except Exception:  # pragma: no cover - highspy installed without metadata
        h = new_highs()
        return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"


@contextmanager
def stdout_to_devnull() -> Iterator[None]:
    """Point file descriptor 1 (C-level writes included) at /dev/null for the block; a no-op when
    the process has no file descriptor 1 (embedded use)."""
    try:
        sys.stdout.flush()
        saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError):
        yield
        return
    try:
        os.dup2(devnull, 1)
        yield
        try:  # output may sit in the C library's buffer: flush it while it still goes to /dev/null
            ctypes.CDLL(None).fflush(None)
        except Exception:  # pragma: no cover - no C library handle
            pass
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


class HighsFactory:
    """Makes `highspy.Highs` objects. HiGHS prints a two-line banner on standard output when the
    first one of a process is made, whatever its options: unless `msg`, that first construction
    runs with standard output pointed at /dev/null (`stdout_to_devnull`). `started` records
    whether this process has made its first one (the only state, and it is HiGHS's own)."""

    def __init__(self) -> None:
        self.started = False

    def new(self, msg: bool = False) -> highspy.Highs:
        """A new `highspy.Highs()`; its banner (first object of the process) only when `msg`."""
        if self.started or msg:
            self.started = True
            return highspy.Highs()
        with stdout_to_devnull():
            h = highspy.Highs()
        self.started = True
        return h


HIGHS = HighsFactory()
"""The process's `HighsFactory` (every HiGHS object of the planner is made through it)."""


def new_highs(msg: bool = False) -> highspy.Highs:
    """A `highspy.Highs()` object, its banner on standard output only when `msg` (see `HighsFactory`)."""
    return HIGHS.new(msg)


@contextmanager
def highs_threads_reset() -> Iterator[None]:
    """Reset HiGHS's global thread pool before and after the block.

    HiGHS keeps one thread pool per process; a solve asking for a different thread count than the
    first solve of the process fails ("Not Solved"). Resetting around our solves lets them use their
    own count and leaves the next caller free to use its own."""
    _reset_highs()
    try:
        yield
    finally:
        _reset_highs()


def _reset_highs() -> None:
    try:
        highspy.Highs.resetGlobalScheduler(True)
    except Exception:  # older highspy without the call: nothing to reset
        pass


@dataclass
class Run:
    """One solver run: values (None: no solution), status ("optimal", "time limit", "infeasible",
    "unproven", ...), objective and bound (objective units), relative gap, seconds, solver name and
    version, branch-and-bound nodes."""

    values: np.ndarray | None
    status: str
    objective: float
    bound: float
    gap: float
    seconds: float
    name: str
    version: str
    nodes: int = 0
    row_dual: np.ndarray | None = None
    """LP runs: HiGHS's row duals (for `dual_bound`), when it has any."""
    colgen: dict[str, int] | None = None
    """LP runs by column generation: rounds, columns used, of how many, whether warm (`lp_colgen`)."""
    warm: LpWarm | None = None
    """Optimal LP runs by column generation: their column set and basis, for the next solve (`LpWarm`)."""


def dual_bound(ar: Arrays, row_dual: np.ndarray) -> float:
    """A valid lower bound on the LP relaxation of `ar` (hence on the MIP) from ANY row multipliers.

    Lagrangian duality over the box: with multipliers pi (clipped to the signs the row bounds
    allow: pi >= 0 where only a lower bound is finite, pi <= 0 where only an upper one is),
    min c'v s.t. row_lo <= Av <= row_hi, lo <= v <= hi is at least
    sum_i (pi_i row_lo_i if pi_i > 0 else pi_i row_hi_i) + sum_j min(d_j lo_j, d_j hi_j), d = c - A'pi.
    Every column of the planner's models has finite bounds, so this is finite for any pi: a
    simplex or interior-point run stopped by its time limit still proves a bound (objective units).
    """
    pi = np.asarray(row_dual, dtype=float).copy()
    lo_f, hi_f = np.isfinite(ar.row_lo), np.isfinite(ar.row_hi)
    pi[~hi_f] = np.maximum(pi[~hi_f], 0.0)
    pi[~lo_f] = np.minimum(pi[~lo_f], 0.0)
    pi[~lo_f & ~hi_f] = 0.0
    d = ar.c - ar.A.T @ pi
    if not (np.isfinite(ar.lo).all() and np.isfinite(ar.hi).all()):
        return -INF
    rows = np.where(pi > 0, pi * np.where(lo_f, ar.row_lo, 0.0), pi * np.where(hi_f, ar.row_hi, 0.0))
    return float(rows.sum() + np.minimum(d * ar.lo, d * ar.hi).sum())


def highs_lp(A: sp.spmatrix, cost: np.ndarray, col_lo: np.ndarray, col_hi: np.ndarray, row_lo: np.ndarray,
             row_hi: np.ndarray, integer: np.ndarray | None = None) -> Any:
    """A `highspy.HighsLp` of the model `min cost.x, row_lo <= A x <= row_hi, col_lo <= x <= col_hi`
    (infinite bounds may be numpy inf; `integer`: boolean mask of integer columns, None = an LP)."""

    inf = highspy.kHighsInf
    A = A.tocsc()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
    lp.col_cost_ = np.asarray(cost, float)
    lp.col_lower_ = np.where(np.isfinite(col_lo), col_lo, -inf).astype(float)
    lp.col_upper_ = np.where(np.isfinite(col_hi), col_hi, inf).astype(float)
    lp.row_lower_ = np.where(np.isfinite(row_lo), row_lo, -inf).astype(float)
    lp.row_upper_ = np.where(np.isfinite(row_hi), row_hi, inf).astype(float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = A.shape[1], A.shape[0]
    if integer is not None and np.any(integer):
        lp.integrality_ = [highspy.HighsVarType.kInteger if b else highspy.HighsVarType.kContinuous
                           for b in integer]
    return lp


Start = np.ndarray | tuple[np.ndarray, np.ndarray]
"""A MIP start: a value for every column, or (column indices, values) for some of them (HiGHS
completes a partial start by a sub-MIP over the other columns)."""


def solve_highspy(ar: Arrays, time_limit: float, gap: float, threads: int, start: Start | None,
                  msg: bool, mip: bool = True, options: dict[str, Any] | None = None,
                  stop: Callable[[], bool] | None = None,
                  stop_at: Callable[[float, float], bool] | None = None) -> Run:
    """Solve `ar` with HiGHS (arrays in bulk) within `time_limit` seconds to the relative `gap`, with
    `threads` HiGHS threads, from the MIP start `start`; `mip` False: the LP relaxation (simplex);
    `options`: further HiGHS options. `stop`: asked now and then during the solve (HiGHS's interrupt
    callbacks, about once a second or more often); True interrupts it (status "interrupted", the
    plan and bound so far). `stop_at`: the same for a MIP, asked with its primal and dual bound (HiGHS's
    MIP interrupt callback). HiGHS releases the GIL while it solves, so solves in other Python threads
    run alongside."""
    t0 = time.perf_counter()
    h = new_highs(msg)
    h.setOptionValue("output_flag", bool(msg))
    h.setOptionValue("time_limit", float(max(time_limit, 0.5)))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("threads", int(threads))
    if not mip:
        h.setOptionValue("solver", "simplex")  # a vertex: integral on the TU assignment system
    for k, v in (options or {}).items():
        h.setOptionValue(k, v)
    n, mrows = ar.A.shape[1], ar.A.shape[0]
    h.passModel(highs_lp(ar.A, ar.c, ar.lo, ar.hi, ar.row_lo, ar.row_hi, ar.integer if mip else None))
    if stop is not None or stop_at is not None:
        def _interrupt(e: Any) -> None:
            if stop is not None and stop():
                e.interrupt()

        def _mip_interrupt(e: Any) -> None:
            if (stop is not None and stop()) or (stop_at is not None and stop_at(
                    float(e.data_out.mip_primal_bound), float(e.data_out.mip_dual_bound))):
                e.interrupt()
        h.cbMipInterrupt.subscribe(_mip_interrupt)
        h.cbSimplexInterrupt.subscribe(_interrupt)
    if start is not None and mip and isinstance(start, tuple):
        idx, val = start
        h.setSolution(len(idx), np.asarray(idx, dtype=np.int32), np.asarray(val, dtype=np.float64))
    elif start is not None and mip:
        sol = highspy.HighsSolution()
        sol.col_value = list(map(float, start))
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    st = h.getModelStatus()
    name = h.modelStatusToString(st)
    key = str(st).split(".")[-1]
    info = h.getInfo()
    status = HIGHS_STATUS.get(key, name.lower())
    has_sol = info.primal_solution_status == 2 if hasattr(info, "primal_solution_status") else True
    values = np.array(h.getSolution().col_value) if has_sol and len(h.getSolution().col_value) == n else None
    obj = float(info.objective_function_value) if values is not None else INF
    row_dual = None
    if mip and ar.integer.any():
        bound = float(info.mip_dual_bound)
        g = float(info.mip_gap)
        nodes = int(info.mip_node_count)
    else:
        bound, g, nodes = obj, 0.0, 0
        sol_ = h.getSolution()
        if getattr(sol_, "dual_valid", False) and len(sol_.row_dual) == mrows:
            row_dual = np.asarray(sol_.row_dual, dtype=float)
    if status == "optimal":
        g = min(g, gap) if np.isfinite(g) else 0.0
    run = Run(values, status, obj, bound, g, time.perf_counter() - t0, "HiGHS", highs_version(), nodes,
               row_dual)
    if mip and values is not None and ar.integer.any() and not objective_agrees(ar, values, obj):
        run = _misvalued(ar, run, time_limit, gap, threads, start, msg, options, stop, stop_at)
    return run


def objective_agrees(ar: Arrays, values: np.ndarray, reported: float) -> bool:
    """Whether HiGHS's reported objective is the objective of the values it returned."""
    true = float(ar.c @ values)
    return abs(true - reported) <= 1e-6 * max(1.0, abs(true))


def _misvalued(ar: Arrays, run: Run, time_limit: float, gap: float, threads: int, start: Start | None,
               msg: bool, options: dict[str, Any] | None, stop: Callable[[], bool] | None = None,
               stop_at: Callable[[float, float], bool] | None = None) -> Run:
    """HiGHS reported an objective that is not that of the values it returned. Seen with HiGHS 1.16 and
    a MIP start it values in its presolved space ("MIP start solution is feasible in the reduced space"):
    a 91-site set cover start came back as the plan, reported as 89 and "optimal", while 90 sites
    suffice; on the 5-row test instance a start of 11 comes back with the optimum's value 3.
    Its bound cannot be trusted: solve again without the start for the time left; if that fails, the
    plan's own cost with no proven bound."""
    true = float(ar.c @ run.values)
    left = time_limit - run.seconds
    bound, seconds, nodes = -INF, run.seconds, run.nodes
    if start is not None and left > 0.5:
        again = solve_highspy(ar, left, gap, threads, None, msg, True, options, stop, stop_at)
        again.seconds += run.seconds
        if again.values is not None and again.objective <= true + 1e-9:
            return again
        # the start stays the better plan; the second run's bound holds for it
        bound, seconds, nodes = min(again.bound, true), again.seconds, run.nodes + again.nodes
    g = (true - bound) / max(abs(true), 1e-9) if np.isfinite(bound) else INF
    return Run(run.values, "unproven", true, bound, g, seconds, run.name, run.version, nodes)


class HighsWithStart(pulp.HiGHS):
    """PuLP's in-memory HiGHS, handing the variables' initial values to HiGHS as a MIP start
    (PuLP 3.3's adapter has none) and keeping HiGHS's bound, gap and reported objective.

    `start`: hand the start over at all; `binaries_only`: only the binary variables that have an
    initial value (HiGHS completes the partial solution by solving the LP with them fixed); else
    every variable (no value: 0). After the solve, `info` is (MIP dual bound, MIP gap) and
    `reported` HiGHS's objective (checked against the values' by the caller: see `_misvalued`).
    """

    def __init__(self, start: bool = True, binaries_only: bool = False, **kw: Any) -> None:
        super().__init__(**kw)
        self.start = start
        self.binaries_only = binaries_only
        self.info: tuple[float, float] | None = None
        self.reported = INF

    def createAndConfigureSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 - PuLP API
        HIGHS.new()                       # the process's first Highs (and its banner) made quietly
        super().createAndConfigureSolver(lp)

    def callSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 - PuLP API
        if self.start:
            vs = lp.variables()
            if self.binaries_only:
                vs = [v for v in vs if v.cat == pulp.LpBinary and v.varValue is not None]
            if vs:
                idx = np.array([v.index for v in vs], dtype=np.int32)
                vals = np.array([float(v.varValue) if v.varValue is not None else 0.0 for v in vs])
                order = np.argsort(idx)
                try:
                    lp.solverModel.setSolution(len(idx), idx[order], vals[order])
                except Exception:  # pragma: no cover - an older highspy without sparse starts
                    pass
        super().callSolver(lp)
        info = lp.solverModel.getInfo()
        try:
            self.info = (float(info.mip_dual_bound), float(info.mip_gap))
            self.reported = float(info.objective_function_value)
        except Exception:  # pragma: no cover - an older highspy
            self.info = None


def pulp_model(ar: Arrays, mip: bool = True, name: str = "safe_rooms") -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    """The arrays `ar` as a PuLP model: min c'v, row_lo <= A v <= row_hi, lo <= v <= hi, integer
    columns as `LpInteger` when `mip` (columns and rows named by `ar.names`, `ar.row_names`; a row
    with both limits finite and different is two constraints, the lower one suffixed `_lo`).
    Returns (problem, its variables in column order)."""
    prob = pulp.LpProblem(name, pulp.LpMinimize)
    n = ar.A.shape[1]
    vars_ = [prob.add_variable(ar.names[i], lowBound=float(ar.lo[i]),
                               upBound=float(ar.hi[i]) if np.isfinite(ar.hi[i]) else None,
                               cat=pulp.LpInteger if (mip and ar.integer[i]) else pulp.LpContinuous) for i in range(n)]
    nzc = np.flatnonzero(ar.c)
    prob.setObjective(pulp.LpAffineExpression([(vars_[i], float(ar.c[i])) for i in nzc]))
    A = ar.A.tocsr()
    cons = {}
    for r in range(A.shape[0]):
        a, b = A.indptr[r], A.indptr[r + 1]
        expr = pulp.LpAffineExpression([(vars_[k], float(v)) for k, v in zip(A.indices[a:b], A.data[a:b])])
        lo, hi = ar.row_lo[r], ar.row_hi[r]
        nm = ar.row_names[r] if r < len(ar.row_names) else f"r{r}"
        if np.isfinite(lo) and np.isfinite(hi) and lo == hi:
            cons[nm] = pulp.LpConstraint(expr, pulp.LpConstraintEQ, rhs=float(lo))
        else:
            if np.isfinite(hi):
                cons[nm] = pulp.LpConstraint(expr, pulp.LpConstraintLE, rhs=float(hi))
            if np.isfinite(lo):
                cons[nm + "_lo"] = pulp.LpConstraint(expr, pulp.LpConstraintGE, rhs=float(lo))
    prob.extend(cons)
    return prob, vars_


def pulp_solver(solver: str, time_limit: float, gap: float, threads: int, msg: bool, start: bool,
                mip: bool = True, binaries_only: bool = False) -> pulp.LpSolver:
    """A PuLP solver: "cbc" (PuLP's CBC, warm start) or "highs" (`HighsWithStart`); any other name
    PuLP knows (`pulp.listSolvers()`) through `pulp.getSolver` with the time limit (seconds) and
    relative gap where it takes them."""
    if solver == "cbc":
        with warnings.catch_warnings():   # PuLP 3.3 deprecates its bundled CBC (still the one it ships)
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulp\..*")
            return pulp.PULP_CBC_CMD(msg=msg, mip=mip, timeLimit=max(time_limit, 1.0), gapRel=gap,
                                     threads=threads, warmStart=start)
    if solver == "highs":
        return HighsWithStart(start=start, binaries_only=binaries_only, mip=mip, msg=msg,
                              timeLimit=max(time_limit, 0.5), gapRel=gap, threads=threads)
    with warnings.catch_warnings():       # PuLP 3.3 deprecates some of its own solver classes
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulp\..*")
        return pulp.getSolver(solver, msg=msg, timeLimit=max(time_limit, 1.0))


def solve_pulp(ar: Arrays, time_limit: float, gap: float, threads: int, start: np.ndarray | None, msg: bool,
               solver: str, mip: bool = True) -> tuple[Run, float]:
    """Build the same arrays as a PuLP model (`pulp_model`) and solve it with `solver` ("highs",
    "cbc" or another PuLP solver name); (run, seconds to build the model)."""
    tb = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulp\..*")
        prob, vars_ = pulp_model(ar, mip)
    build_s = time.perf_counter() - tb
    t0 = time.perf_counter()
    if start is not None:   # PuLP refuses a start outside the bounds: an LP's 1.0000000000000033 is 1
        for v, val in zip(vars_, np.clip(np.asarray(start, dtype=float), ar.lo, ar.hi)):
            v.setInitialValue(float(val))
    s = pulp_solver(solver, time_limit, gap, threads, msg, start is not None, mip)
    name, version_ = {"cbc": ("CBC", "2.10"), "highs": ("HiGHS (PuLP)", highs_version())}.get(
        solver, (solver, ""))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulp\..*")
        prob.solve(s)
    sec = time.perf_counter() - t0
    st = pulp.LpStatus[prob.status]
    vals = np.array([v.varValue if v.varValue is not None else np.nan for v in vars_])
    ok = prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible) and not np.isnan(vals).any()
    obj = float(pulp.value(prob.objective) or 0.0) if ok else INF
    status = {"Optimal": "optimal" if prob.sol_status == pulp.LpSolutionOptimal else "time limit",
              "Infeasible": "infeasible"}.get(st, st.lower())
    bound, g = obj, 0.0
    if isinstance(s, HighsWithStart) and s.info is not None:
        bound, g = s.info
        if ok and not objective_agrees(ar, vals, s.reported):          # see `_misvalued`: no proof
            status, bound, g = "unproven", -INF, INF
            left = time_limit - (time.perf_counter() - t0)
            if start is not None and left > 0.5:                            # again without the start
                again, _ = solve_pulp(ar, left, gap, threads, None, msg, solver, mip)
                if again.values is not None and again.objective <= obj + 1e-9:
                    again.seconds = time.perf_counter() - t0
                    return again, build_s
    elif status != "optimal":
        bound, g = -INF, INF
    return Run(vals if ok else None, status, obj, bound, g, sec, name, version_), build_s


def integral_objective(ar: Arrays) -> bool:
    """Does every solution have an integer objective value (integer coefficients on the integer
    columns, none on the continuous ones)? Then a bound above incumbent - 1 proves the incumbent."""
    cint, ccon = ar.c[ar.integer], ar.c[~ar.integer]
    return bool(np.all(np.abs(cint - np.round(cint)) <= 1e-9) and np.all(np.abs(ccon) <= 0.0))


def integral_run(run: Run) -> Run:
    """An integral objective: the bound rounded up (a MIP run stopped at bound > incumbent - 1 is proven)."""
    if np.isfinite(run.bound):
        run.bound = float(math.ceil(run.bound - 1e-6))
        if np.isfinite(run.objective):
            run.bound = min(run.bound, run.objective)
            run.gap = max(run.objective - run.bound, 0.0) / max(abs(run.objective), 1e-9)
    return run


def with_upper(ar: Arrays, nx: int, keep: np.ndarray) -> Arrays:
    """`ar` with the site columns outside `keep` fixed to 0 (upper bound 0)."""

    hi = ar.hi.copy()
    hi[:nx] = np.where(keep, hi[:nx], 0.0)
    return dataclasses.replace(ar, hi=hi)


def run_model(ar: Arrays, o: SolveOptions, time_limit: float, start: np.ndarray | None, mip: bool = True,
              defaults: dict[str, Any] | None = None) -> tuple[Run, float]:
    """Solve `ar` as `o` says (highspy, or PuLP for CBC and the PuLP backend) within `time_limit` (s), from
    `start` (a column vector or None); `defaults`: HiGHS options under `o.highs_options`.
    Returns (run, seconds spent building the PuLP model)."""
    if o.solver_name == "cbc" or o.backend == "pulp":
        return solve_pulp(ar, time_limit, o.gap, o.n_threads, start, o.msg, o.solver_name, mip)
    return solve_highspy(ar, time_limit, o.gap, o.n_threads, start, o.msg, mip,
                          {**(defaults or {}), **o.highs_options}), 0.0


