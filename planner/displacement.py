"""Who is displaced and what displacement buys: the director's trade-off (Displacement sheet).

- `displacement_summary(station, plan)`: the conversion modes of the plan's safe rooms per
  kind, the residents sheltering in place in dual_use rooms, and the moves by sector of
  origin and destination (plain tables from plan.json and the inputs).
- `displacement_tradeoff(run, shares)`: the least cost of a full plan when at most a share
  of *today's displacement* may be moved out, for shares 0, 25 %, 50 %, 100 %. Today's
  displacement is the number of residents living in the rooms with beds that the plan
  converts (what the plan would displace if every one of them were repurposed: the figure
  earlier proposals charged). Each point re-plans with the rooms of those kinds allowed to
  be repurposed (`[model] modes` `dual_use` -> `either`; rooms whose own `mode` property
  says dual_use stay so, `repurpose` stays repurpose) and `max_displaced` = share x today's.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner import __version__
from planner.corridorrounds import limits_of
from planner.errors import InfeasibleError, InputError, SolverError
from planner.files import staged_folder
from planner.jsoncache import JsonCache
from planner.model import SolveOptions, verify
from planner.model.relocround import FIRST, Q_OPEN, THRESHOLDS, rounded_relocation
from planner.network.parallel import Spawned
from planner.pipeline import (PlanRun, plan_station, relocation_bound, relocation_guide, relocation_guide_values,
                              relocation_problem)
from planner.plan import write_json_atomic, write_table
from planner.progress import log
from planner.relocation import displaced_by_sector, home_residents, relocations_frame, room_beds, room_modes
from planner.station import Station

SHARES: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
"""Shares of today's displacement the trade-off table shows."""

BOUND_TIME_LIMIT_S = 120.0
"""Longest the lower bound of a re-planned point may take (seconds; its LP by column generation):
when it proves nothing the MIP runs as before."""

TRADEOFF_COLUMNS = ["share", "max_displaced", "cost", "displaced", "rooms", "repurposed_rooms", "status", "gap",
                    "note", "bound"]


def converted_residents(station: Station, plan: dict) -> int:
    """Residents living in the rooms with beds that the plan converts (persons): what it would
    displace if every one of them were repurposed."""
    res = home_residents(station)
    new = [str(r["room_id"]) for r in plan.get("safe_rooms", []) if not r.get("existing")]
    return int(res.reindex(new).fillna(0).sum())


def today_displacement(station: Station, plan: dict) -> int:
    """The trade-off's reference (persons): `[model] today_displaced` when set (e.g. the residents
    an earlier proposal relocated), else `converted_residents`."""
    ref = station.params.today_displaced
    return int(ref) if ref is not None else converted_residents(station, plan)


def displacement_summary(station: Station, plan: dict) -> dict[str, Any]:
    """Plain tables for the Summary: `modes` (kind, mode, rooms, residents_in_place, residents_moved),
    `by_sector` (from_sector, to_sector, residents, rooms_from, rooms_to), `moved` (persons),
    `in_place` (residents of converted dual_use rooms, persons), `today` (today's displacement)."""
    sr = pd.DataFrame(plan.get("safe_rooms", []))
    res = home_residents(station)
    moves = relocations_frame(plan.get("relocations"), list(station.scenarios))
    if len(sr):
        sr = sr[~sr["existing"].astype(bool)].copy()
        sr["mode"] = sr["mode"] if "mode" in sr.columns else "dual_use"
        sr["residents"] = res.reindex(sr["room_id"].astype(str)).fillna(0).astype(np.int64).to_numpy()
        g = sr.groupby(["kind", "mode"], sort=True)
        modes = pd.DataFrame({"rooms": g.size(), "residents": g["residents"].sum()}).reset_index()
        modes["residents_in_place"] = np.where(modes["mode"] == "dual_use", modes["residents"], 0)
        modes["residents_moved"] = np.where(modes["mode"] == "repurpose", modes["residents"], 0)
        modes = modes.drop(columns="residents")
    else:
        modes = pd.DataFrame(columns=["kind", "mode", "rooms", "residents_in_place", "residents_moved"])
    rooms = station.rooms.drop_duplicates("room_id")
    sector = pd.Series(rooms["sector"].astype(str).to_numpy(), index=rooms["room_id"].astype(str).to_numpy())
    return {"modes": modes, "by_sector": displaced_by_sector(moves, sector),
            "moved": int(pd.to_numeric(moves["residents"], errors="coerce").fillna(0).sum()),
            "in_place": int(modes["residents_in_place"].sum()) if len(modes) else 0,
            "today": today_displacement(station, plan), "converted_residents": converted_residents(station, plan),
            "spare_beds": int((room_beds(station) - res).clip(lower=0).sum())}


