"""Phased construction: which chosen safe rooms are built in which phase.

Phases come from `scenario.toml` (`[[phases]]`, `planner.params.Phase`). Rules:

- Nested sets: a room built by the end of phase k is still there in phase k+1.
  Existing safe rooms are there from the start (phase 1, no work, no cost).
- `max_rooms`: rooms converted DURING the phase (new rooms).
- Crew time: phase k has `max_days` D days and N crews (`crews`, default
  `labour.crews`). A room of c crew-days (`costs.crew_days`) may be worked by up to
  `m = min(labour.crews_per_room_max, N)` crews at once. The phase holds its new rooms
  iff their crew-days sum to at most N * D and each room has c <= m * D. This is
  exact: split each room into m equal parts (each <= D) and fill the N crews one
  after the other up to D days (McNaughton's wrap-around rule); the parts of one room
  never overlap in time more than m at once. A phase without `max_days` has no
  crew-time limit; its work takes max(max c / m, sum c / N) days.
- `budget`: cumulative spending up to the end of the phase (currency).
- Objective: people sheltered at the end of each phase, priority-weighted
  (`problem.weight`, so phase 1 favours delegates when weights say so), summed over
  scenarios and weighted by the phase's `duration_days`. Coverage at the end of a
  phase is the model's assignment with the sites built by then: room supply,
  capacity, and door queues (walks rounded up to `queue_bin_s`, queue capacity
  floored), residents of a built room sheltering in place without queueing.
  Ties: rooms are built as early as the limits allow.
- Chosen rooms that no declared phase can hold go to a final "remaining" phase K+1.

The phasing MIP (binary z_jk "site j built by end of phase k", z_jk <= z_j,k+1,
continuous assignments per phase and scenario) is built as sparse arrays (`_Model`; the
coverage rows of a phase are one template, `_Coverage`, copied per phase with numpy) and
solved by HiGHS through highspy with a time limit, from a greedy nested start (phase by
phase, sites by the weighted people they shelter in the full plan per share of the phase's
limits); when the solver has no better plan at its limit the start stands. Above
`MAX_PHASE_Y` assignment variables (Station Unity: 60,912 assignments x 7 phases = 426,384)
the MIP would not finish its root LP in seconds, and the greedy phasing is used alone, with a
proven upper bound from a relaxation (`_relaxed_bound`: per phase, the fractional knapsack
of what each site could take in alone under the phases' cumulative limits).
`result.attrs["solver"]` reports the method, the objective, the bound and the gap, like the
main model's solver section. Coverage LPs of nested site sets (the Phases sheet, the
objective) are one model whose bounds change from set to set, each solve warm-started from
the previous basis (`_coverages`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import highspy
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow

from planner.errors import SolverError
from planner.model.compile import arrival_bins, queue_capacity
from planner.model.highs import HIGHS_STATUS, highs_lp, highs_threads_reset, new_highs
from planner.params import Parameters, Phase

MAX_PHASE_Y = 200_000
"""Above this many assignment variables (pairs x scenarios x phases) the phasing is greedy, not a MIP."""

TIE_BREAK = 1e-4
"""Objective bonus (weighted person-days) per site and phase built: 'build as early as possible'."""


@dataclass
class PhaseLimits:
    """Per phase (1..K): limits as plain lists (None = no limit)."""

    names: list[str]
    max_rooms: list[int | None]
    max_days: list[float | None]
    crews: list[int]
    per_room: list[int]
    budget: list[float | None]
    weight: list[float]


def phase_limits(params: Parameters) -> PhaseLimits:
    """The declared phases' limits, crews defaulting to `params.crews`."""
    ph: list[Phase] = list(params.phases)
    crews = [int(p.crews if p.crews is not None else params.crews) for p in ph]
    return PhaseLimits(names=[p.name for p in ph], max_rooms=[p.max_rooms for p in ph],
                       max_days=[p.max_days for p in ph], crews=crews,
                       per_room=[max(1, min(int(params.crews_per_room_max), c)) for c in crews],
                       budget=[p.budget for p in ph], weight=[float(p.duration_days) for p in ph])


def _site_data(problem: Any, chosen: Sequence[str], costs: pd.DataFrame) -> pd.DataFrame:
    ids = [str(s) for s in chosen]
    s = problem.sites.reindex(ids)
    existing = s["existing"].fillna(False).astype(bool) if "existing" in s else pd.Series(False, index=ids)
    cost = costs["total_cost"].reindex(ids) if "total_cost" in costs else s["cost"]
    cost = cost.fillna(s["cost"] if "cost" in s else 0.0).fillna(0.0).astype(float)
    crew = costs["crew_days"].reindex(ids).fillna(0.0).astype(float) if "crew_days" in costs else pd.Series(0.0, index=ids)
    lab = costs["labour_h"].reindex(ids).fillna(0.0).astype(float) if "labour_h" in costs else pd.Series(0.0, index=ids)
    out = pd.DataFrame({"existing": existing.to_numpy(), "cost": cost.to_numpy(), "crew_days": crew.to_numpy(),
                        "labour_h": lab.to_numpy(), "capacity": s["capacity"].fillna(0).astype(float).to_numpy(),
                        "door_flow_pps": s["door_flow_pps"].fillna(0.0).astype(float).to_numpy()}, index=ids)
    out.loc[out["existing"], ["cost", "crew_days", "labour_h"]] = 0.0
    return out


def _eligible(sd: pd.DataFrame, lim: PhaseLimits, k: int) -> np.ndarray:
    """May each site be converted during phase k (0-based)? (crew time of one room, budget of one room)."""
    ok = np.ones(len(sd), dtype=bool)
    days, budget, rooms = lim.max_days[k], lim.budget[k], lim.max_rooms[k]
    if days is not None:
        ok &= sd["crew_days"].to_numpy() <= lim.per_room[k] * float(days) + 1e-9
    if budget is not None:
        ok &= sd["cost"].to_numpy() <= float(budget) + 1e-6
    if rooms is not None and rooms <= 0:
        ok[:] = False
    return ok | sd["existing"].to_numpy()


# ------------------------------------------------------------------ arrays for HiGHS
_SUPPLY, _CAP, _VUB, _QNEED, _QDEF = range(5)
"""Kinds of coverage rows: supply of a (room, scenario), capacity of a site, y <= d z of an unbuilt
site, a door's queue capacity at an arrival level, the running sum of a door's queue."""


