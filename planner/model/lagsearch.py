"""Maximum flows started from a known flow, and the local search by them, for the Lagrangian path
(30,000 rooms, issue 21).

`lagrange.shelter_flow` computes each maximum flow from nothing: at 30,000 rooms (7.3 M
assignment columns, 106,000 nodes of which 76,000 arrival bins) 23 to 36 s for the three
scenarios (measured 2026-12-07, load 4 to 6). The price raising and the local search each take a
flow of a plan that differs from the last one in a few sites, so `augment_flow` starts from the
last plan's flow: the maximum flow of its residual network (what is left of each capacity
forward, the flow itself backward) is added to it. Same network, same maximum, same minimum cuts;
0.4 to 2 s at 30,000 rooms (few augmenting phases are left).

Units: persons.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from planner.model.compile import Compiled


def open_pairs(c: Compiled, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the open sites of `x` (0/1 per site), the usable pairs at them, each site's position among the open
    ones or -1): the shelter flow network's site nodes and pair edges (`lagrange.shelter_flow`, `augment_flow`)."""
    open_ = np.asarray(x, float) > 0.5
    sites = np.flatnonzero(open_)
    loc = np.full(c.J, -1, np.int64)
    loc[sites] = np.arange(len(sites))
    return sites, np.flatnonzero(open_[c.qj]), loc


def door_bins(c: Compiled, qj: np.ndarray, qb: np.ndarray, sip: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]:
    """The arrival-bin nodes of the shelter flow network (`lagrange.shelter_flow`, `augment_flow`) for the usable
    pairs at sites `qj` arriving in bins `qb` (`sip`: shelter in place, no door): only bins whose door limit is
    below the site's capacity need one (the latest bins: limits never grow with the arrival time).

    Returns (per pair, whether it goes through a bin node; the bin keys `site * nb + bin`, sorted; their sites;
    their bins; whether each is its site's first; the largest capacity an edge needs (persons, int32); each bin
    node's edge capacity, persons)."""
    nb = c.nb
    chain = ~sip & (c.qcap[qj, np.minimum(qb, nb - 1)] < c.cap[qj])
    bkey = np.unique(qj[chain] * nb + qb[chain])
    bj, bb = bkey // nb, bkey % nb
    first = np.r_[True, bj[1:] != bj[:-1]]
    big = int(min(np.iinfo(np.int32).max, max(int(c.D.sum()), 1)))
    chain_cap = np.minimum(np.minimum(c.qcap[bj, bb], c.cap[bj]), big)
    return chain, bkey, bj, bb, first, big, chain_cap


def pair_exit(c: Compiled) -> np.ndarray:
    """Per usable pair of `c`: its exit-door row's (room, door) index `exit_id // S` (the same in every
    scenario), -1 if it is in none (`Compiled.exit_id`)."""
    S = max(len(c.scen), 1)
    out = np.full(len(c.qg), -1, np.int64)
    if len(c.exit_id):
        out[c.exit_q] = c.exit_id // S
    return out


def exit_laminar(c: Compiled) -> bool:
    """Whether every usable pair is in at most one (room, door) exit-door row and every row's pairs are one
    group's (rooms with exit rows are groups of their own): then one flow node per row, between the group
    and the row's pairs, with the row's limit as capacity, is the row exactly."""
    if not len(c.exit_id):
        return True
    S = max(len(c.scen), 1)
    rb = c.exit_id // S
    qr = np.unique(np.c_[c.exit_q, rb], axis=0)
    if len(np.unique(qr[:, 0])) != len(qr):
        return False
    g = c.qg[qr[:, 0]]
    order = np.argsort(qr[:, 1], kind="stable")
    rs, gs = qr[order, 1], g[order]
    same = rs[1:] == rs[:-1]
    return bool((gs[1:][same] == gs[:-1][same]).all())


