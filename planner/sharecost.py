"""What an expected 99.5 % of real, varied walkers would cost (issue 17): the proposal's separate solve.

`add_expected_share_cost` plans the station again with the expected-share rows (`planner.share`) at
`verify_target_share` for walkers with speeds N(walk_speed_m_s, walk_speed_sd_m_s), with the proposal's
corridor rows and no corridor rounds (as the budget what-if), and writes the answer into plan.json's
`totals.promise.expected_share_cost`: the rooms, cost and extra cost of the least-cost plan that does it,
or that the budget cannot buy it and the most any plan is expected to bring in per scenario. The answer
is cached beside the reach table (`.cache/expshare`), keyed by the inputs, parameters, the plan's corridor
rows and the planner's version.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from planner import __version__
from planner.errors import InfeasibleError, InputError, SolverError
from planner.jsoncache import JsonCache
from planner.corridorrounds import limits_of
from planner.pipeline import PlanRun, plan_station
from planner.progress import log
from planner.share import ExpectedShareInfeasible

__all__ = ["add_expected_share_cost", "expected_share_cost"]


def expected_share_cost(run: PlanRun, target: float) -> dict[str, Any]:
    """plan.json's `expected_share_cost` of a planning run (`plan_station`) at `target` (0..1): `target`,
    `mean_speed_m_s`, `speed_sd_m_s` and either (`bought` true) `rooms`, `cost`, `extra_cost` (over the
    run's plan, currency), `expected_share` per scenario (the plan's replay, `queues.promise_of_plan`),
    `met` and `short_by` (share points the lazy rounds left, 0 when met), or (`bought` false) `most` per
    scenario (at most this share expected in time by any plan within the budget, `planner.model.share`;
    `most_within_budget` false: by any plan at all, every candidate converted), `cost_without_budget` and `rooms_without_budget` (None unless only the budget stands in the way) and
    `reason`. A run already made with that target answers from its own plan."""
    station = run.station
    p = station.params
    out: dict[str, Any] = {"target": float(target), "mean_speed_m_s": float(p.walk_speed_m_s),
                           "speed_sd_m_s": float(p.walk_speed_sd_m_s)}
    plan = run.plan
    if abs(float(p.expected_share_target) - target) > 1e-12:
        share = dataclasses.replace(station, params=p.replace(expected_share_target=float(target), corridor_rounds=0))
        limits = limits_of(((plan.get("solver") or {}).get("corridor") or {}).get("limits"))
        try:
            plan = plan_station(share, reach=run.reach, check=False, phases=False, estimate=False,
                                fallback_max_cover=False, corridor_limits=limits).plan
        except ExpectedShareInfeasible as exc:
            return out | {"bought": False, "most": {k: round(v, 6) for k, v in exc.most.items()},
                          "most_within_budget": exc.with_budget, "cost_without_budget": exc.cost,
                          "rooms_without_budget": exc.rooms, "reason": str(exc)}
        except (InfeasibleError, SolverError, InputError) as exc:   # no plan in the time limit, relocation model
            return out | {"bought": False, "most": None, "cost_without_budget": None, "rooms_without_budget": None,
                          "reason": str(exc).splitlines()[0]}
    pm = plan["totals"].get("promise") or {}
    cost = float(plan["totals"]["cost"])
    return out | {"bought": True, "rooms": len(plan["safe_rooms"]), "cost": round(cost, 2),
                  "extra_cost": round(cost - float(run.plan["totals"]["cost"]), 2),
                  "expected_share": pm.get("expected_share"), "met": bool(pm.get("expected_share_met", True)),
                  "short_by": float(pm.get("expected_share_short_by", 0.0))}


def add_expected_share_cost(run: PlanRun, cache_dir: str | Path | None = None) -> None:
    """Add `expected_share_cost` (`expected_share_cost` at `verify_target_share`) to the run's plan.json
    `totals.promise`; nothing for a plan without a promise, a max-cover plan or a station whose
    walkers all walk alike (`walk_speed_sd_m_s` 0). `cache_dir`: the reach-table cache (`.cache/reach`);
    the answer is kept beside it (`.cache/expshare`)."""
    station = run.station
    p = station.params
    pm = run.plan["totals"].get("promise")
    if (not isinstance(pm, dict) or run.plan.get("objective") != "cover-all" or p.walk_speed_sd_m_s <= 0
            or not 0.0 < p.verify_target_share < 1.0):
        return
    cache = JsonCache(Path(cache_dir).parent / "expshare" if cache_dir is not None and station.files else None,
                      "expected-share cost")
    key = JsonCache.key({"kind": "expected share cost", "inputs": station.inputs_sha256(),
                         "parameters": dataclasses.asdict(p), "version": __version__,
                         "corridor": ((run.plan.get("solver") or {}).get("corridor") or {}).get("limits"),
                         "cost": run.plan["totals"]["cost"]}) if cache.folder is not None else ""
    got = cache.get(key) if key else None
    if got is None:
        got = expected_share_cost(run, float(p.verify_target_share))
        if key:
            cache.put(key, got)
    else:
        log("[planner]   (from the cache of the last run on the same inputs)")
    pm["expected_share_cost"] = got
