"""Constructive heuristic + local search: a feasible plan in seconds, used as the MIP start.

1. Sites that must be open: existing/required ones, and for cover-all the only
   usable site of some occupied room.
2. Lazy greedy: open the site with the best (persons it can still take in, over
   all scenarios, priority-weighted) / cost, and fill it at once: shelter in
   place first, then rooms with the fewest options, earliest arrivals first,
   within capacity and the door queue (suffix headroom per arrival bin).
   Cover-all stops when everyone reachable is sheltered; max-cover when the
   budget allows no further site.
3. Backup: add the cheapest sites that give rooms short of `k` options more.
4. Local search (cover-all): close the most expensive open sites one by one
   when their people fit into the other open sites (capacity, queue, backup).

The result is only a start: the solver re-assigns exactly and proves the gap.
"""

from __future__ import annotations

import heapq
import time

import numpy as np

from planner.model.compile import Compiled, compile_problem
from planner.model.problem import Problem


def greedy_plan(problem: Problem) -> list[str]:
    """Site ids of a feasible-looking plan for `problem` (a planner.model.Problem)."""

    c = compile_problem(problem)
    x = greedy_compiled(c)
    return sorted(c.site_ids[x > 0.5].tolist())


class _State:
    """The heuristic's working state: open sites, flows, residual demand, loads and door headroom."""

    def __init__(self, c: Compiled, guide: np.ndarray | None = None) -> None:
        self.c = c
        self.guide = guide
        S = len(c.scen)
        self.S = S
        self.R = c.D.astype(np.int64).copy()                 # residual demand (G, S)
        self.load = np.zeros((c.J, S), np.int64)
        nb = c.nb if c.door_queue else 1                     # without door queues no bin matters
        self.arr = np.zeros((c.J, S, nb), np.int64)          # door arrivals per bin
        self.H = np.repeat(c.qcap[:, None, :nb], S, axis=1).astype(np.int64)  # queue headroom per bin
        self.flow = np.zeros((len(c.qg), S), np.int64)
        self.open = c.fixed1.copy().astype(bool)
        # CSR: pairs by site and by group
        self.by_site = np.argsort(c.qj, kind="stable")
        self.site_ptr = np.searchsorted(c.qj[self.by_site], np.arange(c.J + 1))
        self.grp_ptr = np.searchsorted(c.qg, np.arange(c.G + 1))  # qg is sorted by compile
        self.nopt = np.diff(self.grp_ptr)
        self.reach_cnt = np.zeros(c.G, np.int64)
        self.r_by_site = np.argsort(c.rj, kind="stable")
        self.r_site_ptr = np.searchsorted(c.rj[self.r_by_site], np.arange(c.J + 1))
        # no swaps (c.swap_rule): per site its shelter-in-place pair (-1: none); the local search then
        # moves others into a site only while its own residents fit beside them
        self.sip_q = np.full(c.J, -1, np.int64)
        self.sip_q[c.qj[c.qsip]] = np.flatnonzero(c.qsip)

    def load_flows(self, y: np.ndarray, yq: np.ndarray, ys: np.ndarray) -> None:
        """Start from a known whole-person assignment (y per column (pair yq, scenario ys))."""
        c = self.c
        self.R = c.D.astype(np.int64).copy()
        self.load[:] = 0
        self.arr[:] = 0
        self.flow[:] = 0
        yi = np.rint(y).astype(np.int64)
        np.add.at(self.flow, (yq, ys), yi)
        np.subtract.at(self.R, (c.qg[yq], ys), yi)
        np.add.at(self.load, (c.qj[yq], ys), yi)
        if not c.door_queue:
            return
        door = ~c.qsip[yq]
        np.add.at(self.arr, (c.qj[yq][door], ys[door], c.qbin[yq][door]), yi[door])
        for j in np.unique(c.qj[yq][door]):
            for s in range(self.S):
                self.refresh(int(j), s)

    def site_pairs(self, j: int) -> np.ndarray:
        return self.by_site[self.site_ptr[j]:self.site_ptr[j + 1]]

    def refresh(self, j: int, s: int) -> None:
        if not self.c.door_queue:
            return
        suffix = np.cumsum(self.arr[j, s, ::-1])[::-1]
        self.H[j, s] = np.minimum.accumulate(self.c.qcap[j] - suffix)

    def room(self, q: int, s: int) -> int:
        c = self.c
        j = c.qj[q]
        free = c.cap[j] - self.load[j, s]
        if c.qsip[q] or not c.door_queue:
            return int(free)
        return int(min(free, self.H[j, s, c.qbin[q]]))

    def put(self, q: int, s: int, a: int) -> None:
        c = self.c
        j = c.qj[q]
        self.flow[q, s] += a
        self.R[c.qg[q], s] -= a
        self.load[j, s] += a
        if not c.qsip[q] and c.door_queue:
            self.arr[j, s, c.qbin[q]] += a
            self.refresh(j, s)

    def fill(self, j: int) -> None:
        c = self.c
        qs = self.site_pairs(j)
        if not len(qs):
            return
        order = qs[np.lexsort((c.qbin[qs], self.nopt[c.qg[qs]], ~c.qsip[qs]))]
        for s in range(self.S):
            for q in order:
                r = self.R[c.qg[q], s]
                if r <= 0:
                    continue
                a = min(r, self.room(q, s))
                if a > 0:
                    self.put(q, s, a)
                if self.load[j, s] >= c.cap[j]:
                    break

    def gain(self, j: int) -> float:
        c = self.c
        qs = self.site_pairs(j)
        if not len(qs):
            return 0.0
        g = c.qg[qs]
        wt = c.w[g][:, None] * self.R[g]                     # (nq, S) weighted residual
        sip = c.qsip[qs]
        tot = 0.0
        qmax = c.qcap[j, c.qbin[qs][~sip].min()] if (~sip).any() else 0
        for s in range(self.S):
            v = wt[sip, s].sum() + min(float(qmax), wt[~sip, s].sum())
            tot += min(float(c.cap[j]) * (c.w[g].max() if len(g) else 1.0), v)
        return tot