def spare_beds(station: Station) -> int:
    """Beds on the station not taken by their residents (persons; `planner.relocation.room_beds`)."""
    return int((room_beds(station) - home_residents(station)).clip(lower=0).sum())


def tradeoff_station(station: Station) -> tuple[Station, str]:
    """The station the trade-off re-plans on, and a sentence saying which beds it assumes.

    Its own beds when it has spare ones (or `berth_area_m2` is set); otherwise, when
    `tradeoff_berth_area_m2` is set, bunks fitted in quarters at that floor area per berth
    (the proposal's own plan never assumes them)."""
    p = station.params
    own = spare_beds(station)
    if own > 0 or p.berth_area_m2 is not None or p.tradeoff_berth_area_m2 is None:
        return station, f"The station's own beds: {own:,} spare."
    alt = dataclasses.replace(station, params=p.replace(berth_area_m2=p.tradeoff_berth_area_m2))
    return alt, (f"The station has no spare bed (every berth is someone's), so nobody can be moved as it is. "
                 f"The trade-off assumes bunks fitted in the quarters at {p.tradeoff_berth_area_m2:g} m2 a berth, "
                 f"the density of the station's berthing compartments: {spare_beds(alt):,} bunks more than "
                 "residents ([model] tradeoff_berth_area_m2).")


def _variant(station: Station, cap: int) -> Station:
    """The station with rooms of kinds that have residents allowed to be repurposed, at most `cap` moved."""
    p = station.params
    res = home_residents(station)
    kinds = sorted(set(station.rooms.loc[station.rooms["room_id"].astype(str).isin(res.index[res > 0]), "kind"]))
    modes = dict(p.modes)
    for k in kinds:
        if k in p.candidate_kinds and modes.get(k, "dual_use") == "dual_use":
            modes[k] = "either"
    params = p.replace(modes=modes, max_displaced=int(cap), time_limit_s=p.tradeoff_time_limit_s, phases=[])
    return dataclasses.replace(station, params=params)


def _point(r: PlanRun) -> dict[str, Any]:
    """The table's columns of one re-planned point."""
    t, sol = r.plan["totals"], r.plan["solver"]
    return {"cost": float(t["cost"]), "displaced": int(t.get("displaced_residents", 0) or 0),
            "rooms": len(r.plan["safe_rooms"]),
            "repurposed_rooms": sum(1 for x in r.plan["safe_rooms"] if x.get("mode") == "repurpose"
                                    and not x.get("existing")),
            "status": sol.get("status"), "gap": sol.get("gap"), "bound": sol.get("bound")}


AHEAD_MIN_PAIRS = 20_000
"""Reach pairs from which the loosest cap's re-plan starts in a worker process while its bounds are computed
(`displacement_tradeoff`): starting a worker costs 2 to 3 s, a small station's whole re-plan less. Station
Unity (127,346 pairs): its two LP bounds took 17 and 35 s and its MIP 68 s one after the other."""


def _replan(variant: Station, reach: Any, start: list[str], margins: Any,
            limits: dict[tuple[str, str], float] | None = None) -> dict[str, Any]:
    """One cap re-planned (`plan_station` from the proposal's plan, no check or phases): {"point": `_point`} or
    {"error": the solver's first line} when it finds no plan. `limits`: the proposal's corridor rows (persons
    per (door_id, scenario), `corridorrounds.limits_of`), which the re-plan respects as the proposal does:
    without them a re-plan could be cheaper only by sending people through the openings whose queues made
    the proposal dearer (a hand-made station: 201,878 against 304,558, moving nobody). It may run in a worker
    process (`Spawned`, quiet there: the worker's log has no handler)."""
    try:
        r = plan_station(variant, fallback_max_cover=False, reach=reach, check=False, phases=False, start=start,
                         margins=margins, corridor_limits=limits or None)   # the proposal's margins and rows
    except (InfeasibleError, SolverError) as exc:
        return {"error": str(exc).splitlines()[0][:200]}
    return {"point": _point(r)}


def _cancel(ahead: Spawned | None) -> None:
    """Stop a re-plan started ahead (`Spawned`) that is not needed."""
    if ahead is not None:
        ahead.cancel()


