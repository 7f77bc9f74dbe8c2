"""`plan.json`: the machine-readable plan (build, write atomically, read).

Contract (stable; extend, never rename):

- `station`, `created` (ISO 8601 UTC), `planner_version`, `parameters` (every
  parameter used, as in `Parameters.to_dict()`), `parameter_units`,
  `inputs_sha256` (of the input files);
- `safe_rooms[]`: `room_id, name, sector, deck, kind, area_m2, capacity,
  door_flow_pps, cost, existing, phase, mode` (`dual_use` / `repurpose`);
- `relocations[]`: `from_room, to_room, residents, present{scenario: persons}`:
  residents of a repurposed room moved to a room with spare beds, and how many of
  them are in their (new) home in each scenario (docs/model.md);
- `assignments[]`: `room_id, scenario, safe_room_id, residents, walk_s` (the walk), and from the
  pipeline `arrive_s` (the time the optimiser binned: the room's stream as a batch at the safe
  room's door, `planner.queues`) and `door_id` (the safe room's door it enters by), `predicted_s`
  (predicted last arrival inside the safe room: the estimate of what a simulation shows, residents
  standing at random in their rooms, `planner.estimate`; before issue 17's prediction work it was
  the conservative time now in `planned_s`), `planned_s` (the last arrival as the optimiser and the
  checker time it: farthest point, whole exit queue, conservative, `planner.queues.predicted_arrivals`;
  `predicted_s` is never later than it except by the corridor delays, which it does not contain)
  and, in a plan made with margins, `margin_s`; `exit_door_id` (issue 17; only on the assignments of
  rooms whose exit queue the optimiser timed per door: the room door their walk leaves by; the
  residents leaving by it queue there alone, at its flow; without it a room's residents are timed
  through its widest door);
- `margins[]` (only in a plan made with measured margins, `planner.margins`, e.g. by
  `planner propose --verify`): `room_id, site_id` ("" = any), `extra_s` (seconds added to the
  planned arrival; the checker enforces them) and where each came from: `round, scenario, door_id,
  cause, predicted_s (the planned arrival the margin was measured against, `planned_s`), simulated_s,
  measured_s, safety_s`;
- `verification` (only from `planner propose --verify`, `planner.verify.VerifyResult.to_dict`):
  `target_share, met, stop_reason, chosen_round, rounds[], settings, measured_margins[], summary[]`;
- `unsheltered[]`: `room_id, scenario, residents, reason`, and from the pipeline, where one of
  the plan's safe rooms still has places, where they go anyway: `safe_room_id`, `walk_s`,
  `predicted_s` (s; later than the reach time: `planner.latecomers`);
- `totals`: `cost, budget, currency, scenarios{name: {residents, sheltered}},
  max_walk_s, min_options_in_reach, options_in_reach{scenario: {"0", "1", "2", "3+": residents}}
  (residents by the number of converted safe rooms within reach of their room), rooms_converted,
  displaced_residents` (the
  residents moved out of repurposed rooms = the sum of `relocations[].residents`), and from the
  pipeline `promise` (slowest_speed_m_s, longest_reaction_s, share_fast_enough, design_speed_m_s,
  reaction_s, mean_speed_m_s, speed_sd_m_s: `planner.queues.promise_margin`; expected_share per
  scenario: `promise_of_plan`; in a proposal also target_share, target_speed_m_s and
  short_at_target_speed per scenario: `planner.pipeline.add_target_speed`, and expected_share_cost:
  `planner.sharecost`; with `expected_share_target` expected_share_target, expected_share_met,
  expected_share_short_by: `planner.share.note_share`);
- `solver`: `name, version, status, objective, bound, gap, seconds`, and with the no-swap rule
  `swap_penalty` (what the plan's swaps add to the model's objective: currency for cover-all,
  weighted persons for max-cover; `objective` and `bound` stay on the cost / coverage scale) and
  `swap_penalty_per_person`, and with `expected_share_target` `expected_share` (target, rounds[], chosen_round,
  met, short_by: `planner.share.share_rounds`);
- `swaps[]`: `safe_room_id, scenario, own_residents, leaving, incoming, capacity, sent_to[],
  forced_by_capacity`: a safe room of the plan some of whose own residents are assigned to another
  safe room while residents of other rooms are assigned into it (issue 17; `forced_by_capacity`:
  its own residents and those coming in do not fit together), and `totals.swaps{scenario: {sites,
  residents_leaving, residents_incoming}}`. The checker recounts both from the assignments.
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from planner import __version__
from planner.errors import InputError, OutputError
from planner.cells import safe_csv_frame
from planner.files import write_atomic
from planner.params import Parameters
from planner.relocation import demand_after, relocations_frame

if TYPE_CHECKING:  # types only: plan.json needs no solver at import time
    from planner.model import Solution
    from planner.network import ReachTable
    from planner.station import Station


def jsonable(obj: Any) -> Any:
    """`obj` with numpy scalars as Python numbers, NaN as None, infinities as "inf"/"-inf" (JSON-safe)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return None if math.isnan(f) else (f if math.isfinite(f) else ("inf" if f > 0 else "-inf"))
    if isinstance(obj, np.bool_):
        return bool(obj)
    if obj is pd.NA:
        return None
    return obj


