"""The corridor rounds of a plan (issue 17; docs/model.md section 7): corridor openings as lazy rows.

After a solve the corridor queues are replayed on the plan (`planner.corridors`); every opening whose
queue makes an assignment late gets a row limiting the persons assigned through it, and the model is
re-solved (warm, from the last LP relaxation's basis), while the rounds improve. Also the rows known
before the first solve (another run's, cached by the inputs) and their plan.json form
(`solver.corridor.limits`). `planner.pipeline.plan_station` runs them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from planner import __version__
from planner.corridors import CorridorQueues, corridor_cuts, late_by_corridors, pair_openings
from planner.errors import InfeasibleError, SolverError
from planner.jsoncache import JsonCache
from planner.margins import margin_rows, pair_margin_s
from planner.model.problem import BudgetInfeasibleError
from planner.network.graph import WalkGraph
from planner.network.paths import walk_graph
from planner.progress import log, stage
from planner.queues import predicted_arrivals
from planner.station import Station

if TYPE_CHECKING:
    from planner.model import Problem, Solution
    from planner.model.warm import LpWarm
    from planner.network import ReachTable


Replay = tuple[pd.DataFrame, CorridorQueues]
"""A corridor round's replay of a plan: its assignment rows (`plan_rows`) and their `CorridorQueues`."""


def rows_optional(solve: Callable[..., Any]) -> Callable[..., Any]:
    """`solve`, which solves a problem with corridor rows known before the first solve again without them
    when it returns no plan in its time limit (`SolverError`; seen once on Station Unity at load 9: the
    rows made the LP and the start plan miss the 60 s); the rounds then find the rows again."""
    def solve_first(problem: Problem, start: list[str] | None = None, progress: bool = True) -> Any:
        try:
            return solve(problem, start=start, progress=progress)
        except SolverError as exc:
            if problem.corridor_cuts is None:
                raise
            log(f"[planner] no plan with the corridor rows known before the solve ({str(exc).splitlines()[0]}); "
                "solving without them")
            return solve(problem.replace(corridor_cuts=None, corridor_rhs=None), start=start, progress=progress)
    return solve_first


def first_corridor_rows(station: Station, problem: Problem, limits: Mapping[tuple[str, str], float] | None
                         ) -> tuple[Problem, WalkGraph | None, pd.DataFrame | None]:
    """(problem, walking graph, `pair_openings`) with the corridor rows known before the first solve
    (`limits`, persons per (door_id, scenario)); the problem unchanged and None, None without them."""
    if not limits:
        return problem, None, None
    log(f"[planner] {len(limits)} corridor row(s) known before the first solve")
    graph = walk_graph(station)
    with stage("paths of the model's pairs (corridor rows)"):
        openings = pair_openings(station, problem.pairs, graph=graph)
    return corridor_rows(problem, openings, limits), graph, openings


def remember_rows(cache: JsonCache, key: str, corridor: dict, station: Station | None = None,
                  margins: pd.DataFrame | None = None) -> None:
    """Store the rows of the plan `corridor_rounds` returned (`corridor`: its {"corridor": ...}) for the next run
    on the same inputs, and (with `station`) for the next run after an edit of the same station folder
    (`carried_rows`), with a fingerprint of each row's door."""
    rows = corridor.get("corridor", {}).get("limits")
    if not key or not rows:
        return
    cache.put(key, {"limits": rows})
    fkey = _folder_key(station, margins) if station is not None else ""
    if station is not None and fkey:
        prints = door_prints(station.doors)
        cache.put(fkey, {"limits": rows, "inputs": station.inputs_sha256(),
                         "doors": {str(r["door_id"]): prints.get(str(r["door_id"]), "") for r in rows}})