def _replanned_point(pt: dict[str, Any], proposal: dict[str, Any], lb: tuple[float, Any] | None
                     ) -> tuple[dict[str, Any], str]:
    """(point, note) of a re-planned cap, with the cost-only bound `lb` (currency; it holds for every full
    plan at the cap) as its bound wherever the point's own is weaker or absent.

    A re-plan that ends with a plan dearer than the proposal's (its time limit, or the no-swap penalty
    buying fewer swaps with cost) gives way to the proposal's plan: it moves nobody and is a full plan at
    every cap, so no point may cost more. Its own bound (the main model's) does not hold at the cap:
    only `lb` does, and the note says the re-plan's best and that the point is not proven."""
    note = "re-planned (quarters either, this cap)"
    if pt["cost"] > float(proposal["cost"]) + 1e-6:
        note = (f"the re-plan found no plan cheaper than the proposal's within its time limit (its best: "
                f"{pt['cost']:,.0f} moving {int(pt['displaced']):,}, status {pt.get('status')}); the proposal's "
                "plan (moves nobody) is the best known here, not proven")
        pt = dict(proposal, status="feasible", bound=np.nan, gap=np.nan)
    own = float(pt["bound"]) if pt.get("bound") is not None else np.nan
    cost = float(pt["cost"])
    if lb is not None and np.isfinite(lb[0]) and not (np.isfinite(own) and own >= lb[0]) and cost > 0:
        pt = dict(pt, bound=float(lb[0]), gap=max(0.0, (cost - float(lb[0])) / cost))
    return pt, note


def _large(run: PlanRun, o: SolveOptions) -> bool:
    """Whether the trade-off re-plans by rounding the relocation LP (`_rounded_point`) instead of the MIP: the
    proposal's model pairs times its scenarios (at least the relocation model's assignment columns) reach
    `SolveOptions.relocation_round_min_columns`."""
    p = run.problem
    return len(p.pairs) * max(len(p.scenarios), 1) >= o.relocation_round_min_columns


def _rounded_point(run: PlanRun, variant: Station, guide: Any, lb: tuple[float, Any], proposal: dict[str, Any],
                   base_moved: int, start: list[str]) -> tuple[dict[str, Any], str]:
    """(point, note) of a cap of a large relocation model, re-planned by rounding its LP (`guide`:
    `pipeline.relocation_guide` of the loosest cap; the cap is `variant`'s), with the proposal's plan assigned
    the same way (`relocround.rounded_relocation`).

    - The LP bounds cost + swap and corridor penalties: less the proposal's penalties, it bounds the cost of
      every plan with no more penalty than the proposal's; the proposal within the point's `mip_gap` of it
      is the answer (status optimal among those plans, as `_judged_by_bound` with the swap bound).
    - Else the rounding's plan when it costs less than the proposal and its cost plus penalties is less than
      the proposal's (it is better by the model's own objective): status feasible, the cost-only bound `lb`
      (or the LP's less the plan's penalties, when stronger).
    - Else the proposal's plan (moves nobody, a full plan at every cap), best known, not proven."""
    lp, problem, rel = guide
    cap = int(variant.params.max_displaced) if variant.params.max_displaced is not None else None
    cost0 = float(proposal["cost"])
    got = rounded_relocation(problem, dataclasses.replace(rel, max_displaced=cap), lp, start=start,
                             max_cost=cost0 - 1e-6, deadline_s=float(variant.params.tradeoff_time_limit_s) / 2)
    own = (got.start_objective - got.start_cost) if got.start_objective is not None and got.start_cost is not None \
        else None
    if own is not None and not base_moved:
        judged = _judged_by_bound(run, variant, (float(lp.bound) - own, lb[1]), proposal, base_moved, swaps=True)
        if judged is not None:
            judged["note"] = judged["note"].replace("among plans with no more swaps",
                                                    "among plans with no more swap and corridor penalty")
            return {k: v for k, v in judged.items() if k != "note"}, judged["note"]
    tried = "; ".join(f"{t['threshold']:g}: {t['cost']:,.0f}" if t["cost"] is not None else f"{t['threshold']:g}: none"
                      for t in got.tried)
    if got.solution is not None and (own is None or got.objective < cost0 + own - 1e-6):
        sol = got.solution
        modes = room_modes(variant)
        existing = set(run.sites.index[run.sites["existing"].to_numpy(dtype=bool)].astype(str))
        rep = set(sol.stats["repurposed"])
        new = [str(j) for j in sol.chosen if str(j) not in existing]
        pt = {"cost": got.cost, "displaced": int(sol.stats["displaced_residents"]), "rooms": len(sol.chosen),
              "repurposed_rooms": sum(1 for j in new if j in rep or modes.get(j) == "repurpose"),
              "status": "feasible", "gap": sol.solver.get("gap"), "bound": sol.solver.get("bound")}
        pt, _ = _replanned_point(pt, proposal, lb)
        sp = got.start_penalties
        note = (f"re-planned by rounding the LP relaxation (quarters either, this cap; sites the LP opens more than "
                f"{sol.solver['rounded_at']:g}): swap penalty {float(sol.solver['swap_penalty']):,.0f} and corridor "
                f"penalty {float(sol.solver['corridor_penalty']):,.0f} against the proposal's "
                + (f"{sp[0]:,.0f} and {sp[1]:,.0f} (the proposal's sites assigned in this model)" if sp is not None
                   else "(not assigned)")
                + "; a plan of the model, not proven least"
                + (f" (its LP stopped: {lp.status})" if lp.status != "optimal" else ""))
        return pt, note
    best = (f"its cheapest rounding within the proposal's cost: {got.cost:,.0f} with penalties "
            f"{got.objective - got.cost:,.0f} against the proposal's {own:,.0f}" if got.solution is not None
            and own is not None else f"roundings by threshold {tried}" if tried else "no rounding")
    cost = cost0
    pt = dict(proposal, status="feasible", bound=np.nan, gap=np.nan)
    if np.isfinite(lb[0]) and cost > 0:
        pt.update(bound=float(lb[0]), gap=max(0.0, (cost - float(lb[0])) / cost))
    return pt, (f"rounding the LP relaxation found no plan better than the proposal's ({best}); the proposal's plan "
                "(moves nobody) is the best known here, not proven")


