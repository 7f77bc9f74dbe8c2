"""A cover-all start plan by maximum flows: the LP relaxation's support, its sites closed one by one while
everyone still has a place with the no-swap rule held hard (issue 21, generated 1,000-room stations).

On the LP path a cover-all start plan is the LP's support (every site the LP opens at all: it fits, the
LP's assignment shows it) made cheaper; with the no-swap rows (`Compiled.swap_rule`) the support is
rounded at thresholds (`lppath._swap_rounding`, one whole-person assignment of about 0.7 s each) and the
local search (`heuristic.improve_plan`) closes sites by a greedy re-homing of their people. On the
generated 1,000-room stations the rounding took most of the time and its plan paid a swap penalty
(seed 3: 149 sites, 20.84 M plus 4 persons' swaps at 158,260 each, 8.7 % above the reported bound),
while the support itself fits with no swap at all: closing its sites one at a time while a maximum flow
still shelters everyone (exact tests: people may move anywhere) gave 143 sites for 20.05 M with no swap.

`FlowCheck` builds the maximum-flow network of `lagrange.shelter_flow` (with the no-swap rule held hard:
`lagrange.swap_left`) once over all sites, per scenario; a plan closes a site by setting its edge to the
sink to 0, so a test is one maximum flow per scenario on a fixed matrix, the scenario that failed last
first (most tests fail; one flow then says so). The model's rows the flow knows are capacity, door
queues, the no-swap rule and the exit-door rows (a node per room and exit door, `lagsearch.exit_nodes`, between the room and
its pairs that leave by that door; `applies`: no budget, corridor or expected-share rows); backup rows
(`m_g >= 2` sites in reach) are kept by counting.

Units: persons, currency, seconds.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow

from planner.model.compile import Compiled
from planner.model.lagrange import swap_left
from planner.model.lagsearch import door_bins, exit_laminar, exit_nodes, open_pairs


def applies(c: Compiled) -> bool:
    """Whether `FlowCheck` describes the model `c`: cover-all, no budget, no corridor or expected-share rows
    (the flows know capacity, door queues, the no-swap rule and exit-door rows, one node per row:
    `lagsearch.exit_laminar`)."""
    return (c.objective == "cover-all" and c.budget is None and c.G > 0 and c.J > 0 and not len(c.cut_id)
            and not c.share and exit_laminar(c))


def _networks(c: Compiled, left: np.ndarray | None) -> list[tuple[int, int, sp.csr_matrix, np.ndarray]]:
    """`lagrange.shelter_flow`'s networks over all sites (`left`: the no-swap rule held hard, `swap_left`), per
    scenario with residents: (scenario, its residents, the network, the site each entry of the matrix's data
    leads to (a pair's edge or a site's edge to the sink) or -1)."""
    S, G, J = len(c.scen), c.G, c.J
    sites, use, loc = open_pairs(c, np.ones(J))
    qg, qj, qb, sip = c.qg[use], c.qj[use], c.qbin[use].astype(np.int64), np.asarray(c.qsip[use], bool)
    chain, bkey, bj, _, first, big, chain_cap = door_bins(c, qj, qb, sip)
    n_site0 = 2 + G
    n_oth0 = n_site0 + J if left is not None else n_site0
    n_bin0 = n_oth0 + J if left is not None else n_site0 + J
    n_exit0 = n_bin0 + len(bkey)
    xnode, xgrp, xcap = exit_nodes(c, use)      # exit-door rows: group -> (room, door) node -> its pairs
    n = n_exit0 + len(xgrp)
    frm = np.where(xnode >= 0, n_exit0 + xnode, 2 + qg)
    to = np.where(sip, n_site0, n_oth0) + loc[qj]
    to[chain] = n_bin0 + np.searchsorted(bkey, qj[chain] * c.nb + qb[chain])
    chain_from = n_bin0 + np.arange(len(bkey))
    chain_to = np.where(first, n_oth0 + loc[bj], chain_from - 1)
    site_cap = np.minimum(c.cap[sites], big)
    nets = []
    for s in range(S):
        d = c.D[:, s].astype(np.int64)
        if d.sum() <= 0:
            continue
        pg = d[qg] > 0
        rows = np.r_[np.zeros(G, np.int64), frm[pg], chain_from, n_site0 + np.arange(J), 2 + xgrp]
        cols = np.r_[2 + np.arange(G), to[pg], chain_to, np.ones(J, np.int64), n_exit0 + np.arange(len(xgrp))]
        caps = np.r_[d, d[qg[pg]], chain_cap, site_cap, xcap[:, s]]
        tag = np.r_[np.full(G, -1), qj[pg], np.full(len(bkey), -1), np.arange(J), np.full(len(xgrp), -1)]
        if left is not None:
            rows = np.r_[rows, n_oth0 + np.arange(J)]
            cols = np.r_[cols, n_site0 + np.arange(J)]
            caps = np.r_[caps, np.minimum(left[sites, s], big)]
            tag = np.r_[tag, np.full(J, -1)]
        caps = caps.astype(np.int32)
        keep = caps > 0
        # (every edge is unique: one per group, pair, bin and site; the tags follow the entries)
        A = sp.coo_matrix((caps[keep], (rows[keep], cols[keep])), shape=(n, n)).tocsr()
        T = sp.coo_matrix((tag[keep] + 2, (rows[keep], cols[keep])), shape=(n, n)).tocsr()
        assert A.nnz == int(keep.sum()) and np.array_equal(A.indices, T.indices)
        nets.append((s, int(d.sum()), A, T.data.astype(np.int64) - 2))
    return nets


class FlowCheck:
    """Whether a plan (0/1 per site) shelters everyone: `lagrange.shelter_flow`'s networks over all sites
    (no-swap rule held hard when the model has it), built once; closed sites lose their edges.

    Where even every site open leaves someone without a place under the hard no-swap rule (swaps forced: no
    room with places in their reach; the generated 3,000-room stations), a plan fits when its flow under the
    rule shelters as many as every site's does, and the flow without the rule shelters everyone (the
    plan's assignment then exists; its swaps are at least the forced ones)."""

    def __init__(self, c: Compiled) -> None:
        self.c = c
        left = swap_left(c)
        self.nets = [(s, d, d, A, tag) for s, d, A, tag in _networks(c, left)]
        """Per test: (scenario, persons its flow must shelter, the scenario's residents, network, tags)."""
        self.order = list(range(len(self.nets)))
        self.flows = 0
        self.forced = np.zeros((c.G, len(c.scen)), np.int64)
        """Persons per (group, scenario) without a place under the hard no-swap rule with every site open."""
        if left is None:
            return
        free = {s: net for s, *net in _networks(c, None)}
        for k, (s, d, _, A, tag) in enumerate(list(self.nets)):
            f = self._flow(k, np.zeros(c.J, bool))
            if f.flow_value < d:
                self.forced[:, s] = np.maximum(c.D[:, s].astype(np.int64) - self._served(f), 0)
                self.nets[k] = (s, int(f.flow_value), d, A, tag)
                self.nets.append((s, d, d, free[s][1], free[s][2]))
        self.order = list(range(len(self.nets)))

    def _served(self, f: Any) -> np.ndarray:
        """Persons per group a maximum flow `f` shelters."""
        row = f.flow.tocsr()[0].tocoo()
        got = np.zeros(self.c.G, np.int64)
        at = row.col >= 2
        got[row.col[at] - 2] = row.data[at]
        return got

    def _flow(self, k: int, closed: np.ndarray) -> Any:
        """The maximum flow of network `k` with the sites `closed` (bool per site) closed."""
        A, tag = self.nets[k][3:]
        data = A.data.copy()
        # closed sites lose their pairs' edges and their edge to the sink (a network with dead ends at
        # closed sites took scipy's Dinic 20 times as long)
        data[(tag >= 0) & closed[np.maximum(tag, 0)]] = 0
        self.flows += 1
        M = sp.csr_matrix((data, A.indices.copy(), A.indptr.copy()), shape=A.shape)
        M.eliminate_zeros()                  # (zero edges left in: 1.5 times as long)
        return maximum_flow(M, 0, 1, method="dinic")

    def short(self, x: np.ndarray) -> int:
        """The first scenario (model index) in which the sites `x` leave someone without a place, or -1."""
        closed = np.asarray(x, float) < 0.5
        for k in list(self.order):
            s, target = self.nets[k][:2]
            if self._flow(k, closed).flow_value < target:
                self.order.remove(k)
                self.order.insert(0, k)    # the scenario that failed goes first next time
                return s
        return -1

    def shortfall(self, x: np.ndarray) -> np.ndarray:
        """Persons per (group, scenario) without a place in a maximum flow of the sites `x` that every site
        open would shelter ((G, S) array; 0 everywhere when `x` fits)."""
        c = self.c
        closed = np.asarray(x, float) < 0.5
        out = np.zeros((c.G, len(c.scen)), np.int64)
        for k, (s, target, d, _, _) in enumerate(self.nets):
            f = self._flow(k, closed)
            if f.flow_value >= target:
                continue
            lack = c.D[:, s].astype(np.int64) - self._served(f) - (self.forced[:, s] if target < d else 0)
            out[:, s] = np.maximum(out[:, s], np.maximum(lack, 0))
            if not out[:, s].any():
                out[:, s] = (c.D[:, s] > self._served(f)).astype(np.int64)   # (someone is short: not nobody)
        return out


