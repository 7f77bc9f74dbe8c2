"""A plan of a large relocation model rounded from its LP relaxation (the displacement trade-off's re-plan;
docs/model.md, "The displacement trade-off").

The main path keeps a large model's start plan with its LP bound and never branches (`lppath`); the
relocation model of a large station (Station Unity: 436,886 columns, integer assignments) is one HiGHS MIP
that found no plan cheaper than the proposal in 60 or 240 s. This module rounds the LP the trade-off's bound
solves already (`relocation.RelocationLP`, on the columns of `relocation.bound_arrays`) instead:

1. rooms repurposed: the sources the LP repurposes at least half (`q_i >= 0.5`; a `repurpose`-mode source
   whenever its site is open), fewest first dropped while the residents they move exceed the cap;
2. sites: those the LP opens more than a threshold (`THRESHOLDS`, from the LP's whole sites down to its
   support), with the repurposed rooms; when their assignment fails (someone without a place), repaired by
   adding the start plan's sites (the proposal's, which shelter everyone where they live; the local search
   then closes what is not needed);
3. the moves: a transportation problem (residents of the repurposed rooms to spare beds of hosts that are
   not repurposed and reach an open site; the LP's own moves preferred, then moves within the sector), a
   simplex vertex being whole persons; in each scenario a source's occupants are spread over its moves;
4. the whole-person assignment of the occupancy after the moves to the open sites (`assign.assign_fixed`,
   the main path's), then the main path's local search (`heuristic.improve_plan`: close a site while everyone
   still fits; the repurposed rooms stay open) and the assignment again.

The plan with the least cost plus penalties (swaps, corridor rows) over the thresholds is returned, checked
by `result.verify` on the occupancy after its moves and by the relocation rows (`relocation_breaches`);
None when no threshold gives a plan. It is a plan of the relocation model, not proven least: its bound
is the LP's.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog

from planner.model.assign import assign_fixed
from planner.model.compile import Compiled, compile_problem
from planner.model.heuristic import improve_plan
from planner.model.options import SolveOptions
from planner.model.problem import Problem, Solution
from planner.model.relocation import RelocationInputs, RelocationLP, _optional, demand_after
from planner.model.result import corridor_penalty_paid, make_solution, swap_penalty_paid, verify
from planner.model.roundline import line_search

THRESHOLDS: tuple[float, ...] = (0.5, 0.3, 0.2, 0.1, 1e-6)
"""LP values above which a site is rounded open, in decreasing order (fewer sites first: the assignment decides
whether they hold everyone; the support last: every site the LP uses at all), searched as a line from `FIRST`. Station Unity's 100 % point
(cost 62,182,639 CR and penalties 26.6 M for the proposal): at 0.999 no assignment; 0.5: 58.1 M but 63.6 M of
penalties; 0.3: 60.6 M with 23.0 M (the plan kept); 0.2, 0.1: 61.0, 62.1 M; 0.05 and the support: dearer than
the proposal, 80.9 and 81.3 M with penalties."""
FIRST = 0.3
"""The threshold the line search over `THRESHOLDS` starts from (with the next lower one)."""
Q_OPEN = 0.5
"""An `either` source is repurposed when the LP repurposes it at least this much."""


@dataclasses.dataclass
class _Round:
    """One rounding's plan: its cost + swap and corridor penalties, cost (currency), Solution, threshold."""

    objective: float
    cost: float
    solution: Solution
    threshold: float


@dataclasses.dataclass
class Rounded:
    """What `rounded_relocation` found: the best rounding's plan (`solution`, None when no threshold gave
    one) with its `objective` (cost + swap and corridor penalties) and `cost` (currency, inf without a plan);
    the start plan's (`start`: the proposal's sites, nobody moved) in the same terms (None when not given or
    not assignable); `tried`: per threshold, sites, repurposed rooms, objective and cost."""

    solution: Solution | None
    objective: float
    cost: float
    start_objective: float | None
    start_cost: float | None
    tried: list[dict[str, Any]]
    start_penalties: tuple[float, float] | None = None
    """The start plan's swap and corridor penalties (currency), when assigned."""