def _settled(run: PlanRun, variant: Station, lb: tuple[float, Any], proposal: dict[str, Any], base_moved: int,
             start: list[str], limits: dict[tuple[str, str], float], held: dict[str, Any],
             cached: tuple[JsonCache, str]) -> tuple[dict[str, Any] | None, bool]:
    """(point with its note, or None when the MIP must re-plan it; whether it is a rounded re-plan) of a cap
    whose cost-only bound is `lb`: settled by that bound (`_judged_by_bound`); for large models
    (`held["large"]`) re-planned by rounding the LP of `pipeline.relocation_guide` (computed once, kept in
    `held["guide"]`; `_rounded_point`); else, with the no-swap rule, settled by the bound with the swap
    penalty (`held["swap_lb"]`, computed once; `cached`: the bounds' cache and the inputs' key)."""
    judged = _judged_by_bound(run, variant, lb, proposal, base_moved)
    if judged is None and held["large"] and held["guide"] is None:
        ahead = held.pop("ahead", None)                  # the LP started in a worker beside the bound
        held["guide"] = relocation_guide(variant, run.reach, _guide_limit(variant), margins=run.margins,
                                         limits=limits, problem=lb[1],
                                         solved=ahead.result if ahead is not None else None)
    if judged is None and held["large"]:
        if held["guide"] is not None:
            pt, note = _rounded_point(run, variant, held["guide"], lb, proposal, base_moved, start)
            return dict(pt, note=note), True
    if judged is None and (run.plan.get("solver") or {}).get("swap_penalty") is not None:
        # the no-swap rule's price is not in the cost bound: judge by the bound with the penalty
        held["swap_lb"] = held["swap_lb"] or _full_cost_bound(run, variant, cached[0], cached[1], swaps=True,
                                                              problem=lb[1])
        judged = _judged_by_bound(run, variant, held["swap_lb"], proposal, base_moved, swaps=True)
    return judged, False


def _guide_limit(variant: Station) -> float:
    """Seconds the LP of `pipeline.relocation_guide` may take: twice a point's time limit, at most the bound's
    `BOUND_TIME_LIMIT_S` (it replaces the point's MIP; on Station Unity 35 s quiet, 47 s at load 6)."""
    return min(2.0 * float(variant.params.tradeoff_time_limit_s), BOUND_TIME_LIMIT_S)