def repair(c: Compiled, x0: np.ndarray, fc: FlowCheck, deadline: float, rounds: int = 12) -> np.ndarray | None:
    """`x0` with sites opened until everyone has a place by the flows (`FlowCheck`), or None (not by the
    deadline or within `rounds`, or not even with every site open). Each round opens, for every group with
    persons short, the closed site in its reach with the most of its shortfall (at most the site's
    capacity) per cost; the flows then say who is still short."""
    x = np.maximum(np.asarray(x0, float), c.fixed1)
    if fc.short(np.ones(c.J)) >= 0:
        return None
    for _ in range(rounds):
        R = fc.shortfall(x)
        if not R.any():
            return x
        if time.perf_counter() > deadline:
            return None
        q = np.flatnonzero((R[c.qg] > 0).any(axis=1) & (x[c.qj] < 0.5))
        if not len(q):
            return None
        j = c.qj[q]
        gain = np.minimum(R[c.qg[q]].max(axis=1), c.cap[j]).astype(float)
        score = gain / np.maximum(c.cost[j], 1e-9)
        best = np.full(c.G, -1.0)
        np.maximum.at(best, c.qg[q], score)
        pick = q[score >= best[c.qg[q]] - 1e-12]
        x[np.unique(c.qj[pick])] = 1.0
    return x if not fc.shortfall(x).any() else None