def door_prints(doors: pd.DataFrame) -> dict[str, str]:
    """Per door id, a fingerprint of what a corridor row's limit depends on at that door: its width (m), the
    rooms it joins, its traverse time (s), whether it is vertical, and its geometry (to the millimetre)."""
    if not len(doors):
        return {}
    cols = [c for c in ("width_m", "from_room", "to_room", "traverse_s", "vertical") if c in doors.columns]
    geo = doors.geometry.to_numpy() if "geometry" in doors.columns else None
    wkt = (pd.Series(shapely.to_wkt(shapely.set_precision(geo, 0.001), rounding_precision=3), index=doors.index)
           if geo is not None else pd.Series("", index=doors.index))
    text = wkt.astype(object).map(str)
    for c in cols:   # str() of every value (NaN included: pandas 3 keeps it missing in astype(str))
        text = text + "|" + doors[c].astype(object).map(str)
    digest = pd.util.hash_pandas_object(text, index=False).astype("uint64").map("{:016x}".format)
    return dict(zip(doors["door_id"].astype(str), digest))


def _folder_key(station: Station, margins: pd.DataFrame | None) -> str:
    """Cache key of the corridor rows of the last run of a station folder (whatever its inputs were then): the
    folder, the parameters, the margins and the planner's version; "" for a station not read from a folder."""
    if station.folder is None or not station.files:
        return ""
    return JsonCache.key({"kind": "corridor rows of a station folder", "folder": str(Path(station.folder).resolve()),
                          "parameters": dataclasses.asdict(station.params), "version": __version__,
                          "margins": margin_rows(margins) if margins is not None and len(margins) else None})


def carried_rows(cache: JsonCache, station: Station, margins: pd.DataFrame | None) -> tuple[dict | None, dict | None]:
    """After an edit of a station folder (issue 21, "warm starts after a small edit"): the corridor rows of its
    last run (`remember_rows`) whose door is unchanged (same fingerprint, `door_prints`) and whose scenario is
    still declared, as the corridor cache's {"limits": plan.json rows}, and a record for plan.json
    `solver.corridor.carried_over` ({"rows", "dropped", "note"}); (None, None) when there is none, or when the
    last run was on the same inputs (the cache of those inputs answers then).

    A row only limits the persons assigned through its door: in a cover-all solve (the only one `plan_station`
    carries rows into) a stale one can make a plan dearer, never let a resident arrive late unseen (the
    corridor rounds replay the plan and add rows; the checker judges it); in a max-cover solve it could keep
    residents out of the plan instead."""
    fkey = _folder_key(station, margins) if cache.folder is not None else ""
    got = cache.get(fkey) if fkey else None
    if not isinstance(got, dict) or got.get("inputs") == station.inputs_sha256():
        return None, None
    rows, doors = got.get("limits"), got.get("doors")
    if not isinstance(rows, list) or not isinstance(doors, dict):
        return None, None
    prints = door_prints(station.doors)
    scenarios = {str(s) for s in station.scenarios}
    keep = [r for r in rows if isinstance(r, dict) and {"door_id", "scenario", "persons"} <= set(r)
            and str(r["scenario"]) in scenarios and prints.get(str(r["door_id"])) is not None
            and prints.get(str(r["door_id"])) == doors.get(str(r["door_id"]))
            and isinstance(r["persons"], (int, float)) and np.isfinite(r["persons"]) and r["persons"] >= 0]
    if not keep:
        return None, None
    note = (f"{len(keep)} corridor row(s) of the last run of this station folder, before its inputs changed, "
            f"carried over to the first solve ({len(rows) - len(keep)} dropped: their door or scenario changed)")
    log(f"[planner] {note}")
    return {"limits": keep}, {"rows": len(keep), "dropped": len(rows) - len(keep), "note": note}


