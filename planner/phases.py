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

A PuLP MIP (binary z_jk "site j built by end of phase k", z_jk <= z_j,k+1,
continuous assignments per phase and scenario), solved by HiGHS with a time limit,
from a greedy nested start (phase by phase, sites by the weighted people they shelter
in the full plan per share of the phase's limits); when the solver has no better plan
at its limit the start stands. Above `MAX_PHASE_Y` assignment variables (Station Unity:
457 rooms x 7 phases = 726,000) the MIP would not finish its root LP in minutes, and
the greedy phasing is used alone (`result.attrs["solver"]["method"]` says which).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pulp

from planner.model.compile import arrival_bins, queue_capacity
from planner.model.highs import HighsWithStart, highs_threads_reset, pulp_solver
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


# ------------------------------------------------------------------ coverage block
class _Coverage:
    """Pairs to chosen sites with positive demand, binned arrival levels: the shared data of the
    coverage rows (one block per phase). Every index structure is computed once, in numpy."""

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
                    levels = np.unique(lv)[::-1]
                    dq = self.demand[q]
                    suffix = np.array([dq[lv >= L].sum() for L in levels])
                    capl = np.array([qcap[q[lv == L][0]] for L in levels])
                    need = capl < np.minimum(suffix, c)
                    if need.any():
                        last = int(np.nonzero(need)[0].max())
                        chain = [(q[lv == levels[t]], float(capl[t]), bool(need[t])) for t in range(last + 1)]
            self.blocks.append((site, idx, c, need_cap, chain))

    def add(self, prob: pulp.LpProblem, built: dict[str, Any], tag: str, weight: float) -> tuple[dict, list]:
        """Add one phase's coverage rows; `built[site]` is 1, 0 or a binary variable.
        Returns (objective terms {var: coef}, y variables aligned with `self.p`)."""
        ub = self.demand.copy()
        for site, idx, *_ in self.blocks:
            b = built[site]
            if isinstance(b, (int, float)) and b == 0:
                ub[idx] = 0.0
        ys = [prob.add_variable(f"y{tag}_{n}", lowBound=0, upBound=float(d)) for n, d in enumerate(ub)]
        obj = {y: weight * float(wt) for y, wt in zip(ys, self.weight)}
        cons: list[pulp.LpConstraint] = []
        for idx, dem in self.supply:
            cons.append(pulp.LpConstraint(pulp.LpAffineExpression([(ys[i], 1.0) for i in idx]), pulp.LpConstraintLE,
                                          f"sup{tag}_{len(cons)}", dem))
        for site, idx, cap, need_cap, chain in self.blocks:
            b = built[site]
            if isinstance(b, (int, float)) and b == 0:
                continue
            _new_rows(cons, ys, b, idx, cap, need_cap, tag, self.demand)
            _chain_rows(prob, cons, ys, chain, tag)
        prob.extend(cons)
        return obj, ys


def _new_rows(cons: list[pulp.LpConstraint], ys: list[pulp.LpVariable], b: Any,
               idx: np.ndarray, cap: float, need_cap: bool, tag: str, demand: np.ndarray) -> None:
    """A site's capacity row (when it can bind, or the site may be unbuilt: `b` a variable) and, for an
    unbuilt site, the tightening rows y <= d z (the LP bound needs them)."""
    LE = pulp.LpConstraintLE
    fixed = isinstance(b, (int, float))
    if need_cap or not fixed:
        e = pulp.LpAffineExpression([(ys[i], 1.0) for i in idx])
        if fixed:
            cons.append(pulp.LpConstraint(e, LE, f"cap{tag}_{len(cons)}", cap))
        else:
            e.addterm(b, -cap)
            cons.append(pulp.LpConstraint(e, LE, f"cap{tag}_{len(cons)}", 0.0))
    if not fixed:
        for i in idx:
            cons.append(pulp.LpConstraint(pulp.LpAffineExpression([(ys[i], 1.0), (b, -float(demand[i]))]),
                                          LE, f"vub{tag}_{len(cons)}", 0.0))


def _chain_rows(prob: pulp.LpProblem, cons: list[pulp.LpConstraint], ys: list[pulp.LpVariable],
                chain: list[tuple[np.ndarray, float, bool]], tag: str) -> None:
    """A door's queue rows: per arrival level (latest first) the running suffix sum of arrivals (a
    variable S carries it to the next level) at most the level's queue capacity where it can bind."""
    prev = None  # running suffix sum of the levels above (a variable)
    for t, (members, qc, need) in enumerate(chain):
        terms = [(ys[i], 1.0) for i in members]
        e = pulp.LpAffineExpression(terms)
        if prev is not None:
            e.addterm(prev, 1.0)
        if need:
            cons.append(pulp.LpConstraint(e, pulp.LpConstraintLE, f"q{tag}_{len(cons)}", qc))
        if t == len(chain) - 1:
            break
        S = prob.add_variable(f"S{tag}_{len(cons)}", lowBound=0)
        e = pulp.LpAffineExpression(terms)
        if prev is not None:
            e.addterm(prev, 1.0)
        e.addterm(S, -1.0)
        cons.append(pulp.LpConstraint(e, pulp.LpConstraintEQ, f"qd{tag}_{len(cons)}", 0.0))
        prev = S


def _solve(prob: pulp.LpProblem, solver: pulp.LpSolver) -> None:
    with highs_threads_reset():
        prob.solve(solver)


def _solver(problem: Any, time_limit_s: float | None, mip: bool = True, start: bool = False) -> pulp.LpSolver:
    """The PuLP solver of the problem's `solver` ("highs" or "cbc"), time limit `time_limit_s` (seconds;
    default the problem's); `start`: hand the binaries' initial values over as a MIP start."""
    tl = float(time_limit_s if time_limit_s is not None else getattr(problem, "time_limit_s", 60.0) or 60.0)
    gap = float(getattr(problem, "mip_gap", 1e-4) or 1e-4)
    threads = int(getattr(problem, "threads", 1) or 1)
    name = "cbc" if getattr(problem, "solver", "highs") == "cbc" else "highs"
    return pulp_solver(name, tl, gap, threads, msg=False, start=start and mip, mip=mip, binaries_only=True)


def coverage(problem: Any, sites: Sequence[str], time_limit_s: float | None = None) -> pd.Series:
    """People sheltered per scenario (persons) with exactly `sites` built: the assignment LP
    (supply, capacity, door queues), maximising priority-weighted people."""
    sd = _site_data(problem, list(sites), pd.DataFrame(index=list(sites)))
    cov = _Coverage(problem, sd)
    if cov.n == 0:
        return pd.Series(0, index=[str(c) for c in problem.demand.columns], dtype=np.int64)
    prob = pulp.LpProblem("coverage", pulp.LpMaximize)
    obj, ys = cov.add(prob, {s: 1 for s in sd.index}, "c", 1.0)
    prob.setObjective(pulp.LpAffineExpression(obj))
    _solve(prob, _solver(problem, time_limit_s, mip=False))
    vals = np.array([y.varValue or 0.0 for y in ys])
    got = pd.Series(np.floor(vals + 1e-6), index=cov.p.index).groupby(cov.p["scenario"]).sum()
    return got.reindex(cov.scenarios).fillna(0).astype(np.int64)


# ------------------------------------------------------------------ the phasing MIP
def plan_phases(problem: Any, chosen: list[str], costs: pd.DataFrame, params: Parameters,
                time_limit_s: float | None = None) -> pd.Series:
    """Phase number (1..K, or K+1 = "remaining") per chosen site (index site_id, int).

    `problem`: a model.Problem (demand, weight, pairs, sites, reach_s, queue settings); `chosen`:
    the plan's sites; `costs`: `site_costs` (total_cost currency, crew_days, labour_h);
    `params`: its `phases`, `crews`, `crews_per_room_max`. Without declared phases every site is
    phase 1. See the module docstring for the rules and the objective. `time_limit_s`: solver limit
    (seconds; default the problem's). The solver's status, gap and size are in `result.attrs["solver"]`.
    """
    chosen = [str(c) for c in chosen]
    if not chosen:
        return pd.Series([], index=pd.Index([], name="site_id"), dtype=np.int64, name="phase")
    lim = phase_limits(params)
    K = len(lim.names)
    if K == 0:
        return pd.Series(1, index=pd.Index(chosen, name="site_id"), dtype=np.int64, name="phase")
    sd = _site_data(problem, chosen, costs)
    ex = sd["existing"].to_numpy()
    new_ids = [s for s, e in zip(sd.index, ex) if not e]
    elig = np.array([_eligible(sd, lim, k) for k in range(K)])  # K x n
    prob = pulp.LpProblem("phases", pulp.LpMaximize)
    info: dict[str, Any] = {}
    z = _phase_vars(prob, sd, ex, elig, K)
    prob.extend(_nest_rows(z, sd, new_ids, elig, K) + _limit_rows(z, sd, new_ids, lim))
    cov = _Coverage(problem, sd)
    too_big = cov.n * sum(1 for w in lim.weight if w > 0) > MAX_PHASE_Y
    objective = {} if too_big else _phase_objective(prob, cov, z, sd, new_ids, lim)
    if not any(isinstance(v, pulp.LpVariable) for v in z.values()):
        built_by = {s: K + 1 for s in sd.index}
    elif too_big:  # the MIP would not even solve its root LP in time: greedy nested phasing
        built_by = _greedy_phases(sd, lim, _site_values(problem, cov, sd))
        info.update(method=f"greedy (the MIP would have {cov.n * K:,} assignment variables > {MAX_PHASE_Y:,})")
    else:
        built_by = _solve_phasing(problem, prob, z, objective, sd, lim, cov, time_limit_s, info)
    for s, e in zip(sd.index, ex):
        if e:
            built_by[s] = 1
    built_by = _fill_early(built_by, sd, lim)
    out = pd.Series(built_by, dtype=np.int64, name="phase").reindex(chosen).rename_axis("site_id")
    out.attrs["solver"] = info
    return out


Built = dict[tuple[str, int], Any]
"""Per (site, phase index): 1 (existing), 0 (cannot be built by then) or the binary "built by the
end of the phase"."""


def _phase_vars(prob: pulp.LpProblem, sd: pd.DataFrame, ex: np.ndarray, elig: np.ndarray, K: int) -> Built:
    """z[site, k]: 1 for existing sites, 0 where no phase up to k may convert the site, else a binary."""
    z: Built = {}
    for k in range(K):
        for n, s in enumerate(sd.index):
            if ex[n]:
                z[s, k] = 1
            elif not elig[: k + 1, n].any():
                z[s, k] = 0
            else:
                z[s, k] = prob.add_variable(f"z_{n}_{k}", lowBound=0, upBound=1, cat=pulp.LpBinary)
    return z


def _before(z: Built, s: str, k: int) -> Any:
    """z of the phase before k (0 before the first)."""
    return z[s, k - 1] if k >= 1 else 0


def _nest_rows(z: Built, sd: pd.DataFrame, new_ids: list[str], elig: np.ndarray, K: int) -> list[pulp.LpConstraint]:
    """Nested sets (built by k-1 => built by k) and eligibility (not convertible during k: built by k
    iff built by k-1)."""
    cons = []
    for s in new_ids:
        n = sd.index.get_loc(s)
        for k in range(K):
            a, b = _before(z, s, k), z[s, k]
            if not isinstance(b, pulp.LpVariable):
                continue
            if isinstance(a, pulp.LpVariable):
                cons.append(pulp.LpConstraint(pulp.LpAffineExpression([(a, 1.0), (b, -1.0)]),
                                              pulp.LpConstraintLE, f"nest_{n}_{k}", 0.0))
            if not elig[k, n]:
                e = pulp.LpAffineExpression([(b, 1.0)])
                if isinstance(a, pulp.LpVariable):
                    e.addterm(a, -1.0)
                cons.append(pulp.LpConstraint(e, pulp.LpConstraintLE, f"elig_{n}_{k}", 0.0))
    return cons


def _new_in(z: Built, newk: list[str], k: int, coef: pd.Series | None = None) -> pulp.LpAffineExpression:
    """sum over `newk` of coef x (z_k - z_(k-1)): what is converted during phase k (coef 1: rooms)."""
    e = pulp.LpAffineExpression()
    for s in newk:
        w = 1.0 if coef is None else float(coef[s])
        e.addterm(z[s, k], w)
        if isinstance(_before(z, s, k), pulp.LpVariable):
            e.addterm(z[s, k - 1], -w)
    return e


def _limit_rows(z: Built, sd: pd.DataFrame, new_ids: list[str], lim: PhaseLimits) -> list[pulp.LpConstraint]:
    """Per phase: new rooms at most `max_rooms`, crew-days at most crews x `max_days`, cumulative cost
    at most `budget` (currency)."""
    cons = []
    for k in range(len(lim.names)):
        newk = [s for s in new_ids if isinstance(z[s, k], pulp.LpVariable)]
        rooms, days, budget = lim.max_rooms[k], lim.max_days[k], lim.budget[k]
        if rooms is not None:
            cons.append(pulp.LpConstraint(_new_in(z, newk, k), pulp.LpConstraintLE, f"rooms_{k}", float(rooms)))
        if days is not None:
            cons.append(pulp.LpConstraint(_new_in(z, newk, k, sd["crew_days"]), pulp.LpConstraintLE, f"crew_{k}",
                                          float(lim.crews[k]) * float(days)))
        if budget is not None:
            e = pulp.LpAffineExpression([(z[s, k], float(sd["cost"][s])) for s in newk])
            cons.append(pulp.LpConstraint(e, pulp.LpConstraintLE, f"budget_{k}", float(budget)))
    return cons


def _phase_objective(prob: pulp.LpProblem, cov: _Coverage, z: Built, sd: pd.DataFrame, new_ids: list[str],
                     lim: PhaseLimits) -> dict[Any, float]:
    """The coverage rows of every weighted phase, and the objective: duration x weighted people sheltered
    by each phase's end, plus `TIE_BREAK` per site and phase built (as early as possible)."""
    objective: dict[Any, float] = {}
    for k in range(len(lim.names)):
        if lim.weight[k] <= 0:
            continue
        obj, _ = cov.add(prob, {s: z[s, k] for s in sd.index}, f"p{k}", lim.weight[k])
        objective.update(obj)
        for s in new_ids:
            if isinstance(z[s, k], pulp.LpVariable):
                objective[z[s, k]] = objective.get(z[s, k], 0.0) + TIE_BREAK
    return objective


def _solve_phasing(problem: Any, prob: pulp.LpProblem, z: Built, objective: dict[Any, float], sd: pd.DataFrame,
                   lim: PhaseLimits, cov: _Coverage, time_limit_s: float | None, info: dict[str, Any]) -> dict[str, int]:
    """The phasing MIP from the greedy phasing (a start); its plan when optimal or no worse than the
    greedy one; `info` gets the solver's status, size, objective, bound, gap and the method used."""
    K = len(lim.names)
    greedy = _fill_early(_greedy_phases(sd, lim, _site_values(problem, cov, sd)), sd, lim)
    for (s, k), v in z.items():
        if isinstance(v, pulp.LpVariable):
            v.setInitialValue(1.0 if greedy[s] <= k + 1 else 0.0)
    prob.setObjective(pulp.LpAffineExpression(objective))
    t0 = time.perf_counter()
    solver = _solver(problem, time_limit_s, start=True)
    _solve(prob, solver)
    info["seconds"] = round(time.perf_counter() - t0, 2)
    info["status"] = pulp.LpStatus.get(prob.status, str(prob.status))
    info["variables"], info["rows"] = len(prob.variables()), prob.numConstraints()
    if isinstance(solver, HighsWithStart) and solver.info is not None:
        info["objective"] = solver.reported
        info["bound"], info["gap"] = solver.info
        true = pulp.value(prob.objective)
        if true is not None and abs(float(true) - info["objective"]) > 1e-6 * max(1.0, abs(float(true))):
            # HiGHS valued the start in its presolved space (see planner.model.highs._misvalued): its
            # objective is not the plan's and its bound proves nothing
            info["objective"] = float(true)
            del info["bound"], info["gap"]
    has_plan = info.get("status") == "Optimal" or math.isfinite(info.get("objective", math.inf))
    if any(v.varValue is None for v in z.values() if isinstance(v, pulp.LpVariable)):
        has_plan = False
    info["method"] = "greedy start (the solver found no plan within its time limit)"
    if not has_plan:
        return dict(greedy)
    mip = {s: next((k + 1 for k in range(K) if _value_of(z[s, k]) > 0.5), K + 1) for s in sd.index}
    if info.get("status") == "Optimal" or _value(problem, mip, lim) >= _value(problem, greedy, lim) - 1e-6:
        info["method"] = "MIP"
        return mip
    info["method"] = "greedy start (better than the solver's plan at its time limit)"
    return dict(greedy)


def _value_of(v: Any) -> float:
    """A constant's value, or a variable's solution value (0 when it has none)."""
    return float(v) if isinstance(v, (int, float)) else float(v.varValue or 0.0)


def _site_values(problem: Any, cov: "_Coverage", sd: pd.DataFrame) -> pd.Series:
    """Priority-weighted people each site shelters when every chosen site is built (the LP)."""
    if cov.n == 0:
        return pd.Series(0.0, index=sd.index)
    lp = pulp.LpProblem("values", pulp.LpMaximize)
    obj, ys = cov.add(lp, {s: 1 for s in sd.index}, "v", 1.0)
    lp.setObjective(pulp.LpAffineExpression(obj))
    _solve(lp, _solver(problem, None, mip=False))
    vals = np.array([y.varValue or 0.0 for y in ys]) * cov.weight
    return pd.Series(vals).groupby(cov.site).sum().reindex(sd.index).fillna(0.0)


def _value(problem: Any, built_by: dict[str, int], lim: PhaseLimits) -> float:
    """The phasing objective of a phase assignment: sum_k duration_k x weighted coverage by k."""
    return sum(lim.weight[k] * _weighted_coverage(problem, [s for s, p in built_by.items() if p <= k + 1])
               for k in range(len(lim.names)) if lim.weight[k] > 0)


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
    out = dict(built_by)
    order = sorted(sd.index, key=lambda s: (float(sd.at[s, "crew_days"]), float(sd.at[s, "cost"]), s))
    for s in order:
        if sd.at[s, "existing"]:
            continue
        for k in range(min(out[s] - 1, K)):
            trial = dict(out)
            trial[s] = k + 1
            ser = pd.Series(trial)
            if not _breaks(ser, sd, lim):
                out = trial
                break
    return out


def _breaks(ph: pd.Series, sd: pd.DataFrame, lim: PhaseLimits) -> bool:
    ph = ph.reindex(sd.index).to_numpy()
    ex = sd["existing"].to_numpy(dtype=bool)
    c = sd["crew_days"].to_numpy()
    f = sd["cost"].to_numpy()
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


def _weighted_coverage(problem: Any, sites: Sequence[str]) -> float:
    sd = _site_data(problem, list(sites), pd.DataFrame(index=list(sites)))
    cov = _Coverage(problem, sd)
    if cov.n == 0:
        return 0.0
    prob = pulp.LpProblem("coverage", pulp.LpMaximize)
    obj, ys = cov.add(prob, {s: 1 for s in sd.index}, "c", 1.0)
    prob.setObjective(pulp.LpAffineExpression(obj))
    _solve(prob, _solver(problem, None, mip=False))
    return float(pulp.value(prob.objective) or 0.0)


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
        cov = coverage(problem, by) if by else pd.Series(0, index=scen)
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
