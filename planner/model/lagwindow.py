"""Sub-MIPs on windows of a Lagrangian plan (30,000 rooms, issue 21): the sites around places left over,
re-chosen exactly with everyone else's flow fixed.

The local search by flows (`lagsearch.close_warm`) stops where no single site can close: the places left
over sit in a few hundred sites, and closing any one of them leaves someone without a place. A window is a
set of sites `R` (open and closed) and every group whose flow goes to an open site of `R`; its sub-model is
the cover-all MIP of those groups' persons now at `R` (their persons elsewhere stay where they are: the
exit-door rows keep what that fixed flow leaves of them) over the sites of `R` alone (no other group uses an
open site of `R`, so each keeps its capacity and door). Any plan of the sub-model with the rest unchanged is
a plan of the whole model (the flow is checked again by `augment_flow` before it is taken), so a cheaper
sub-plan is a better plan: several closings at once, or a closing paid by a cheaper site opened.

Units: persons, currency, seconds.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import replace
from typing import Any

import numpy as np

from planner.model.arrays import build_arrays
from planner.model.compile import Compiled
from planner.model.highs import solve_highspy
from planner.model.lagrange import exit_used, keep_pairs, restrict
from planner.model.lagsearch import augment_flow


def site_load(c: Compiled, Y: np.ndarray) -> np.ndarray:
    """Persons per (site, scenario) of the whole-person flow `Y` (pairs, S)."""
    S = len(c.scen)
    load = np.zeros((c.J, S))
    for s in range(S):
        load[:, s] = np.bincount(c.qj, weights=Y[:, s], minlength=c.J)
    return load


def window(c: Compiled, x: np.ndarray, Y: np.ndarray, seed: int, max_groups: int, max_closed: int,
           ptr: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A window around the open site `seed` of plan `x` (flow `Y`): open sites taken breadth first (a site's
    users, then the open sites those users reach, nearest arrival bin first) until the window's groups are
    at least `max_groups`; with every user of each open site taken. Then up to `max_closed` closed sites that
    the window's groups reach, those reached by most of them first (cheapest per place on ties). Returns
    (sites, groups), sorted indices."""
    if ptr is None:
        ptr = np.r_[0, np.cumsum(np.bincount(c.qg, minlength=c.G))]     # pairs are sorted by group
    open_ = np.asarray(x) > 0.5
    used = Y.sum(axis=1) > 0
    users_of: dict[int, np.ndarray] = {}
    qj_used = np.flatnonzero(used)
    order = np.argsort(c.qj[qj_used], kind="stable")
    uq = qj_used[order]
    ujs = c.qj[uq]
    starts = np.searchsorted(ujs, np.arange(c.J + 1))
    in_sites = np.zeros(c.J, bool)
    in_groups = np.zeros(c.G, bool)
    queue: deque[int] = deque([int(seed)])
    in_sites[seed] = True
    ng = 0
    while queue and ng < max_groups:
        j = queue.popleft()
        us = users_of.get(j)
        if us is None:
            us = np.unique(c.qg[uq[starts[j]:starts[j + 1]]])
        new = us[~in_groups[us]]
        in_groups[new] = True
        ng += len(new)
        for g in new:
            q = np.arange(ptr[g], ptr[g + 1])
            q = q[open_[c.qj[q]] & ~in_sites[c.qj[q]]]
            q = q[np.argsort(c.qbin[q], kind="stable")]
            for jj in c.qj[q]:
                if not in_sites[jj]:
                    in_sites[jj] = True
                    queue.append(int(jj))
    for j in queue:                     # queued, not expanded: outside the window (its users' flow there stays)
        in_sites[j] = False
    groups = np.flatnonzero(in_groups)
    gm = in_groups[c.qg]
    closed = gm & ~open_[c.qj]
    if max_closed > 0 and closed.any():
        cj = c.qj[closed]
        n_reach = np.bincount(cj, minlength=c.J)
        cand = np.flatnonzero(n_reach > 0)
        per = c.cost[cand] / np.maximum(c.cap[cand], 1)
        pick = cand[np.lexsort((per, -n_reach[cand]))][:max_closed]
        in_sites[pick] = True
    return np.flatnonzero(in_sites), groups


