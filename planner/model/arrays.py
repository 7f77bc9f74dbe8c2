"""The MIP in array form (`Arrays`): columns x, z, y, S, v, u and their rows, built vectorised."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from planner.model.compile import Compiled
from planner.model.constants import INF


# ======================================================================== model
class BlockNames(Sequence):
    """Names ``prefix_i`` for consecutive blocks of columns or rows, made when read (only the PuLP
    backend reads them; building the list took 0.1 s per model at Station Unity)."""

    def __init__(self, blocks: list[tuple[str, int]]) -> None:
        self.blocks = [(str(b), int(k)) for b, k in blocks if k > 0]
        self.ends = np.cumsum([k for _, k in self.blocks], dtype=np.int64)

    def __len__(self) -> int:
        return int(self.ends[-1]) if len(self.ends) else 0

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        b = int(np.searchsorted(self.ends, i, side="right"))
        return f"{self.blocks[b][0]}_{i - (int(self.ends[b - 1]) if b else 0)}"


@dataclass
class Arrays:
    """A MIP in array form: min c'v, row_lo <= A v <= row_hi, lo <= v <= hi (columns x, z, y, S)."""

    c: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    integer: np.ndarray
    A: sp.csc_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    names: Sequence[str]
    row_names: Sequence[str]
    nx: int
    nz: int
    ny: int
    ycol0: int
    scol0: int
    yq: np.ndarray   # usable-pair index of each y column
    ys: np.ndarray   # scenario of each y column
    z_groups: np.ndarray  # group of each z column
    cover_row: int | None = None
    rows_by_kind: dict[str, int] = field(default_factory=dict)
    S_key: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ymult: np.ndarray = field(default_factory=lambda: np.zeros(0))
    vcol0: int = 0
    """First swap slack column `v` (after the S columns; `nv` of them)."""
    nv: int = 0
    v_key: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Per swap slack column: site x scenarios + scenario (`site * S + s`)."""
    v_rhs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per swap slack column: the places left for others, max(capacity - own residents, 0) (persons)."""
    ucol0: int = 0
    """First corridor slack column `u` (after the swap slacks; `nu` of them, one per corridor row)."""
    nu: int = 0
    u_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Row index (in `A`) of each corridor row, in the order of the `u` columns."""
    u_rhs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Persons each corridor row admits before its slack is charged."""
    u_scen: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Scenario of each corridor row."""
    share_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Row index (in `A`) of each expected-share row (`Compiled.share`; one per scenario with columns)."""
    u_cut: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Cut id (`Compiled.cut_id`) of each corridor row: a row's identity from one corridor round to the next."""


class Rows:
    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.cidx: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.kind: list[tuple[str, int]] = []
        self.n = 0

    def add(self, rows_local: np.ndarray, cols: np.ndarray, vals: np.ndarray, lo: np.ndarray, hi: np.ndarray,
            kind: str) -> None:
        k = len(lo)
        if k == 0:
            return
        self.r.append(rows_local + self.n)
        self.cidx.append(cols)
        self.v.append(vals)
        self.lo.append(np.asarray(lo, float))
        self.hi.append(np.asarray(hi, float))
        self.kind.append((kind, k))
        self.n += k

    def matrix(self, ncol: int) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray]:
        """The rows added so far as (CSC matrix with `ncol` columns, row lower bounds, row upper bounds)."""
        rows = np.concatenate(self.r) if self.r else np.zeros(0, np.int64)
        cols = np.concatenate(self.cidx) if self.cidx else np.zeros(0, np.int64)
        vals = np.concatenate(self.v) if self.v else np.zeros(0)
        rlo = np.concatenate(self.lo) if self.lo else np.zeros(0)
        rhi = np.concatenate(self.hi) if self.hi else np.zeros(0)
        A = sp.csc_matrix((vals, (rows, cols)), shape=(len(rlo), ncol))
        A.sum_duplicates()
        return A, rlo, rhi


