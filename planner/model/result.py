"""Result assembly (groups split back to rooms, objective, bound, gap) and the optimiser's own check."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from planner.errors import SolverError
from planner.model.arrays import Arrays, corridor_penalty_per_person, fill_penalty_slacks, swap_penalty_per_person
from planner.model.bounds import capacity_bound, cover_bound
from planner.model.compile import Compiled
from planner.model.highs import Run
from planner.model.options import SolveOptions
from planner.model.problem import Problem, Solution


def finish(c: Compiled, p: Problem, o: SolveOptions, x: np.ndarray, vf: np.ndarray, arf: Arrays, run: Run,
            primary: dict[str, Any], stats: dict[str, Any], timings: dict[str, float], t_all: float,
            say: Callable[[str], None], knapsack: float | None = None, swaps_in_bound: bool = True) -> Solution:
    """Rooms from groups, objective / bound / gap on the primary scale, own verification.

    `knapsack`: `capacity_bound(c)` when the caller has it already (currency; else computed here).
    `swaps_in_bound`: `run.bound` bounds cost plus the swap and corridor penalties (the model's objective
    with the no-swap and corridor rows); the reported bound is then that bound less the plan's own
    penalties, a lower bound on the cost of every plan with no more penalty than this one
    (docs/model.md)."""
    t = time.perf_counter()
    sol = make_solution(c, p, x, vf, arf)
    timings["solution_s"] = time.perf_counter() - t
    pen_c = corridor_penalty_paid(c, arf, vf)
    pen = swap_penalty_paid(c, arf, vf) + pen_c
    # objective on the primary scale (cost for cover-all; weighted persons for max-cover)
    if p.objective == "cover-all":
        objective = float(c.cost @ x)
        bound = float(run.bound) if np.isfinite(run.bound) else float("nan")
        if swaps_in_bound and np.isfinite(bound):
            bound -= pen
        # cheap and often as strong as the LP (needed where the LP did not finish)
        cb = capacity_bound(c) if knapsack is None else knapsack
        if np.isfinite(cb) and not (bound >= cb):
            bound = cb
            stats["bound_from"] = "capacity knapsack"
        bound = min(bound, objective)
        if np.isfinite(bound) and (c.cost >= 0).all():
            bound = max(bound, 0.0)   # costs are never negative: 0 is a bound (a dual bound may be weaker)
    else:
        objective = float(coverage(c, arf, vf))
        bound = float(-run.bound) if np.isfinite(run.bound) else float("nan")
        if swaps_in_bound and np.isfinite(bound):
            bound += pen
        if not np.isfinite(bound):
            # no bound from the solver (its LP relaxation stopped without one): the sites' coverage
            # knapsack, a bound on every plan (issue 21: a solve reports at least that)
            bound = cover_bound(c)
            stats["bound_from"] = "coverage knapsack"
        bound = max(bound, objective)
    gap = abs(objective - bound) / max(abs(objective), 1e-9) if np.isfinite(bound) else float("inf")
    if objective == 0 and bound == 0:
        gap = 0.0
    status = primary["status"]
    if status == "optimal" and gap > o.gap + 1e-6:
        status = "optimal"  # within solver tolerance; keep the solver's word but report the gap
    if status != "optimal":
        status = f"{status}: feasible"
    timings["total_s"] = time.perf_counter() - t_all
    stats.update({k: round(v, 3) for k, v in timings.items()})
    stats["cost"] = float(c.cost @ x)
    stats["nodes"] = run.nodes
    # JSON-safe: an unknown bound or gap is None, never NaN or infinity
    sol.solver = dict(name=run.name, version=run.version, status=status, objective=objective,
                      bound=bound if np.isfinite(bound) else None, gap=gap if np.isfinite(gap) else None,
                      seconds=round(time.perf_counter() - t_all, 3))
    if c.swap_rule:   # the penalty the plan pays in the model's objective (not a cost)
        sol.solver["swap_penalty"] = round(pen, 6)
        sol.solver["swap_penalty_per_person"] = swap_penalty_per_person(c, p.objective == "cover-all")
    if len(c.cut_id):   # corridor rows (issue 17): the penalty the plan pays for persons over their limits
        sol.solver["corridor_penalty"] = round(pen_c, 6)
    sol.stats = stats
    t = time.perf_counter()
    breaches = verify(p, sol)
    stats["verify_s"] = round(time.perf_counter() - t, 3)
    if breaches:
        raise SolverError("the plan failed its own check: " + "; ".join(breaches[:5]))
    say(f"[planner] {status}: cost {stats['cost']:,.0f}, objective {objective:,.1f}, bound {bound:,.1f}, "
        f"gap {gap:.2%}, {sol.solver['seconds']:.1f} s")
    return sol


def _slack_penalty(c: Compiled, ar: Arrays, v: np.ndarray, per_person: float, scen_of: np.ndarray,
                   col0: int, n: int) -> float:
    """`per_person` x the least slacks of the `n` slack columns from `col0` that the assignment `v`
    (on `ar`'s columns) leaves, each weighted by its scenario (`scen_of`) as the model weights it
    (merged scenarios count twice, dominated ones not at all)."""
    vv = np.array(v, dtype=float, copy=True)
    fill_penalty_slacks(c, ar, vv)
    mult = c.scen_mult if len(c.scen_mult) else np.ones(len(c.scen))
    return float(per_person * (mult[scen_of] @ vv[col0:col0 + n]))


def swap_penalty_paid(c: Compiled, ar: Arrays, v: np.ndarray) -> float:
    """The swap penalty the assignment `v` (on `ar`'s columns) pays in the site choice's objective:
    its least slacks, each scenario weighted as the model weights it (merged scenarios count
    twice, dominated ones not at all); cover-all in currency, max-cover in weighted persons."""
    if not c.swap_rule or not ar.nv:
        return 0.0
    return _slack_penalty(c, ar, v, swap_penalty_per_person(c, c.objective == "cover-all"), ar.v_key % len(c.scen),
                          ar.vcol0, ar.nv)


def corridor_penalty_paid(c: Compiled, ar: Arrays, v: np.ndarray) -> float:
    """The corridor rows' penalty the assignment `v` pays in the site choice's objective (its least
    slacks, scenarios weighted as the model weights them; as `swap_penalty_paid`)."""
    if not ar.nu:
        return 0.0
    return _slack_penalty(c, ar, v, corridor_penalty_per_person(c, c.objective == "cover-all"), ar.u_scen,
                          ar.ucol0, ar.nu)


def coverage(c: Compiled, ar: Arrays, v: np.ndarray) -> float:
    y = v[ar.ycol0:ar.ycol0 + ar.ny]
    return float((c.w[c.qg[ar.yq]] * ar.ymult) @ y)


def objective_value(c: Compiled, ar: Arrays, v: np.ndarray) -> float:
    if c.objective == "cover-all":
        return float(c.cost @ (v[:c.J] > 0.5))
    return coverage(c, ar, v)


def _split_to_rooms(c: Compiled, dem: pd.DataFrame, g: np.ndarray, s: np.ndarray, j: np.ndarray,
                    amt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split group flows (group g, scenario s, site j, persons amt) to the group's rooms, whole persons.

    Per (group, scenario) the rooms' residents and the flows are laid end to end on one line
    (persons); every elementary piece where a room's interval meets a flow's interval is one
    assignment row. Vectorised: all (group, scenario) lines are concatenated into one.
    Returns (room position in `c.room_group`, scenario, site, persons).
    """
    S = len(c.scen)
    rg = c.room_group.to_numpy().astype(np.int64)
    Dr = dem.reindex(c.room_group.index).to_numpy().astype(np.int64)        # (rooms, S)
    ri, si = np.nonzero(Dr > 0)
    rkey = rg[ri] * S + si
    o = np.lexsort((ri, rkey))                                              # member order within a key
    ri, si, rkey = ri[o], si[o], rkey[o]
    d = Dr[ri, si]
    RE = np.cumsum(d)
    RS = RE - d
    ukey, first = np.unique(rkey, return_index=True)
    fkey = g.astype(np.int64) * S + s
    o = np.lexsort((j, fkey))
    fkey, fj, famt = fkey[o], j[o], amt[o].astype(np.int64)
    kpos = np.searchsorted(ukey, fkey)
    base = RS[first][kpos]
    seg_start = np.r_[True, fkey[1:] != fkey[:-1]]
    cum = np.cumsum(famt)
    seg_off = np.r_[0, cum][np.flatnonzero(seg_start)][np.cumsum(seg_start) - 1]
    FE = base + cum - seg_off
    FS = FE - famt
    pts = np.unique(np.r_[RS, RE, FS, FE])
    a_, b_ = pts[:-1], pts[1:]
    rix = np.searchsorted(RE, a_, side="right")
    fix = np.searchsorted(FE, a_, side="right")
    ok = (rix < len(RE)) & (fix < len(FE))
    ok[ok] &= (RS[rix[ok]] <= a_[ok]) & (FS[fix[ok]] <= a_[ok])
    rix, fix, n = rix[ok], fix[ok], (b_ - a_)[ok]
    # neighbouring pieces of the same room and flow (cannot happen with distinct points, kept safe)
    return ri[rix], si[rix], fj[fix], n


def make_solution(c: Compiled, p: Problem, x: np.ndarray, v: np.ndarray, ar: Arrays) -> Solution:
    """Split group assignments to rooms integrally and list who is unsheltered (with a category). Vectorised."""
    y = np.rint(v[ar.ycol0:ar.ycol0 + ar.ny]).astype(np.int64)
    nzy = np.flatnonzero(y > 0)
    g = c.qg[ar.yq[nzy]]
    j = c.qj[ar.yq[nzy]]
    s = ar.ys[nzy]
    amt = y[nzy]
    dem = p.demand.reindex(columns=c.scen).fillna(0).clip(lower=0).round().astype(np.int64)
    rpos, sc, jj, n = _split_to_rooms(c, dem, g, s, j, amt)
    room_ids = c.room_group.index.to_numpy()
    asg = pd.DataFrame({"room_id": room_ids[rpos].astype(object),
                        "scenario": np.asarray(c.scen, dtype=object)[sc] if len(sc) else np.array([], dtype=object),
                        "site_id": c.site_ids[jj].astype(object), "residents": n.astype(np.int64)})
    if len(asg):
        asg = asg.groupby(["room_id", "scenario", "site_id"], sort=False, as_index=False)["residents"].sum()
        wk = c.pairs[["room_id", "site_id", "walk_s"]]
        asg = asg.merge(wk, on=["room_id", "site_id"], how="left")
    else:
        asg["walk_s"] = np.zeros(0)
    asg = asg.sort_values(["scenario", "room_id", "site_id"]).reset_index(drop=True)
    # unsheltered
    shel = asg.groupby(["room_id", "scenario"])["residents"].sum()
    long = dem.stack()
    long.index.names = ["room_id", "scenario"]
    long = long[long > 0]
    rest = long - shel.reindex(long.index).fillna(0).astype(np.int64)
    rest = rest[rest > 0]
    chosen_mask = x > 0.5
    rest_rooms = rest.index.get_level_values(0).to_numpy()
    pr = c.pairs[c.pairs["room_id"].isin(set(rest_rooms))]
    open_site = np.isin(pr["site_id"].to_numpy(), c.site_ids[chosen_mask])
    some_closed = pd.Series(~open_site, index=pr["room_id"].to_numpy()).groupby(level=0).any()
    unreach = np.isin(rest_rooms, np.asarray(c.unreachable, dtype=object))
    closed = some_closed.reindex(rest_rooms).fillna(False).to_numpy(dtype=bool)
    reasons = np.where(unreach, "unreachable", np.where(closed, "over budget", "capacity"))
    uns = pd.DataFrame({"room_id": rest_rooms.astype(object),
                        "scenario": rest.index.get_level_values(1).to_numpy().astype(object),
                        "residents": rest.to_numpy().astype(np.int64), "reason": reasons.astype(object)})
    return Solution(chosen=sorted(c.site_ids[chosen_mask].tolist()), assignments=asg, unsheltered=uns,
                    solver={}, stats={})


# ==================================================================== verify
_MAX_BREACHES = 20
"""At most this many breaches of one kind are spelled out by `verify`."""


def verify(p: Problem, sol: Solution) -> list[str]:
    """Own check of a solution against the problem (not a substitute for `planner check`).

    Capacity (persons), fluid door queue replayed on the real walk times (seconds), reach,
    budget (currency), demand, backup. Returns plain-language breaches (empty = fine).
    Vectorised: the fluid queue at a door (rate r persons/s, arrivals sorted by walk time t_k
    with n_k persons) empties at max_k (t_k + (n_k + ... + n_last) / r), the closed form of
    the replay clock = max(clock, t_k) + n_k / r.
    """
    out: list[str] = []
    sites = p.sites
    chosen = set(sol.chosen)
    asg = sol.assignments
    bad = set(asg["site_id"]) - chosen
    if bad:
        out.append(f"assignments to unconverted sites {sorted(bad)[:5]}")
    if p.protected & chosen - set(sites.index[sites["existing"]]):
        out.append(f"protected rooms converted: {sorted(p.protected & chosen)[:5]}")
    forced = set(sites.index[sites["existing"] | sites["required"]]) - p.protected
    if forced - chosen:
        out.append(f"existing/required sites not chosen: {sorted(forced - chosen)[:5]}")
    if (asg["walk_s"].isna() | (asg["walk_s"] > p.reach_s + 1e-6)).any():
        out.append("an assignment walks beyond the reach time")
    dem = p.demand
    got = asg.groupby(["room_id", "scenario"])["residents"].sum()
    if len(got):
        long = dem.stack()
        have = long.reindex(got.index).fillna(0).to_numpy()
        over = np.flatnonzero(got.to_numpy() > have)
        for k in over[:_MAX_BREACHES]:
            r, s_ = got.index[k]
            out.append(f"room {r} ({s_}) sends {got.iloc[k]} > its {have[k]:.0f} residents")
    load = asg.groupby(["site_id", "scenario"])["residents"].sum()
    if len(load):
        capv = sites["capacity"].reindex(load.index.get_level_values(0)).to_numpy()
        over = np.flatnonzero(load.to_numpy() > capv)
        for k in over[:_MAX_BREACHES]:
            j, s_ = load.index[k]
            out.append(f"site {j} ({s_}) holds {load.iloc[k]} > capacity {capv[k]}")
    if p.door_queue and len(asg):
        out += _queue_breaches(p, asg)
    ch = sorted(chosen)
    cost = float(sites.loc[ch, "cost"].where(~sites.loc[ch, "existing"], 0.0).sum())
    if p.budget is not None and cost > p.budget + 1e-6:
        out.append(f"cost {cost:,.0f} over budget {p.budget:,.0f}")
    if p.objective == "cover-all":
        uns = sol.unsheltered
        if len(uns) and (uns["reason"] != "unreachable").any():
            out.append("cover-all plan leaves reachable residents unsheltered")
    if p.share_on:
        out += _share_breaches(p, asg)
    return out


def _share_breaches(p: Problem, asg: pd.DataFrame) -> list[str]:
    """Scenarios whose expected persons in time (residents x the pair's probability, `Problem.share_pairs`;
    1 sheltering in place) fall short of the expected-share row."""
    assert p.share_pairs is not None
    sp_ = p.share_pairs
    by = ["room_id", "site_id"] + (["scenario"] if "scenario" in sp_.columns else [])
    tab = pd.Series(sp_["prob"].to_numpy(dtype=float), index=pd.MultiIndex.from_arrays(
        [sp_[c].astype(str).to_numpy() for c in by]))
    tab = tab[~tab.index.duplicated()]
    room, site = asg["room_id"].astype(str).to_numpy(), asg["site_id"].astype(str).to_numpy()
    prob = np.nan_to_num(tab.reindex(pd.MultiIndex.from_arrays([asg[c].astype(str).to_numpy() for c in by])
                                     ).to_numpy(dtype=float), nan=0.0)
    prob = np.where((room == site) & (asg["walk_s"].to_numpy(dtype=float) <= 1e-9), 1.0, np.clip(prob, 0.0, 1.0))
    got = pd.Series(prob * asg["residents"].to_numpy(dtype=float)).groupby(asg["scenario"].astype(str).to_numpy()).sum()
    res = p.share_residents if p.share_residents is not None else p.demand.sum(axis=0)
    out = []
    for sc in p.scenarios:
        need = float(p.share_target) * float(res.get(sc, 0.0))
        if float(got.get(sc, 0.0)) < need - 1e-6 * max(need, 1.0):
            out.append(f"expected persons in time in {sc} {float(got.get(sc, 0.0)):.2f} < {need:.2f} "
                       f"(share target {p.share_target:g})")
    return out


def _queue_breaches(p: Problem, asg: pd.DataFrame) -> list[str]:
    """The doors whose fluid queue (replayed on the real walk times, seconds) ends after the reach time."""
    out: list[str] = []
    sites = p.sites
    q = asg[~((asg["room_id"] == asg["site_id"]) & (asg["walk_s"] <= 1e-9))]
    r = sites["door_flow_pps"].reindex(q["site_id"]).to_numpy(dtype=float)
    fin = np.isfinite(r)
    q, r = q[fin], r[fin]
    if len(q):
        key = pd.factorize(pd.MultiIndex.from_arrays([q["site_id"].to_numpy(), q["scenario"].to_numpy()]))[0]
        tt = q["walk_s"].to_numpy(dtype=float)
        nn = q["residents"].to_numpy(dtype=float)
        o = np.lexsort((-tt, key))                       # per (site, scenario), latest arrival first
        key, tt, nn, r = key[o], tt[o], nn[o], r[o]
        start = np.r_[True, key[1:] != key[:-1]]
        seg = np.cumsum(start) - 1
        cum = np.cumsum(nn)
        suffix = cum - np.r_[0.0, cum][np.flatnonzero(start)][seg]   # persons arriving at or after t_k
        end = tt + suffix / np.maximum(r, 1e-12)
        clock = np.full(seg[-1] + 1, -np.inf)
        np.maximum.at(clock, seg, end)
        bad_k = np.flatnonzero(clock > p.reach_s + 1e-6)
        first_row = np.flatnonzero(start)
        for k in bad_k[:_MAX_BREACHES]:
            row = q.iloc[o[first_row[k]]]
            out.append(f"door queue at {row['site_id']} ({row['scenario']}) ends at {clock[k]:.1f} s "
                       f"> {p.reach_s:.0f} s")
    return out