def rounded_relocation(p: Problem, rel: RelocationInputs, lp: RelocationLP, options: SolveOptions | None = None,
                       start: list[str] | None = None, max_cost: float | None = None, deadline_s: float = 60.0
                       ) -> Rounded:
    """The roundings of the module docstring, and the plan `start` (site ids, nobody moved) assigned the same
    way (`Rounded`). The best rounding's `Solution` is as `solve_relocating` returns it (`stats` cost,
    relocations, repurposed, displaced_residents; `solver` status "feasible", its penalties, and as `bound`
    the LP's bound less them: no plan with no more penalties costs less). `p`: the problem (corridor rows
    included) the LP `lp` was built from; `rel`: the relocation inputs with `extra_cost` and the cap;
    `max_cost`: roundings dearer than this (currency) are left out (the trade-off's points never cost more
    than the proposal); `deadline_s`: no new threshold is started after this many seconds."""
    none = Rounded(None, np.inf, np.inf, None, None, [])
    if lp.values is None or p.objective != "cover-all":
        return none
    o = p.solve_options(options)
    t0 = time.perf_counter()
    cap = rel.max_displaced
    rm = lp.rm
    c = rm.compiled
    v = lp.values
    xl = np.clip(v[:c.J], 0.0, 1.0)
    ql = np.clip(v[rm.src_x], 0.0, 1.0)
    npc = len(rm.p_col)
    pl = np.clip(v[rm.m_col0:rm.m_col0 + npc], 0.0, None)          # bound_arrays: p right after the q columns
    on_move = np.zeros(len(rm.mv_host))
    if npc:
        np.add.at(on_move, rm.p_col[:, 0], pl)
    opt = _optional(rel.sources.reindex(rm.src))
    site_of = pd.Series(np.arange(c.J), index=c.site_ids.astype(str))
    src_site = site_of.reindex(rm.src).to_numpy(dtype=np.int64)
    out = none
    xs = np.isin(c.site_ids.astype(str), [str(k) for k in start or []]) | c.fixed1.astype(bool)
    if start is not None:
        forced = np.where(opt, False, xs[src_site])     # its converted `repurpose` rooms move their residents out
        got = _one_rounding(p, rel, lp, o, xs, forced, xl, on_move, -1.0, search=False)
        if got is not None:
            out.start_objective, out.start_cost = got.objective, got.cost
            out.start_penalties = (float(got.solution.solver["swap_penalty"]), float(got.solution.solver["corridor_penalty"]))
    best: _Round | None = None
    seen: dict[tuple[bytes, bytes], float] = {}

    def value(th: float) -> float:
        """The rounding at `th`: its cost + penalties, inf when it has no plan or costs more than `max_cost`."""
        nonlocal best
        x = (xl > th) | c.fixed1.astype(bool)
        rep = _within_cap(np.where(opt, ql >= Q_OPEN, x[src_site]), opt, ql, rm.residents, cap)
        if rep is None:
            return np.inf
        x[src_site[rep]] = True
        key = (np.packbits(x).tobytes(), np.packbits(rep).tobytes())
        if key in seen:                                 # (a threshold opening the same sites: the same plan)
            return seen[key]
        got = _one_rounding(p, rel, lp, o, x, rep, xl, on_move, th)
        repaired = got is None and start is not None and not x[xs].all()
        if repaired:   # with the start plan's sites too (it shelters everyone where they live), then the local search
            got = _one_rounding(p, rel, lp, o, x | xs, rep, xl, on_move, th)
        out.tried.append({"threshold": th, "sites": int(x.sum()), "repurposed": int(rep.sum()), "repaired": repaired,
                          "objective": None if got is None else round(got.objective, 2),
                          "cost": None if got is None else round(got.cost, 2)})
        ok = got is not None and (max_cost is None or got.cost <= max_cost + 1e-6)
        seen[key] = got.objective if ok and got is not None else np.inf
        if ok and got is not None and (best is None or got.objective < best.objective - 1e-6):
            best = got
        return seen[key]

    line_search(value, THRESHOLDS, FIRST, t0 + deadline_s)
    if best is None:
        return out
    sol = best.solution
    pen = best.objective - best.cost
    bound = float(lp.bound) - (pen if (lp.swaps or lp.corridor) else 0.0)
    gap = max(0.0, (best.cost - bound) / max(abs(best.cost), 1e-9)) if np.isfinite(bound) else None
    sol.solver.update(status="feasible", bound=bound if np.isfinite(bound) else None, gap=gap,
                      seconds=round(time.perf_counter() - t0, 3), rounded_at=best.threshold)
    out.solution, out.objective, out.cost = sol, best.objective, best.cost
    return out


def _within_cap(rep: np.ndarray, opt: np.ndarray, ql: np.ndarray, residents: np.ndarray,
                cap: int | None) -> np.ndarray | None:
    """`rep` with the `either` sources the LP repurposes least dropped until the residents moved are within
    `cap` (persons); None when the `repurpose`-mode ones alone exceed it."""
    if cap is None or int(residents[rep].sum()) <= cap:
        return rep
    rep = rep.copy()
    for i in np.flatnonzero(rep & opt)[np.argsort(ql[rep & opt], kind="stable")]:
        rep[i] = False
        if int(residents[rep].sum()) <= cap:
            return rep
    return None