def _monotone(rows: dict[float, dict[str, Any]]) -> None:
    """A looser cap is never dearer: a tighter cap's plan (moving no more than it allows) replaces a dearer
    point at every looser cap (the rounded re-plans of different caps are not nested as exact optima are)."""
    best: dict[str, Any] | None = None
    for share in sorted(rows):
        r = rows[share]
        if best is not None and r.get("cost") == r.get("cost") and float(best["cost"]) < float(r["cost"]) - 1e-6:
            bound = r.get("bound")
            r.update({k: best[k] for k in ("cost", "displaced", "rooms", "repurposed_rooms")}, status="feasible",
                     note=f"the plan found at a cap of {best['max_displaced']:,} (moves {int(best['displaced']):,}): "
                          "cheaper than this cap's own re-plan")
            if bound == bound and bound is not None:
                r["gap"] = max(0.0, (float(r["cost"]) - float(bound)) / float(r["cost"])) if r["cost"] else np.nan
        if r.get("cost") == r.get("cost") and (best is None or float(r["cost"]) < float(best["cost"]) - 1e-6):
            best = r


def _point_key(st: Station, inputs: str, start: list[str], margins: Any,
               limits: dict[tuple[str, str], float] | None = None, method: dict[str, Any] | None = None) -> str:
    """Cache key of one re-planned point: the station's input files (SHA-256), the variant's parameters (the
    cap among them), the start plan, the measured margins, the corridor rows, the planner's version and, for a
    point, how it is re-planned (`method`, `_method`: the MIP, or the LP rounded, with what decides that plan;
    a point rounded from the LP is never read back as the MIP's, nor the other way round)."""
    what = {"kind": "displacement point", "inputs": inputs, "parameters": dataclasses.asdict(st.params),
            "start": sorted(start), "version": __version__,
            "margins": None if margins is None else margins.to_dict(orient="records"),
            "corridor_rows": sorted([d, s, float(v)] for (d, s), v in (limits or {}).items())}
    if method is not None:
        what["method"] = method
    return JsonCache.key(what)


def _method(held: dict[str, Any]) -> dict[str, Any]:
    """How the trade-off re-plans a point (part of its cache key): the MIP, or (large models, `_large`) the LP
    relaxation rounded, with the rounding's thresholds, its first one and the share at which a source counts
    as repurposed. Not the cap of the LP it rounds (the loosest cap re-planned in that run, known only once
    built): with it, a second trade-off whose loosest points come from the cache would miss every tighter
    one; a point read back may so have been rounded from another cap's LP (a plan of its own cap all the same)."""
    if not held["large"]:
        return {"by": "MIP"}
    return {"by": "LP rounded", "thresholds": list(THRESHOLDS), "first": FIRST, "q_open": Q_OPEN}


def _keyed(variant: Station, plan_cost: float) -> Station:
    """`variant` as its point's cache key sees it: a budget at or above the plan's cost (`plan_cost`, currency)
    as no budget. A point re-planned there is the same at every such budget: the LP-rounded ones are kept only
    when cheaper than the plan, and the MIP's optimum at a cap the plan meets is no dearer than it; one dearer
    than the plan (a cap below the plan's own moves) is read back only where it fits the budget (`_within`).
    So a what-if at a budget the proposal's plan fits (Station Unity at 70 M CR: the same plan) reads the
    proposal's points instead of re-planning them (39 s)."""
    budget = variant.params.budget
    if budget is None or float(budget) < float(plan_cost):
        return variant
    return dataclasses.replace(variant, params=variant.params.replace(budget=None))


def _within(point: dict[str, Any], variant: Station) -> bool:
    """Whether a cached point fits `variant`'s budget (a point keyed without it, `_keyed`, may not)."""
    budget = variant.params.budget
    cost = point.get("cost")
    return budget is None or (isinstance(cost, (int, float)) and float(cost) <= float(budget) + 1e-6)


def _full_cost_bound(run: PlanRun, variant: Station, cache: JsonCache, inputs: str,
                     swaps: bool = False, problem: Any = None) -> tuple[float, Any]:
    """(bound, problem) of `pipeline.relocation_bound` for a re-planned point: a proven lower bound on
    the cost of every full plan at its cap (currency; -inf when there is none) and the optimiser's
    problem without moves. The bound is cached like the points (their key without the budget and the
    start, which it does not depend on: a what-if at another budget on the same inputs reads it).
    `swaps`: the bound on the cost of every full plan with no more swap penalty than the proposal's
    (`pipeline.relocation_bound`'s `swaps_of`; cached with the proposal's sites). `problem`: the problem
    of an earlier call on the same run (another cap: the same model problem), not built again."""
    # the bound ignores the budget: one entry serves the proposal and every what-if budget on these inputs
    free = dataclasses.replace(variant, params=variant.params.replace(budget=None))
    what: dict[str, Any] = {"kind": "displacement bound", "point": _point_key(free, inputs, [], run.margins)}
    if swaps:
        what.update(kind="displacement bound less the swap penalty", plan=sorted(map(str, run.solution.chosen)))
    key = JsonCache.key(what) if cache.folder is not None else ""
    known = cache.get(key) if key else None
    limit = min(float(variant.params.tradeoff_time_limit_s), BOUND_TIME_LIMIT_S)
    cached = known.get("bound") if isinstance(known, dict) and isinstance(known.get("bound"), (int, float)) else None
    bound, problem = relocation_bound(variant, run.reach, limit, margins=run.margins, known=cached,
                                      swaps_of=run.solution.assignments if swaps else None, problem=problem)
    if key and cached is None and bound is not None:
        cache.put(key, {"bound": bound})
    return (float(bound) if bound is not None else -np.inf), problem