def exit_nodes(c: Compiled, use: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exit-door nodes of the shelter flow network for the usable pairs `use` (indices): per pair its
    node (0 .. nodes - 1) or -1 (no exit-door row), each node's group, and its capacity per scenario
    (nodes, S; whole persons, the row's `exit_rhs`). Needs `exit_laminar(c)`."""
    S = len(c.scen)
    xr = pair_exit(c)[use]
    has = xr >= 0
    if not has.any():
        return np.full(len(use), -1, np.int64), np.zeros(0, np.int64), np.zeros((0, S), np.int64)
    rb, loc = np.unique(xr[has], return_inverse=True)
    node = np.full(len(use), -1, np.int64)
    node[has] = loc
    grp = np.zeros(len(rb), np.int64)
    grp[loc] = c.qg[use[has]]
    rhs = np.floor(np.asarray(c.exit_rhs, float).reshape(-1, S)[rb] + 1e-6)
    big = float(min(np.iinfo(np.int32).max, max(int(c.D.sum()), 1)))
    return node, grp, np.clip(rhs, 0, big).astype(np.int64)


def augment_flow(c: Compiled, x: np.ndarray, Y0: np.ndarray, cuts: list | None = None,
                 scen_order: list[int] | None = None) -> tuple[np.ndarray, int]:
    """`lagrange.shelter_flow` started from a whole-person flow `Y0` that fits the sites `x` (pairs, S):
    the maximum flow of the residual network of `Y0` (forward edges: what is left of each
    capacity; backward edges: `Y0`'s flow, which may be moved) is added to it. Same network, same
    maximum (and the same minimum cuts appended to `cuts`); the search starts near the end: when
    `Y0` is nearly maximal (the sites of the previous price round, all still open) few augmenting
    phases are left. Pairs of `Y0` at sites closed in `x` are left out (the rest is still a flow).

    Returns (the flow, -1); with `scen_order` (scenario indices) the scenarios are taken in that order
    and the first that leaves someone without a place ends it: (the flow so far, that scenario)."""
    S = len(c.scen)
    G, nb = c.G, c.nb
    sites, use, loc = open_pairs(c, x)
    Y = np.zeros((len(c.qg), S), np.int64)
    if not len(sites) or not len(use):
        short = [s for s in (scen_order or []) if c.D[:, s].sum() > 0]
        return Y, (short[0] if short else -1)
    Jo = len(sites)
    qg, qj, qb, sip = c.qg[use], c.qj[use], c.qbin[use].astype(np.int64), np.asarray(c.qsip[use], bool)
    chain, bkey, bj, bb, first, big, chain_cap = door_bins(c, qj, qb, sip)
    n_site0 = 2 + G
    n_bin0 = n_site0 + Jo
    n = n_bin0 + len(bkey)
    to = n_site0 + loc[qj]
    bidx = np.searchsorted(bkey, qj[chain] * nb + qb[chain])
    to[chain] = n_bin0 + bidx
    seg_start = np.flatnonzero(first)
    chain_from = n_bin0 + np.arange(len(bkey))
    chain_to = np.where(first, n_site0 + loc[bj], chain_from - 1)
    site_cap = np.minimum(c.cap[sites], big)
    # exit-door rows: group -> (room, door) node -> the row's pairs
    xnode, xgrp, xcap = exit_nodes(c, use)
    n_exit0 = n
    n = n_exit0 + len(xgrp)
    frm = np.where(xnode >= 0, n_exit0 + xnode, 2 + qg)
    xin = xnode >= 0
    for s in (range(S) if scen_order is None else scen_order):
        d = c.D[:, s].astype(np.int64)
        if d.sum() <= 0:
            continue
        f = np.asarray(Y0[use, s], np.int64)
        gflow = np.bincount(qg, weights=f, minlength=G).astype(np.int64)
        sflow = np.bincount(loc[qj], weights=f, minlength=Jo).astype(np.int64)
        into = np.bincount(bidx, weights=f[chain], minlength=len(bkey))
        # the edge out of bin k carries the arrivals of bins k and later of the same site
        rc = np.cumsum(into[::-1])[::-1]
        seg_end = np.r_[seg_start[1:], len(bkey)]
        after = np.zeros(len(bkey))
        if len(bkey):
            nxt = np.r_[rc[seg_end[:-1]], 0.0] if len(seg_end) > 1 else np.zeros(1)
            after = np.repeat(nxt, seg_end - seg_start)
        cflow = np.rint(rc - after).astype(np.int64)
        pg = d[qg] > 0
        xflow = np.bincount(xnode[xin], weights=f[xin], minlength=len(xgrp)).astype(np.int64)
        rows = np.r_[np.zeros(G, np.int64), frm[pg], chain_from, n_site0 + np.arange(Jo), 2 + xgrp]
        cols = np.r_[2 + np.arange(G), to[pg], chain_to, np.ones(Jo, np.int64), n_exit0 + np.arange(len(xgrp))]
        caps = np.r_[d, d[qg[pg]], chain_cap, site_cap, xcap[:, s]]
        flows = np.r_[gflow, f[pg], cflow, sflow, xflow]
        rr = np.r_[rows, cols]
        cc = np.r_[cols, rows]
        kk = np.r_[caps - flows, flows].astype(np.int32)
        keep = kk > 0
        A = sp.csr_matrix((kk[keep], (rr[keep], cc[keep])), shape=(n, n))
        A.sum_duplicates()
        flow = maximum_flow(A, 0, 1, method="dinic")
        if cuts is not None and int(gflow.sum()) + flow.flow_value < d.sum():
            R = (A - flow.flow).tocsr()
            R.data[R.data < 0] = 0
            R.eliminate_zeros()
            side = breadth_first_order(R, 0, directed=True, return_predecessors=False)
            cuts.append((s, np.sort(side[(side >= 2) & (side < 2 + G)] - 2)))
        F = flow.flow.tocsr()
        extra = np.zeros(len(use), np.int64)
        if flow.flow_value > 0:
            extra[pg] = np.asarray(F[frm[pg], to[pg]]).ravel()
        Y[use, s] = f + extra
        if scen_order is not None and int(gflow.sum()) + flow.flow_value < d.sum():
            return Y, s
    return Y, -1


def close_warm(c: Compiled, x: np.ndarray, Y: np.ndarray, order: np.ndarray, deadline: float,
               batch: int = 8, patience: int | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Local search by maximum flows, each test started from the plan's flow (`augment_flow`): close the
    open sites `order` (most promising first) `batch` at a time while everyone still has a place, halving a
    batch that does not fit; exact tests (people may move anywhere). Stops at `deadline`
    (`time.perf_counter()`), or after `patience` tests in a row that closed nothing once something was
    closed (a long first streak of failed tests says little). Returns (plan, its flow, counts)."""
    x = np.asarray(x, float).copy()
    queue = deque(np.asarray(order[i:i + batch]) for i in range(0, len(order), batch))
    tests = closed = idle = 0
    scen = [s for s in range(len(c.scen)) if c.D[:, s].sum() > 0]
    while queue and time.perf_counter() < deadline and (patience is None or idle < patience):
        grp = queue.popleft()
        x2 = x.copy()
        x2[grp] = 0.0
        Y2, short = augment_flow(c, x2, Y, scen_order=scen)
        tests += 1
        if short < 0:
            x, Y = x2, Y2
            closed += len(grp)
            idle = 0
            continue
        idle += 1 if closed else 0
        scen.remove(short)          # the scenario that failed goes first next time (most tests fail)
        scen.insert(0, short)
        if len(grp) > 1:
            half = len(grp) // 2
            queue.appendleft(grp[half:])
            queue.appendleft(grp[:half])
    return x, Y, dict(tests=tests, closed=closed, stalled=bool(patience is not None and idle >= patience))


