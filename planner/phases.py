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

The phasing MIP (binary z_jk "site j built by end of phase k", z_jk <= z_j,k+1,
continuous assignments per phase and scenario) is built as sparse arrays (`LinearModel`; the
coverage rows of a phase are one template, `Coverage`, copied per phase with numpy) and
solved by HiGHS through highspy with a time limit, from a greedy nested start (phase by
phase, sites by the weighted people they shelter in the full plan per share of the phase's
limits); when the solver has no better plan at its limit the start stands. Above
`MAX_PHASE_Y` assignment variables (Station Unity: 60,912 assignments x 7 phases = 426,384)
the MIP would not finish its root LP in seconds, and the greedy phasing is used alone (the best
of three site scorings, `_best_greedy`), with a proven upper bound from a relaxation
(`_relaxed_bound`: per phase, the fractional knapsack of what each site could take in alone
under the phases' cumulative limits). `result.attrs["solver"]` reports the method, the
objective, the bound and the gap, like the main model's solver section. The coverage of a set
of built sites (the objective, the Phases sheet) is computed by `planner.phasecover`: maximum
flows, or the LP when the data are not whole persons.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from planner.params import Parameters, Phase
from planner.phasecover import (Coverage, CoverageLP, LinearModel, alone, coverage, coverages, site_data,
                                solve_highs)

__all__ = ["PhaseLimits", "coverage", "phase_breaches", "phase_limits", "phase_table", "plan_phases"]

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


# ------------------------------------------------------------------ the phasing MIP
def plan_phases(problem: Any, chosen: list[str], costs: pd.DataFrame, params: Parameters,
                time_limit_s: float | None = None) -> pd.Series:
    """Phase number (1..K, or K+1 = "remaining") per chosen site (index site_id, int).

    `problem`: a model.Problem (demand, weight, pairs, sites, reach_s, queue settings); `chosen`:
    the plan's sites; `costs`: `site_costs` (total_cost currency, crew_days, labour_h);
    `params`: its `phases`, `crews`, `crews_per_room_max`. Without declared phases every site is
    phase 1. See the module docstring for the rules and the objective. `time_limit_s`: solver limit
    (seconds; default the problem's).

    `result.attrs["solver"]`: method ("MIP" or the greedy phasing), status, objective (weighted
    person-days, the tie-break included), bound (a proven upper bound on the best phasing), gap
    (bound - objective) / objective, seconds, variables and rows of the MIP.
    """
    t0 = time.perf_counter()
    chosen = [str(c) for c in chosen]
    if not chosen:
        return pd.Series([], index=pd.Index([], name="site_id"), dtype=np.int64, name="phase")
    lim = phase_limits(params)
    K = len(lim.names)
    if K == 0:
        return pd.Series(1, index=pd.Index(chosen, name="site_id"), dtype=np.int64, name="phase")
    sd = site_data(problem, chosen, costs)
    ex = sd["existing"].to_numpy()
    elig = np.array([_eligible(sd, lim, k) for k in range(K)])  # K x n
    info: dict[str, Any] = {}
    cov = Coverage(problem, sd)
    lp = CoverageLP(problem, cov, sd)
    z = _phase_vars(sd, ex, elig, K)
    too_big = cov.n * sum(1 for w in lim.weight if w > 0) > MAX_PHASE_Y
    bound = math.inf
    if not (z >= 0).any():
        built_by = {s: K + 1 for s in sd.index}
        info.update(method="none (no chosen room can be built in a declared phase)")
    elif too_big:  # the MIP would not even solve its root LP in time: greedy nested phasing
        built_by = _best_greedy(lp, sd, elig, lim)
        info.update(method=f"greedy (the MIP would have {cov.n * K:,} assignment variables > {MAX_PHASE_Y:,})",
                    status="heuristic")
        bound = _relaxed_bound(problem, lp, sd, elig, lim)
    else:
        built_by, bound = _solve_phasing(problem, z, sd, elig, lim, lp, time_limit_s, info)
    for s, e in zip(sd.index, ex):
        if e:
            built_by[s] = 1
    built_by = _fill_early(built_by, sd, lim)
    out = pd.Series(built_by, dtype=np.int64, name="phase").reindex(chosen).rename_axis("site_id")
    sets = [[s for s in chosen if built_by[s] <= k + 1] for k in range(K)]
    covs = coverages(problem, sets[::-1], lp)[::-1]   # largest first: each re-solve only removes sites
    obj = _objective(covs, out, sd, elig, lim)
    info["objective"] = round(obj, 6)
    if math.isfinite(bound):
        bound = max(bound, obj)  # HiGHS's bound holds to its tolerances
        info["bound"] = round(bound, 6)
        info["gap"] = (bound - obj) / max(abs(obj), 1e-9)
    info["seconds"] = round(time.perf_counter() - t0, 2)
    out.attrs["solver"] = info
    every = lp.solve(chosen)   # the "Remaining" row of the Phases sheet, when some room is in no phase
    out.attrs["coverage"] = [(frozenset(ss), cv[2].to_dict()) for ss, cv in zip(sets + [chosen], covs + [every])]
    return out


def _objective(covs: list[tuple[float, np.ndarray, pd.Series, np.ndarray]], phase: pd.Series, sd: pd.DataFrame,
               elig: np.ndarray, lim: PhaseLimits) -> float:
    """The phasing objective of a phase assignment: sum_k duration_k x weighted people sheltered by
    the end of phase k, plus `TIE_BREAK` per new site and weighted phase it stands built."""
    ph = phase.reindex(sd.index).to_numpy()
    new = ~sd["existing"].to_numpy(dtype=bool)
    total = 0.0
    for k in range(len(lim.names)):
        if lim.weight[k] <= 0:
            continue
        total += lim.weight[k] * covs[k][0] + TIE_BREAK * float(((ph <= k + 1) & new).sum())
    return total


def _phase_vars(sd: pd.DataFrame, ex: np.ndarray, elig: np.ndarray, K: int) -> np.ndarray:
    """Per site and phase index: -2 for existing sites (built), -1 where no phase up to k may convert
    the site (not built), else the position of its binary "built by the end of phase k" (0, 1, ...)."""
    n = len(sd)
    z = np.full((n, K), -1, dtype=np.int64)
    can = np.logical_or.accumulate(elig, axis=0).T & ~np.asarray(ex, bool)[:, None]  # n x K: convertible by k
    z[can] = np.arange(int(can.sum()))
    z[np.asarray(ex, bool), :] = -2
    return z


def _phase_model(problem: Any, z: np.ndarray, sd: pd.DataFrame, elig: np.ndarray, lim: PhaseLimits,
                 cov: Coverage) -> tuple[LinearModel, np.ndarray]:
    """The phasing MIP as arrays: binaries z (built by the end of phase k), nested sets, eligibility,
    each phase's limits, and the coverage block of every weighted phase. Returns (model, the z
    columns: z[z >= 0] index into them)."""
    K = len(lim.names)
    n = len(sd)
    model = LinearModel()
    nz = int((z >= 0).sum())
    tie = np.zeros(nz)
    for k in range(K):
        if lim.weight[k] > 0:
            tie[z[:, k][z[:, k] >= 0]] = TIE_BREAK
    zc = model.cols(tie, 0.0, 1.0, integer=True)
    col = lambda i, k: int(zc[z[i, k]])  # noqa: E731
    for i in range(n):
        for k in range(K):
            if z[i, k] < 0:
                continue
            a = z[i, k - 1] if k >= 1 else -1
            if a >= 0:
                model.row([col(i, k - 1), col(i, k)], [1.0, -1.0], -math.inf, 0.0)   # nested
            if not elig[k, i]:                                                    # no work in phase k
                model.row([col(i, k)] + ([col(i, k - 1)] if a >= 0 else []), [1.0] + ([-1.0] if a >= 0 else []),
                          -math.inf, 0.0)
    crew, cost = sd["crew_days"].to_numpy(float), sd["cost"].to_numpy(float)
    for k in range(K):
        rows_k = np.flatnonzero(z[:, k] >= 0)
        prev = [i for i in rows_k if k >= 1 and z[i, k - 1] >= 0]
        rooms, days, budget = lim.max_rooms[k], lim.max_days[k], lim.budget[k]
        for limit, coef in ((rooms, np.ones(n)), (None if days is None else lim.crews[k] * float(days), crew)):
            if limit is None:
                continue
            model.row([col(i, k) for i in rows_k] + [col(i, k - 1) for i in prev],
                      [coef[i] for i in rows_k] + [-coef[i] for i in prev], -math.inf, float(limit))
        if budget is not None:
            model.row([col(i, k) for i in rows_k], [cost[i] for i in rows_k], -math.inf, float(budget))
    for k in range(K):
        if lim.weight[k] <= 0:
            continue
        state = np.where(z[:, k] >= 0, 2, np.where(z[:, k] == -2, 1, 0))
        zcol = np.where(z[:, k] >= 0, zc[np.maximum(z[:, k], 0)], -1)
        cov.block(model, state, zcol, lim.weight[k])
    return model, zc


def _solve_phasing(problem: Any, z: np.ndarray, sd: pd.DataFrame, elig: np.ndarray, lim: PhaseLimits,
                   lp: CoverageLP, time_limit_s: float | None, info: dict[str, Any]) -> tuple[dict[str, int], float]:
    """The phasing MIP (highspy, arrays) from the greedy phasing (a start); its plan when optimal or no
    worse than the greedy one. Returns (phase per site, HiGHS's bound or inf); `info` gets the
    solver's status, size and the method used."""
    K = len(lim.names)
    greedy = _fill_early(_greedy_phases(sd, lim, _site_values(lp, sd)), sd, lim)
    model, zc = _phase_model(problem, z, sd, elig, lim, lp.cov)
    g = np.array([greedy[s] for s in sd.index])
    mask = z >= 0
    start = np.zeros(len(zc))
    start[z[mask]] = (g[:, None] <= np.arange(1, K + 1)[None, :])[mask]
    res, _ = solve_highs(problem, model, time_limit_s, mip=True, start=(zc, start))
    info.update(status=res.status, variables=model.n, rows=model.m, solver_seconds=round(res.seconds, 2))
    info["method"] = "greedy start (the solver found no plan within its time limit)"
    if res.values is None:
        return dict(greedy), res.bound
    zv = np.zeros(mask.shape)
    zv[mask] = res.values[zc[z[mask]]]
    zv[z == -2] = 1.0
    built = zv > 0.5
    mip = {s: int(np.argmax(built[i]) + 1) if built[i].any() else K + 1 for i, s in enumerate(sd.index)}
    if res.status == "optimal" or _value(lp, mip, lim) >= _value(lp, greedy, lim) - 1e-6:
        info["method"] = "MIP"
        return mip, res.bound
    info["method"] = "greedy start (better than the solver's plan at its time limit)"
    return dict(greedy), res.bound


def _site_values(lp: CoverageLP, sd: pd.DataFrame) -> pd.Series:
    """Priority-weighted people each site shelters when every chosen site is built (the LP)."""
    cov = lp.cov
    if cov.n == 0:
        return pd.Series(0.0, index=sd.index)
    vals = lp.solve(list(sd.index))[3] * cov.weight
    return pd.Series(vals).groupby(cov.site).sum().reindex(sd.index).fillna(0.0)


def _best_greedy(lp: CoverageLP, sd: pd.DataFrame, elig: np.ndarray, lim: PhaseLimits) -> dict[str, int]:
    """The best (phasing objective) of the greedy phasings scored by three site values: what the
    site shelters in the full plan (`_site_values`), what it could take in alone (`_alone`, each
    scenario capped at its capacity), and their mean. Each is evaluated exactly (maximum flows)."""
    K = len(lim.names)
    y = _site_values(lp, sd)
    u = pd.Series(np.minimum(alone(lp.cov, sd), sd["capacity"].to_numpy(float)[:, None]).sum(axis=1), index=sd.index)
    best: tuple[float, dict[str, int]] | None = None
    for value in (y, u, (y + u) / 2):
        built_by = _fill_early(_greedy_phases(sd, lim, value), sd, lim)
        ids = list(sd.index)
        phase = pd.Series(built_by).reindex(ids)
        covs = coverages(lp.problem, [[s for s in ids if built_by[s] <= k + 1] for k in range(K)], lp)
        obj = _objective(covs, phase, sd, elig, lim)
        if best is None or obj > best[0] + 1e-9:
            best = (obj, built_by)
    assert best is not None
    return best[1]


def _value(lp: CoverageLP, built_by: dict[str, int], lim: PhaseLimits) -> float:
    """The phasing objective of a phase assignment: sum_k duration_k x weighted coverage by k."""
    ks = [k for k in range(len(lim.names)) if lim.weight[k] > 0]
    covs = coverages(lp.problem, [[s for s, p in built_by.items() if p <= k + 1] for k in ks], lp)
    return sum(lim.weight[k] * cv[0] for k, cv in zip(ks, covs))


def _relaxed_bound(problem: Any, lp: CoverageLP, sd: pd.DataFrame, elig: np.ndarray, lim: PhaseLimits) -> float:
    """A proven upper bound on the phasing objective (weighted person-days) without the MIP.

    Per weighted phase k, the people sheltered by its end are at most (per scenario) both what all
    chosen sites shelter (the LP) and the sum over the sites built by then of what each could take in
    on its own (`_alone`); the sites built by then obey the phases' cumulative limits (rooms and
    crew-days summed over phases 1..k when each of them has the limit, the least budget of phases k
    and later) and eligibility. The fractional knapsack of these is a small LP per phase."""
    K = len(lim.names)
    full = lp.solve(list(sd.index))[1]
    u = alone(lp.cov, sd)
    ex = sd["existing"].to_numpy(dtype=bool)
    crew, cost = sd["crew_days"].to_numpy(float), sd["cost"].to_numpy(float)
    new = np.flatnonzero(~ex)
    base = u[ex].sum(axis=0)
    total = 0.0
    for k in range(K):
        if lim.weight[k] <= 0:
            continue
        can = elig[: k + 1][:, new].any(axis=0)
        model = LinearModel()
        x = model.cols(np.zeros(len(new)), 0.0, can.astype(float))
        t = model.cols(np.ones(len(full)), 0.0, np.maximum(full, 0.0))
        for j in range(len(full)):  # t_j - sum u x <= base_j
            model.row([int(t[j])] + list(x), [1.0] + list(-u[new, j]), -math.inf, float(base[j]))
        rooms = lim.max_rooms[: k + 1]
        if all(r is not None for r in rooms):
            model.row(list(x), [1.0] * len(x), -math.inf, float(sum(r for r in rooms if r is not None)))
        if all(d is not None for d in lim.max_days[: k + 1]):
            cap = sum(lim.crews[j] * float(lim.max_days[j] or 0.0) for j in range(k + 1))
            model.row(list(x), list(crew[new]), -math.inf, cap)
        later = [b for b in lim.budget[k:] if b is not None]
        if later:
            model.row(list(x), list(cost[new]), -math.inf, float(min(later)))
        res, _ = solve_highs(problem, model, None, mip=False)
        if res.values is None or res.status != "optimal":
            return math.inf
        total += lim.weight[k] * res.objective + TIE_BREAK * float(can.sum())
    return total


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
        sd = site_data(problem, ids, costs)
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
    ids = list(sd.index)
    ph = np.array([built_by[s] for s in ids], dtype=np.int64)
    ex = sd["existing"].to_numpy(dtype=bool)
    c, f = sd["crew_days"].to_numpy(float), sd["cost"].to_numpy(float)
    pos = {s: i for i, s in enumerate(ids)}
    order = sorted(ids, key=lambda s: (float(c[pos[s]]), float(f[pos[s]]), s))
    for s in order:
        i = pos[s]
        if ex[i]:
            continue
        was = int(ph[i])
        for k in range(min(was - 1, K)):
            ph[i] = k + 1
            if not _breaks(ph, ex, c, f, lim):
                break
            ph[i] = was
    return {s: int(p) for s, p in zip(ids, ph)}


def _breaks(ph: np.ndarray, ex: np.ndarray, c: np.ndarray, f: np.ndarray, lim: PhaseLimits) -> bool:
    """Does the phase per site `ph` break a phase's limits? (`ex` existing, `c` crew-days, `f` cost.)"""
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
    sd = site_data(problem, ids, costs)
    ph = phase.reindex(ids).astype(int)
    last = int(ph.max()) if len(ph) else 1
    n_rows = max(K, last, 1)
    dem = problem.demand
    scen = [str(c) for c in dem.columns]
    totals = dem.sum()
    sets = [frozenset(s for s in ids if ph[s] <= k + 1) for k in range(n_rows)]
    known = {fs: pd.Series(c) for fs, c in phase.attrs.get("coverage", [])}   # plan_phases solved these
    todo = [fs for fs in dict.fromkeys(sets) if fs and fs not in known]
    for fs, cv in zip(todo, coverages(problem, [sorted(fs) for fs in todo]) if todo else []):
        known[fs] = cv[2]
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
        cov = known.get(frozenset(by), pd.Series(0, index=scen)) if by else pd.Series(0, index=scen)
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