def write_json_atomic(path: Path, obj: Any, *, overwrite: bool = False) -> Path:
    """Write JSON atomically through `planner.files.write_atomic` (an existing entry at `path` is an
    `OutputError` unless `overwrite`)."""
    text = json.dumps(jsonable(obj), indent=1, ensure_ascii=False) + "\n"
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=overwrite,
                        what="JSON file")


TABLE_FORMATS = (".csv", ".parquet")
"""Suffixes `write_table` writes: CSV, or Parquet (needs pyarrow)."""


def check_table_path(path: Path, option: str = "--out") -> None:
    """Refuse, before any work, a table path whose suffix names no format `write_table` writes
    (`InputError`, exit 2) or that is taken (`OutputError`, exit 5)."""
    path = Path(path)
    if path.suffix.lower() not in TABLE_FORMATS:
        raise InputError(option, str(path), f"has the suffix {path.suffix or '(none)'!r}, which names no table format "
                         "the planner writes", "end the name in .csv or .parquet")
    if os.path.isdir(path) and not os.path.islink(path):
        raise OutputError(f"{path}: is a folder; nothing was written. Fix: give a new file name, e.g. {path / 'reach.csv'}")
    if os.path.lexists(path):
        raise OutputError(f"{path}: exists and would be overwritten; nothing was written. "
                          "Fix: give the name of a new file, or move the old one away")