def greedy_compiled(c: Compiled, local_search: bool = True, guide: np.ndarray | None = None) -> np.ndarray:
    """0/1 vector over `c.site_ids` (c: planner.model.Compiled).

    `guide`: optional LP-relaxation values of x per site (0..1): sites the LP opens fully
    are opened first, the greedy score is scaled by the LP value, and the local search
    tries to close the sites the LP likes least first.
    """
    st = _State(c, guide)
    budget = float("inf") if c.budget is None else float(c.budget)
    spent = _open_first(st, budget)
    _lazy_greedy(st, budget, spent)
    if (c.m >= 2).any():
        _backup(st, budget)
    if local_search:   # drop expensive sites whose people fit elsewhere
        _drop_pass(st)
    return st.open.astype(float)


def _open_first(st: _State, budget: float) -> float:
    """Open the sites every plan needs (cover-all: the only usable site of some group) and those the
    LP opens fully, within `budget` (currency), and fill them; returns what they cost."""
    c, guide = st.c, st.guide
    if c.objective == "cover-all" and c.G:
        sole = st.nopt == 1
        must = np.zeros(c.J, bool)
        must[c.qj[st.grp_ptr[:-1][sole]]] = True
        if float(c.cost[st.open | must].sum()) <= budget:
            st.open |= must
    if guide is not None:
        sure = (guide >= 0.999) & ~st.open
        if float(c.cost[st.open | sure].sum()) <= budget + 1e-9:
            st.open |= sure
    spent = float(c.cost[st.open].sum())
    first = np.flatnonzero(st.open)
    if guide is not None:
        first = first[np.argsort(-guide[first], kind="stable")]
    for j in first:
        st.fill(int(j))
    return spent


def _lazy_greedy(st: _State, budget: float, spent: float) -> None:
    """Open the site with the best gain per cost (scores recomputed lazily) while the budget allows
    (cover-all: until everyone reachable is sheltered)."""
    c, guide = st.c, st.guide
    cover_all = c.objective == "cover-all"
    heap: list[tuple[float, int]] = []
    for j0 in np.flatnonzero(~st.open):
        g = st.gain(int(j0))
        if g > 0:
            heapq.heappush(heap, (-_score(g, c.cost[j0], _lp(guide, int(j0))), int(j0)))
    while heap and (not cover_all or st.R.sum() > 0):
        _, j = heapq.heappop(heap)
        if st.open[j] or spent + c.cost[j] > budget + 1e-9:
            continue
        g = st.gain(j)
        if g <= 0:
            continue
        sc = _score(g, c.cost[j], _lp(guide, j))
        if heap and sc < -heap[0][0] - 1e-12:
            heapq.heappush(heap, (-sc, j))
            continue
        st.open[j] = True
        spent += float(c.cost[j])
        st.fill(j)


def improve_plan(c: Compiled, x: np.ndarray, y: np.ndarray, yq: np.ndarray, ys: np.ndarray,
                 guide: np.ndarray | None = None, deadline: float | None = None) -> np.ndarray:
    """Local search from a feasible plan `x` with its whole-person assignment: close sites
    (the LP's least liked first, then the most expensive) whose people fit into the other
    open sites within capacity, door queue and backup. Returns the improved 0/1 vector.
    `deadline` (a `time.perf_counter()` value, seconds): stop trying to close sites then."""
    st = _State(c, guide)
    st.open = x > 0.5
    st.load_flows(y, yq, ys)
    _drop_pass(st, deadline)
    return st.open.astype(float)