def flow_drop(c: Compiled, x0: np.ndarray, order: np.ndarray, deadline: float,
              check: FlowCheck | None = None, mend: bool = True) -> tuple[np.ndarray | None, dict[str, Any]]:
    """Close the sites of `order` (open in `x0`, not fixed, with a cost) one at a time while everyone still
    has a place by the flows (`FlowCheck`) and every group keeps its `m_g` sites in reach; stops at
    `deadline` (`time.perf_counter()`). When `x0` leaves someone without a place under the hard no-swap rule,
    it is first `repair`ed (`mend`), and the sites that opened are tried first. Returns (the plan, or None
    when `x0` does not fit and was not repaired; counts)."""
    t = time.perf_counter()
    fc = check or FlowCheck(c)
    x = np.maximum(np.asarray(x0, float), c.fixed1)
    info: dict[str, Any] = dict(start_sites=int(x.sum()), start_cost=float(c.cost @ x))
    if fc.short(x) >= 0:
        xr = repair(c, x, fc, deadline) if mend else None
        if xr is None:
            info.update(fits=False, flows=fc.flows, seconds=round(time.perf_counter() - t, 3))
            return None, info
        added = np.flatnonzero((xr > 0.5) & (x < 0.5))
        info.update(repaired=len(added), repaired_cost=float(c.cost[added].sum()))
        order = np.r_[added[np.argsort(-c.cost[added])], order]     # the sites it opened first
        x = xr
    cnt = np.bincount(c.rg, weights=(x[c.rj] > 0.5).astype(float), minlength=c.G)
    closed = tests = 0
    for j in order:
        if time.perf_counter() > deadline:
            break
        if x[j] < 0.5 or c.fixed1[j] or c.cost[j] <= 0:
            continue
        gs = c.rg[c.rj == j]
        if len(gs) and (cnt[gs] - 1 < c.m[gs] - 1e-9).any():
            continue
        x[j] = 0.0
        tests += 1
        if fc.short(x) >= 0:
            x[j] = 1.0
            continue
        closed += 1
        np.subtract.at(cnt, gs, 1.0)
    info.update(fits=True, tests=tests, closed=closed, flows=fc.flows, sites=int(x.sum()), cost=float(c.cost @ x),
                seconds=round(time.perf_counter() - t, 3))
    return x, info
