"""Lagrangian relaxation, maximum flows and capacity cuts, for stations too large for one LP.

The cover-all model's demand rows (every resident of group g has a place in scenario s)
are the only rows that tie the sites together. Priced out with multipliers `u_gs >= 0`
(currency per person), the rest splits into one small problem per site:

    L(u) = sum_gs u_gs D_gs + sum_j min_{x_j in {0,1}} x_j (f_j - sum_s K_js(u))

where `K_js(u)` is the most that site j can "earn" in scenario s: the largest
`sum_g u_gs y_gs` with `0 <= y_gs <= yub_gs` (the model's own bound: demand, capacity, the
door's admission for that group's arrival bin), `sum_g y_gs <= capacity`, and the door
arrivals (every group but the site's own room) at most what the door admits from the
earliest arrival bin on. Those two nested limits make the site problem a polymatroid,
so the greedy (largest u first) solves it, vectorised over all sites at once (`lagrangian`).
`L(u)` bounds every cover-all plan for ANY `u >= 0`; measured on Station Unity, L at the LP's
demand duals equals the LP optimum.

The planner's use (`planner.model.solve_lagrangian`): with the capacity knapsack's price per
place (`start_prices`) the sites that pay are the knapsack's sites adjusted for reach and
queues; `shelter_flow` (scipy maximum flow over the capacity and door-queue network) finds
whom they cannot shelter; their price is raised a little and the paying sites taken again; a
small MIP (`repair_plan`) shelters the last few. The flows' minimum cuts give Hall rows
(these residents can only go to these sites) for a small LP over the sites (`cut_bound`), a
bound at least as strong as the capacity knapsack.

Units: costs in currency, persons, seconds.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components, maximum_flow

from planner.model.arrays import build_arrays, fill_penalty_slacks
from planner.model.compile import Compiled, group_walk
from planner.model.highs import highs_lp, new_highs, solve_highspy
from planner.model.lagsearch import augment_flow, door_bins, exit_nodes, open_pairs, pair_exit


@dataclass
class SiteProblems:
    """The assignment columns of a cover-all model grouped for the per-site Lagrangian problems.

    Index arrays are over the model's assignment columns (`Arrays.yq` / `ys`); `row` is each
    column's demand row (a (group, scenario) with residents), `D` the persons of each row.
    """

    J: int
    S: int
    cost: np.ndarray      # (J,) currency per site (existing sites 0)
    fixed: np.ndarray     # (J,) bool: converted in every plan
    cap: np.ndarray       # (J*S,) capacity per (site, scenario) segment, persons
    door: np.ndarray      # (J*S,) door admission from the earliest door arrival, persons
    D: np.ndarray         # (R,) persons per demand row
    row_g: np.ndarray     # (R,) group of each row
    row_s: np.ndarray     # (R,) scenario of each row
    # door columns (not shelter-in-place), in segment order
    d_seg: np.ndarray
    d_row: np.ndarray
    d_ub: np.ndarray
    d_col: np.ndarray     # index into the model's assignment columns
    # shelter-in-place column of each segment (at most one: the site's own room), -1 if none
    sip_row: np.ndarray   # (J*S,)
    sip_ub: np.ndarray    # (J*S,)
    sip_col: np.ndarray   # (J*S,)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def R(self) -> int:
        return len(self.D)


@dataclass
class LagrangeResult:
    """One evaluation of L(u): the bound (currency), the sites the site problems open, and `u`
    (clipped at 0)."""

    bound: float
    open: np.ndarray
    u: np.ndarray


def site_problems(c: Compiled, yq: np.ndarray, ys: np.ndarray, yub: np.ndarray) -> SiteProblems:
    """Group the assignment columns (usable pair `yq`, scenario `ys`, upper bound `yub` in persons:
    `planner.model.assignment_columns`) of a cover-all model of `c` by site and scenario."""
    S = len(c.scen)
    J = c.J
    ny = len(yq)
    yj = c.qj[yq].astype(np.int64)
    yg = c.qg[yq].astype(np.int64)
    sip = np.asarray(c.qsip[yq], bool)
    yub = np.minimum(np.asarray(yub, float), exit_limit(c, yq, ys))
    key = yg * S + ys
    ukey, row = np.unique(key, return_inverse=True)
    row = np.asarray(row).ravel()
    D = c.D[ukey // S, ukey % S].astype(float)
    seg = yj * S + ys
    nseg = J * S
    cap = np.repeat(c.cap.astype(float), S)
    # door admission of the segment: the queue bound of its earliest door arrival bin holds for
    # every door arrival (the suffix rows of later bins are left out: a relaxation)
    bmin = np.full(nseg, c.nb - 1, dtype=np.int64)
    np.minimum.at(bmin, seg[~sip], c.qbin[yq][~sip].astype(np.int64))
    door = c.qcap[np.repeat(np.arange(J), S), np.clip(bmin, 0, c.nb - 1)].astype(float) if c.door_queue \
        else cap.copy()
    door = np.minimum(door, cap)
    di = np.flatnonzero(~sip)
    di = di[np.argsort(seg[di], kind="stable")]
    sip_row = np.full(nseg, -1, np.int64)
    sip_ub = np.zeros(nseg)
    sip_col = np.full(nseg, -1, np.int64)
    si = np.flatnonzero(sip)
    sip_row[seg[si]] = row[si]
    sip_ub[seg[si]] = yub[si]
    sip_col[seg[si]] = si
    return SiteProblems(J=J, S=S, cost=c.cost.astype(float), fixed=np.asarray(c.fixed1, bool), cap=cap,
                        door=door, D=D, row_g=ukey // S, row_s=ukey % S, d_seg=seg[di], d_row=row[di],
                        d_ub=yub[di], d_col=di, sip_row=sip_row, sip_ub=sip_ub, sip_col=sip_col,
                        stats=dict(columns=int(ny), rows=int(len(D)), segments=int(nseg)))


def exit_limit(c: Compiled, q: np.ndarray, s: np.ndarray | int) -> np.ndarray:
    """Per usable pair `q` in scenario `s`: its exit-door row's limit (persons; inf where it has none). Each
    column of a row is at most the row's limit, so tightening a column's bound by it keeps every bound valid
    (the rows themselves are left out of the Lagrangian and the cut LP: a relaxation)."""
    out = np.full(len(q), np.inf)
    if not len(c.exit_id):
        return out
    S = len(c.scen)
    rb = pair_exit(c)[q]
    has = rb >= 0
    out[has] = np.asarray(c.exit_rhs, float)[rb[has] * S + (s if np.isscalar(s) else np.asarray(s)[has])]
    return out


def lagrangian(sp_: SiteProblems, u: np.ndarray) -> LagrangeResult:
    """L(u) for demand multipliers `u` (currency per person, one per demand row; clipped at 0).

    O(columns log columns): one sort of the door columns by (segment, -u) and prefix sums.
    """
    u = np.maximum(np.asarray(u, float), 0.0)
    nseg = sp_.J * sp_.S
    w = u[sp_.d_row]
    wmax = float(w.max(initial=0.0)) + 1.0
    # within each segment, largest u first (segments are already in order: one float key)
    order = np.argsort(sp_.d_seg * 2.0 + (1.0 - w / wmax), kind="stable")
    seg = sp_.d_seg[order]
    ub = sp_.d_ub[order]
    wo = w[order]
    cs = np.cumsum(ub)
    first = np.r_[True, seg[1:] != seg[:-1]]
    base = np.repeat((cs - ub)[first], np.diff(np.r_[np.flatnonzero(first), len(seg)]))
    before = cs - ub - base                                 # door persons ahead of each column
    has_sip = sp_.sip_row >= 0
    w_sip = np.where(has_sip, u[np.maximum(sp_.sip_row, 0)], 0.0)
    # greedy on the two nested limits: door columns with a larger u than the site's own room go first
    ahead = np.bincount(seg, weights=ub * (wo > w_sip[seg]), minlength=nseg)
    took = np.minimum(ahead, np.minimum(sp_.door, sp_.cap))
    sip_take = np.where(has_sip, np.clip(np.minimum(sp_.sip_ub, sp_.cap - took), 0.0, None), 0.0)
    K = np.minimum(sp_.door, sp_.cap - sip_take)
    take = np.clip(K[seg] - before, 0.0, ub)
    earn_seg = np.bincount(seg, weights=wo * take, minlength=nseg) + w_sip * sip_take
    earn = earn_seg.reshape(sp_.J, sp_.S).sum(axis=1)
    red = sp_.cost - earn
    opened = sp_.fixed | (red < 0)
    bound = float(u @ sp_.D) + float(np.where(sp_.fixed, red, np.minimum(red, 0.0)).sum())
    return LagrangeResult(bound=bound, open=opened, u=u)


def start_prices(c: Compiled, sp_: SiteProblems, knapsack: tuple[float, int, float]) -> np.ndarray:
    """Multipliers to start from: the capacity knapsack's price per place (`knapsack`: what
    `planner.model.capacity_knapsack` returns) on the rows of its scenario, 0 on the others;
    then L(u) is at least about `capacity_bound` (currency per person)."""
    _, s, price = knapsack
    if s < 0:
        percap = c.cost / np.maximum(c.cap, 1)
        ymin = np.full(c.G, np.inf)
        np.minimum.at(ymin, c.qg, percap[c.qj])
        return np.where(np.isfinite(ymin[sp_.row_g]), ymin[sp_.row_g], 0.0)
    return np.where(sp_.row_s == s, price, 0.0)


# ================================================================ sub-models
def keep_pairs(c: Compiled, keep: np.ndarray, **changes: Any) -> Compiled:
    """`c` with only the usable pairs `keep` (bool per pair; `changes`: other fields replaced too): the
    exit-door rows' members follow their pairs (row ids and limits unchanged); the corridor rows are left
    out (penalties, which the Lagrangian path does not price)."""
    qmap = np.full(len(c.qg), -1, np.int64)
    qmap[keep] = np.arange(int(np.count_nonzero(keep)))
    mk = qmap[c.exit_q] >= 0 if len(c.exit_q) else np.zeros(0, bool)
    none = np.zeros(0, np.int64)
    return replace(c, qg=c.qg[keep], qj=c.qj[keep], qbin=c.qbin[keep], qsip=c.qsip[keep],
                   exit_id=c.exit_id[mk], exit_q=qmap[c.exit_q[mk]], exit_s=c.exit_s[mk],
                   cut_id=none, cut_q=none, cut_s=none, cut_rhs=np.zeros(0), **changes)


def exit_used(c: Compiled, Y: np.ndarray) -> np.ndarray:
    """Persons the whole-person assignment `Y` (pairs, S) sends through each exit-door row (by row id,
    `Compiled.exit_rhs`'s index)."""
    used = np.zeros(len(c.exit_rhs))
    if len(c.exit_id):
        np.add.at(used, c.exit_id, Y[c.exit_q, c.exit_s])
    return used


def restrict(c: Compiled, groups: np.ndarray) -> tuple[Any, np.ndarray]:
    """The sub-model of `c` for `groups` (indices) and every site they reach: (Compiled, its sites
    as indices into `c`). No budget (a relaxation); group and site order are kept; the exit-door rows
    of the groups kept, the corridor rows left out (`keep_pairs`)."""
    gmask = np.zeros(c.G, bool)
    gmask[groups] = True
    keep = gmask[c.qg]
    sites = np.unique(c.qj[keep])
    jmap = np.full(c.J, -1, np.int64)
    jmap[sites] = np.arange(len(sites))
    gmap = np.full(c.G, -1, np.int64)
    gmap[groups] = np.arange(len(groups))
    rk = gmask[c.rg] & (jmap[c.rj] >= 0)
    sub = keep_pairs(c, keep)
    sub = replace(sub, site_ids=c.site_ids[sites], cap=c.cap[sites], rate=c.rate[sites], cost=c.cost[sites],
                  disp=c.disp[sites], fixed1=c.fixed1[sites], D=c.D[groups], w=c.w[groups], m=c.m[groups],
                  qg=gmap[sub.qg], qj=jmap[sub.qj], rg=gmap[c.rg[rk]], rj=jmap[c.rj[rk]], qcap=c.qcap[sites], room_group=pd.Series(dtype=np.int64),
                  unreachable=[], pairs=c.pairs.iloc[:0], budget=None, uncapacitated=False, stats={})
    return sub, sites


def swap_left(c: Compiled) -> np.ndarray | None:
    """Places each site leaves for residents of other rooms when no resident of its own room may
    leave while others come in (the no-swap rule of `Compiled.swap_rule` held hard), (J, S) persons:
    max(capacity - own residents, 0) where the rule applies, inf elsewhere; None without the rule."""
    if not c.swap_rule:
        return None
    S = len(c.scen)
    left = np.full((c.J, S), np.inf)
    si = np.flatnonzero(c.qsip)
    if not len(si):
        return left
    own = (c.D if c.swap_own is None else c.swap_own)[c.qg[si]].astype(float)     # (pairs, S)
    j = c.qj[si].astype(np.int64)
    lim = np.where(own > 0, np.maximum(c.cap[j].astype(float)[:, None] - own, 0.0), np.inf)
    if c.swap_skip is not None:
        lim[np.asarray(c.swap_skip, bool)[j]] = np.inf
    np.minimum.at(left, j, lim)
    return left


# ================================================================= plan repair
def shelter_flow(c: Compiled, x: np.ndarray, cuts: list | None = None, left: np.ndarray | None = None) -> np.ndarray:
    """The most persons the sites `x` (0/1 over `c.site_ids`) can shelter, as whole persons per
    usable pair and scenario (array (pairs, S); 0 at closed sites): a maximum flow per scenario
    (scipy's Dinic; integral).

    Network per scenario: source -> group (its residents) -> the open site directly (shelter in
    place, or an arrival bin whose door limit is not below the capacity) or the site's arrival
    bin -> the next earlier such bin -> ... -> site -> sink. The edge out of a bin carries everyone
    arriving in that bin or later, so its capacity is the door's queue limit for that bin; the
    site -> sink edge is the capacity. These are the model's capacity and door-queue rows for the
    open sites (limits never grow with the arrival time, so a bin without arrivals is implied by
    the next later one's and the bins whose limit binds are the latest ones), so any flow is a
    feasible assignment and a maximum flow shelters the most persons.

    `cuts`: if a list, the groups on the source side of each scenario's minimum cut (those with
    residents left without a place and every group their people could be moved to) are appended
    as (scenario, group indices) when some are left without a place: see `hall_cuts`.

    `left`: (J, S) places each site leaves for residents of other rooms (`swap_left`: the no-swap rule
    held hard, no resident leaving a converted room while others come in; inf where no limit): the door
    and the other rooms' shelter-in-place pairs reach the site through one more edge of that capacity.

    Exit-door rows (`Compiled.exit_id`, issue 17): the pairs of a (room, exit door) row leave their group
    through one node more, group -> row node (capacity: the row's limit) -> the pairs' sites or bins; the
    rows of a room are disjoint (`lagsearch.exit_laminar`), so the flow keeps them exactly.
    """

    S = len(c.scen)
    G, nb = c.G, c.nb
    sites, use, loc = open_pairs(c, x)
    Y = np.zeros((len(c.qg), S), np.int64)
    if not len(sites) or not len(use):
        return Y
    Jo = len(sites)
    qg, qj, qb, sip = c.qg[use], c.qj[use], c.qbin[use].astype(np.int64), np.asarray(c.qsip[use], bool)
    # only bins whose door limit is below the capacity need a node (they are the latest bins: limits
    # never grow with the arrival time); earlier arrivals meet the capacity alone
    chain, bkey, bj, bb, first, big, chain_cap = door_bins(c, qj, qb, sip)
    n_site0 = 2 + G
    n_oth0 = n_site0 + Jo if left is not None else n_site0   # others' node of each site (no-swap rule)
    n_bin0 = n_oth0 + Jo if left is not None else n_site0 + Jo
    n_exit0 = n_bin0 + len(bkey)
    xnode, xgrp, xcap = exit_nodes(c, use)      # exit-door rows: group -> (room, door) node -> its pairs
    n = n_exit0 + len(xgrp)
    to = np.where(sip, n_site0, n_oth0) + loc[qj]
    to[chain] = n_bin0 + np.searchsorted(bkey, qj[chain] * nb + qb[chain])
    frm = np.where(xnode >= 0, n_exit0 + xnode, 2 + qg)
    chain_from = n_bin0 + np.arange(len(bkey))
    chain_to = np.where(first, n_oth0 + loc[bj], chain_from - 1)
    site_cap = np.minimum(c.cap[sites], big)
    pkey = frm.astype(np.int64) * n + to                      # one edge per usable pair (unique)
    porder = np.argsort(pkey)
    def one(s: int) -> tuple[int, Any, Any]:
        d = c.D[:, s].astype(np.int64)
        pg = d[qg] > 0
        rows = np.r_[np.zeros(G, np.int64), frm[pg], chain_from, n_site0 + np.arange(Jo), 2 + xgrp]
        cols = np.r_[2 + np.arange(G), to[pg], chain_to, np.ones(Jo, np.int64), n_exit0 + np.arange(len(xgrp))]
        caps = np.r_[d, d[qg[pg]], chain_cap, site_cap, xcap[:, s]]
        if left is not None:
            rows = np.r_[rows, n_oth0 + np.arange(Jo)]
            cols = np.r_[cols, n_site0 + np.arange(Jo)]
            caps = np.r_[caps, np.minimum(left[sites, s], big)]
        caps = caps.astype(np.int32)
        keep = caps > 0
        A = sp.csr_matrix((caps[keep], (rows[keep], cols[keep])), shape=(n, n))
        A.sum_duplicates()
        flow = maximum_flow(A, 0, 1, method="dinic")
        cut = None
        if cuts is not None and flow.flow_value < d.sum():
            R = (A - flow.flow).tocsr()
            R.data[R.data < 0] = 0
            R.eliminate_zeros()
            side = breadth_first_order(R, 0, directed=True, return_predecessors=False)
            cut = np.sort(side[(side >= 2) & (side < 2 + G)] - 2)
        F = flow.flow.tocoo()
        return s, F, cut

    for s, F, cut in (one(s) for s in range(S) if c.D[:, s].sum() > 0):
        if cut is not None and cuts is not None:
            cuts.append((s, cut))
        pos = F.data > 0
        fk = F.row[pos].astype(np.int64) * n + F.col[pos]
        at = np.searchsorted(pkey[porder], fk)
        ok = (at < len(pkey)) & (pkey[porder][np.minimum(at, len(pkey) - 1)] == fk)
        Y[use[porder[at[ok]]], s] = F.data[pos][ok]
    return Y


def max_shelter(c: Compiled, x: np.ndarray) -> np.ndarray:
    """The most persons the sites `x` can shelter, highest priority first (`Compiled.w`), as whole persons per
    usable pair and scenario: maximum flows for the groups of the highest priority, then started from that
    flow with the next priority's groups added (`augment_flow`: an augmenting path never takes a place from a
    group already sheltered, only moves it), and so on. What each priority adds is the most it can (the
    sheltered sets of a flow network are a polymatroid: the greedy by weight is optimal), so the weighted
    total is the most any assignment to `x` reaches."""
    Y = np.zeros((len(c.qg), len(c.scen)), np.int64)
    for wk in np.unique(c.w)[::-1]:
        Y, _ = augment_flow(replace(c, D=c.D * (c.w >= wk)[:, None]), x, Y)
    return Y


def own_first(c: Compiled, x: np.ndarray) -> np.ndarray:
    """A maximum flow of the sites `x` (as `shelter_flow`) that first shelters every converted room's own
    residents in it (the shelter-in-place pairs alone), then adds everyone else from that flow
    (`augment_flow`): the same number sheltered, and far fewer own residents moved out of their room for
    others (the no-swap rows' penalty, which the Lagrangian path's site choice does not see)."""
    sip = np.asarray(c.qsip, bool)
    Y = np.zeros((len(c.qg), len(c.scen)), np.int64)
    if sip.any():
        Ysip, _ = augment_flow(keep_pairs(c, sip), x, np.zeros((int(sip.sum()), len(c.scen)), np.int64))
        Y[sip] = Ysip
    Y, _ = augment_flow(c, x, Y)
    return Y


def residual_demand(c: Compiled, x: np.ndarray, Y: np.ndarray | None = None) -> np.ndarray:
    """Persons per (group, scenario) that the sites `x` cannot shelter even in the best
    assignment (`shelter_flow`; pass `Y` if already computed)."""
    if Y is None:
        Y = shelter_flow(c, x)
    S = len(c.scen)
    served = np.zeros((c.G, S), np.int64)
    for s in range(S):
        served[:, s] = np.bincount(c.qg, weights=Y[:, s], minlength=c.G).astype(np.int64)
    return np.maximum(c.D.astype(np.int64) - served, 0)


def flow_vector(c: Compiled, x: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, Any]:
    """The whole-person assignment `Y` (per usable pair and scenario) of the plan `x` as a column
    vector of the fixed-site model (`assign_fixed`'s layout): (vector, its Arrays)."""

    S = len(c.scen)
    ar = build_arrays(c, x_fixed=x.astype(float), walk_obj=group_walk(c), only_sites=x > 0.5, all_scen=True)
    v = np.zeros(ar.A.shape[1])
    v[:ar.ycol0] = ar.lo[:ar.ycol0]
    y = Y[ar.yq, ar.ys].astype(float)
    v[ar.ycol0:ar.ycol0 + ar.ny] = y
    if len(ar.S_key):
        # queue suffix columns: door arrivals at the site in that scenario in the bin or later
        door = ~np.asarray(c.qsip[ar.yq], bool)
        key = c.qj[ar.yq].astype(np.int64) * S + ar.ys
        arr = np.zeros((c.J * S, c.nb + 1))
        np.add.at(arr, (key[door], c.qbin[ar.yq][door]), y[door])
        suffix = np.cumsum(arr[:, ::-1], axis=1)[:, ::-1]
        v[ar.scol0:ar.scol0 + len(ar.S_key)] = suffix[ar.S_key // (c.nb + 1), ar.S_key % (c.nb + 1)]
    fill_penalty_slacks(c, ar, v)
    return v, ar


def repair_plan(c: Compiled, x: np.ndarray, residual: np.ndarray, threads: int = 2, time_limit: float = 60.0,
                gap: float = 0.005, Y: np.ndarray | None = None) -> np.ndarray | None:
    """Sites to add to `x` so that the `residual` persons (per group and scenario) are sheltered too:
    the cover-all model on the residual groups and the sites not yet open (their full capacity and
    door), solved as a small MIP. With the assignment `Y` that gave `residual`, the union is feasible:
    the exit-door rows' limits are what `Y` leaves of them (`Y` needed when `c` has such rows).
    Returns the new 0/1 vector, or None when the residual cannot be sheltered that way."""

    groups = np.flatnonzero(residual.sum(axis=1) > 0)
    if not len(groups):
        return x.copy()
    closed = x <= 0.5
    gmask = np.zeros(c.G, bool)
    gmask[groups] = True
    ok = closed[c.qj]
    rhs = c.exit_rhs
    if len(c.exit_id):
        if Y is None:
            raise ValueError("repair_plan needs the assignment Y of a model with exit-door rows")
        rhs = np.maximum(np.asarray(c.exit_rhs, float) - exit_used(c, Y), 0.0)
    sub = keep_pairs(c, ok, exit_rhs=rhs)
    sub, sites = restrict(sub, groups)
    sub = replace(sub, D=residual[groups].astype(np.int64), scen_mult=np.ones(len(c.scen)),
                  m=np.zeros(len(groups), np.int64), objective="cover-all")
    reached = np.zeros(len(groups), bool)
    reached[np.unique(sub.qg)] = True
    if not reached.all():
        return None
    ar = build_arrays(sub)
    run = solve_highspy(ar, time_limit, gap, threads, None, False, mip=True)
    if run.values is None:
        return None
    out = x.copy()
    out[sites[run.values[:sub.J] > 0.5]] = 1.0
    return out


# ============================================================== capacity cuts
def hall_cuts(c: Compiled, cuts: list) -> list[tuple[int, np.ndarray]]:
    """Split each (scenario, groups) of `shelter_flow`'s minimum cuts into parts that share no
    reachable site: each part is a set of rooms whose residents can only be sheltered by the
    sites in their reach, however the plan looks (a Hall condition)."""

    out: list[tuple[int, np.ndarray]] = []
    for s, groups in cuts:
        if not len(groups):
            continue
        gmask = np.zeros(c.G, bool)
        gmask[groups] = True
        sel = gmask[c.qg]
        gl = np.searchsorted(groups, c.qg[sel])
        B = sp.csr_matrix((np.ones(int(sel.sum())), (gl, len(groups) + c.qj[sel])),
                          shape=(len(groups) + c.J, len(groups) + c.J))
        _, lab = connected_components(B, directed=False)
        glab = lab[:len(groups)]
        order = np.argsort(glab, kind="stable")
        cutsz = np.flatnonzero(np.diff(glab[order])) + 1
        for part in np.split(groups[order], cutsz):
            out.append((s, part))
    return out


def site_limits(c: Compiled, parts: list[np.ndarray], s: int, left: np.ndarray | None = None) -> sp.csr_matrix:
    """Per part k (a set of groups; parts may overlap) and site j: the most residents of part k
    site j can hold in scenario s (persons): min(capacity, their residents in its reach, its own
    room's + what its door admits from their earliest arrival bin on). Shape (parts, sites).
    `left`: as in `shelter_flow` (the no-swap rule held hard): the other rooms' residents at most that."""
    if not parts:
        return sp.csr_matrix((0, c.J))
    ptr = np.r_[0, np.cumsum(np.bincount(c.qg, minlength=c.G))]   # pairs are sorted by group
    kk = np.concatenate([np.full(len(g), k, np.int64) for k, g in enumerate(parts)])
    gg = np.concatenate(parts).astype(np.int64)
    n = ptr[gg + 1] - ptr[gg]
    k = np.repeat(kk, n)
    q = np.repeat(ptr[gg] - np.r_[0, np.cumsum(n)[:-1]], n) + np.arange(int(n.sum()))
    j = c.qj[q].astype(np.int64)
    d = np.minimum(c.D[c.qg[q], s].astype(float), exit_limit(c, q, s))
    sip = np.asarray(c.qsip[q], bool)
    key = k * c.J + j
    ukey, inv = np.unique(key, return_inverse=True)
    reach = np.bincount(inv, weights=d, minlength=len(ukey))
    own = np.bincount(inv, weights=d * sip, minlength=len(ukey))
    bmin = np.full(len(ukey), c.nb - 1, np.int64)
    np.minimum.at(bmin, inv[~sip], c.qbin[q][~sip].astype(np.int64))
    hasdoor = np.bincount(inv, weights=(~sip).astype(float), minlength=len(ukey)) > 0
    uj = ukey % c.J
    admit = np.where(hasdoor, c.qcap[uj, bmin], 0).astype(float)
    others = np.minimum(reach - own, admit)
    if left is not None:
        others = np.minimum(others, left[uj, s])
    h = np.minimum(np.minimum(c.cap[uj].astype(float), reach), own + others)
    return sp.csr_matrix((h, (ukey // c.J, uj)), shape=(len(parts), c.J))


def open_for(c: Compiled, x: np.ndarray, Y: np.ndarray, deadline: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Sites added to `x` until its flow shelters everyone, by the flows' minimum cuts: per part of each cut
    (`hall_cuts`: residents left without a place and everyone they could displace) the closed site that
    costs least per place it can give the part (`site_limits`, at most the part's shortfall) is opened, and
    the flow taken again from `Y` (`augment_flow`). The repair when the repair MIP (`repair_plan`: the
    others' flow fixed) finds no sites: rooms whose every site in reach is open and full, or whose exit-door
    rows are used up, need others moved. Stops at `deadline` (`time.perf_counter()`). Returns (plan, flow,
    persons still without a place)."""
    x = np.asarray(x, float).copy()
    while True:
        cuts: list = []
        Y, _ = augment_flow(c, x, Y, cuts)
        res = residual_demand(c, x, Y)
        left = int(res.sum())
        if left == 0 or time.perf_counter() > deadline:
            return x, Y, left
        add: set[int] = set()
        for s, part in hall_cuts(c, cuts):
            short = float(res[part, s].sum())
            if short <= 0:
                continue
            h = site_limits(c, [part], s).toarray().ravel()
            gain = np.where(x <= 0.5, np.minimum(h, short), 0.0)
            ok = np.flatnonzero(gain > 0)
            if len(ok):
                add.add(int(ok[np.argmin(c.cost[ok] / gain[ok])]))
        if not add:
            return x, Y, left
        x[sorted(add)] = 1.0


def cut_bound(c: Compiled, parts: list[tuple[int, np.ndarray]], threads: int = 2,
              time_limit: float = 60.0) -> float:
    """A lower bound on the cost of every cover-all plan (currency): the LP over the sites alone
    (0 <= x <= 1, fixed sites 1) with, per scenario, the capacity knapsack row of all residents
    and one row per part of `parts`: sum_j h_kj x_j >= residents of part k (`site_limits`).
    Every row holds for every plan, so the LP's optimum bounds them all; -inf if it fails."""
    S = len(c.scen)
    rows: list[sp.csr_matrix] = []
    lo: list[float] = []
    for s in range(S):
        mine = [g for ss, g in parts if ss == s]
        if c.D[:, s].sum() > 0:
            mine = [np.arange(c.G)] + mine          # the knapsack row of all residents
        if not mine:
            continue
        rows.append(site_limits(c, mine, s))
        lo.extend(float(c.D[g, s].sum()) for g in mine)
    if not rows:
        return -math.inf
    A = sp.vstack(rows).tocsc()
    lo_ = np.asarray(lo)
    fixed = np.asarray(c.fixed1, bool)
    h = new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("time_limit", float(time_limit))
    h.passModel(highs_lp(A, c.cost.astype(float), fixed.astype(float), np.ones(c.J), lo_, np.full(len(lo_), np.inf)))
    h.run()
    if str(h.getModelStatus()).split(".")[-1] != "kOptimal":
        return -math.inf
    return float(h.getInfo().objective_function_value)