def _score(gain: float, cost: float, lp: float = 1.0) -> float:
    return (gain / cost if cost > 1e-9 else gain * 1e12) * (0.05 + lp)


def _lp(guide: np.ndarray | None, j: int) -> float:
    return 1.0 if guide is None else float(guide[j])


def _counts(st: _State) -> np.ndarray:
    c = st.c
    return np.bincount(c.rg, weights=st.open[c.rj].astype(float), minlength=c.G)


def _backup(st: _State, budget: float) -> None:
    c = st.c
    spent = float(c.cost[st.open].sum())
    while True:
        short = _counts(st) < c.m - 1e-9
        if not short.any():
            return
        sel = short[c.rg] & ~st.open[c.rj]
        helps = np.bincount(c.rj[sel], minlength=c.J).astype(float)
        afford = (spent + c.cost <= budget + 1e-9) & ~st.open & (helps > 0)
        if not afford.any():
            return
        score = np.where(afford, helps / np.maximum(c.cost, 1e-9), -1.0)
        j = int(np.argmax(score))
        st.open[j] = True
        spent += float(c.cost[j])
        st.fill(j)


def _drop_pass(st: _State, deadline: float | None = None) -> None:
    """Close open sites one by one (see the module docstring); stops trying at `deadline`
    (a `time.perf_counter()` value, seconds) with the sites closed so far."""
    c = st.c
    cand = np.flatnonzero(st.open & ~c.fixed1)
    if st.guide is not None:
        cand = cand[np.lexsort((-c.cost[cand], st.guide[cand]))]
    else:
        cand = cand[np.argsort(-c.cost[cand], kind="stable")]
    cnt = _counts(st)           # open sites in reach per group, kept up to date as sites close
    for j in cand:
        if deadline is not None and time.perf_counter() > deadline:
            break
        if c.cost[j] <= 0:
            continue
        # backup after closing j
        rs = st.r_by_site[st.r_site_ptr[j]:st.r_site_ptr[j + 1]]
        gs = c.rg[rs]
        if len(rs) and (cnt[gs] - 1 < c.m[gs] - 1e-9).any():
            continue
        if _close(st, int(j)):
            np.subtract.at(cnt, gs, 1.0)


def _close(st: _State, j: int) -> bool:
    """Close site `j` when its people fit into the other open sites (they are moved there); else
    everything stays as it was. Returns whether `j` was closed."""
    qs = st.site_pairs(j)
    moved = st.flow[qs].copy()
    st.open[j] = False
    if moved.sum() == 0:
        return True
    _shift(st, qs, moved, -1)                     # take j's people out
    journal: list[tuple[int, int, int]] = []
    if all(_rehome(st, int(q), moved[k], journal) for k, q in enumerate(qs)):
        return True
    for q2, s, a in reversed(journal):
        st.put(q2, s, -a)
    st.open[j] = True
    _shift(st, qs, moved, 1)
    return False


def _shift(st: _State, qs: np.ndarray, moved: np.ndarray, sign: int) -> None:
    """Add (`sign` 1) or remove (-1) the persons `moved` (per pair of `qs` and scenario)."""
    for k, q in enumerate(qs):
        for s in range(st.S):
            a = int(moved[k, s])
            if a:
                st.put(int(q), s, sign * a)


def _swap_free_room(st: _State, q2: int, s: int) -> int:
    """Persons of other rooms pair `q2`'s site can still take in scenario `s` without a swap: its places
    less its own residents (all of them, whether they are in it now or not) and the others already in."""
    c = st.c
    j = int(c.qj[q2])
    k = int(st.sip_q[j])
    if c.qsip[q2] or k < 0:
        return 1 << 62
    own = int(c.D[c.qg[k], s])
    others = int(st.load[j, s] - st.flow[k, s])
    return max(int(c.cap[j]) - own, 0) - others


def _rehome(st: _State, q: int, moved: np.ndarray, journal: list[tuple[int, int, int]]) -> bool:
    """Place the persons `moved` (per scenario) of pair `q`'s group at its other open sites (shelter in
    place first, earliest arrival bin first), each move recorded in `journal`; False if some do not fit.
    With the no-swap rule (`Compiled.swap_rule`) a site takes others only while its own residents fit."""
    c = st.c
    g = c.qg[q]
    alts = np.arange(st.grp_ptr[g], st.grp_ptr[g + 1])
    alts = alts[st.open[c.qj[alts]]]
    alts = alts[np.lexsort((c.qbin[alts], ~c.qsip[alts]))]
    for s in range(st.S):
        need = int(moved[s])
        for q2 in alts:
            if need <= 0:
                break
            a = min(need, st.room(int(q2), s))
            if c.swap_rule:
                a = min(a, _swap_free_room(st, int(q2), s))
            if a > 0:
                st.put(int(q2), s, a)
                journal.append((int(q2), s, a))
                need -= a
        if need > 0:
            return False
    return True