class _Model:
    """A linear model assembled in blocks of columns and rows (numpy triplets), for HiGHS."""

    def __init__(self) -> None:
        self.n = 0
        self.m = 0
        self._c: list[np.ndarray] = []
        self._lo: list[np.ndarray] = []
        self._hi: list[np.ndarray] = []
        self._int: list[np.ndarray] = []
        self._r: list[np.ndarray] = []
        self._k: list[np.ndarray] = []
        self._v: list[np.ndarray] = []
        self._rlo: list[np.ndarray] = []
        self._rhi: list[np.ndarray] = []

    def cols(self, cost: np.ndarray, lo: np.ndarray | float, hi: np.ndarray | float, integer: bool = False) -> np.ndarray:
        """Add columns (objective `cost` to maximise, bounds `lo`..`hi`); returns their indices."""
        k = len(cost)
        self._c.append(np.asarray(cost, float))
        self._lo.append(np.broadcast_to(np.asarray(lo, float), (k,)))
        self._hi.append(np.broadcast_to(np.asarray(hi, float), (k,)))
        self._int.append(np.full(k, integer))
        self.n += k
        return np.arange(self.n - k, self.n)

    def rows(self, row: np.ndarray, col: np.ndarray, val: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        """Add rows lo <= A x <= hi; `row` numbers them from 0 within this block (len(lo) rows)."""
        self._r.append(np.asarray(row, np.int64) + self.m)
        self._k.append(np.asarray(col, np.int64))
        self._v.append(np.asarray(val, float))
        self._rlo.append(np.asarray(lo, float))
        self._rhi.append(np.asarray(hi, float))
        self.m += len(lo)

    def row(self, cols: Sequence[int], vals: Sequence[float], lo: float, hi: float) -> None:
        """Add one row lo <= sum vals x[cols] <= hi."""
        self.rows(np.zeros(len(cols), np.int64), np.asarray(cols, np.int64), np.asarray(vals, float),
                  np.array([lo]), np.array([hi]))

    def arrays(self) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(A, cost, col_lo, col_hi, row_lo, row_hi, integer) with the cost to MAXIMISE."""
        cat = lambda xs, dt=float: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
        A = sp.coo_matrix((cat(self._v), (cat(self._r, np.int64), cat(self._k, np.int64))),
                          shape=(self.m, self.n)).tocsc()
        A.sum_duplicates()
        return (A, cat(self._c), cat(self._lo), cat(self._hi), cat(self._rlo), cat(self._rhi),
                cat(self._int, bool))


@dataclass
class _Result:
    """One HiGHS run on a maximisation: values (None: none), status, objective, bound (objective
    units; +inf unknown), gap (relative, inf unknown), seconds."""

    values: np.ndarray | None
    status: str
    objective: float
    bound: float
    gap: float
    seconds: float


def _highs(problem: Any, model: _Model, time_limit_s: float | None, mip: bool,
           start: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[_Result, highspy.Highs]:
    """Solve `model` (maximise) with highspy: the problem's gap and threads, time limit `time_limit_s`
    (seconds; default the problem's); `start`: (columns, values) of a partial MIP start (HiGHS
    completes it by solving the LP with them fixed). Returns the run and the `Highs` object (its
    basis warm-starts a re-solve after bound changes)."""
    A, c, lo, hi, rlo, rhi, integer = model.arrays()
    tl = float(time_limit_s if time_limit_s is not None else getattr(problem, "time_limit_s", 60.0) or 60.0)
    h = new_highs(False)
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", max(tl, 0.5))
    h.setOptionValue("mip_rel_gap", float(getattr(problem, "mip_gap", 1e-4) or 1e-4))
    h.setOptionValue("threads", int(getattr(problem, "threads", 1) or 1))
    if not mip:
        h.setOptionValue("solver", "simplex")
    h.passModel(highs_lp(A, -c, lo, hi, rlo, rhi, integer if mip else None))
    if start is not None and mip and len(start[0]):
        order = np.argsort(start[0])
        h.setSolution(len(order), start[0][order].astype(np.int32), np.asarray(start[1], float)[order])
    return _run(h, c, mip and bool(integer.any())), h


def _run(h: highspy.Highs, c: np.ndarray, mip: bool) -> _Result:
    """Run `h` (which minimises -c x) and read its answer as a maximisation of c x."""
    t0 = time.perf_counter()
    with highs_threads_reset():
        h.run()
    key = str(h.getModelStatus()).split(".")[-1]
    status = HIGHS_STATUS.get(key, h.modelStatusToString(h.getModelStatus()).lower())
    info = h.getInfo()
    sol = h.getSolution()
    ok = getattr(info, "primal_solution_status", 2) == 2 and len(sol.col_value) == len(c)
    values = np.asarray(sol.col_value, float) if ok else None
    obj = float(c @ values) if values is not None else -math.inf
    if not mip:
        bound, gap = (obj, 0.0) if status == "optimal" else (math.inf, math.inf)
    else:
        reported = -float(info.objective_function_value)
        bound = -float(info.mip_dual_bound)
        if values is not None and abs(reported - obj) > 1e-6 * max(1.0, abs(obj)):
            # HiGHS valued a start in its presolved space (planner.model.highs._misvalued): no proof
            bound = math.inf
        gap = max(bound - obj, 0.0) / max(abs(obj), 1e-9) if math.isfinite(bound) and values is not None else math.inf
    return _Result(values, status, obj, bound, gap, time.perf_counter() - t0)


# ------------------------------------------------------------------ coverage block
class _Coverage:
    """Pairs to chosen sites with positive demand, binned arrival levels: the shared data of the
    coverage rows (one block per phase), kept as a template of row triplets that `block` copies
    for a phase. Every index structure is computed once, in numpy."""

    def __init__(self, problem: Any, sd: pd.DataFrame) -> None:
        pairs = problem.pairs
        pairs = pairs[pairs["site_id"].astype(str).isin(sd.index)]
        dem = problem.demand
        self.scenarios = [str(c) for c in dem.columns]
        w = problem.weight.reindex(dem.index).fillna(1.0) if problem.weight is not None else pd.Series(1.0, index=dem.index)
        T = float(problem.reach_s)
        binw = float(getattr(problem, "queue_bin_s", 1.0) or 1.0)
        self.queue = bool(getattr(problem, "door_queue", True))
        rows = []
        base = pairs.assign(room_id=pairs["room_id"].astype(str), site_id=pairs["site_id"].astype(str))
        for s in self.scenarios:
            d = dem[s]
            p = base.assign(demand=d.reindex(base["room_id"]).fillna(0).to_numpy(dtype=float),
                            weight=w.reindex(base["room_id"]).fillna(1.0).to_numpy(dtype=float), scenario=s)
            rows.append(p[p["demand"] > 0])
        self.p = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
            columns=["room_id", "site_id", "walk_s", "demand", "weight", "scenario"])
        p = self.p
        walk = p["walk_s"].astype(float).to_numpy()
        inplace = (p["room_id"] == p["site_id"]).to_numpy() & (walk <= 1e-9)
        if "door_id" in p:
            inplace &= (p["door_id"].fillna("").astype(str) == "").to_numpy()
        lvl = np.minimum(arrival_bins(walk, binw) * binw, T)           # arrival level: the bin's upper edge
        flow = sd["door_flow_pps"].reindex(p["site_id"]).to_numpy(dtype=float)
        qcap = queue_capacity(flow, T, lvl)
        self.n = len(p)
        self.demand = p["demand"].to_numpy(dtype=float)
        self.weight = p["weight"].to_numpy(dtype=float)
        self.site = p["site_id"].to_numpy().astype(str)
        self.sites = list(sd.index)
        self.scen_of = pd.Categorical(p["scenario"], categories=self.scenarios).codes.astype(np.int64)
        # supply rows: (room, scenario) groups with more than one site
        self.supply: list[tuple[np.ndarray, float]] = [
            (idx, float(self.demand[idx[0]])) for idx in p.groupby(["room_id", "scenario"], sort=False).indices.values()
            if len(idx) > 1]
        # per (site, scenario): members, capacity row needed?, queue chain [(members of level, cap, need row)]
        cap = sd["capacity"]
        self.blocks: list[tuple[str, np.ndarray, float, bool, list[tuple[np.ndarray, float, bool]]]] = []
        for (site, _s), idx in p.groupby(["site_id", "scenario"], sort=False).indices.items():
            c = float(cap[site])
            need_cap = float(self.demand[idx].sum()) > c
            chain: list[tuple[np.ndarray, float, bool]] = []
            if self.queue:
                q = idx[~inplace[idx]]
                if len(q):
                    lv = lvl[q]
                    levels, inv = np.unique(lv, return_inverse=True)
                    dq = self.demand[q]
                    per = np.bincount(inv, weights=dq, minlength=len(levels))
                    first = np.zeros(len(levels), dtype=np.int64)
                    first[inv[::-1]] = np.arange(len(q))[::-1]                  # first member of each level
                    levels, per, first = levels[::-1], per[::-1], first[::-1]  # latest level first
                    suffix = np.cumsum(per)
                    capl = qcap[q[first]]
                    need = capl < np.minimum(suffix, c)
                    if need.any():
                        last = int(np.nonzero(need)[0].max())
                        order = np.argsort(-lv, kind="stable")
                        bounds = np.searchsorted(-lv[order], -levels[: last + 1], side="left")
                        ends = np.searchsorted(-lv[order], -levels[: last + 1], side="right")
                        chain = [(np.sort(q[order[bounds[t]:ends[t]]]), float(capl[t]), bool(need[t]))
                                 for t in range(last + 1)]
            self.blocks.append((site, idx, c, need_cap, chain))
        self.block_site = np.array([sd.index.get_loc(b[0]) for b in self.blocks], dtype=np.int64)
        self.y_block = np.zeros(self.n, np.int64)
        for b, blk in enumerate(self.blocks):
            self.y_block[blk[1]] = b
        self.room_group = p.groupby(["room_id", "scenario"], sort=False).ngroup().to_numpy(np.int64) if self.n else \
            np.zeros(0, np.int64)
        self._sd = sd
        self._templated = False

    def _template(self) -> None:
        """Every coverage row once, as triplets over the y columns (0..n-1) and the queue sums S
        (n..n+nS-1); each row knows its block (-1: supply) and kind; `z` terms apart."""
        kind: list[np.ndarray] = []
        blk: list[np.ndarray] = []
        hi_fix: list[np.ndarray] = []
        hi_var: list[np.ndarray] = []
        lo: list[np.ndarray] = []
        nr: list[np.ndarray] = []
        nc: list[np.ndarray] = []
        zr: list[np.ndarray] = []
        zv: list[np.ndarray] = []
        r = 0

        def add(k: int, b: int, members: np.ndarray, h_fix: float, h_var: float, low: float = -math.inf,
                extra: tuple[int, ...] = ()) -> int:
            nonlocal r
            cols = np.concatenate([members, np.array(extra, np.int64)]) if extra else members
            nr.append(np.full(len(cols), r))
            nc.append(cols)
            kind.append(np.array([k]))
            blk.append(np.array([b]))
            hi_fix.append(np.array([h_fix]))
            hi_var.append(np.array([h_var]))
            lo.append(np.array([low]))
            r += 1
            return r - 1

        vals: list[np.ndarray] = []
        if self.supply:
            sizes = np.array([len(i) for i, _ in self.supply])
            rhs = np.array([d for _, d in self.supply])
            nr.append(np.repeat(np.arange(len(sizes)), sizes))
            nc.append(np.concatenate([i for i, _ in self.supply]))
            kind.append(np.full(len(sizes), _SUPPLY))
            blk.append(np.full(len(sizes), -1))
            hi_fix.append(rhs)
            hi_var.append(rhs)
            lo.append(np.full(len(sizes), -math.inf))
            r = len(sizes)
        vals.append(np.ones(int(sum(len(x) for x in nc))))
        S = 0
        self.s_block: list[int] = []
        for b, (_site, idx, cap, _need_cap, chain) in enumerate(self.blocks):
            row = add(_CAP, b, idx, cap, 0.0)
            vals.append(np.ones(len(idx)))
            zr.append(np.array([row]))
            zv.append(np.array([-cap]))
            k = len(idx)                                   # y_i - d_i z <= 0, one row per member
            nr.append(np.arange(r, r + k))
            nc.append(idx)
            vals.append(np.ones(k))
            kind.append(np.full(k, _VUB))
            blk.append(np.full(k, b))
            hi_fix.append(np.zeros(k))
            hi_var.append(np.zeros(k))
            lo.append(np.full(k, -math.inf))
            zr.append(np.arange(r, r + k))
            zv.append(-self.demand[idx])
            r += k
            prev: tuple[int, ...] = ()
            for t, (members, qc, need) in enumerate(chain):
                if need:
                    add(_QNEED, b, members, qc, qc, extra=prev)
                    vals.append(np.ones(len(members) + len(prev)))
                if t == len(chain) - 1:
                    break
                s_col = self.n + S
                self.s_block.append(b)
                S += 1
                add(_QDEF, b, members, 0.0, 0.0, low=0.0, extra=prev + (s_col,))
                vals.append(np.r_[np.ones(len(members) + len(prev)), -1.0])
                prev = (s_col,)
        self.nS = S
        cat = np.concatenate
        self.t_kind, self.t_blk = cat(kind), cat(blk)
        self.t_hi_fix, self.t_hi_var, self.t_lo = cat(hi_fix), cat(hi_var), cat(lo)
        self.t_r, self.t_c, self.t_v = cat(nr), cat(nc), cat(vals)
        self.t_zr = cat(zr) if zr else np.zeros(0, np.int64)
        self.t_zv = cat(zv) if zv else np.zeros(0)
        self.block_need_cap = np.array([b[3] for b in self.blocks], dtype=bool)
        self.s_block_arr = np.array(self.s_block, dtype=np.int64)
        self._templated = True

    def block(self, model: _Model, state: np.ndarray, zcol: np.ndarray, weight: float) -> np.ndarray:
        """Add one phase's coverage columns and rows to `model`. `state` per site (of `sd`): 0 not
        built, 1 built, 2 a binary column (`zcol` per site). Returns the y columns (aligned with
        `self.p`)."""
        if not self._templated:
            self._template()
        bstate = state[self.block_site] if len(self.blocks) else np.zeros(0, np.int64)
        ub = np.where(bstate[self.y_block] == 0, 0.0, self.demand) if self.n else np.zeros(0)
        ys = model.cols(weight * self.weight, 0.0, ub)
        s_ub = np.where(bstate[self.s_block_arr] == 0, 0.0, math.inf) if self.nS else np.zeros(0)
        model.cols(np.zeros(self.nS), 0.0, s_ub)
        col0 = int(ys[0]) if len(ys) else model.n - self.nS
        rst = np.where(self.t_blk >= 0, bstate[np.maximum(self.t_blk, 0)] if len(bstate) else 1, 1)
        need = np.where(self.t_blk >= 0, self.block_need_cap[np.maximum(self.t_blk, 0)] if len(bstate) else False, False)
        k = self.t_kind
        keep = ((k == _SUPPLY) | ((k == _CAP) & ((rst == 2) | ((rst == 1) & need)))
                | ((k == _VUB) & (rst == 2)) | ((k >= _QNEED) & (rst >= 1)))
        new = np.cumsum(keep) - 1
        m = keep[self.t_r]
        zm = keep[self.t_zr] & (rst[self.t_zr] == 2)
        zc = zcol[self.block_site[self.t_blk[self.t_zr[zm]]]]
        model.rows(np.r_[new[self.t_r[m]], new[self.t_zr[zm]]], np.r_[col0 + self.t_c[m], zc],
                   np.r_[self.t_v[m], self.t_zv[zm]], self.t_lo[keep],
                   np.where(rst == 2, self.t_hi_var, self.t_hi_fix)[keep])
        return ys


class _Flow:
    """The assignment problem of a `_Coverage` as a network: source -> (room, scenario) (its
    residents) -> the site's door, through the door's queue levels (latest first: level t passes on
    at most its queue capacity to level t+1, the last one into the site) -> the site (its
    capacity) -> sink. The LP's rows are exactly this network's conservation and capacities (supply,
    capacity, the queue's running sums), so with whole-person data the LP's optimum is a maximum
    flow: the most weighted people are, over the distinct weights w_1 > ... > w_L, the sum of
    (w_k - w_(k+1)) x the maximum flow from the rooms of weight >= w_k (the reachable head counts
    form a polymatroid, on which the greedy order by weight is optimal). scipy's maximum flow
    (Dinic) takes milliseconds where the LP takes seconds."""

    def __init__(self, cov: _Coverage, sd: pd.DataFrame) -> None:
        self.cov = cov
        n = cov.n
        groups = int(cov.room_group.max()) + 1 if n else 0
        g_dem = np.zeros(groups)
        g_dem[cov.room_group] = cov.demand
        g_w = np.zeros(groups)
        g_w[cov.room_group] = cov.weight
        cap = sd["capacity"].to_numpy(float)[cov.block_site] if len(cov.blocks) else np.zeros(0)
        qcs = [qc for b in cov.blocks for (_m, qc, _need) in b[4]]
        data = np.concatenate([cov.demand, cap, np.array(qcs, float)]) if n else np.zeros(0)
        self.ok = bool(n and (cov.weight > 0).all() and np.all(np.abs(data - np.round(data)) <= 1e-9)
                       and float(cov.demand.sum()) < 2 ** 30)
        if not self.ok:
            return
        big = int(cov.demand.sum()) + 1
        nb = len(cov.blocks)
        room0, site0 = 2, 2 + groups
        level0 = site0 + nb
        entry = site0 + cov.y_block                        # pairs enter their site directly ...
        lu, lv, lc = [], [], []
        node = level0
        for b, (_site, _idx, _c, _need, chain) in enumerate(cov.blocks):
            for t, (members, qc, need) in enumerate(chain):    # ... or at their queue level
                entry[members] = node + t
                lu.append(node + t)
                lv.append(node + t + 1 if t < len(chain) - 1 else site0 + b)
                lc.append(int(qc) if need else big)
            node += len(chain)
        self.nodes = node
        self.groups, self.site0 = groups, site0
        self.g_w = g_w
        self.src = (np.zeros(groups, np.int64), np.arange(room0, site0), np.round(g_dem).astype(np.int64))
        self.mid = (np.r_[room0 + cov.room_group, np.array(lu, np.int64)], np.r_[entry, np.array(lv, np.int64)],
                    np.r_[np.round(cov.demand).astype(np.int64), np.array(lc, np.int64)])
        self.pair_uv = (room0 + cov.room_group, entry)
        self.sink_cap = np.round(cap).astype(np.int64)
        self.block_scen = cov.scen_of[[b[1][0] for b in cov.blocks]] if nb else np.zeros(0, np.int64)

    def solve(self, built: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """With the sites `built` (mask over the cover's sites): (weighted people per scenario,
        people sheltered per scenario, people per pair of the last maximum flow)."""
        cov = self.cov
        ns = len(cov.scenarios)
        sink_cap = self.sink_cap * built[cov.block_site]
        nb = len(cov.blocks)
        levels = np.unique(self.g_w)[::-1]
        weighted = np.zeros(ns)
        people = np.zeros(ns)
        y = np.zeros(cov.n)
        for k, w in enumerate(levels):
            src_cap = np.where(self.g_w >= w, self.src[2], 0)
            u = np.r_[self.src[0], self.mid[0], self.site0 + np.arange(nb)]
            v = np.r_[self.src[1], self.mid[1], np.ones(nb, np.int64)]
            c = np.r_[src_cap, self.mid[2], sink_cap]
            keep = c > 0
            g = sp.csr_matrix((c[keep].astype(np.int32), (u[keep], v[keep])), shape=(self.nodes, self.nodes))
            res = maximum_flow(g, 0, 1, method="dinic")
            f = res.flow.tocsr()
            into_sink = np.asarray(f[self.site0 + np.arange(nb), np.ones(nb, np.int64)]).ravel()
            per = np.bincount(self.block_scen, weights=into_sink, minlength=ns).astype(float)
            weighted += (w - (levels[k + 1] if k + 1 < len(levels) else 0.0)) * per
            if k == len(levels) - 1:
                people = per
                y = np.asarray(f[self.pair_uv[0], self.pair_uv[1]]).ravel().astype(float)
        return weighted, people, y


class _CoverageLP:
    """The assignment LP (supply, capacity, door queues; priority-weighted people) over the sites of
    a `_Coverage`, solved for any subset of them by changing the y bounds: one model, each solve
    warm-started from the previous basis (HiGHS keeps it across bound changes)."""

    def __init__(self, problem: Any, cov: _Coverage, sd: pd.DataFrame) -> None:
        self.problem, self.cov = problem, cov
        self.scen = list(cov.scenarios)
        self.model: _Model | None = None
        self.ys = np.zeros(0, np.int64)
        self.c = np.zeros(0)
        self.h: highspy.Highs | None = None
        self.pos = pd.Series(np.arange(len(cov.sites)), index=cov.sites)
        self.memo: dict[frozenset[str], tuple[float, np.ndarray, pd.Series, np.ndarray]] = {}
        self.flow = _Flow(cov, sd)

    def solve(self, sites: Sequence[str]) -> tuple[float, np.ndarray, pd.Series, np.ndarray]:
        """(weighted people, weighted people per scenario, people sheltered per scenario (whole
        persons), y values aligned with `cov.p`) with exactly `sites` (of the cover's) built."""
        key = frozenset(str(s) for s in sites)
        if key in self.memo:
            return self.memo[key]
        cov = self.cov
        built = np.zeros(len(cov.sites), dtype=bool)
        built[self.pos.reindex(list(key)).dropna().to_numpy(np.int64)] = True
        if cov.n == 0 or not built.any():
            out = (0.0, np.zeros(len(self.scen)), pd.Series(0, index=self.scen, dtype=np.int64), np.zeros(cov.n))
            self.memo[key] = out
            return out
        if self.flow.ok:
            wsc, people, y = self.flow.solve(built)
            out = (float(wsc.sum()), wsc, pd.Series(people, index=self.scen).round().astype(np.int64), y)
            self.memo[key] = out
            return out
        ub = np.where(built[cov.block_site[cov.y_block]], cov.demand, 0.0)
        if self.model is None:
            self.model = _Model()
            self.ys = cov.block(self.model, np.ones(len(cov.sites), np.int64), np.zeros(len(cov.sites), np.int64), 1.0)
            self.c = np.concatenate(self.model._c) if self.model._c else np.zeros(0)
        if self.h is None:
            self.model._hi[0] = ub
            res, self.h = _highs(self.problem, self.model, None, mip=False)
        else:
            self.h.changeColsBounds(len(self.ys), self.ys.astype(np.int32), np.zeros(len(self.ys)), ub)
            res = _run(self.h, self.c, False)
        if res.values is None or res.status != "optimal":
            raise SolverError(f"the coverage LP of the phasing was not solved ({res.status})")
        y = res.values[self.ys]
        wsc = np.bincount(cov.scen_of, weights=y * cov.weight, minlength=len(self.scen)).astype(float)
        people = np.bincount(cov.scen_of, weights=np.floor(y + 1e-6), minlength=len(self.scen)).astype(float)
        out = (float(wsc.sum()), wsc, pd.Series(people, index=self.scen).round().astype(np.int64), y)
        self.memo[key] = out
        return out


def _coverages(problem: Any, sets: Sequence[Sequence[str]], lp: _CoverageLP | None = None
               ) -> list[tuple[float, np.ndarray, pd.Series, np.ndarray]]:
    """`_CoverageLP.solve` for each set of built sites (`lp`: one over a superset of them, reused)."""
    if lp is None:
        union = list(dict.fromkeys(str(s) for ss in sets for s in ss))
        sd = _site_data(problem, union, pd.DataFrame(index=union))
        lp = _CoverageLP(problem, _Coverage(problem, sd), sd)
    return [lp.solve(ss) for ss in sets]


def coverage(problem: Any, sites: Sequence[str], time_limit_s: float | None = None) -> pd.Series:
    """People sheltered per scenario (persons) with exactly `sites` built: the assignment LP
    (supply, capacity, door queues), maximising priority-weighted people. `time_limit_s` is kept
    for compatibility (the LP has no time limit of its own but the problem's)."""
    return _coverages(problem, [list(sites)])[0][2]


# ------------------------------------------------------------------ the phasing MIP
def plan_phases(problem: Any, chosen: list[str], costs: pd.DataFrame, params: Parameters,
                time_limit_s: float | None = None) -> pd.Series:
    """Phase number (1..K, or K+1 = "remaining") per chosen site (index site_id, int).

    `problem`: a model.Problem (demand, weight, pairs, sites, reach_s, queue settings); `chosen`:
    the plan's sites; `costs`: `site_costs` (total_cost currency, crew_days, labour_h);
    `params`: its `phases`, `crews`, `crews_per_room_max`. Without declared phases every site is
    phase 1. See the module docstring for the rules and the objective. `time_limit_s`: solver limit
    (seconds; default the problem's).

    `result.attrs["solver"]`: method ("MIP" or the greedy phasing), status, objective (weighted
    person-days, the tie-break included), bound (a proven upper bound on the best phasing), gap
    (bound - objective) / objective, seconds, variables and rows of the MIP.
    """
    t0 = time.perf_counter()
    chosen = [str(c) for c in chosen]
    if not chosen:
        return pd.Series([], index=pd.Index([], name="site_id"), dtype=np.int64, name="phase")
    lim = phase_limits(params)
    K = len(lim.names)
    if K == 0:
        return pd.Series(1, index=pd.Index(chosen, name="site_id"), dtype=np.int64, name="phase")
    sd = _site_data(problem, chosen, costs)
    ex = sd["existing"].to_numpy()
    elig = np.array([_eligible(sd, lim, k) for k in range(K)])  # K x n
    info: dict[str, Any] = {}
    cov = _Coverage(problem, sd)
    lp = _CoverageLP(problem, cov, sd)
    z = _phase_vars(sd, ex, elig, K)
    too_big = cov.n * sum(1 for w in lim.weight if w > 0) > MAX_PHASE_Y
    bound = math.inf
    if not (z >= 0).any():
        built_by = {s: K + 1 for s in sd.index}
        info.update(method="none (no chosen room can be built in a declared phase)")
    elif too_big:  # the MIP would not even solve its root LP in time: greedy nested phasing
        built_by = _best_greedy(lp, sd, elig, lim)
        info.update(method=f"greedy (the MIP would have {cov.n * K:,} assignment variables > {MAX_PHASE_Y:,})",
                    status="heuristic")
        bound = _relaxed_bound(problem, lp, sd, elig, lim)
    else:
        built_by, bound = _solve_phasing(problem, z, sd, elig, lim, lp, time_limit_s, info)
    for s, e in zip(sd.index, ex):
        if e:
            built_by[s] = 1
    built_by = _fill_early(built_by, sd, lim)
    out = pd.Series(built_by, dtype=np.int64, name="phase").reindex(chosen).rename_axis("site_id")
    sets = [[s for s in chosen if built_by[s] <= k + 1] for k in range(K)]
    covs = _coverages(problem, sets[::-1], lp)[::-1]   # largest first: each re-solve only removes sites
    obj = _objective(covs, out, sd, elig, lim)
    info["objective"] = round(obj, 6)
    if math.isfinite(bound):
        bound = max(bound, obj)  # HiGHS's bound holds to its tolerances
        info["bound"] = round(bound, 6)
        info["gap"] = (bound - obj) / max(abs(obj), 1e-9)
    info["seconds"] = round(time.perf_counter() - t0, 2)
    out.attrs["solver"] = info
    every = lp.solve(chosen)   # the "Remaining" row of the Phases sheet, when some room is in no phase
    out.attrs["coverage"] = [(frozenset(ss), cv[2].to_dict()) for ss, cv in zip(sets + [chosen], covs + [every])]
    return out


def _objective(covs: list[tuple[float, np.ndarray, pd.Series, np.ndarray]], phase: pd.Series, sd: pd.DataFrame,
               elig: np.ndarray, lim: PhaseLimits) -> float:
    """The phasing objective of a phase assignment: sum_k duration_k x weighted people sheltered by
    the end of phase k, plus `TIE_BREAK` per new site and weighted phase it stands built."""
    ph = phase.reindex(sd.index).to_numpy()
    new = ~sd["existing"].to_numpy(dtype=bool)
    total = 0.0
    for k in range(len(lim.names)):
        if lim.weight[k] <= 0:
            continue
        total += lim.weight[k] * covs[k][0] + TIE_BREAK * float(((ph <= k + 1) & new).sum())
    return total


def _phase_vars(sd: pd.DataFrame, ex: np.ndarray, elig: np.ndarray, K: int) -> np.ndarray:
    """Per site and phase index: -2 for existing sites (built), -1 where no phase up to k may convert
    the site (not built), else the position of its binary "built by the end of phase k" (0, 1, ...)."""
    n = len(sd)
    z = np.full((n, K), -1, dtype=np.int64)
    can = np.logical_or.accumulate(elig, axis=0).T & ~np.asarray(ex, bool)[:, None]  # n x K: convertible by k
    z[can] = np.arange(int(can.sum()))
    z[np.asarray(ex, bool), :] = -2
    return z


def _phase_model(problem: Any, z: np.ndarray, sd: pd.DataFrame, elig: np.ndarray, lim: PhaseLimits,
                 cov: _Coverage) -> tuple[_Model, np.ndarray]:
    """The phasing MIP as arrays: binaries z (built by the end of phase k), nested sets, eligibility,
    each phase's limits, and the coverage block of every weighted phase. Returns (model, the z
    columns: z[z >= 0] index into them)."""
    K = len(lim.names)
    n = len(sd)
    model = _Model()
    nz = int((z >= 0).sum())
    tie = np.zeros(nz)
    for k in range(K):
        if lim.weight[k] > 0:
            tie[z[:, k][z[:, k] >= 0]] = TIE_BREAK
    zc = model.cols(tie, 0.0, 1.0, integer=True)
    col = lambda i, k: int(zc[z[i, k]])  # noqa: E731
    for i in range(n):
        for k in range(K):
            if z[i, k] < 0:
                continue
            a = z[i, k - 1] if k >= 1 else -1
            if a >= 0:
                model.row([col(i, k - 1), col(i, k)], [1.0, -1.0], -math.inf, 0.0)   # nested
            if not elig[k, i]:                                                    # no work in phase k
                model.row([col(i, k)] + ([col(i, k - 1)] if a >= 0 else []), [1.0] + ([-1.0] if a >= 0 else []),
                          -math.inf, 0.0)
    crew, cost = sd["crew_days"].to_numpy(float), sd["cost"].to_numpy(float)
    for k in range(K):
        rows_k = np.flatnonzero(z[:, k] >= 0)
        prev = [i for i in rows_k if k >= 1 and z[i, k - 1] >= 0]
        rooms, days, budget = lim.max_rooms[k], lim.max_days[k], lim.budget[k]
        for limit, coef in ((rooms, np.ones(n)), (None if days is None else lim.crews[k] * float(days), crew)):
            if limit is None:
                continue
            model.row([col(i, k) for i in rows_k] + [col(i, k - 1) for i in prev],
                      [coef[i] for i in rows_k] + [-coef[i] for i in prev], -math.inf, float(limit))
        if budget is not None:
            model.row([col(i, k) for i in rows_k], [cost[i] for i in rows_k], -math.inf, float(budget))
    for k in range(K):
        if lim.weight[k] <= 0:
            continue
        state = np.where(z[:, k] >= 0, 2, np.where(z[:, k] == -2, 1, 0))
        zcol = np.where(z[:, k] >= 0, zc[np.maximum(z[:, k], 0)], -1)
        cov.block(model, state, zcol, lim.weight[k])
    return model, zc


def _solve_phasing(problem: Any, z: np.ndarray, sd: pd.DataFrame, elig: np.ndarray, lim: PhaseLimits,
                   lp: _CoverageLP, time_limit_s: float | None, info: dict[str, Any]) -> tuple[dict[str, int], float]:
    """The phasing MIP (highspy, arrays) from the greedy phasing (a start); its plan when optimal or no
    worse than the greedy one. Returns (phase per site, HiGHS's bound or inf); `info` gets the
    solver's status, size and the method used."""
    K = len(lim.names)
    greedy = _fill_early(_greedy_phases(sd, lim, _site_values(lp, sd)), sd, lim)
    model, zc = _phase_model(problem, z, sd, elig, lim, lp.cov)
    g = np.array([greedy[s] for s in sd.index])
    mask = z >= 0
    start = np.zeros(len(zc))
    start[z[mask]] = (g[:, None] <= np.arange(1, K + 1)[None, :])[mask]
    res, _ = _highs(problem, model, time_limit_s, mip=True, start=(zc, start))
    info.update(status=res.status, variables=model.n, rows=model.m, solver_seconds=round(res.seconds, 2))
    info["method"] = "greedy start (the solver found no plan within its time limit)"
    if res.values is None:
        return dict(greedy), res.bound
    zv = np.zeros(mask.shape)
    zv[mask] = res.values[zc[z[mask]]]
    zv[z == -2] = 1.0
    built = zv > 0.5
    mip = {s: int(np.argmax(built[i]) + 1) if built[i].any() else K + 1 for i, s in enumerate(sd.index)}
    if res.status == "optimal" or _value(lp, mip, lim) >= _value(lp, greedy, lim) - 1e-6:
        info["method"] = "MIP"
        return mip, res.bound
    info["method"] = "greedy start (better than the solver's plan at its time limit)"
    return dict(greedy), res.bound


def _site_values(lp: _CoverageLP, sd: pd.DataFrame) -> pd.Series:
    """Priority-weighted people each site shelters when every chosen site is built (the LP)."""
    cov = lp.cov
    if cov.n == 0:
        return pd.Series(0.0, index=sd.index)
    vals = lp.solve(list(sd.index))[3] * cov.weight
    return pd.Series(vals).groupby(cov.site).sum().reindex(sd.index).fillna(0.0)


def _best_greedy(lp: _CoverageLP, sd: pd.DataFrame, elig: np.ndarray, lim: PhaseLimits) -> dict[str, int]:
    """The best (phasing objective) of the greedy phasings scored by three site values: what the
    site shelters in the full plan (`_site_values`), what it could take in alone (`_alone`, each
    scenario capped at its capacity), and their mean. Each is evaluated exactly (maximum flows)."""
    K = len(lim.names)
    y = _site_values(lp, sd)
    u = pd.Series(np.minimum(_alone(lp.cov, sd), sd["capacity"].to_numpy(float)[:, None]).sum(axis=1), index=sd.index)
    best: tuple[float, dict[str, int]] | None = None
    for value in (y, u, (y + u) / 2):
        built_by = _fill_early(_greedy_phases(sd, lim, value), sd, lim)
        ids = list(sd.index)
        phase = pd.Series(built_by).reindex(ids)
        covs = _coverages(lp.problem, [[s for s in ids if built_by[s] <= k + 1] for k in range(K)], lp)
        obj = _objective(covs, phase, sd, elig, lim)
        if best is None or obj > best[0] + 1e-9:
            best = (obj, built_by)
    assert best is not None
    return best[1]


def _value(lp: _CoverageLP, built_by: dict[str, int], lim: PhaseLimits) -> float:
    """The phasing objective of a phase assignment: sum_k duration_k x weighted coverage by k."""
    ks = [k for k in range(len(lim.names)) if lim.weight[k] > 0]
    covs = _coverages(lp.problem, [[s for s, p in built_by.items() if p <= k + 1] for k in ks], lp)
    return sum(lim.weight[k] * cv[0] for k, cv in zip(ks, covs))


def _alone(cov: _Coverage, sd: pd.DataFrame) -> np.ndarray:
    """Sites x scenarios: the most priority-weighted people a site could take in on its own (its
    capacity filled with its reachable residents, heaviest weight first; queues ignored), an upper
    bound on its share of any plan's coverage."""
    out = np.zeros((len(sd), len(cov.scenarios)))
    for b, (_site, idx, cap, _need, _chain) in enumerate(cov.blocks):
        order = idx[np.argsort(-cov.weight[idx], kind="stable")]
        d = cov.demand[order]
        take = np.clip(cap - (np.cumsum(d) - d), 0.0, d)
        out[cov.block_site[b], cov.scen_of[idx[0]]] = float((take * cov.weight[order]).sum())
    return out


def _relaxed_bound(problem: Any, lp: _CoverageLP, sd: pd.DataFrame, elig: np.ndarray, lim: PhaseLimits) -> float:
    """A proven upper bound on the phasing objective (weighted person-days) without the MIP.

    Per weighted phase k, the people sheltered by its end are at most (per scenario) both what all
    chosen sites shelter (the LP) and the sum over the sites built by then of what each could take in
    on its own (`_alone`); the sites built by then obey the phases' cumulative limits (rooms and
    crew-days summed over phases 1..k when each of them has the limit, the least budget of phases k
    and later) and eligibility. The fractional knapsack of these is a small LP per phase."""
    K = len(lim.names)
    full = lp.solve(list(sd.index))[1]
    u = _alone(lp.cov, sd)
    ex = sd["existing"].to_numpy(dtype=bool)
    crew, cost = sd["crew_days"].to_numpy(float), sd["cost"].to_numpy(float)
    new = np.flatnonzero(~ex)
    base = u[ex].sum(axis=0)
    total = 0.0
    for k in range(K):
        if lim.weight[k] <= 0:
            continue
        can = elig[: k + 1][:, new].any(axis=0)
        model = _Model()
        x = model.cols(np.zeros(len(new)), 0.0, can.astype(float))
        t = model.cols(np.ones(len(full)), 0.0, np.maximum(full, 0.0))
        for j in range(len(full)):  # t_j - sum u x <= base_j
            model.row([int(t[j])] + list(x), [1.0] + list(-u[new, j]), -math.inf, float(base[j]))
        rooms = lim.max_rooms[: k + 1]
        if all(r is not None for r in rooms):
            model.row(list(x), [1.0] * len(x), -math.inf, float(sum(r for r in rooms if r is not None)))
        if all(d is not None for d in lim.max_days[: k + 1]):
            cap = sum(lim.crews[j] * float(lim.max_days[j] or 0.0) for j in range(k + 1))
            model.row(list(x), list(crew[new]), -math.inf, cap)
        later = [b for b in lim.budget[k:] if b is not None]
        if later:
            model.row(list(x), list(cost[new]), -math.inf, float(min(later)))
        res, _ = _highs(problem, model, None, mip=False)
        if res.values is None or res.status != "optimal":
            return math.inf
        total += lim.weight[k] * res.objective + TIE_BREAK * float(can.sum())
    return total


def _greedy_phases(sd: pd.DataFrame, lim: PhaseLimits, value: pd.Series) -> dict[str, int]:
    """Nested greedy phasing: phase by phase, sites by value per share of the phase's limits."""
    K = len(lim.names)
    out = {s: (1 if e else K + 1) for s, e in zip(sd.index, sd["existing"])}
    spent = 0.0
    for k in range(K):
        rooms_cap, days = lim.max_rooms[k], lim.max_days[k]
        crew_cap = None if days is None else lim.crews[k] * float(days)
        room_len = float("inf") if days is None else lim.per_room[k] * float(days)
        later = [b for b in lim.budget[k:] if b is not None]  # cumulative: later budgets bind too
        budget = min(later) if later else None
        left = [s for s in sd.index if out[s] == K + 1]
        use = pd.Series(0.0, index=left)
        if rooms_cap:
            use += 1.0 / rooms_cap
        if crew_cap:
            use += sd.loc[left, "crew_days"] / crew_cap
        if budget:
            use += sd.loc[left, "cost"] / budget
        score = value.reindex(left).fillna(0.0) / use.clip(lower=1e-9)
        n = crew = 0.0
        for s in score.sort_values(ascending=False, kind="stable").index:
            c, f = float(sd.at[s, "crew_days"]), float(sd.at[s, "cost"])
            if rooms_cap is not None and n + 1 > rooms_cap:
                break
            if crew_cap is not None and (crew + c > crew_cap + 1e-9 or c > room_len + 1e-9):
                continue
            if budget is not None and spent + f > budget + 1e-6:
                continue
            out[s] = k + 1
            n += 1
            crew += c
            spent += f
    return out


def phase_breaches(phase: pd.Series, costs: pd.DataFrame, params: Parameters, problem: Any = None) -> list[str]:
    """The declared limits each phase breaks (empty = all hold): rooms, crew time, room length, budget."""
    lim = phase_limits(params)
    K = len(lim.names)
    ids = list(phase.index.astype(str))
    if problem is not None:
        sd = _site_data(problem, ids, costs)
    else:
        sd = pd.DataFrame({"existing": costs.get("existing", pd.Series(False, index=costs.index)).reindex(ids).fillna(False),
                           "cost": costs["total_cost"].reindex(ids).fillna(0.0),
                           "crew_days": costs["crew_days"].reindex(ids).fillna(0.0)}, index=ids)
    out = []
    ph = phase.reindex(ids).to_numpy()
    ex = sd["existing"].to_numpy(dtype=bool)
    for k in range(K):
        new = (ph == k + 1) & ~ex
        by = (ph <= k + 1)
        rooms, days, budget = lim.max_rooms[k], lim.max_days[k], lim.budget[k]
        if rooms is not None and new.sum() > rooms:
            out.append(f"{lim.names[k]}: {int(new.sum())} rooms > max_rooms {rooms}")
        if days is not None:
            c = sd["crew_days"].to_numpy()[new]
            if c.sum() > lim.crews[k] * days + 1e-6:
                out.append(f"{lim.names[k]}: {c.sum():.2f} crew-days > {lim.crews[k]} crews x {days} days")
            if len(c) and c.max() > lim.per_room[k] * days + 1e-9:
                out.append(f"{lim.names[k]}: a room of {c.max():.2f} crew-days > {lim.per_room[k]} crews x {days} days")
        if budget is not None and sd["cost"].to_numpy()[by].sum() > budget + 1e-6:
            out.append(f"{lim.names[k]}: cumulative cost {sd['cost'].to_numpy()[by].sum():,.2f} > budget {budget:,.2f}")
    return out


def _fill_early(built_by: dict[str, int], sd: pd.DataFrame, lim: PhaseLimits) -> dict[str, int]:
    """Move sites into the earliest phase whose limits (and every later phase's budget) still hold."""
    K = len(lim.names)
    ids = list(sd.index)
    ph = np.array([built_by[s] for s in ids], dtype=np.int64)
    ex = sd["existing"].to_numpy(dtype=bool)
    c, f = sd["crew_days"].to_numpy(float), sd["cost"].to_numpy(float)
    pos = {s: i for i, s in enumerate(ids)}
    order = sorted(ids, key=lambda s: (float(c[pos[s]]), float(f[pos[s]]), s))
    for s in order:
        i = pos[s]
        if ex[i]:
            continue
        was = int(ph[i])
        for k in range(min(was - 1, K)):
            ph[i] = k + 1
            if not _breaks(ph, ex, c, f, lim):
                break
            ph[i] = was
    return {s: int(p) for s, p in zip(ids, ph)}


def _breaks(ph: np.ndarray, ex: np.ndarray, c: np.ndarray, f: np.ndarray, lim: PhaseLimits) -> bool:
    """Does the phase per site `ph` break a phase's limits? (`ex` existing, `c` crew-days, `f` cost.)"""
    for k in range(len(lim.names)):
        new = (ph == k + 1) & ~ex
        rooms, days, budget = lim.max_rooms[k], lim.max_days[k], lim.budget[k]
        if rooms is not None and new.sum() > rooms:
            return True
        if days is not None and new.any():
            if c[new].sum() > lim.crews[k] * days + 1e-9 or c[new].max() > lim.per_room[k] * days + 1e-9:
                return True
        if budget is not None and f[ph <= k + 1].sum() > budget + 1e-6:
            return True
    return False


# ------------------------------------------------------------------ the Phases sheet
def phase_table(problem: Any, phase: pd.Series, costs: pd.DataFrame, params: Parameters) -> pd.DataFrame:
    """One row per phase (1..K, plus "Remaining" when used) for the workbook's Phases sheet.

    Columns: phase, name, rooms (converted in the phase), rooms_total (safe rooms by its end,
    existing included), cost (of the phase, currency), cost_total (cumulative), budget
    (cumulative limit or NaN), labour_h, crew_days, crews, work_days (shortest schedule of the
    phase's work with its crews), max_days, start_day, end_day (days from the start),
    duration_days, sheltered_<scenario> (persons at the end of the phase), share_<scenario>,
    site_ids (comma-separated).
    Days: phase 1 starts at day 0; a phase ends `max_days` after it starts (its work days when it
    has no `max_days`); the next starts when it ends.
    """
    lim = phase_limits(params)
    K = len(lim.names)
    ids = [str(s) for s in phase.index]
    sd = _site_data(problem, ids, costs)
    ph = phase.reindex(ids).astype(int)
    last = int(ph.max()) if len(ph) else 1
    n_rows = max(K, last, 1)
    dem = problem.demand
    scen = [str(c) for c in dem.columns]
    totals = dem.sum()
    sets = [frozenset(s for s in ids if ph[s] <= k + 1) for k in range(n_rows)]
    known = {fs: pd.Series(c) for fs, c in phase.attrs.get("coverage", [])}   # plan_phases solved these
    todo = [fs for fs in dict.fromkeys(sets) if fs and fs not in known]
    for fs, cv in zip(todo, _coverages(problem, [sorted(fs) for fs in todo]) if todo else []):
        known[fs] = cv[2]
    rows = []
    day = 0.0
    for k in range(n_rows):
        declared = k < K
        crews = lim.crews[k] if declared else int(params.crews)
        per_room = lim.per_room[k] if declared else max(1, min(int(params.crews_per_room_max), crews))
        new = [s for s in ids if ph[s] == k + 1 and not sd.at[s, "existing"]]
        by = [s for s in ids if ph[s] <= k + 1]
        c = sd.loc[new, "crew_days"].to_numpy() if new else np.zeros(0)
        work = float(max(c.max() / per_room, c.sum() / crews)) if len(c) else 0.0
        max_days = lim.max_days[k] if declared else None
        length = float(max_days) if max_days is not None else work
        cov = known.get(frozenset(by), pd.Series(0, index=scen)) if by else pd.Series(0, index=scen)
        row = {"phase": k + 1, "name": lim.names[k] if declared else "Remaining",
               "rooms": len(new), "rooms_total": len(by),
               "cost": round(float(sd.loc[new, "cost"].sum()), 2) if new else 0.0,
               "cost_total": round(float(sd.loc[by, "cost"].sum()), 2) if by else 0.0,
               "budget": _float_or_nan(lim.budget[k] if declared else None),
               "labour_h": round(float(sd.loc[new, "labour_h"].sum()), 2) if new else 0.0,
               "crew_days": round(float(c.sum()), 2), "crews": crews, "work_days": round(work, 2),
               "max_days": float(max_days) if max_days is not None else np.nan,
               "start_day": round(day, 2), "end_day": round(day + length, 2),
               "duration_days": float(lim.weight[k]) if declared else np.nan}
        for s in scen:
            row[f"sheltered_{s}"] = int(cov.get(s, 0))
        for s in scen:
            row[f"share_{s}"] = float(cov.get(s, 0) / totals[s]) if totals[s] else 1.0
        row["site_ids"] = ", ".join(new)
        rows.append(row)
        day += length
    return pd.DataFrame(rows)


def _float_or_nan(v: float | None) -> float:
    return float(v) if v is not None else float("nan")