def corridor_cache(station: Station, cache_dir: str | Path | None, margins: pd.DataFrame | None
                    ) -> tuple[JsonCache, str]:
    """(cache, key) of the corridor rows of the last plan made on the same inputs: beside the reach-table
    cache (`.cache/reach` -> `.cache/corridor`), keyed by the station's input files, its parameters,
    the margins and the planner's version; key "" when there is no cache (no `cache_dir`, or a station
    not read from files). Its rows go into the next run's first solve (issue 21)."""
    cache = JsonCache(Path(cache_dir).parent / "corridor" if cache_dir is not None and station.files else None,
                      "corridor rows")
    if cache.folder is None:
        return cache, ""
    return cache, JsonCache.key({"kind": "corridor rows", "inputs": station.inputs_sha256(),
                                 "parameters": dataclasses.asdict(station.params), "version": __version__,
                                 "margins": margin_rows(margins) if margins is not None and len(margins) else None})


def plan_rows(solution: Solution, reach: ReachTable, margins: pd.DataFrame | None,
               exit_rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """A solution's assignments as plan.json rows (room_id, safe_room_id, scenario, residents, walk_s and
    door_id from the reach table, margin_s, and exit_door_id from the problem's `exit_rows`) for the
    corridor queues."""
    a = solution.assignments.rename(columns={"site_id": "safe_room_id"})
    a = a[a["residents"] > 0][["room_id", "safe_room_id", "scenario", "residents"]].astype(
        {"room_id": str, "safe_room_id": str, "scenario": str})
    rp = reach.pairs[["room_id", "site_id", "walk_s", "door_id"]].astype({"room_id": str, "site_id": str})
    a = a.merge(rp.rename(columns={"site_id": "safe_room_id"}), on=["room_id", "safe_room_id"], how="left")
    a["walk_s"] = a["walk_s"].fillna(0.0)
    a["door_id"] = a["door_id"].fillna("").astype(str)
    a["margin_s"] = pair_margin_s(margins, a["room_id"].to_numpy(), a["safe_room_id"].to_numpy())
    if exit_rows is not None and len(exit_rows):
        ex = exit_rows.drop_duplicates(["room_id", "site_id"]).set_index(["room_id", "site_id"])["exit_door_id"]
        a["exit_door_id"] = ex.reindex(pd.MultiIndex.from_arrays([a["room_id"], a["safe_room_id"]])).fillna(
            "").astype(str).to_numpy()
    return a.reset_index(drop=True)


def corridor_rounds(station: Station, problem: Problem, solution: Solution, solve: Callable[..., Any],
                    reach: ReachTable, margins: pd.DataFrame | None = None, on: bool = True, *,
                    graph: WalkGraph | None = None, openings: pd.DataFrame | None = None,
                    limits: Mapping[tuple[str, str], float] | None = None, max_rounds: int | None = None,
                    kept: dict[tuple[str, str], float] | None = None, fallback: bool = False,
                    fallback_warm: LpWarm | None = None) -> tuple[Problem, Solution, dict, Replay | None]:
    """Corridor openings as lazy rows (issue 17; docs/model.md): replay the corridor queues on the plan
    (`planner.corridors`); while some assignment is late because of them, limit the persons through each
    opening that delays it (`corridor_cuts`: soft rows over every model pair whose walk passes it, in that
    scenario) and re-solve (from the LP relaxation, not from the plan; warm: from the last solve's LP
    column set and basis, `solve(warm=)`, issue 21; the last round's safe rooms are kept, with their
    assignment under the new rows, when that is still within the gap of its bound, `solve(keep=)`), at
    most `corridor_rounds` times, each re-solve within
    `corridor_round_time_limit_s` (seconds; never more than the problem's own time limit) and all of them
    within `corridor_total_time_limit_s` (a round starts only while half its limit is left, and gets at
    most what is left). The rounds stop early when a round leaves no fewer residents out (late, or with no
    safe room) than the best round before it (a further row rarely helps then, measured on Station Unity; docs/performance.md),
    when the time is used up, or when a re-solve finds no plan in its time or none within the budget
    (the record says why: "stopped"; the best plan so far stands). Returns the
    (problem, solution) of the round with the fewest residents not in a safe room in time (late by the replay,
    or with no safe room in the plan: max-cover), then the cheapest, and {"corridor":
    what each round found, and the rows of the plan returned} (plan.json `solver.corridor`; {} when not
    `on`: the relocation model has no corridor rows) and the returned plan's replay (its assignment rows,
    `plan_rows`, and their `CorridorQueues` with the paths; None when not `on`), which `finish_plan`
    uses instead of computing the paths again.

    `limits`: the rows already in `problem` (persons per (door_id, scenario); `corridor_rows`), e.g. those
    known before the first solve; later rounds keep them (the smaller limit wins). `openings`:
    `pair_openings` of the problem's pairs and `graph` the walking graph, when the caller has them.
    `max_rounds`: at most this many re-solves instead of `corridor_rounds` (0: the plan is replayed only,
    e.g. one started from the last run's final state, `planner.reuse`). `kept`: filled with the returned
    plan's rows in the order of their cut ids (which its LP basis, `Solution.warm`, refers to). `fallback`: a
    round whose rows make cover-all dearer than the budget re-plans max-cover at the budget with them, its LP
    from `fallback_warm` (a max-cover basis near the budget, `planner.firstsolve.fallback_basis`) when given."""
    p = station.params
    if not on:
        return problem, solution, {}, None
    graph = walk_graph(station) if graph is None else graph
    limits = dict(limits or {})
    rounds: list[dict[str, Any]] = []
    time_limit = float(problem.time_limit_s)
    round_limit = min(time_limit, float(p.corridor_round_time_limit_s))
    t_end = time.perf_counter() + float(p.corridor_total_time_limit_s)
    best: tuple[tuple[float, float], Problem, Solution, dict[tuple[str, str], float], Replay] | None = None
    chosen = 0
    n_rounds = int(p.corridor_rounds) if max_rounds is None else int(max_rounds)
    patience, idle = int(p.corridor_patience), 0
    carry: dict[str, Any] = {}
    residents = float(np.nansum(problem.demand.to_numpy(dtype=float)))   # (persons, every scenario)
    for k in range(n_rounds + 1):
        rows = plan_rows(solution, reach, margins, problem.exit_rows)
        cq, _, _, over = late_by_corridors(station, rows, lambda r: predicted_arrivals(station, r), graph=graph)
        late = over > 0
        cost = float(solution.stats.get("cost", 0.0))
        n_late = float(rows["residents"].to_numpy()[late].sum())
        # residents with no safe room in the plan (max-cover; cover-all: those no plan can place, the same in every
        # round): a round that brings fewer residents late by leaving more without a safe room is no better
        outside = max(residents - float(rows["residents"].sum()), 0.0)
        rounds.append({"round": k, "rows": len(limits), "late_assignments": int(late.sum()),
                       "late_residents": int(n_late), "unsheltered_residents": int(round(outside)),
                       "cost": round(cost, 2), "rooms": len(solution.chosen), "gap": solution.solver.get("gap"), **carry})
        carry = {}
        score = (n_late + outside, cost)
        idle = 0 if best is None or score[0] < best[0][0] else idle + 1
        if best is None or score < best[0]:
            best, chosen = (score, problem, solution, dict(limits), (rows, cq)), k
        if not late.any() or k == n_rounds or idle > patience:
            break
        left = t_end - time.perf_counter()
        if left < round_limit / 2:
            rounds[-1]["stopped"] = (f"the corridor rounds' time ({p.corridor_total_time_limit_s:.0f} s, "
                                     "corridor_total_time_limit_s) is used up")
            break
        limits = corridor_cuts(cq, over, p.reach_s, limits)
        if openings is None:
            with stage("paths of the model's pairs (corridor rows)"):
                openings = pair_openings(station, problem.pairs, graph=graph)
        problem = corridor_rows(problem, openings, limits).replace(time_limit_s=min(round_limit, left))
        with stage(f"optimisation with {len(limits)} corridor row(s), round {k + 1}"):
            # not from the plan: it breaks the new rows, and Station Unity's MIP did not recover from it
            # within its time limit (147 M CR after 60 s); the LP relaxation's rounding respects them
            try:
                try:
                    solution = solve(problem, warm=solution.warm, keep=solution)
                except BudgetInfeasibleError as exc:
                    if not (fallback and problem.objective == "cover-all" and problem.budget is not None):
                        raise
                    # the rows make full cover dearer than the budget: max-cover at the budget under them
                    cover_all = {"fell_back": "max-cover", "cover_all": str(exc).splitlines()[0][:300],
                                 "full_cover_cost": round(float(exc.full_cover.cost), 2)}
                    log(f"[planner] with the corridor rows, full coverage is not possible: {cover_all['cover_all']}\n"
                        "[planner] planning max-cover at the budget with them instead")
                    problem = problem.replace(objective="max-cover")
                    solution = solve(problem, warm=fallback_warm if fallback_warm is not None else solution.warm)
                    carry = cover_all                     # (the next round's record: its plan's replay)
            except (InfeasibleError, SolverError) as exc:   # e.g. the budget, or no plan in the round's
                # time (seen at load 5, the process at a third of a core): keep the best plan so far, say why
                rounds.append({"round": k + 1, "rows": len(limits), "stopped": str(exc).splitlines()[0][:300]})
                break
    assert best is not None
    if kept is not None:
        kept.update(best[3])
    return (best[1].replace(time_limit_s=time_limit), best[2],
            {"corridor": {"rounds": rounds, "chosen_round": chosen, "limits": limit_rows(best[3])}}, best[4])


def rounds_fallback(corridor: dict) -> tuple[list[str], float | None]:
    """(notes, full-cover cost in currency or None) of the round that fell back to max-cover (`corridor_rounds`'
    `fallback`; `corridor`: its {"corridor": ...} record): the solver's words, and what sheltering everyone
    under that round's corridor rows costs (the cheapest plan found; later rounds' rows may add to it)."""
    got = [r for r in corridor.get("corridor", {}).get("rounds", []) if r.get("fell_back")]
    if not got:
        return [], None
    words = (f"{got[0]['cover_all']} (The plan without corridor queues fitted the budget; with the queues at "
             "the corridor openings that made it late, it does not: this is max-cover at the budget with them.)")
    cost = got[0].get("full_cover_cost")
    return [words], None if cost is None else float(cost)


def corridor_rows(problem: Problem, openings: pd.DataFrame, limits: Mapping[tuple[str, str], float]) -> Problem:
    """`problem` with one corridor row per (door_id, scenario) of `limits` (persons it may pass) over
    every pair of `openings` (`planner.corridors.pair_openings`: room_id, site_id, door_id) passing it;
    without `limits` the problem has no corridor rows."""
    if not limits:
        return problem.replace(corridor_cuts=None, corridor_rhs=None)
    keys = pd.DataFrame(list(limits.keys()), columns=["door_id", "scenario"]).assign(cut=np.arange(len(limits)))
    cuts = openings[["room_id", "site_id", "door_id"]].merge(keys, on="door_id")[["cut", "room_id", "site_id",
                                                                                    "scenario"]]
    return problem.replace(corridor_cuts=cuts, corridor_rhs=np.array(list(limits.values()), dtype=float))


def limit_rows(limits: Mapping[tuple[str, str], float]) -> list[dict[str, Any]]:
    """Corridor rows as plan.json rows (`solver.corridor.limits`): door_id, scenario, persons; sorted."""
    return [{"door_id": str(d), "scenario": str(s), "persons": float(v)} for (d, s), v in sorted(limits.items())]


def limits_of(rows: Sequence[Mapping[str, Any]] | None) -> dict[tuple[str, str], float]:
    """The corridor rows of plan.json `solver.corridor.limits` (`limit_rows`) as {(door_id, scenario): persons}."""
    return {(str(r["door_id"]), str(r["scenario"])): float(r["persons"]) for r in rows or []}