def write_table(df: pd.DataFrame, path: Path, *, overwrite: bool = False) -> Path:
    """Write a table atomically as CSV or Parquet (by the suffix; anything else is an `InputError`).

    Text cells of a CSV beginning with a formula character are written as text
    (`planner.cells.safe_text`), so that a spreadsheet opening the CSV runs nothing."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        check_table_path(path)
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise InputError(str(path), "format", "needs pyarrow, which is not installed",
                             "write .csv instead, or pip install pyarrow") from None
        return write_atomic(path, lambda tmp: df.to_parquet(tmp, index=False), overwrite=overwrite, what="table")
    return write_atomic(path, lambda tmp: safe_csv_frame(df).to_csv(tmp, index=False), overwrite=overwrite,
                        what="table")


def read_plan(path: Path) -> dict:
    """Read a plan.json; a missing or malformed file is an InputError."""
    path = Path(path)
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(path), "file", "does not exist", "give the plan.json written by planner solve/propose") from None
    except json.JSONDecodeError as exc:
        raise InputError(str(path), "JSON", f"cannot be parsed: {exc}", "give an unmodified plan.json") from None
    for key in ("safe_rooms", "assignments", "parameters"):
        if key not in plan:
            raise InputError(str(path), key, "is missing", "give a plan.json written by planner solve/propose")
    return plan


def options_in_reach(demand: pd.DataFrame, options: pd.Series) -> dict[str, dict[str, int]]:
    """Residents per scenario by the number of converted safe rooms within reach of their room:
    {scenario: {"0": persons, "1": persons, "2": persons, "3+": persons}} (`demand`: persons per
    room and scenario; `options`: safe rooms in reach per occupied room)."""
    n = options.reindex(demand.index).fillna(0).astype(int).clip(upper=3).to_numpy()
    out: dict[str, dict[str, int]] = {}
    for sc in demand.columns:
        per = np.bincount(n, weights=demand[sc].to_numpy(dtype=float), minlength=4)
        out[str(sc)] = {"0": int(per[0]), "1": int(per[1]), "2": int(per[2]), "3+": int(per[3])}
    return out


def swap_list(assignments: pd.DataFrame, demand: pd.DataFrame, capacity: pd.Series) -> list[dict]:
    """The plan's swaps (issue 17): per safe room and scenario where some of the room's own residents are
    assigned to another safe room while residents of other rooms are assigned into it.

    `assignments`: room_id, scenario, site_id, residents (persons); `demand`: residents per room (index
    room_id) and scenario (columns), after relocations; `capacity`: persons per safe room (index
    room_id, the plan's safe rooms). Returns dicts (safe_room_id, scenario, own_residents, leaving,
    incoming, capacity, sent_to, forced_by_capacity), sorted by scenario and safe room."""
    if not len(assignments) or not len(capacity):
        return []
    a = assignments[assignments["residents"] > 0]
    moving = a[a["room_id"].astype(str) != a["site_id"].astype(str)]
    out_of = moving[moving["room_id"].isin(capacity.index)]
    leaving = out_of.groupby(["room_id", "scenario"])["residents"].sum()
    incoming = moving.groupby(["site_id", "scenario"])["residents"].sum()
    incoming.index.names = ["room_id", "scenario"]
    both = leaving.index.intersection(incoming.index)
    sent = out_of.groupby(["room_id", "scenario"])["site_id"].agg(lambda v: sorted({str(x) for x in v}))
    rows = []
    for rid, sc in sorted(both, key=lambda k: (str(k[1]), str(k[0]))):
        own = int(demand.at[rid, sc]) if rid in demand.index and sc in demand.columns else int(leaving[(rid, sc)])
        cap = int(capacity[rid])
        rows.append({"safe_room_id": str(rid), "scenario": str(sc), "own_residents": own,
                     "leaving": int(leaving[(rid, sc)]), "incoming": int(incoming[(rid, sc)]), "capacity": cap,
                     "sent_to": list(sent[(rid, sc)]),
                     "forced_by_capacity": bool(own + int(incoming[(rid, sc)]) > cap)})
    return rows


def swap_totals(swaps: list[dict], scenarios: list[str]) -> dict[str, dict[str, int]]:
    """Per scenario: safe rooms with a swap, residents leaving them, residents coming into them."""
    out = {str(sc): {"sites": 0, "residents_leaving": 0, "residents_incoming": 0} for sc in scenarios}
    for r in swaps:
        t = out.setdefault(r["scenario"], {"sites": 0, "residents_leaving": 0, "residents_incoming": 0})
        t["sites"] += 1
        t["residents_leaving"] += int(r["leaving"])
        t["residents_incoming"] += int(r["incoming"])
    return out


def late_words(plan: dict) -> str | None:
    """The plan's residents late by the replay of the corridor queues (`totals.late_by_corridors`) in words, or
    None when the plan has no such figure (its corridor rounds off)."""
    late = (plan.get("totals") or {}).get("late_by_corridors")
    if not isinstance(late, dict) or not isinstance(late.get("residents"), int):
        return None
    per = late.get("by_scenario") or {}
    if late["residents"] == 0:
        return "corridor queues replayed on the plan: nobody arrives late"
    return (f"corridor queues replayed on the plan: {late['residents']:,} resident(s) arrive late ("
            + " / ".join(f"{n:,}" for n in per.values()) + f", {' / '.join(per)}); the optimiser adds corridor "
            "limits round by round and stops after `corridor_rounds`; `planner check` names the openings")


def swap_words(plan: dict) -> tuple[str, str] | None:
    """(per scenario: safe rooms with a swap and residents leaving, why they remain) in words from
    plan.json's `totals.swaps` and `swaps[]`; None for a plan without them (made before issue 17)."""
    ts = (plan.get("totals") or {}).get("swaps")
    if not isinstance(ts, dict):
        return None
    n = sum(int(v.get("sites", 0)) for v in ts.values() if isinstance(v, dict))
    if not n:
        return "none", "every converted room's own residents shelter in it whenever others come in"
    per = ", ".join(f"{sc} {v['sites']} safe rooms ({v['residents_leaving']:,} residents leave)"
                    for sc, v in ts.items() if isinstance(v, dict))
    sw = [r for r in plan.get("swaps") or [] if isinstance(r, dict)]
    forced = sum(1 for r in sw if r.get("forced_by_capacity"))
    pen = (plan.get("solver") or {}).get("swap_penalty_per_person")
    cur = (plan.get("totals") or {}).get("currency", "")
    on = isinstance(pen, (int, float)) and pen > 0
    why = (f"{forced} of {n} remain because the safe room cannot hold its own residents and those who must come "
           "in (they reach no other safe room with places in time)"
           + (f", and the optimiser found no plan without them that costs less than the swap penalty of "
              f"{pen:,.0f} {cur} per resident who leaves" if on else " (the no-swap rule was off for this plan)"))
    if forced < n:
        why += f"; {n - forced} have places to spare (an assignment choice)"
    return per, why