def _one_rounding(p: Problem, rel: RelocationInputs, lp: RelocationLP, o: SolveOptions, x: np.ndarray,
                  rep: np.ndarray, xl: np.ndarray, on_move: np.ndarray, th: float, search: bool = True
                  ) -> _Round | None:
    """The plan of one rounding (sites `x` on the model's sites, repurposed sources `rep`), or None;
    `search`: with the local search."""
    rm = lp.rm
    c = rm.compiled
    got = _moves(rm, rel, x, rep, on_move, p.scenarios, _exit_headroom(p, c.site_ids[x].astype(str)))
    if got is None:
        return None
    moves, rep = got
    after = demand_after(rm.demand, moves)
    pa = p.replace(demand=after)
    repurposed = rm.src[rep]
    cp = _compiled_after(pa, rm, repurposed, o)
    chosen = c.site_ids[x].astype(str)
    xc = np.isin(cp.site_ids.astype(str), chosen).astype(float)
    guide = pd.Series(xl, index=c.site_ids.astype(str)).reindex(cp.site_ids.astype(str)).fillna(0.0).to_numpy()
    v0, ar0, _ = assign_fixed(cp, o, xc, time_limit=max(10.0, 0.2 * o.limit_s))
    if v0 is None:
        return None
    # the local search: close a site while everyone still fits (the repurposed rooms stay converted)
    keep = dataclasses.replace(cp, fixed1=cp.fixed1.astype(bool) | np.isin(cp.site_ids.astype(str), repurposed))
    x1 = xc if not search else improve_plan(keep, xc, v0[ar0.ycol0:ar0.ycol0 + ar0.ny], ar0.yq, ar0.ys, guide,
                      deadline=time.perf_counter() + max(5.0, 0.1 * o.limit_s))
    best = _scored(cp, pa, xc, v0, ar0, rm, rep)
    if not np.array_equal(x1 > 0.5, xc > 0.5):
        v1, ar1, _ = assign_fixed(cp, o, x1, time_limit=max(10.0, 0.2 * o.limit_s))
        if v1 is not None:
            other = _scored(cp, pa, x1, v1, ar1, rm, rep)
            if other[0] < best[0] - 1e-6:
                best = other
    objective, cost, sol = best
    sol.stats.update(relocations=moves, repurposed=sorted(repurposed.tolist()),
                     displaced_residents=int(moves["residents"].sum()))
    breaches = verify(pa, sol) + relocation_breaches(rel, moves, sol.chosen, p.demand)
    if breaches:   # a planner bug: the rounding's plan is not a plan of the model; the caller goes on without it
        sol.stats["breaches"] = breaches
        return None
    return _Round(objective=objective, cost=cost, solution=sol, threshold=th)


def _scored(cp: Compiled, pa: Problem, x: np.ndarray, v: np.ndarray, ar: Any, rm: Any, rep: np.ndarray
            ) -> tuple[float, float, Solution]:
    """(cost + swap and corridor penalties, cost, Solution) of sites `x` with their assignment `v` on `ar`."""
    sol = make_solution(cp, pa, x, v, ar)
    cost = float(cp.cost @ (x > 0.5)) + float(rm.extra[rep].sum())
    swap = swap_penalty_paid(cp, ar, v)
    corr = corridor_penalty_paid(cp, ar, v)
    sol.solver = {"name": "HiGHS", "status": "feasible", "objective": cost, "swap_penalty": round(swap, 6),
                  "corridor_penalty": round(corr, 6)}
    sol.stats = {"cost": cost}
    return cost + swap + corr, cost, sol


def _compiled_after(pa: Problem, rm: Any, repurposed: np.ndarray, o: SolveOptions) -> Compiled:
    """The base model of the occupancy after the moves, compiled as the relocation model compiles its own
    (rooms not aggregated, no scenario reduction), with the relocation model's no-swap rows: each room's own
    occupants those before any move, none at the repurposed rooms (their residents leave)."""
    cp = compile_problem(pa, dataclasses.replace(o, aggregate=False, scenario_reduce=False, tighten=False))
    own = np.zeros_like(cp.D)
    own[cp.room_group.to_numpy()] = rm.demand.reindex(cp.room_group.index).reindex(columns=cp.scen).fillna(0) \
        .to_numpy(dtype=np.int64)
    cp.swap_own = own
    cp.swap_skip = np.isin(cp.site_ids.astype(str), np.asarray(repurposed, dtype=str))
    return cp


