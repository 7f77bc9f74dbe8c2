"""Coverage of a set of built safe rooms for the phasing (`planner.phases`): the assignment LP
(supply, capacity, door queues; priority-weighted people) as sparse arrays for HiGHS, and the same
problem as maximum flows.

- `LinearModel`: a linear model assembled in numpy blocks, solved by highspy (`solve_highs`).
- `Coverage`: the pairs of the chosen sites with demand, their queue levels and a template of the
  coverage rows that `Coverage.block` copies for a phase (the phasing MIP has one block per phase).
- `CoverageFlow`: the same rows as a network; with whole persons the LP's optimum is a sum of
  maximum flows (scipy, Dinic) over the distinct priority weights (see `CoverageFlow`).
- `CoverageLP`: coverage of any subset of the sites, by maximum flows, else by the LP with its
  bounds changed from subset to subset (each solve warm-started from the previous basis).
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import highspy
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow

from planner.errors import SolverError
from planner.model.compile import arrival_bins, queue_capacity
from planner.model.highs import HIGHS_STATUS, Run, highs_lp, highs_threads_reset, highs_version, new_highs

def site_data(problem: Any, chosen: Sequence[str], costs: pd.DataFrame) -> pd.DataFrame:
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



# ------------------------------------------------------------------ arrays for HiGHS
_SUPPLY, _CAP, _VUB, _QNEED, _QDEF = range(5)
"""Kinds of coverage rows: supply of a (room, scenario), capacity of a site, y <= d z of an unbuilt
site, a door's queue capacity at an arrival level, the running sum of a door's queue."""


class LinearModel:
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


def solve_highs(problem: Any, model: LinearModel, time_limit_s: float | None, mip: bool,
           start: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[Run, highspy.Highs]:
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
    return rerun_highs(h, c, mip and bool(integer.any())), h


def rerun_highs(h: highspy.Highs, c: np.ndarray, mip: bool) -> Run:
    """Run `h` (which minimises -c x) and read its answer as a maximisation of c x (`model.highs.Run`:
    objective and bound in c's units, bound +inf and gap inf when unknown)."""
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
    return Run(values, status, obj, bound, gap, time.perf_counter() - t0, "HiGHS", highs_version())


# ------------------------------------------------------------------ coverage block
class Coverage:
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

    def block(self, model: LinearModel, state: np.ndarray, zcol: np.ndarray, weight: float) -> np.ndarray:
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


class CoverageFlow:
    """The assignment problem of a `Coverage` as a network: source -> (room, scenario) (its
    residents) -> the site's door, through the door's queue levels (latest first: level t passes on
    at most its queue capacity to level t+1, the last one into the site) -> the site (its
    capacity) -> sink. The LP's rows are exactly this network's conservation and capacities (supply,
    capacity, the queue's running sums), so with whole-person data the LP's optimum is a maximum
    flow: the most weighted people are, over the distinct weights w_1 > ... > w_L, the sum of
    (w_k - w_(k+1)) x the maximum flow from the rooms of weight >= w_k (the reachable head counts
    form a polymatroid, on which the greedy order by weight is optimal). scipy's maximum flow
    (Dinic) takes milliseconds where the LP takes seconds."""

    def __init__(self, cov: Coverage, sd: pd.DataFrame) -> None:
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


class CoverageLP:
    """The assignment LP (supply, capacity, door queues; priority-weighted people) over the sites of
    a `Coverage`, solved for any subset of them by changing the y bounds: one model, each solve
    warm-started from the previous basis (HiGHS keeps it across bound changes)."""

    def __init__(self, problem: Any, cov: Coverage, sd: pd.DataFrame) -> None:
        self.problem, self.cov = problem, cov
        self.scen = list(cov.scenarios)
        self.model: LinearModel | None = None
        self.ys = np.zeros(0, np.int64)
        self.c = np.zeros(0)
        self.h: highspy.Highs | None = None
        self.pos = pd.Series(np.arange(len(cov.sites)), index=cov.sites)
        self.memo: dict[frozenset[str], tuple[float, np.ndarray, pd.Series, np.ndarray]] = {}
        self.flow = CoverageFlow(cov, sd)

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
            self.model = LinearModel()
            self.ys = cov.block(self.model, np.ones(len(cov.sites), np.int64), np.zeros(len(cov.sites), np.int64), 1.0)
            self.c = np.concatenate(self.model._c) if self.model._c else np.zeros(0)
        if self.h is None:
            self.model._hi[0] = ub
            res, self.h = solve_highs(self.problem, self.model, None, mip=False)
        else:
            self.h.changeColsBounds(len(self.ys), self.ys.astype(np.int32), np.zeros(len(self.ys)), ub)
            res = rerun_highs(self.h, self.c, False)
        if res.values is None or res.status != "optimal":
            raise SolverError(f"the coverage LP of the phasing was not solved ({res.status})")
        y = res.values[self.ys]
        wsc = np.bincount(cov.scen_of, weights=y * cov.weight, minlength=len(self.scen)).astype(float)
        people = np.bincount(cov.scen_of, weights=np.floor(y + 1e-6), minlength=len(self.scen)).astype(float)
        out = (float(wsc.sum()), wsc, pd.Series(people, index=self.scen).round().astype(np.int64), y)
        self.memo[key] = out
        return out


def coverages(problem: Any, sets: Sequence[Sequence[str]], lp: CoverageLP | None = None
               ) -> list[tuple[float, np.ndarray, pd.Series, np.ndarray]]:
    """`CoverageLP.solve` for each set of built sites (`lp`: one over a superset of them, reused)."""
    if lp is None:
        union = list(dict.fromkeys(str(s) for ss in sets for s in ss))
        sd = site_data(problem, union, pd.DataFrame(index=union))
        lp = CoverageLP(problem, Coverage(problem, sd), sd)
    return [lp.solve(ss) for ss in sets]


def coverage(problem: Any, sites: Sequence[str], time_limit_s: float | None = None) -> pd.Series:
    """People sheltered per scenario (persons) with exactly `sites` built: the assignment LP
    (supply, capacity, door queues), maximising priority-weighted people. `time_limit_s` is kept
    for compatibility (the LP has no time limit of its own but the problem's)."""
    return coverages(problem, [list(sites)])[0][2]



def alone(cov: Coverage, sd: pd.DataFrame) -> np.ndarray:
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