def population_words(plan: dict, reach_s: float) -> str | None:
    """What guaranteeing the target share (`totals.promise.target_share`) of walkers with speeds
    N(mean, sd) m/s would take, in words, from plan.json's `totals.promise` (`target_speed_m_s`,
    `short_at_target_speed`, `expected_share`); None for a plan without them."""
    pm = (plan.get("totals") or {}).get("promise")
    if not isinstance(pm, dict):
        return None
    target, v, short = pm.get("target_share"), pm.get("target_speed_m_s"), pm.get("short_at_target_speed")
    if not isinstance(target, (int, float)) or not isinstance(v, (int, float)):
        return None
    exp = pm.get("expected_share") if isinstance(pm.get("expected_share"), dict) else {}
    this = (f": this plan is expected to bring in {' / '.join(f'{100 * float(x):.1f}' for x in exp.values())} % of "
            f"them ({' / '.join(exp)})") if exp else ""
    head = (f"Walkers with speeds N({pm.get('mean_speed_m_s', 1.2):g}, {pm.get('speed_sd_m_s', 0.2):g}) m/s{this}. "
            f"To guarantee {100 * target:.1f} % of them, every walk would have to be planned at {v:.3g} m/s "
            f"(only {100 * (1 - target):.1f} % of them walk slower; slow_walker_speed_m_s)")
    if not isinstance(short, dict):
        return head + "."
    if any(int(n) > 0 for n in short.values()):
        return (head + ": no budget buys that, because even with every candidate converted "
                + " / ".join(f"{int(n):,}" for n in short.values()) + f" residents ({' / '.join(short)}) could not "
                "reach a safe room in time at that speed. A plan may still bring more of them in on average; "
                "its cost is not computed.")
    return (head + ": every resident could reach a safe room in time at that speed with every candidate converted; "
            "the cost of such a plan is not computed here (run a what-if with that parameter).")


def expected_share_words(plan: dict, reach_s: float) -> tuple[str, str] | None:
    """(the answer, the sentence) on what an expected share of walkers with spread speeds would cost, from
    plan.json's `totals.promise.expected_share_cost` (`planner.sharecost`); None without it. The answer:
    "N rooms, X CR (+Y CR over this plan)", "the budget cannot buy it: at most Z % (scenario)" or, when no
    plan of the model reaches it whatever the budget, "no budget buys it: at most Z % (scenario)"."""
    pm = (plan.get("totals") or {}).get("promise")
    ec = pm.get("expected_share_cost") if isinstance(pm, dict) else None
    if not isinstance(ec, dict) or not isinstance(ec.get("target"), (int, float)):
        return None
    cur = (plan.get("totals") or {}).get("currency", "")
    head = (f"Bringing an expected {100 * float(ec['target']):.1f} % of residents with speeds "
            f"N({float(ec.get('mean_speed_m_s', 1.2)):g}, {float(ec.get('speed_sd_m_s', 0.2)):g}) m/s into a safe room "
            f"in {reach_s:.0f} s")
    if ec.get("bought"):
        answer = (f"{int(ec['rooms']):,} rooms, {float(ec['cost']):,.0f} {cur} "
                  f"({float(ec['extra_cost']):+,.0f} {cur} over this plan)")
        miss = "" if ec.get("met", True) else (f"; the plan found misses it by {100 * float(ec.get('short_by', 0)):.2f} "
                                               "points in its worst scenario")
        exp = ec.get("expected_share") or {}
        got = (" (expected " + " / ".join(f"{100 * float(v):.2f}" for v in exp.values()) + f" %, {' / '.join(exp)})"
               ) if exp else ""
        return answer, f"{head} would take {answer}{got}{miss}."
    most = ec.get("most")
    if not isinstance(most, dict) or not most:
        answer = "not computed"
        return answer, f"{head}: {answer} ({ec.get('reason', '')})."
    worst = min(most, key=lambda k: float(most[k]))
    who = "the budget cannot buy it" if ec.get("most_within_budget", True) else "no budget buys it"
    answer = f"{who}: at most {100 * float(most[worst]):.2f} % ({worst})"
    alt = ec.get("cost_without_budget")
    more = (f"; without the budget it would take {int(ec.get('rooms_without_budget') or 0):,} rooms and "
            f"{float(alt):,.0f} {cur}") if isinstance(alt, (int, float)) else ""
    return answer, (f"{head}: {answer}, the most any plan is expected to bring in by the planner's conservative "
                    "timing (each walk in time at the design speed counted with the probability that its walkers "
                    "are fast enough; a simulation may show more) ("
                    + " / ".join(f"{100 * float(v):.2f}" for v in most.values()) + f" %, {' / '.join(most)}){more}.")