def _moves(rm: Any, rel: RelocationInputs, x: np.ndarray, rep: np.ndarray, on_move: np.ndarray,
           scen: list[str], headroom: pd.Series | None = None) -> tuple[pd.DataFrame, np.ndarray] | None:
    """(moves, repurposed): the moves of the repurposed sources (from_room, to_room, residents,
    present_<scenario>) and `rep` less the `either` sources whose residents found no beds (they stay; their
    room, if converted, is dual_use); None when a `repurpose`-mode source's found none. A transportation
    problem over the model's moves (hosts neither repurposed nor a converted `repurpose`-mode room, reaching
    an open site), each host taking at most its spare beds and its `headroom` (`_exit_headroom`, persons;
    none given: no limit): the LP's own moves cost least, then those within the sector; a source moves all
    its residents or none (the sources left short are dropped and the rest solved again)."""
    c = rm.compiled
    cols = ["from_room", "to_room", "residents"] + [f"present_{s}" for s in scen]
    empty = pd.DataFrame({k: pd.Series(dtype=object if k.endswith("room") else np.int64) for k in cols})
    rep = rep.copy()
    hosts = rel.hosts
    repurpose_hosts = hosts.index[hosts["repurpose"].to_numpy(bool)]
    opt = _optional(rel.sources.reindex(rm.src))
    open_groups = np.zeros(c.G, bool)
    open_groups[c.qg[x[c.qj]]] = True
    grp = c.room_group.reindex(rm.mv_host).to_numpy(dtype=float)
    reach_ok = np.isfinite(grp) & open_groups[np.nan_to_num(grp, nan=0).astype(np.int64)]
    cross_all = rel.moves.set_index(["source", "host"])["cross_sector"].reindex(
        pd.MultiIndex.from_arrays([rm.src[rm.mv_src], rm.mv_host])).fillna(False).to_numpy(dtype=bool)
    for _ in range(len(rm.src) + 1):
        if not rep.any():
            return empty, rep
        gone = set(rm.src[rep].tolist()) | set(c.site_ids[x & np.isin(c.site_ids.astype(str), repurpose_hosts)])
        e = np.flatnonzero(rep[rm.mv_src] & ~np.isin(rm.mv_host, list(gone)) & reach_ok)
        srcs = np.flatnonzero(rep)
        s_row = pd.Series(np.arange(len(srcs)), index=srcs).reindex(rm.mv_src[e]).to_numpy(dtype=np.int64)
        uh, h_row = np.unique(rm.mv_host[e], return_inverse=True)
        spare = hosts["spare"].reindex(uh).to_numpy(dtype=float)
        if headroom is not None:
            spare = np.minimum(spare, headroom.reindex(uh).fillna(np.inf).clip(lower=0).to_numpy(dtype=float))
        R = rm.residents[srcs].astype(float)
        src_dem = rel.sources.reindex(rm.src[srcs])[scen].to_numpy(dtype=float).sum(axis=1) if scen else R
        share = on_move[e] / np.maximum(src_dem[s_row], 1.0)       # the LP's share of the source on this move
        # every resident placed first (a reward above any move's cost), then the LP's moves, then the sector's
        cost = 1.0 - np.clip(share, 0.0, 1.0) + (1.0 + float(rel.cross_sector_penalty)) * cross_all[e] - 10.0 \
            - 10.0 * float(rel.cross_sector_penalty)
        n = len(e)
        m = np.zeros(n, np.int64)
        if n:
            A_ub = sp.vstack([sp.csr_matrix((np.ones(n), (s_row, np.arange(n))), shape=(len(srcs), n)),
                              sp.csr_matrix((np.ones(n), (h_row, np.arange(n))), shape=(len(uh), n))]).tocsr()
            res = linprog(cost, A_ub=A_ub, b_ub=np.r_[R, spare], bounds=np.c_[np.zeros(n), np.minimum(R[s_row],
                          spare[h_row])], method="highs-ds")
            if res.status != 0 or res.x is None or np.abs(res.x - np.rint(res.x)).max(initial=0.0) > 1e-6:
                return None                           # (a vertex of this system is whole: not expected)
            m = np.rint(res.x).astype(np.int64)
        short = np.bincount(s_row, m, len(srcs)).astype(np.int64) < R
        if not short.any():
            break
        if (short & ~opt[srcs]).any():
            return None
        # the source left shortest of beds goes first; the others are solved again
        worst = srcs[short][np.argmax((R - np.bincount(s_row, m, len(srcs)))[short])]
        rep[worst] = False
    keep = np.flatnonzero(m > 0)
    out = pd.DataFrame({"from_room": rm.src[rm.mv_src[e[keep]]].astype(object),
                        "to_room": rm.mv_host[e[keep]].astype(object), "residents": m[keep]})
    # per source and scenario its occupants over its moves, the LP's own moves first (each at most its residents)
    dem = rel.sources.reindex(rm.src[srcs])[scen].to_numpy(dtype=np.int64) if scen else np.zeros((len(srcs), 0))
    order = np.lexsort((-share[keep], s_row[keep]))
    pres = np.zeros((len(keep), len(scen)), np.int64)
    left = dem.copy()
    for k in order:
        i = s_row[keep[k]]
        take = np.minimum(left[i], m[keep[k]])
        pres[k] = take
        left[i] -= take
    for k, s in enumerate(scen):
        out[f"present_{s}"] = pres[:, k]
    return out.sort_values(["from_room", "to_room"]).reset_index(drop=True), rep