def backup_rows(R: Rows, c: Compiled, need: np.ndarray, G: int, zcols: np.ndarray | None) -> None:
    """Backup rows for the groups `need`: at least `m_g` converted sites in reach of group g.

    `zcols` None (cover-all): `sum_j x_j >= m_g`; else the column of each group's binary `z_g`
    (max-cover: the group counts as sheltered only with its backups): `sum_j x_j - m_g z_g >= 0`.
    """
    sel = np.isin(c.rg, need)
    gmap = np.full(G, -1)
    gmap[need] = np.arange(len(need))
    m = c.m[need].astype(float)
    if zcols is None:
        R.add(gmap[c.rg[sel]], c.rj[sel], np.ones(int(sel.sum())), m, np.full(len(need), INF), "backup")
    else:
        R.add(np.r_[gmap[c.rg[sel]], np.arange(len(need))], np.r_[c.rj[sel], zcols],
              np.r_[np.ones(int(sel.sum())), -m], np.zeros(len(need)), np.full(len(need), INF), "backup")


def assignment_columns(c: Compiled, all_scen: bool = False,
                       only_sites: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's assignment columns: (usable pair, scenario, upper bound in persons) for every
    pair and scenario with residents (scenarios the model drops left out unless `all_scen`;
    only pairs to `only_sites` if given). Upper bound: min(residents, capacity, the door's
    admission for the pair's arrival bin; shelter in place: capacity)."""
    S = len(c.scen)
    Dq = c.D[c.qg]  # (Q, S)
    qq, ss = np.nonzero(Dq > 0)
    mult = np.ones(S) if (all_scen or not len(c.scen_mult)) else c.scen_mult
    keep = mult[ss] > 0
    qq, ss = qq[keep], ss[keep]
    if only_sites is not None:  # assignment to these sites only (fixed-x solves: closed sites drop out)
        keep = only_sites[c.qj[qq]]
        qq, ss = qq[keep], ss[keep]
    yj = c.qj[qq]
    qc = np.where(c.qsip[qq], c.cap[yj], c.qcap[yj, c.qbin[qq]])
    yub = np.minimum(Dq[qq, ss], np.minimum(c.cap[yj], qc)).astype(float)
    return qq, ss, yub


_NO_QUEUE: tuple[int, np.ndarray, np.ndarray, np.ndarray] = (0, np.zeros(0), np.zeros(0, np.int64),
                                                              np.zeros((0, 3), np.int64))


def _queue_rows(R: Rows, c: Compiled, yj: np.ndarray, ss: np.ndarray, ybin: np.ndarray, ysip: np.ndarray,
                yub: np.ndarray, ycol0: int, scol0: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """The door-queue rows (chained suffix sums `S`, only at bins where the door limit can bind) of the
    assignment columns (site `yj`, scenario `ss`, arrival bin `ybin`, shelter in place `ysip`, upper
    bound `yub` persons), added to `R`. Returns (number of S columns, their upper bounds (persons),
    their keys (site x scenario x bin), per chain its earliest binding bin: (S column, site, cap))."""
    S = len(c.scen)
    nS = 0
    S_hi = np.zeros(0)
    S_key = np.zeros(0, np.int64)
    last_S = np.zeros((0, 3), np.int64)  # (S column, site, cap) of each chain's earliest binding bin
    nq = np.flatnonzero(~ysip)
    if len(nq):
        order = nq[np.lexsort((-ybin[nq], ss[nq], yj[nq]))]
        key = yj[order] * S + ss[order]
        n = len(order)
        seg_start = np.r_[True, key[1:] != key[:-1]]
        seg_id = np.cumsum(seg_start) - 1
        cum = np.cumsum(yub[order])
        seg_off = np.r_[0.0, cum][np.flatnonzero(seg_start)]
        suffix = cum - seg_off[seg_id]                      # suffix upper bound at each position
        bins = ybin[order]
        jj = yj[order]
        bin_end = np.r_[(key[1:] != key[:-1]) | (bins[1:] != bins[:-1]), True]
        capb = c.qcap[jj, bins]
        # a bin binds only if its door limit is below the site capacity (else the capacity row rules)
        binding = bin_end & (suffix > capb + 1e-9) & (capb < c.cap[jj])
        if not c.queue_prune:  # every arrival bin gets its row (measurement only)
            binding = bin_end.copy()
        bpos = np.flatnonzero(binding)
        nS = len(bpos)
        if nS:
            # each y belongs to the first binding bin-end at or after it, in its own segment
            nxt = np.searchsorted(bpos, np.arange(n), side="left")
            valid = nxt < nS
            valid[valid] &= seg_id[bpos[nxt[valid]]] == seg_id[valid]
            s_of_y = np.where(valid, nxt, -1)
            # previous S in the same segment
            prev = np.r_[-1, np.arange(nS - 1)]
            same = np.r_[False, seg_id[bpos[1:]] == seg_id[bpos[:-1]]]
            prev = np.where(same, prev, -1)
            hasp = np.flatnonzero(prev >= 0)
            yin = np.flatnonzero(s_of_y >= 0)
            rows = np.r_[np.arange(nS), hasp, s_of_y[yin]]
            cols = np.r_[scol0 + np.arange(nS), scol0 + prev[hasp], ycol0 + order[yin]]
            vals = np.r_[np.ones(nS), -np.ones(len(hasp)), -np.ones(len(yin))]
            R.add(rows, cols, vals, np.zeros(nS), np.zeros(nS), "queue")
            S_hi = capb[bpos].astype(float)
            S_key = key[bpos] * (c.nb + 1) + bins[bpos]
            # last binding bin of each segment (earliest arrival time): total door arrivals bound
            is_last = np.r_[seg_id[bpos[1:]] != seg_id[bpos[:-1]], True]
            li = np.flatnonzero(is_last)
            last_S = np.stack([scol0 + li, jj[bpos[li]], capb[bpos[li]]], axis=1).astype(np.int64)
    return nS, S_hi, S_key, last_S


def _swap_rows(R: Rows, c: Compiled, yg: np.ndarray, yj: np.ndarray, ss: np.ndarray, ysip: np.ndarray,
               yub: np.ndarray, ycol0: int, vcol0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The no-swap rows (issue 17), added to `R`: per site j and scenario s with own residents
    (a shelter-in-place column with residents),
    ``sum of others' y into j at s - max(cap_j - own_js, 0) x_j - v_js <= 0``, the slack `v_js`
    (persons, 0 <= v_js <= own_js) being how many of j's own residents must at least leave while
    others come in. Only where the others' upper bounds could exceed the places left for them.
    Returns per slack column: (key site * S + s, own residents, places left for others)."""
    S = len(c.scen)
    si = np.flatnonzero(ysip)
    if not len(si):
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    key = yj.astype(np.int64) * S + ss
    own_key = key[si]                                   # one shelter-in-place column per (site, scenario)
    own = (c.D if c.swap_own is None else c.swap_own)[yg[si], ss[si]].astype(float)
    left = np.maximum(c.cap[yj[si]] - own, 0.0)
    o = np.argsort(own_key)
    own_key, own, left, sj = own_key[o], own[o], left[o], yj[si][o]
    others, pos = _into_swap_rows(key, np.flatnonzero(~ysip), own_key)
    inflow = np.bincount(pos, weights=yub[others], minlength=len(own_key))
    bind = (inflow > left + 1e-9) & (own > 0)             # else the row can never bind
    if c.swap_skip is not None:
        bind &= ~c.swap_skip[sj]
    rowid = np.full(len(own_key), -1)
    rowid[bind] = np.arange(int(bind.sum()))
    k = int(bind.sum())
    use = rowid[pos] >= 0
    R.add(np.r_[rowid[pos[use]], np.arange(k), np.arange(k)],
          np.r_[ycol0 + others[use], sj[bind], vcol0 + np.arange(k)],
          np.r_[np.ones(int(use.sum())), -left[bind], -np.ones(k)], np.full(k, -INF), np.zeros(k), "swap")
    return own_key[bind], own[bind], left[bind]


def _into_swap_rows(key: np.ndarray, others: np.ndarray, row_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The assignment columns among `others` (indices; their key ``site x S + scenario`` in `key`) that
    enter a swap row, and the position of that row's key in `row_key` (sorted): (columns, positions)."""
    if not len(row_key):
        return others[:0], others[:0]
    pos = np.searchsorted(row_key, key[others]).clip(max=len(row_key) - 1)
    hit = row_key[pos] == key[others]
    return others[hit], pos[hit]


def _member_columns(yq: np.ndarray, ss: np.ndarray, S: int, q: np.ndarray, s: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The assignment columns of a family of rows' members: per member (usable pair `q`, scenario `s`),
    whether a y column has that (pair, scenario) (`hit`, per member) and, for the members hit, its
    column (`col`, index into `yq` / `ss`: the columns' pair and scenario). Shared by the corridor and
    the exit-door rows."""
    ykey = yq.astype(np.int64) * S + ss
    order = np.argsort(ykey)
    mkey = q * S + s
    pos = np.searchsorted(ykey[order], mkey).clip(max=len(ykey) - 1)
    hit = ykey[order][pos] == mkey
    return order[pos[hit]], hit


def _corridor_rows(R: Rows, c: Compiled, yq: np.ndarray, ss: np.ndarray, yub: np.ndarray, ycol0: int,
                   ucol0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The corridor rows (issue 17), added to `R`: per cut k of `c` with assignment columns,
    ``sum of y over its (pair, scenario) members - u_k <= rhs_k`` (persons; `u_k` >= 0 the charged slack).
    Only cuts whose members' upper bounds could exceed the limit. Returns (row index of each in `R`,
    its limit, its slack's upper bound, the scenario of its members, its cut id)."""
    none = np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64)
    if not len(c.cut_id) or not len(yq):
        return none
    col, hit = _member_columns(yq, ss, len(c.scen), c.cut_q, c.cut_s)
    cut = c.cut_id[hit]
    if not len(cut):
        return none
    ucut, local = np.unique(cut, return_inverse=True)
    load = np.bincount(local, weights=yub[col], minlength=len(ucut))
    rhs = c.cut_rhs[ucut]
    bind = load > rhs + 1e-9
    rowid = np.full(len(ucut), -1)
    rowid[bind] = np.arange(int(bind.sum()))
    k = int(bind.sum())
    if not k:
        return none
    use = rowid[local] >= 0
    first = R.n
    R.add(np.r_[rowid[local[use]], np.arange(k)], np.r_[ycol0 + col[use], ucol0 + np.arange(k)],
          np.r_[np.ones(int(use.sum())), -np.ones(k)], np.full(k, -INF), rhs[bind], "corridor")
    scen_of = np.zeros(len(ucut), np.int64)
    scen_of[local] = ss[col]
    return first + np.arange(k), rhs[bind], np.maximum(load[bind] - rhs[bind], 0.0), scen_of[bind], ucut[bind]


def _exit_door_rows(R: Rows, c: Compiled, yq: np.ndarray, ss: np.ndarray, yub: np.ndarray, ycol0: int) -> None:
    """The exit-door rows (issue 17, hard), added to `R`: per (room, door, scenario) row k of `c`,
    ``sum of y over its (pair, scenario) members <= exit_rhs_k`` (persons). Only rows whose members'
    upper bounds could exceed the limit. Each row's members are part of one group's demand row and the
    rows of a group are disjoint, so with the capacity and queue rows they stay two laminar families
    (the fixed-x assignment keeps whole persons)."""
    if not len(c.exit_id) or not len(yq):
        return
    col, hit = _member_columns(yq, ss, len(c.scen), c.exit_q, c.exit_s)
    rid = c.exit_id[hit]
    if not len(rid):
        return
    urid, local = np.unique(rid, return_inverse=True)
    load = np.bincount(local, weights=yub[col], minlength=len(urid))
    rhs = c.exit_rhs[urid]
    dem = np.zeros(len(urid))
    dem[local] = c.D[c.qg[yq[col]], ss[col]]                # the row's room (a group of its own) in its scenario
    bind = (load > rhs + 1e-9) & (dem > rhs + 1e-9)        # else the demand row implies it
    rowid = np.full(len(urid), -1)
    rowid[bind] = np.arange(int(bind.sum()))
    k = int(bind.sum())
    if not k:
        return
    use = rowid[local] >= 0
    R.add(rowid[local[use]], ycol0 + col[use], np.ones(int(use.sum())), np.full(k, -INF), rhs[bind], "exit-door")


def _share_rows(R: Rows, c: Compiled, yq: np.ndarray, ss: np.ndarray, ycol0: int) -> np.ndarray:
    """The expected-share rows (issue 17), added to `R`: per scenario s, with everyone reachable sheltered
    (the cover-all demand rows), ``sum of (1 - prob_q) x y_qs <= D_s - share_rhs[s]``: at most so many
    persons expected late (`Compiled.share_p`; only pairs with a probability below 1 have a coefficient).
    Returns their row indices (one per scenario)."""
    if not c.share or not len(yq):
        return np.zeros(0, np.int64)
    S = len(c.scen)
    late = 1.0 - c.share_p[yq, ss].astype(float)
    nz = np.flatnonzero(late > 1e-12)
    first = R.n
    dem = c.D.sum(axis=0).astype(float)                # everyone reachable is sheltered (the demand rows)
    R.add(ss[nz], ycol0 + nz, late[nz], np.full(S, -INF), dem - c.share_rhs, "share")
    return first + np.arange(S)


def corridor_penalty_per_person(c: Compiled, cost_scale: bool) -> float:
    """The objective's charge per person over a corridor row's limit (as `swap_penalty_per_person`)."""
    if cost_scale:
        return float(c.corridor_cost)
    return float(c.corridor_persons) * (float(c.w[c.w > 0].min()) if (c.w > 0).any() else 1.0)


def fill_corridor_slacks(ar: Arrays, v: np.ndarray) -> None:
    """Set the corridor slack columns of `v` (in place) to the least value its y allow:
    max(persons through the cut - its limit, 0)."""
    if not ar.nu:
        return
    u = ar.ucol0 + np.arange(ar.nu)
    v[u] = 0.0
    lhs = ar.A[ar.u_rows] @ v
    v[u] = np.maximum(lhs - ar.u_rhs, 0.0)


def _swap_total_row(R: Rows, vcol0: int, weight: np.ndarray, at_most: float | None) -> None:
    """max-cover's least-cost stage: the swap slacks (persons, each scenario weighted by `weight`) stay
    at most `at_most`, the first stage's (None: no row)."""
    if at_most is None or not len(weight):
        return
    R.add(np.zeros(len(weight), np.int64), vcol0 + np.arange(len(weight)), weight, np.array([-INF]),
          np.array([at_most]), "swap-total")


def swap_penalty_per_person(c: Compiled, cost_scale: bool) -> float:
    """The objective's charge per person of a swap slack: on the cost scale (cover-all, max-cover's
    least-cost stage: currency) or max-cover's (sheltered persons times the smallest priority weight)."""
    if cost_scale:
        return float(c.swap_cost)
    return float(c.swap_persons) * (float(c.w[c.w > 0].min()) if (c.w > 0).any() else 1.0)


def site_upper(c: Compiled) -> np.ndarray:
    """Upper bounds of the site columns x (0/1): 0 for a site whose cost alone exceeds the budget (never open in a
    plan within it: costs are never negative), unless it is fixed open; 1 otherwise. The layout stays, so a basis
    carries over to another budget. Station Unity's sweep at 91,100 CR (a few sites affordable): HiGHS's MIP took
    21.4 s to prove the start plan optimal, 1.0 s with these bounds (the LP bound is the start's)."""
    hi = np.ones(c.J)
    if c.budget is not None:
        hi[(c.cost > float(c.budget) * (1 + 1e-9) + 1e-6) & ~c.fixed1.astype(bool)] = 0.0
    return hi


def build_arrays(c: Compiled, x_fixed: np.ndarray | None = None, cover_at_least: float | None = None,
                 stage2: bool = False, walk_obj: np.ndarray | None = None,
                 only_sites: np.ndarray | None = None, all_scen: bool = False,
                 tight_cols: np.ndarray | None = None, swaps_at_most: float | None = None) -> Arrays:
    """The MIP (or, with `x_fixed`, the assignment problem) as arrays.

    Columns: x (sites), z (max-cover backup flags), y (assignments), S (queue suffixes), v (no-swap
    slacks), u (corridor-row slacks, `Compiled.cut_*`; issue 17);
    the layout does not depend on `x_fixed` or `stage2`, so solutions carry over.
    `stage2`: max-cover second stage (min cost + displacement tie-break, coverage >= `cover_at_least`).
    `walk_obj`: per usable pair, walk seconds; assignments then prefer short walks (tiny weight).
    `swaps_at_most`: with `stage2`, the swap slacks (persons, scenarios weighted as in the model) stay
    at most this (the first stage's), so the least-cost stage keeps the first stage's swaps.
    """
    J, G, S = c.J, c.G, len(c.scen)
    cover_all = c.objective == "cover-all"
    # ---- y columns: usable pair q x scenario s with D>0
    qq, ss, yub = assignment_columns(c, all_scen=all_scen, only_sites=only_sites)
    mult = np.ones(S) if (all_scen or not len(c.scen_mult)) else c.scen_mult
    ny = len(qq)
    yg, yj = c.qg[qq], c.qj[qq]
    ybin, ysip = c.qbin[qq], c.qsip[qq]
    nx = J
    z_groups = np.flatnonzero(c.m >= 2) if not cover_all else np.zeros(0, np.int64)
    nz_ = len(z_groups)
    zpos = np.full(G, -1)
    zpos[z_groups] = np.arange(nz_)
    zcol0 = nx
    ycol0 = nx + nz_
    scol0 = ycol0 + ny
    R = Rows()
    # ---- demand rows, one per (g, s) with D>0 (max-cover with backup: - D_gs z_g)
    gs_key = yg * S + ss
    ukey, drow = np.unique(gs_key, return_inverse=True)
    dval = c.D[ukey // S, ukey % S].astype(float)
    g_of_row = ukey // S
    hasz = np.flatnonzero(zpos[g_of_row] >= 0)
    dhi = dval.copy()
    dhi[hasz] = 0.0
    R.add(np.r_[drow, hasz], np.r_[ycol0 + np.arange(ny), zcol0 + zpos[g_of_row[hasz]]],
          np.r_[np.ones(ny), -dval[hasz]], dval if cover_all else np.full(len(ukey), -INF), dhi, "demand")
    share_rows = _share_rows(R, c, qq, ss, ycol0)
    # ---- queue chains: S variables at binding bins only (vectorised)
    nS, S_hi, S_key, last_S = _queue_rows(R, c, yj, ss, ybin, ysip, yub, ycol0, scol0) if c.door_queue else _NO_QUEUE
    # ---- no swaps: others come into a converted room only while its own residents fit beside them
    vcol0 = scol0 + nS
    v_key, v_own, v_rhs = (_swap_rows(R, c, yg, yj, ss, ysip, yub, ycol0, vcol0) if c.swap_rule
                           else (np.zeros(0, np.int64), np.zeros(0), np.zeros(0)))
    nv = len(v_key)
    ucol0 = vcol0 + nv
    u_rows, u_rhs, u_hi, u_scen, u_cut = _corridor_rows(R, c, qq, ss, yub, ycol0, ucol0)
    nu = len(u_rows)
    ncol = ucol0 + nu
    _exit_door_rows(R, c, qq, ss, yub, ycol0)
    # ---- capacity rows per (j, s) with y
    js_key = yj * S + ss
    ujs, crow = np.unique(js_key, return_inverse=True)
    cj = ujs // S
    R.add(np.r_[crow, np.arange(len(ujs))], np.r_[ycol0 + np.arange(ny), cj],
          np.r_[np.ones(ny), -c.cap[cj].astype(float)], np.full(len(ujs), -INF), np.zeros(len(ujs)), "capacity")
    if x_fixed is None:
        # ---- tightening y <= u x (only where the capacity row does not imply it)
        if c.tighten or tight_cols is not None:
            cand = yub < c.cap[yj] - 1e-9
            if not c.tighten:
                cand &= tight_cols
            ti = np.flatnonzero(cand)
            R.add(np.r_[np.arange(len(ti)), np.arange(len(ti))], np.r_[ycol0 + ti, yj[ti]],
                  np.r_[np.ones(len(ti)), -yub[ti]], np.full(len(ti), -INF), np.zeros(len(ti)), "tighten")
        # ---- all door arrivals of a binding chain <= q x
        if len(last_S):
            ls = last_S[last_S[:, 2] < c.cap[last_S[:, 1]]]
            k = len(ls)
            R.add(np.r_[np.arange(k), np.arange(k)], np.r_[ls[:, 0], ls[:, 1]],
                  np.r_[np.ones(k), -ls[:, 2].astype(float)], np.full(k, -INF), np.zeros(k), "queue-x")
        # ---- backup
        need = np.flatnonzero(c.m >= 2)
        if len(need):
            backup_rows(R, c, need, G, None if cover_all else zcol0 + zpos[need])
    # ---- budget
    if c.budget is not None:
        nzc = np.flatnonzero(c.cost > 0)
        R.add(np.zeros(len(nzc), np.int64), nzc, c.cost[nzc], np.array([-INF]), np.array([float(c.budget)]), "budget")
    # ---- objective
    obj = np.zeros(ncol)
    tot_cost = float(c.cost.sum()) + 1.0
    tot_disp = float(c.disp.sum()) + 1.0
    if cover_all or stage2:
        obj[:nx] = c.cost + (0.5 / tot_disp) * c.disp
    else:
        obj[ycol0:ycol0 + ny] = -c.w[yg] * mult[ss]
        wmin = float(c.w[c.w > 0].min()) if (c.w > 0).any() else 1.0
        obj[:nx] = (0.25 * wmin / tot_cost) * c.cost + (0.25 * wmin / tot_disp) * c.disp
    if walk_obj is not None:
        wscale = 1e-3 if (cover_all or stage2) else 1e-4 * (float(c.w[c.w > 0].min()) if (c.w > 0).any() else 1.0)
        obj[ycol0:ycol0 + ny] += wscale * walk_obj[qq] / max(c.reach_s, 1.0)
    obj[vcol0:vcol0 + nv] = swap_penalty_per_person(c, cover_all or stage2) * mult[v_key % S]
    obj[ucol0:ucol0 + nu] = corridor_penalty_per_person(c, cover_all or stage2) * mult[u_scen]
    if c.share and walk_obj is not None:   # the whole-person assignment: the likelier in time first
        obj[ycol0:ycol0 + ny] -= 1e-3 * (c.share_p[qq, ss] - 1.0)
    if c.no_swap and walk_obj is not None:   # with the walk tie-break: own residents stay unless needed elsewhere
        si = np.flatnonzero(ysip)
        reward = 2e-3 if (cover_all or stage2) else 2e-4 * (float(c.w[c.w > 0].min()) if (c.w > 0).any() else 1.0)
        obj[ycol0 + si] -= reward
    cover_row = None
    if stage2 and cover_at_least is not None:
        cover_row = R.n
        R.add(np.zeros(ny, np.int64), ycol0 + np.arange(ny), c.w[yg] * mult[ss], np.array([cover_at_least]), np.array([INF]),
              "coverage")
    _swap_total_row(R, vcol0, mult[v_key % S], swaps_at_most if stage2 else None)
    # ---- assemble
    A, rlo, rhi = R.matrix(ncol)
    lo = np.zeros(ncol)
    lo[:nx] = c.fixed1.astype(float)
    hi = np.r_[site_upper(c), np.ones(nz_), yub, S_hi, v_own, u_hi]
    integer = np.zeros(ncol, bool)
    integer[:ycol0] = True
    if x_fixed is not None:
        lo[:nx] = hi[:nx] = x_fixed
        integer[ycol0:scol0] = True

        if nz_:
            cnt = np.bincount(c.rg, weights=x_fixed[c.rj], minlength=G)
            lo[zcol0:ycol0] = hi[zcol0:ycol0] = (cnt[z_groups] >= c.m[z_groups] - 1e-9).astype(float)
    names = BlockNames([("x", nx), ("z", nz_), ("y", ny), ("S", nS), ("v", nv), ("u", nu)])
    row_names = BlockNames(R.kind)
    return Arrays(c=obj, lo=lo, hi=hi, integer=integer, A=A, row_lo=rlo, row_hi=rhi, names=names,
                  row_names=row_names, nx=nx, nz=nz_, ny=ny, ycol0=ycol0, scol0=scol0, yq=qq, ys=ss,
                  z_groups=z_groups, cover_row=cover_row, rows_by_kind=dict(
                      (kind, k) for kind, k in R.kind), S_key=S_key, ymult=mult[ss], vcol0=vcol0, nv=nv,
                  v_key=v_key, v_rhs=v_rhs, ucol0=ucol0, nu=nu, u_rows=u_rows, u_rhs=u_rhs, u_scen=u_scen,
                  share_rows=share_rows, u_cut=u_cut)



def full_vector(c: Compiled, ar_model: Arrays, ar_fixed: Arrays, v_fixed: np.ndarray) -> np.ndarray:
    """A fixed-x solution (possibly built on the open sites only) on the MIP's columns."""
    S = len(c.scen)
    out = np.zeros(ar_model.A.shape[1])
    out[:ar_model.ycol0] = v_fixed[:ar_fixed.ycol0]
    full_key = ar_model.yq.astype(np.int64) * S + ar_model.ys
    sub_key = ar_fixed.yq.astype(np.int64) * S + ar_fixed.ys
    inm = np.isin(sub_key, full_key)
    pos = np.searchsorted(full_key, sub_key[inm])
    out[ar_model.ycol0 + pos] = v_fixed[ar_fixed.ycol0:ar_fixed.ycol0 + ar_fixed.ny][inm]
    if len(ar_fixed.S_key) and len(ar_model.S_key):
        inm = np.isin(ar_fixed.S_key, ar_model.S_key)
        o = np.argsort(ar_model.S_key)
        spos = o[np.searchsorted(ar_model.S_key[o], ar_fixed.S_key[inm])]
        out[ar_model.scol0 + spos] = v_fixed[ar_fixed.scol0:ar_fixed.scol0 + len(ar_fixed.S_key)][inm]
    fill_penalty_slacks(c, ar_model, out)
    return out


def swap_inflow(c: Compiled, ar: Arrays, v: np.ndarray) -> np.ndarray:
    """Per swap slack column of `ar`: the persons of other rooms the column vector `v` sends into
    its site in its scenario."""
    S = len(c.scen)
    if not ar.nv:
        return np.zeros(0)
    y = v[ar.ycol0:ar.ycol0 + ar.ny]
    key = c.qj[ar.yq].astype(np.int64) * S + ar.ys
    o = np.argsort(ar.v_key)
    cols, pos = _into_swap_rows(key, np.flatnonzero(~c.qsip[ar.yq]), ar.v_key[o])
    inflow = np.zeros(ar.nv)
    np.add.at(inflow, o[pos], y[cols])
    return inflow


def fill_penalty_slacks(c: Compiled, ar: Arrays, v: np.ndarray) -> None:
    """Set the penalised slack columns of the column vector `v` (in place) to the least values its x and y
    allow: the no-swap slacks to max(others coming in - places left for them x_j, 0) and the corridor
    slacks to max(persons through the opening - the row's limit, 0) (`fill_corridor_slacks`; persons)."""
    fill_corridor_slacks(ar, v)
    if not ar.nv:
        return
    S = len(c.scen)
    xj = v[:c.J][ar.v_key // S]
    v[ar.vcol0:ar.vcol0 + ar.nv] = np.maximum(swap_inflow(c, ar, v) - ar.v_rhs * xj, 0.0)