def solve_window(c: Compiled, x: np.ndarray, Y: np.ndarray, sites: np.ndarray, groups: np.ndarray,
                 time_limit: float, threads: int = 2) -> tuple[np.ndarray | None, np.ndarray, dict[str, Any]]:
    """The window's sub-MIP (module docstring): (plan, its flow, counts) when it finds a cheaper plan that
    shelters as many; else (None, `Y`, counts)."""
    S = len(c.scen)
    in_s = np.zeros(c.J, bool)
    in_s[sites] = True
    in_g = np.zeros(c.G, bool)
    in_g[groups] = True
    inside = in_g[c.qg] & in_s[c.qj]
    Yout = np.where(inside[:, None], 0, Y)
    D = np.zeros((c.G, S), np.int64)
    for s in range(S):
        D[:, s] = np.bincount(c.qg[inside], weights=Y[inside, s], minlength=c.G).astype(np.int64)
    rhs = c.exit_rhs
    if len(c.exit_id):
        rhs = np.maximum(np.asarray(c.exit_rhs, float) - exit_used(c, Yout), 0.0)
    sub = keep_pairs(c, inside, exit_rhs=rhs)
    sub, sidx = restrict(replace(sub, D=D), groups)
    sub = replace(sub, scen_mult=np.ones(S), m=np.zeros(len(groups), np.int64), objective="cover-all",
                  swap_cost=0.0, swap_persons=0.0)
    ar = build_arrays(sub)
    x0 = (np.asarray(x)[sidx] > 0.5).astype(float)
    before = float(c.cost[sidx] @ x0)
    run = solve_highspy(ar, time_limit, 1e-4, threads, (np.arange(sub.J), x0), False, mip=True)
    info = dict(sites=len(sidx), groups=len(groups), cols=int(ar.A.shape[1]), status=run.status)
    if run.values is None:
        return None, Y, info
    xs = (run.values[:sub.J] > 0.5).astype(float)
    after = float(c.cost[sidx] @ xs)
    info.update(before=before, after=after)
    if after >= before - 1.0:
        return None, Y, info
    x2 = np.asarray(x, float).copy()
    x2[sidx] = xs
    x2 = np.maximum(x2, c.fixed1)
    Y2, short = augment_flow(c, x2, Yout, scen_order=[s for s in range(S) if c.D[:, s].sum() > 0])
    if short >= 0:
        info["refused"] = True
        return None, Y, info
    return x2, Y2, info


def window_search(c: Compiled, x: np.ndarray, Y: np.ndarray, deadline: float, max_groups: int = 300,
                  max_closed: int = 60, window_s: float = 10.0, threads: int = 2
                  ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Sub-MIPs on windows around the sites with places left over (most left over first) until `deadline`
    (`time.perf_counter()`). Returns (plan, its flow, counts)."""
    x = np.asarray(x, float).copy()
    ptr = np.r_[0, np.cumsum(np.bincount(c.qg, minlength=c.G))]
    out: dict[str, Any] = dict(windows=0, improved=0, saved=0.0)
    done = np.zeros(c.J, bool)
    while time.perf_counter() < deadline:
        load = site_load(c, Y)
        spare = np.where(x > 0.5, c.cap - load.mean(axis=1), 0.0)
        spare[c.fixed1.astype(bool) | done] = 0.0
        cand = np.flatnonzero(spare > 0)
        if not len(cand):
            break
        seed = int(cand[np.argmax(spare[cand] * c.cost[cand] / np.maximum(c.cap[cand], 1))])
        if load[seed].sum() <= 0:         # nobody there: closed as it is
            out["saved"] += float(c.cost[seed])
            x[seed] = 0.0
            continue
        sites, groups = window(c, x, Y, seed, max_groups, max_closed, ptr)
        left = deadline - time.perf_counter()
        if left < 1.0:
            break
        x2, Y, info = solve_window(c, x, Y, sites, groups, min(window_s, left), threads)
        out["windows"] += 1
        done[seed] = True
        if x2 is None:
            done[sites[x[sites] > 0.5]] = True      # every open site of a window that found nothing
        else:
            out["improved"] += 1
            out["saved"] += float(c.cost @ x) - float(c.cost @ x2)
            x = x2
    return x, Y, out