def _exit_headroom(p: Problem, open_ids: np.ndarray) -> pd.Series | None:
    """Per room with exit-door rows (`Problem.exit_rows`, hard) whose every pair to an open site leaves by a
    door with a row: how many more persons its doors let out in time than its most occupants over the
    scenarios (the doors' `exit_cap` summed over the doors with a pair to an open site). None: no rows."""
    ex = p.exit_rows
    if ex is None or not len(ex):
        return None
    ex = ex[ex["site_id"].astype(str).isin(open_ids)]
    pairs = p.pairs[p.pairs["site_id"].astype(str).isin(open_ids) & (p.pairs["walk_s"] <= p.reach_s + 1e-7)]
    with_row = ex.groupby("room_id")["site_id"].nunique()
    all_pairs = pairs.groupby("room_id")["site_id"].nunique()
    limited = with_row.index[with_row.to_numpy() >= all_pairs.reindex(with_row.index).fillna(0).to_numpy()]
    cap = ex.drop_duplicates(["room_id", "exit_door_id"]).groupby("room_id")["exit_cap"].sum().reindex(limited)
    most = p.demand.max(axis=1).reindex(cap.index).fillna(0)
    return np.floor(cap - most + 1e-9)


def relocation_breaches(rel: RelocationInputs, moves: pd.DataFrame, chosen: list[str],
                        demand: pd.DataFrame) -> list[str]:
    """The relocation rows a plan's moves break (docs/model.md): a source sends out all its residents or none,
    a converted `repurpose`-mode source all of them, only converted sources send, hosts within their spare beds and never repurposed, presence within the
    residents moved and adding up to the source's occupants, the cap. Plain-language breaches (empty = fine)."""
    out: list[str] = []
    sent = moves.groupby("from_room")["residents"].sum() if len(moves) else pd.Series(dtype=np.int64)
    res = rel.sources["residents"]
    must = rel.sources.index[~_optional(rel.sources) & rel.sources.index.isin([str(j) for j in chosen])]
    out += [f"room {r} is converted in repurpose mode and keeps its {int(res[r])} residents" for r in must
            if r not in sent.index and int(res[r]) > 0]
    if not len(moves):
        return out
    for r, n in sent.items():
        if r not in res.index or int(n) != int(res[r]) or r not in set(map(str, chosen)):
            out.append(f"room {r} sends {int(n)} residents (it has {int(res.get(r, 0))}; converted: {r in chosen})")
    got = moves.groupby("to_room")["residents"].sum()
    spare = rel.hosts["spare"].reindex(got.index).fillna(0)
    out += [f"room {h} takes {int(n)} > its {int(spare[h])} spare beds" for h, n in got.items() if n > spare[h]]
    out += [f"room {h} is repurposed and takes residents" for h in got.index if h in sent.index]
    for s in demand.columns:
        col = f"present_{s}"
        if col not in moves.columns:
            continue
        if (moves[col] > moves["residents"]).any() or (moves[col] < 0).any():
            out.append(f"presence in {s} outside 0 to the residents moved")
        here = moves.groupby("from_room")[col].sum()
        occ = demand[s].reindex(here.index).fillna(0)
        out += [f"room {r} ({s}): {int(n)} present of {int(occ[r])} occupants" for r, n in here.items() if n != occ[r]]
    if rel.max_displaced is not None and int(sent.sum()) > rel.max_displaced:
        out.append(f"{int(sent.sum())} residents moved > the cap {rel.max_displaced}")
    return out