def short_reason(n: int, short: int, flow_pps: float, doors: list[tuple[str, float, int]], reach_s: float) -> str:
    """The reason of residents short of time (plan.json `unsheltered[].reason`): `short` of a room's `n`
    residents cannot be in a safe room within `reach_s` seconds; `flow_pps` its widest door's flow and
    `doors` its exit doors as (door_id, persons/s, cap K_d) where the model timed it per door (issue 17)."""
    if len(doors) > 1:   # each door on the residents' routes is its own queue
        each = ", ".join(f"{d} passes {f:.2f} persons/s (at most {k} out in time)" for d, f, k in doors)
        return (f"its residents leave by the doors on their routes, each its own queue: {each}; so no safe room "
                f"can take in more than {n - short} of its {n} residents within {reach_s:.0f} s")
    r = doors[0][1] if doors else flow_pps       # the one door its routes use, else its widest
    return (f"its door passes {r:.2f} persons/s: {n} residents need {n / r if r else float('inf'):.0f} s "
            f"to leave, so no safe room can take in more than {n - short} of them within {reach_s:.0f} s")


def build_plan(*, station: Station, sites: pd.DataFrame, costs: pd.DataFrame, reach: ReachTable, solution: Solution,
               phases: pd.Series | None = None, notes: list[str] | None = None,
               timed_pairs: pd.DataFrame | None = None) -> dict:
    """The plan.json dict from the pipeline's plain data.

    `sites`: candidate_sites; `costs`: site_costs (total_cost per site, currency);
    `reach`: ReachTable; `solution`: model.Solution; `phases`: phase number per chosen site;
    `timed_pairs`: the pairs as the optimiser timed them (`planner.queues.model_pairs`: `walk_s` =
    predicted arrival at the safe room's door, `walk_raw_s` = the walk): the assignments then carry
    the walk as `walk_s`, the prediction as `arrive_s` and the entry door as `door_id`, and the
    options in reach count only pairs arriving in time.
    """
    params: Parameters = station.params
    moves = solution.stats.get("relocations") if isinstance(getattr(solution, "stats", None), dict) else None
    moves = moves if isinstance(moves, pd.DataFrame) else relocations_frame(None, list(station.scenarios))
    demand = demand_after(station.demand(), moves)
    chosen = list(solution.chosen)
    s = sites.loc[chosen] if chosen else sites.iloc[:0]
    cost = costs["total_cost"].reindex(chosen).fillna(0.0) if chosen else pd.Series(dtype=float)
    phase = phases.reindex(chosen).fillna(1).astype(int) if phases is not None else pd.Series(1, index=chosen)
    safe_rooms = [
        {"room_id": sid, "name": r["name"], "sector": r["sector"], "deck": int(r["deck"]), "kind": r["kind"],
         "area_m2": round(float(r["area_m2"]), 3), "capacity": int(r["capacity"]),
         "door_flow_pps": round(float(r["door_flow_pps"]), 4), "cost": round(float(cost[sid]), 2),
         "existing": bool(r["existing"]), "phase": int(phase[sid]),
         "mode": str(r["mode"]) if "mode" in s.columns and isinstance(r["mode"], str) else "dual_use"}
        for sid, r in s.iterrows()
    ]
    a = solution.assignments
    a = a[a["residents"] > 0]
    if timed_pairs is not None and len(a):
        tp = timed_pairs.drop_duplicates(["room_id", "site_id"]).set_index(["room_id", "site_id"])
        key = pd.MultiIndex.from_arrays([a["room_id"].astype(str), a["site_id"].astype(str)])
        a = a.assign(arrive_s=a["walk_s"].to_numpy(dtype=float),
                     walk_s=tp["walk_raw_s"].reindex(key).fillna(a["walk_s"]).to_numpy(dtype=float),
                     door_id=tp["door_id"].reindex(key).fillna("").astype(str).to_numpy(),
                     exit_door_id=(tp["exit_door_id"].reindex(key).fillna("").astype(str).to_numpy()
                                   if "exit_door_id" in tp.columns else ""))
    assignments = [
        {"room_id": r.room_id, "scenario": r.scenario, "safe_room_id": r.site_id,
         "residents": int(r.residents), "walk_s": round(float(r.walk_s), 2)}
        | ({"arrive_s": round(float(r.arrive_s), 2), "door_id": r.door_id} if "arrive_s" in a.columns else {})
        | ({"exit_door_id": r.exit_door_id} if "exit_door_id" in a.columns and r.exit_door_id else {})
        for r in a.itertuples(index=False)
    ]
    # unsheltered, with reasons in plain words
    best = reach.rooms
    unsheltered = []
    u = solution.unsheltered
    if len(u):
        for r in u.itertuples(index=False):
            if r.residents <= 0:
                continue
            reason = str(r.reason)
            if reason.startswith("unreachable") and r.room_id in best.index:
                bw = float(best.at[r.room_id, "best_walk_s"])
                reason = (f"no candidate safe room within {params.reach_s:.0f} s "
                          + (f"(best {bw:.0f} s)" if math.isfinite(bw) else f"(none within {2 * params.reach_s:.0f} s)"))
            elif reason.startswith("budget"):
                reason = "not sheltered within the budget"
            unsheltered.append({"room_id": r.room_id, "scenario": r.scenario, "residents": int(r.residents),
                                "reason": reason})
    scen = {}
    for sc in station.scenarios:
        tot = int(demand[sc].sum())
        sh = int(a.loc[a["scenario"] == sc, "residents"].sum()) if len(a) else 0
        scen[sc] = {"residents": tot, "sheltered": sh, "share": (sh / tot) if tot else 1.0}
    # options in reach: converted safe rooms within reach of each occupied room
    occupied = demand.index[(demand > 0).any(axis=1)]
    pr = reach.pairs if timed_pairs is None else timed_pairs
    in_reach = pr[pr["site_id"].isin(chosen)].groupby("room_id").size()
    opts = in_reach.reindex(occupied).fillna(0).astype(int)
    options = options_in_reach(demand, opts)
    displaced = costs["displaced_residents"].reindex(chosen).fillna(0).sum() if "displaced_residents" in costs else 0
    relocations = [
        {"from_room": str(r["from_room"]), "to_room": str(r["to_room"]), "residents": int(r["residents"]),
         "present": {sc: int(r.get(f"present_{sc}", 0)) for sc in station.scenarios}}
        for r in moves.to_dict(orient="records")
    ]
    totals = {
        "cost": round(float(cost.sum()), 2), "budget": params.budget, "currency": params.currency,
        "scenarios": scen, "max_walk_s": round(float(a["walk_s"].max()), 2) if len(a) else 0.0,
        "min_options_in_reach": int(opts.min()) if len(opts) else 0,
        "options_in_reach": options,
        "rooms_converted": int(sum(1 for r in safe_rooms if not r["existing"])),
        "existing_safe_rooms": int(sum(1 for r in safe_rooms if r["existing"])),
        "displaced_residents": int(displaced),
    }
    swaps = swap_list(a[["room_id", "scenario", "site_id", "residents"]] if len(a) else a, demand,
                      pd.Series({r["room_id"]: r["capacity"] for r in safe_rooms}, dtype=np.int64))
    totals["swaps"] = swap_totals(swaps, list(station.scenarios))
    units = {row["name"]: row["unit"] for row in params.describe()}
    return {
        "station": station.name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "planner_version": __version__,
        "parameters": params.to_dict(),
        "parameter_units": units,
        "inputs_sha256": station.inputs_sha256(),
        "safe_rooms": safe_rooms,
        "assignments": assignments,
        "unsheltered": unsheltered,
        "totals": totals,
        "solver": dict(solution.solver),
        "notes": list(notes or []),
        "relocations": relocations,
        "swaps": swaps,
    }
