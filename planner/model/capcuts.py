"""Cover-all by capacity cuts: a MIP over the sites alone, its plans checked by maximum flows.

Where the cost of a cover-all plan is driven by capacity (and door queues), its LP relaxation opens
one or two sites a little (a few persons' worth) and every plan must pay for whole sites: measured on
the generated 300-room stations, the LP bound stays about 1 % below the plans and HiGHS's root cuts do
not move it. The integer capacity knapsack moves it: every plan's sites satisfy, per scenario s,

    sum_j h_js x_j >= D_s            (h_js: the most persons site j can hold in scenario s)

and the cheapest 0/1 x with those rows (a MIP over the sites alone, solved in a fraction of a second)
is a lower bound on every plan's cost (`planner.model.lagrange.site_limits` gives h). Its plan need not
fit everyone; a maximum flow over the plan's capacity and door-queue network (`shelter_flow`) says
whether it does and, if not, its minimum cut names rooms whose residents can only go to the sites in
their reach (a Hall condition): the row sum_j h_kj x_j >= D_k of that part k holds for every plan and
cuts the master's plan off. Rounds of master and flow end when the master's plan fits everyone (then
it is a plan, within the master's gap of the bound), when no new row comes, or at the time limit; the
bound of every round's master holds (each master is a relaxation).

The no-swap rule (`Compiled.swap_rule`: a converted room's own residents do not leave while others come
in) is held hard here (`swap_left`), so the bound is one on the cost of every plan that pays no swap
penalty, and the plan pays none: the planner reports a cover-all plan's bound as one on the cost of every
plan with no more penalty than it (docs/model.md), which this is when the plan's penalty is 0.
Backup rows (`sum_j x_j >= m_g` over the sites in reach) are part of the master. Models with corridor,
exit-door or expected-share rows, or a budget, are not solved here (`applies`).

Units: currency (costs, bounds), persons, seconds.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from planner.model.compile import Compiled
from planner.model.highs import highs_lp, new_highs
from planner.model.lagrange import hall_cuts, residual_demand, shelter_flow, site_limits, swap_left


@dataclass
class CutResult:
    """The outcome of `capacity_cuts`: a plan that shelters everyone by the flows (0/1 over the sites;
    None if the rounds ended without one) and its cost (the master's objective: currency), the best master
    bound (the same units: on every cover-all plan that keeps the no-swap rule; -inf if no master finished),
    rounds,
    rows of the last master, seconds, and why the rounds ended ("fits", "no new row", "stalled", "time",
    "infeasible")."""

    x: np.ndarray | None
    cost: float
    bound: float
    rounds: int
    rows: int
    seconds: float
    ended: str
    history: list[tuple[float, float, int]] = field(default_factory=list)
    """Per round: (master objective, master bound, persons its plan leaves without a place)."""

    def proven(self, gap: float) -> bool:
        """Whether the plan is within the relative `gap` of the bound."""
        return self.x is not None and self.cost - self.bound <= gap * max(abs(self.cost), 1e-9)


def applies(c: Compiled) -> bool:
    """Whether `capacity_cuts` describes the model `c` (cover-all, no budget, and no corridor, exit-door
    or expected-share rows, which the flows do not know)."""
    return (c.objective == "cover-all" and c.budget is None and c.G > 0 and c.J > 0 and not len(c.cut_id)
            and not len(c.exit_id) and not c.share)


def master_rows(c: Compiled, parts: list[tuple[int, np.ndarray]], left: np.ndarray | None
                ) -> tuple[sp.csr_matrix, np.ndarray]:
    """The master's rows over the sites: per scenario with residents the knapsack of everyone and one
    row per part of that scenario (`site_limits`, persons), then the backup rows (groups needing
    `m_g >= 2` sites in reach). Returns (matrix (rows, J), lower bounds)."""
    rows: list[sp.csr_matrix] = []
    lo: list[float] = []
    for s in range(len(c.scen)):
        mine = [g for ss, g in parts if ss == s]
        if c.D[:, s].sum() > 0:
            mine = [np.arange(c.G)] + mine
        if not mine:
            continue
        rows.append(site_limits(c, mine, s, left))
        lo.extend(float(c.D[g, s].sum()) for g in mine)
    need = np.flatnonzero(c.m >= 2)
    if len(need):
        sel = np.isin(c.rg, need)
        gmap = np.full(c.G, -1, np.int64)
        gmap[need] = np.arange(len(need))
        B = sp.csr_matrix((np.ones(int(sel.sum())), (gmap[c.rg[sel]], c.rj[sel])), shape=(len(need), c.J))
        B.data[:] = 1.0                      # a site counted once however many pairs reach it
        rows.append(B)
        lo.extend(c.m[need].astype(float))
    if not rows:
        return sp.csr_matrix((0, c.J)), np.zeros(0)
    A, lo_ = sp.vstack(rows).tocsr(), np.asarray(lo, float)
    return _with_counts(A, lo_)


def _with_counts(A: sp.csr_matrix, lo: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """The rows `A x >= lo` (non-negative coefficients, x 0/1) and, per row, its count row: at least k of
    its sites, k the fewest whose largest coefficients reach `lo` (a cover of the knapsack: fewer sites
    cannot meet the row). Valid for every 0/1 x; measured, they let HiGHS close the site MIP at its root
    (generated 300-room station, seed 3: 5 masters in 0.3 s instead of 4.3 s, 1 node instead of 177 to
    413). Rows whose count is 1 or that are counts already (coefficients all 1) get none."""
    A = A.tocsr()
    n = np.diff(A.indptr)
    row = np.repeat(np.arange(A.shape[0]), n)
    # coefficients of each row in descending order: sort by (row, -value)
    order = np.lexsort((-A.data, row))
    vals = A.data[order]
    csum = np.cumsum(vals)
    start = np.r_[0, np.cumsum(n)[:-1]]
    within = csum - np.repeat(np.r_[0.0, csum][start], n)        # prefix sums inside each row
    reach = within >= np.repeat(lo, n) - 1e-9
    first = np.full(A.shape[0], -1, np.int64)
    hit = np.flatnonzero(reach)
    # the first position in each row where the prefix sum reaches lo (positions are row-ordered)
    rr = row[order][hit]
    uniq, idx = np.unique(rr, return_index=True)
    first[uniq] = hit[idx] - start[uniq]
    k = first + 1                                                    # 0 where the row cannot be met
    ones = np.bincount(row, weights=(A.data != 1.0).astype(float), minlength=A.shape[0]) == 0
    add = np.flatnonzero((k >= 2) & ~ones)
    if not len(add):
        return A, lo
    C = A[add].copy()
    C.data[:] = 1.0
    return sp.vstack([A, C]).tocsr(), np.r_[lo, k[add].astype(float)]


def solve_master(c: Compiled, A: sp.csr_matrix, lo: np.ndarray, gap: float, time_limit: float, threads: int,
                 obj: np.ndarray) -> tuple[np.ndarray | None, float, float]:
    """min obj.x over 0/1 x (fixed sites 1) with A x >= lo: (plan or None, its objective, the MIP's bound;
    -inf bound when none, inf when infeasible)."""
    h = new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(max(time_limit, 0.05)))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("threads", int(threads))
    fixed = np.asarray(c.fixed1, float)
    h.passModel(highs_lp(A.tocsc(), obj, fixed, np.ones(c.J), lo, np.full(len(lo), np.inf),
                         np.ones(c.J, bool)))
    h.run()
    info = h.getInfo()
    status = str(h.getModelStatus()).split(".")[-1]
    bound = float(info.mip_dual_bound) if status != "kInfeasible" else math.inf
    if not np.isfinite(bound) and status != "kInfeasible":
        bound = -math.inf
    sol = h.getSolution()
    x = None
    if getattr(info, "primal_solution_status", 0) == 2 and len(sol.col_value) == c.J:
        x = (np.asarray(sol.col_value) > 0.5).astype(float)
        x = np.maximum(x, fixed)
    return x, (float(obj @ x) if x is not None else math.inf), bound


STALL_ROUNDS = 3
"""The rounds end ("stalled") when this many rounds in a row leave no fewer persons without a place than
the best round before them. Measured: on the generated 1,000-room stations the site MIP's plans stay 80
to 150 persons short round after round (20 s, bound flat after round 2), while on the 300-room ones
the shortfall reaches 0 within 5 rounds (23, 7, 4, 13, 0 at seed 3)."""


def capacity_cuts(c: Compiled, time_limit: float, gap: float, threads: int = 2, max_rounds: int = 50,
                  obj: np.ndarray | None = None) -> CutResult:
    """Rounds of the sites' master and the flows (module docstring) for at most `time_limit` seconds;
    the master solved to the relative `gap`. The result's plan shelters everyone by the flows with the
    no-swap rule held (a plan of the model with no swap penalty, when the model's other rows are the
    flows' rows: `applies`). `obj`: the master's objective per site (default the cost; the LP path passes
    the model's, cost plus the displacement tie-break, so that equal-cost plans are told apart as there);
    the result's cost and bound are then on that objective."""
    t0 = time.perf_counter()
    obj = c.cost.astype(float) if obj is None else np.asarray(obj, float)
    left = swap_left(c)
    parts: list[tuple[int, np.ndarray]] = []
    best = -math.inf
    history: list[tuple[float, float, int]] = []
    seen: set[bytes] = set()
    rows = 0
    fewest, since = math.inf, 0
    ended = "time"
    for r in range(max_rounds):
        remaining = time_limit - (time.perf_counter() - t0)
        if remaining <= 0.05:
            break
        A, lo = master_rows(c, parts, left)
        rows = A.shape[0]
        x, cost, bound = solve_master(c, A, lo, gap, remaining, threads, obj)
        best = max(best, bound)
        if x is None:
            ended = "infeasible" if bound == math.inf else "time"
            history.append((math.inf, bound, -1))
            break
        cuts: list = []
        Y = shelter_flow(c, x, cuts, left)
        short = int(residual_demand(c, x, Y).sum())
        history.append((cost, bound, short))
        if short == 0:
            return CutResult(x, cost, best, r + 1, rows, time.perf_counter() - t0, "fits", history)
        fewest, since = (short, 0) if short < fewest else (fewest, since + 1)
        if since >= STALL_ROUNDS:
            ended = "stalled"
            break
        key = np.packbits(x > 0.5).tobytes()
        new = hall_cuts(c, cuts)
        if not new or key in seen:
            ended = "no new row"
            break
        seen.add(key)
        parts += new
    return CutResult(None, math.inf, best, len(history), rows, time.perf_counter() - t0, ended, history)