def _judged_by_bound(run: PlanRun, variant: Station, lb: tuple[float, Any], proposal: dict[str, Any],
                     base_moved: int, swaps: bool = False) -> dict[str, Any] | None:
    """A point settled by the bound `lb` (`_full_cost_bound`) without solving its MIP, or None.

    - The bound exceeds the budget: no full plan at this cap (nor at a tighter one).
    - The proposal's plan is a full plan that moves nobody, it is a plan of the point's model
      (`planner.model.verify` finds no breach) and its cost is within the point's `mip_gap` of the
      bound: it is the point's answer, proven as the MIP would prove it (status optimal).
    `swaps`: `lb` bounds the cost of the plans with no more swap penalty than the proposal's (the MIP's
    own objective charges the penalty): only the second test, and the note says so."""
    bound, problem = lb
    p = variant.params
    if not np.isfinite(bound):
        return None
    if not swaps and p.budget is not None and bound > float(p.budget) * (1 + 1e-9):
        return {"cost": np.nan, "displaced": np.nan, "rooms": np.nan, "repurposed_rooms": np.nan,
                "status": "no plan", "gap": np.nan, "bound": bound,
                "note": (f"no full plan within the budget of {float(p.budget):,.0f} {p.currency}: at this cap one "
                         f"costs at least {bound:,.0f} (LP relaxation of the re-planned model)")}
    plan = run.plan
    if base_moved or plan.get("objective") != "cover-all" or plan["totals"].get("full_cover_cost") is not None:
        return None
    if verify(problem, run.solution):
        return None
    chosen = [str(s) for s in run.solution.chosen]
    sites = problem.sites
    cost = float(sites["cost"].reindex(chosen).fillna(0.0).where(~sites["existing"].reindex(chosen).fillna(False)
                                                                  .astype(bool), 0.0).sum())
    gap = (cost - bound) / max(abs(cost), 1e-9)
    if gap > float(p.mip_gap) + 1e-12:
        return None
    return dict(proposal, cost=cost, status="optimal", gap=max(gap, 0.0), bound=min(bound, cost),
                note=(f"the proposal's plan (moves nobody): within {100 * max(gap, 0.0):.2f} % of the least cost at "
                      f"this cap, proven by the LP relaxation of the re-planned model (bound {bound:,.0f}"
                      + (" among plans with no more swaps" if swaps else "") + "); no MIP solved"))


def displacement_tradeoff(run: PlanRun, shares: tuple[float, ...] = SHARES,
                          cache_dir: str | Path | None = None, options: SolveOptions | None = None) -> pd.DataFrame:
    """Least cost at each share of today's displacement (columns `TRADEOFF_COLUMNS`; money in the
    station's currency, people in persons; `bound`: no plan at that cap costs less, as proven by the
    solver). `note` says how each point was found.

    The points are solved from the loosest cap down, each warm-started from the proposal's plan
    (which moves nobody, so it is feasible at every cap): a point whose plan moves D residents is
    also the least cost at every cap from D up (the same plan is allowed there, and the looser
    problem's bound holds for the tighter one), so only caps below D are solved again. At a cap of
    0 the re-plan is the proposal's own model when it moves nobody, and its plan is used.

    Before the first MIP, a lower bound on every full plan's cost at the loosest cap to solve (the LP
    relaxation of its relocation model, `pipeline.relocation_bound`; it holds at every tighter cap)
    may settle the points without one: above the budget, no cap has a full plan; when the
    proposal's plan (moving nobody) is within the point's `mip_gap` of it, that plan is the answer,
    proven like a MIP's (Station Unity at 100 %: 25 s instead of 123 s, the same plan and cost).

    Large relocation models (`_large`: `SolveOptions.relocation_round_min_columns`, Station Unity) are not
    given to the MIP: after the cost-only bound, the LP relaxation with the swap and corridor penalties
    (`pipeline.relocation_guide`, once, at the loosest cap) is rounded at each cap to solve (`_rounded_point`),
    as the main path keeps a large model's rounded plan with its LP bound; the points are then made monotone
    (`_monotone`).

    `cache_dir`: folder of re-planned points (JSON), keyed by the station's input files, the
    variant's parameters, the start, the margins and the planner's version: a point solved before
    on the same inputs is read back instead of re-planned (None: no cache, nothing written; only
    stations read from files are cached). `options`: `relocation_round_min_columns` (default `SolveOptions`'s)."""
    st0 = run.station
    cache = JsonCache(cache_dir if st0.files else None, "displacement")
    inputs = st0.inputs_sha256() if cache.folder is not None else ""
    plan = run.plan
    today = today_displacement(st0, plan)
    st, _beds = tradeoff_station(st0)
    spare = spare_beds(st)
    base_moved = int(plan["totals"].get("displaced_residents", 0) or 0)
    stated = room_modes(st0)
    start = [str(r["room_id"]) for r in plan.get("safe_rooms", [])]
    limits = limits_of((plan.get("solver") or {}).get("corridor", {}).get("limits"))   # the proposal's corridor rows
    proposal = {"cost": float(plan["totals"]["cost"]), "displaced": base_moved, "rooms": len(plan.get("safe_rooms", [])),
                "repurposed_rooms": sum(1 for r in plan.get("safe_rooms", []) if r.get("mode") == "repurpose"
                                        and not r.get("existing")),
                "status": plan["solver"].get("status"), "gap": plan["solver"].get("gap"),
                "bound": plan["solver"].get("bound")}
    # at a cap of 0 the variant is the proposal's model when no room stated `repurpose` has residents (an `either`
    # room that may move nobody is a dual_use room; a `repurpose` room without residents moves nobody either)
    residents = home_residents(st0).reindex(stated.index).fillna(0).to_numpy()
    same_model_at_zero = base_moved == 0 and not ((stated == "repurpose").to_numpy() & (residents > 0)).any()
    rows: dict[float, dict[str, Any]] = {}
    best: tuple[int, dict[str, Any]] | None = None      # (cap, point) of the loosest solved cap
    lb: tuple[float, Any] | None = None                 # (bound on a full plan's cost, problem) at the loosest solved cap
    # the same among plans with no more swap penalty ("swap_lb"); the LP large models' re-plans round ("guide")
    held: dict[str, Any] = {"swap_lb": None, "guide": None, "large": _large(run, options or SolveOptions())}
    # a full plan (cover-all within the budget): its loosest cap's MIP is likely needed, so it starts at once
    full_plan = (plan.get("objective") == "cover-all" and plan["totals"].get("full_cover_cost") is None
                 and len(run.reach.pairs) >= AHEAD_MIN_PAIRS and not held["large"])   # (large: rounded, no MIP)
    ahead: Spawned | None = None
    problem0: Any = None                                # the relocation bound's problem, when built ahead
    for share in sorted(set(shares), reverse=True):
        cap = round(share * today)
        row: dict[str, Any] = {"share": share, "max_displaced": cap}
        if spare == 0 and base_moved == 0:
            row.update(proposal, note="no spare bed: nobody can be moved, this is the proposal's plan")
        elif cap == 0 and same_model_at_zero:
            row.update(proposal, note="nobody may move: the proposal's own model and plan")
        elif best is not None and best[1]["displaced"] <= cap:
            proven = str(best[1].get("status")) == "optimal"
            row.update(best[1], note=f"the plan found at a cap of {best[0]:,} moves {best[1]['displaced']:,}: "
                                     + ("also the least cost here" if proven else
                                        f"also the best known here (not proven: {best[1].get('status')})"))
        else:
            variant = _variant(st, cap)
            key = _point_key(_keyed(variant, proposal["cost"]), inputs, start, run.margins, limits, _method(held)) \
                if cache.folder is not None else ""
            known = cache.get(key) if key else None
            if isinstance(known, dict) and "cost" in known and "displaced" in known and _within(known, variant):
                log(f"[planner] displacement trade-off: at most {cap:,} residents moved: read from the cache")
                row.update(known, note="re-planned (quarters either, this cap; read from the cache)")
                best = (cap, known)
                rows[share] = row
                continue
            if lb is None:   # the loosest cap solved: its bound holds at every tighter cap
                if full_plan:  # its MIP, in a worker while the bounds are computed here (issue 21)
                    ahead = Spawned(_replan, (variant, run.reach, start, run.margins, limits), "displacement re-plan")
                elif held["large"] and len(run.reach.pairs) >= AHEAD_MIN_PAIRS:   # the LP its rounding needs
                    problem0 = relocation_problem(variant, run.reach, run.margins)   # (built once, for both)
                    held["ahead"] = Spawned(relocation_guide_values, (variant, run.reach, _guide_limit(variant),
                                                                       run.margins, limits, problem0),
                                            "displacement re-plan's LP")
                lb = _full_cost_bound(run, variant, cache, inputs, problem=problem0)
            judged, rounded = _settled(run, variant, lb, proposal, base_moved, start, limits, held,
                                       (cache, inputs))
            if judged is not None:
                _cancel(ahead)
                _cancel(held.pop("ahead", None))
                ahead = None
                log(f"[planner] displacement trade-off: at most {cap:,} residents moved: {judged['note']}")
                row.update(judged)
                if rounded or str(judged.get("status")) == "optimal":
                    pt = {k: v for k, v in judged.items() if k != "note"}
                    best = (cap, pt)
                    if key:
                        cache.put(key, pt)
                rows[share] = row
                continue
            log(f"[planner] displacement trade-off: at most {cap:,} residents moved ({100 * share:.0f} %)")
            got = ahead.result() if ahead is not None else _replan(variant, run.reach, start, run.margins, limits)
            ahead = None
            if "error" in got:
                row.update(cost=np.nan, displaced=np.nan, rooms=np.nan, repurposed_rooms=np.nan, status="no plan",
                           gap=np.nan, bound=np.nan, note=got["error"])
                rows[share] = row
                continue
            pt, note = _replanned_point(got["point"], proposal, lb)
            row.update(pt, note=note)
            best = (cap, pt)
            if key:
                cache.put(key, pt)
        rows[share] = row
    _monotone(rows)
    return pd.DataFrame([rows[s] for s in sorted(rows)], columns=TRADEOFF_COLUMNS)


def parse_shares(text: str) -> tuple[float, ...]:
    """`--displaced 0,0.25,0.5,1` (shares of today's displacement, 0 to 1; `%` allowed: 25%)."""
    out = []
    for t in (x.strip() for x in text.split(",") if x.strip()):
        try:
            v = float(t[:-1]) / 100.0 if t.endswith("%") else float(t)
        except ValueError:
            raise InputError("--displaced", t, "is not a number", "write shares such as 0,0.25,0.5,1 or 0%,25%,100%") from None
        if not 0.0 <= v <= 1.0:
            raise InputError("--displaced", t, "is outside 0 to 1 (0 % to 100 %)", "give shares of today's displacement")
        out.append(v)
    if not out:
        raise InputError("--displaced", text, "names no share", "write e.g. --displaced 0,0.25,0.5,1")
    return tuple(sorted(set(out)))


def run_displacement_sweep(station: Station, shares: tuple[float, ...], out_root: Path = Path("reports"),
                           scenario_name: str | None = None) -> Path:
    """`planner sweep --displaced`: the proposal's plan, then the trade-off at `shares`; writes
    `<out_root>/<station>-displacement-<time>/displacement.csv` (`TRADEOFF_COLUMNS`) and
    `displacement.json` (with today's displacement). Never overwrites; nothing is written on failure."""
    run = plan_station(station, phases=False)
    table = displacement_tradeoff(run, shares)
    for r in table.itertuples(index=False):
        log(f"[planner]   at most {r.max_displaced:>7,} moved ({100 * r.share:3.0f} %): "
            + (f"cost {r.cost:,.0f} {station.params.currency}, {int(r.displaced):,} moved" if r.cost == r.cost
               else f"no plan ({r.note})"))
    when = datetime.now(UTC)
    scen = f"-{Path(scenario_name).stem}" if scenario_name else ""
    name = f"{station.name}-displacement{scen}-{when:%Y%m%d-%H%M%S}".replace(" ", "-")
    with staged_folder(Path(out_root), name) as folder:
        write_table(table, folder.path / "displacement.csv")
        write_json_atomic(folder.path / "displacement.json", {
            "station": station.name, "created": when.isoformat(timespec="seconds"),
            "currency": station.params.currency, "today_displacement": today_displacement(station, run.plan),
            "points": table.to_dict(orient="records")})
    assert folder.final is not None
    return folder.final
