"""Independent plan checker: re-read the inputs and a plan.json, recompute, name every breach.

The checker never imports the optimiser (`planner.model`, `planner.model.heuristic`) and
trusts nothing in the plan: it judges the plan against the station's own parameters
(its scenario.toml plus the overrides given to `planner check` on the command line),
reports every difference between the plan's recorded parameters and those as a
`parameters` breach (a plan that says "reach 70 s" or "no door queue" is caught
even when it would hold under its own words), and recomputes walks without the
planner's reach cache (`reach_table(..., cache=False)`). From the inputs it recomputes

- walking times (the reach table of `planner.network`): every assignment's
  walk is within the reach time and matches the recomputed walk within 0.5 s;
- capacities from the room polygons, with the capacity rule of docs/model.md (section 2)
  (usable = (area - life support) x (1 - stores); capacity = min(floor(usable /
  area per occupant), floor(usable x clear height / volume per occupant)));
- door queues: a fluid queue replayed from the assigned arrival times; the
  room's doors pass `specific flow x (width - 2 x boundary layer)` persons/s
  summed over its doors (stairs-up rate for vertical links), and the last
  person must be through by the reach time (people sheltering in place, 0 s,
  do not queue);
- that safe rooms are candidates (kind rule, not protected, large enough) or
  existing / required, and that existing and required rooms are in the plan;
- costs (`planner.costs.site_costs` when available) and the budget; and, when the
  plan was phased (a `phases` table in plan.json or a safe room beyond phase 1),
  each declared phase's new rooms, crew time and cumulative budget (an unphased
  plan, every room in phase 1, is judged as the whole programme);
- coverage: every resident of every scenario is assigned or listed unsheltered
  with a reason; whole persons; backup coverage (each occupied room has
  min(backup_k, candidates in reach) safe rooms in reach; in max-cover only
  rooms with someone sheltered need it);
- the plan's totals, and its swaps recounted (`planner.checkswap`; swaps are findings, not breaches).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from planner.errors import InputError
from planner.margins import margin_table, pair_margin_s
from planner.network import ReachTable, WalkGraph, reach_table, unwalkable_rooms
from planner.network.paths import exit_doors, walk_graph
from planner.params import Parameters, Phase
from planner.relocation import home_residents, room_beds, room_modes
from planner.station import Station
from planner.checkqueue import (check_arrivals, check_late_totals, check_independent_walks, short_residents, start_independent_walks,
                                timed_pairs)
from planner.checkcover import (MONEY_TOLERANCE, check_backup, check_cover_all, check_coverage, check_totals, frame,
                                num)
from planner.checkswap import check_swaps

WALK_TOLERANCE_S = 0.5
"""Largest accepted difference between a plan's walk and the recomputed one (seconds)."""
_EPS = 1e-6


@dataclass
class Breach:
    """One way a plan breaks the rules: `kind` (e.g. 'capacity'), the `feature` (room, scenario), a `message`."""

    kind: str
    feature: str
    message: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.feature}: {self.message}"


def format_breaches(breaches: list[Breach]) -> str:
    """Every breach on its own line, grouped by kind, with a count per kind first."""
    if not breaches:
        return "no breaches"
    counts = pd.Series([b.kind for b in breaches]).value_counts()
    head = f"{len(breaches)} breach(es) of the plan: " + ", ".join(f"{k} {n}" for k, n in counts.items())
    order = {k: i for i, k in enumerate(counts.index)}
    lines = [head] + [f"  - {b}" for b in sorted(breaches, key=lambda b: order[b.kind])]
    return "\n".join(lines)


# ------------------------------------------------------------------ helpers
def plan_parameters(plan: dict, fallback: Parameters) -> Parameters:
    """The Parameters recorded in the plan (unknown keys ignored); `fallback` fills what is missing.

    For reading and reporting only: `check_plan` never judges a plan by them."""
    raw = plan.get("parameters") or {}
    names = {f.name for f in fields(Parameters)}
    kw: dict[str, Any] = {k: v for k, v in raw.items() if k in names}
    if "phases" in kw:
        kw["phases"] = [p if isinstance(p, Phase) else Phase(**p) for p in (kw["phases"] or [])]
    for k, v in list(kw.items()):
        if isinstance(v, str) and v in ("inf", "-inf"):
            kw[k] = float(v)
    return fallback.replace(**kw)


_UNORDERED = ("candidate_kinds", "protect", "require", "scenarios")
"""Parameters that are sets: the order of their items is no difference."""
SOLVER_EFFORT = ("time_limit_s", "sweep_time_limit_s", "mip_gap", "threads", "solver",
                 "verify_target_share", "verify_rounds", "verify_seeds", "verify_safety_s",
                 "tradeoff_time_limit_s", "tradeoff_berth_area_m2", "today_displaced")
"""Parameters that say how long and how the solver searches, not what a valid plan is (the sweep
itself solves with other limits and one thread), how `planner propose --verify` searched for
margins (the margins it found are in the plan and enforced), and the displacement trade-off's own
settings (they never change the plan): not compared. Every other parameter is."""


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    return a == b


def parameter_breaches(plan: dict, p: Parameters) -> list[Breach]:
    """Every difference between the parameters recorded in `plan` and the station's `p`, as breaches.

    A parameter missing from the plan, one the planner does not know, and the plan's top-level
    `objective` are compared too; only the solver's effort (`SOLVER_EFFORT`) is not."""
    raw = plan.get("parameters")
    if not isinstance(raw, dict):
        return [Breach("parameters", "plan parameters", "are missing or not a table: the plan cannot be "
                                                        "shown to be made for this station's parameters")]
    want = json.loads(json.dumps(p.to_dict(), default=str))  # as plan.json records them
    out: list[Breach] = []
    for name, v in want.items():
        if name in SOLVER_EFFORT or name == "objective":   # the objective is compared below, with its hint
            continue
        if name not in raw:
            out.append(Breach("parameters", f"parameter {name}",
                              f"is missing from the plan; the station's is {v!r}"))
            continue
        got = raw[name]
        if name in _UNORDERED and isinstance(got, list) and isinstance(v, list):
            same = sorted(map(str, got)) == sorted(map(str, v))
        else:
            same = _same_value(got, v)
        if not same:
            out.append(Breach("parameters", f"parameter {name}",
                              f"the plan was made with {got!r}, the station's is {v!r}. Fix: plan again with "
                              "the station's parameters, or give check the same overrides (e.g. --budget, "
                              "--reach-s, --scenario) if they are intended"))
    for name in sorted(set(raw) - set(want)):
        out.append(Breach("parameters", f"parameter {name}", "is not a parameter of this planner"))
    objective = plan.get("objective", raw.get("objective"))
    if objective != p.objective:
        out.append(Breach("parameters", "objective",
                          f"the plan's objective is {objective!r}, the station's is {p.objective!r}"
                          + (" (a budget-limited plan leaves people out: check it with --objective max-cover "
                             "if full coverage is unaffordable)" if objective == "max-cover" else "")))
    return out


def recompute_capacity(area_m2: np.ndarray, p: Parameters) -> np.ndarray:
    """Capacity (persons) of rooms of the given floor areas (m2), by the rule of docs/model.md (section 2)."""
    area = np.asarray(area_m2, dtype=float)
    usable = np.maximum(0.0, area - p.life_support_area_m2) * (1.0 - p.stores_fraction)
    by_area = np.floor(usable / p.area_per_occupant_m2 + 1e-9)
    by_air = np.floor(usable * p.clear_height_m / p.volume_per_occupant_m3 + 1e-9)
    return np.minimum(by_area, by_air).astype(np.int64)


def recompute_door_flow(station: Station, p: Parameters) -> pd.Series:
    """Door flow (persons/s) per room_id: sum over its doors of specific flow x effective width."""
    d = station.doors
    if not len(d):
        return pd.Series(dtype=float)
    vertical = d["vertical"].to_numpy(dtype=bool)
    specific = np.where(vertical, p.stairs_flow_up_pps_m, p.door_specific_flow_pps_m)
    flow = specific * np.maximum(0.0, d["width_m"].to_numpy(dtype=float) - 2.0 * p.door_boundary_layer_m)
    sides = pd.concat([pd.DataFrame({"room_id": d["from_room"].to_numpy(), "flow": flow}),
                       pd.DataFrame({"room_id": d["to_room"].to_numpy(), "flow": flow})], ignore_index=True)
    sides = sides[sides["room_id"].notna()]
    return sides.groupby(sides["room_id"].astype(str))["flow"].sum()


def _eligible(station: Station, p: Parameters) -> pd.Series:
    """May each room (index room_id) be a safe room? Kind rule / flag, not protected, large enough;
    existing and required rooms always."""
    r = station.rooms
    by_kind = r["kind"].isin(p.candidate_kinds)
    cand = r["candidate"].astype("boolean").fillna(by_kind).astype(bool)
    big = r.geometry.area >= p.min_site_area_m2
    protected = r["protected"].astype(bool) | r["room_id"].isin(p.protect)
    forced = r["existing"].astype(bool) | r["room_id"].isin(p.require)
    ok = (cand & big & ~protected) | forced
    return pd.Series(ok.to_numpy(), index=r["room_id"].astype(str).to_numpy())


# --------------------------------------------------------------------- main
def check_plan(station: Station, plan: dict,  # noqa: C901  debt: issue 16 (complexity 27)
               reach: ReachTable | None = None, margins: pd.DataFrame | None = None,
               graph: WalkGraph | None = None) -> list[Breach]:
    """Every breach of `plan` against the station's inputs; empty when the plan holds.

    The checker shares no code with the optimiser: it recomputes capacities (persons),
    door flows (persons/s), walking times (s), door queues, costs (currency) and coverage
    from the inputs. The station's parameters (`station.params`: its scenario file plus any
    overrides the caller applied, e.g. `planner check --budget`) are the rules; every
    difference between them and the plan's recorded parameters is a `parameters` breach
    (`parameter_breaches`).

    Parameters
    ----------
    station : Station
        The station the plan is for.
    plan : dict
        A plan.json dict (`planner.plan.read_plan`, or `PlanRun.plan`).
    reach : ReachTable, optional
        Walking times computed independently of the plan (tests); by default recomputed
        with `planner.network.reach_table` under the station's parameters, never from the
        planner's reach cache.
    margins : pandas.DataFrame, optional
        Measured margins the plan must hold (`planner.margins`: seconds added to the arrival of the
        pairs they name, e.g. those `planner propose --verify` planned with). Default: the plan's
        own `margins`. Either way they are enforced like the reach time (a margin is a stricter
        requirement); given here, the plan must also record at least these (`margin` breach).
    graph : WalkGraph, optional
        The station's walking graph (`planner.network.paths.walk_graph`), when the caller has it (`planner
        check` builds it once for the check and its corridor findings); by default built here, once, for
        the reach table and every walk path the check follows.

    Returns
    -------
    list of Breach
        One entry per breach (kind, where, what); empty when the plan holds.
    """
    out: list[Breach] = parameter_breaches(plan, station.params)
    required = _required_margins(plan, margins, out)
    p = station.params  # the station's, never the plan's: the plan is judged, not believed
    scen = list(station.scenarios)
    st = station
    objective = p.objective

    rooms = st.rooms
    room_ids = rooms["room_id"].astype(str)
    known = set(room_ids)
    area = pd.Series(rooms.geometry.area.to_numpy(), index=room_ids.to_numpy())
    area = area[~area.index.duplicated()]
    demand = st.demand()
    demand = demand[~demand.index.duplicated()]

    # ------------------------------------------------------------ safe rooms
    safe = frame(plan.get("safe_rooms"), ["room_id", "capacity", "door_flow_pps", "cost", "existing", "phase", "area_m2"])
    safe["room_id"] = safe["room_id"].astype(str)
    dup = safe["room_id"][safe["room_id"].duplicated()].unique()
    for rid in dup:
        out.append(Breach("duplicate", f"safe room {rid}", "is listed more than once in safe_rooms"))
    safe = safe.drop_duplicates("room_id")
    unknown = ~safe["room_id"].isin(known)
    for rid in safe.loc[unknown, "room_id"]:
        out.append(Breach("unknown-room", f"safe room {rid}", "is not a room of the station"))
    safe = safe[~unknown].set_index("room_id", drop=False)
    chosen = safe.index.tolist()
    eligible = _eligible(st, p)
    eligible = eligible[~eligible.index.duplicated()]
    rinfo = pd.DataFrame({"kind": rooms["kind"].to_numpy(), "protected": rooms["protected"].to_numpy(dtype=bool),
                          "existing": rooms["existing"].to_numpy(dtype=bool),
                          "candidate": rooms["candidate"].astype(object).to_numpy()}, index=room_ids.to_numpy())
    rinfo = rinfo[~rinfo.index.duplicated()]
    for rid in chosen:
        if not eligible.get(rid, False):
            k, prot = rinfo.at[rid, "kind"], bool(rinfo.at[rid, "protected"]) or rid in p.protect
            flag = rinfo.at[rid, "candidate"]
            if prot:
                why = "it is protected"
            elif flag is False or (flag is not None and not pd.isna(flag) and not bool(flag)):
                why = "its candidate flag is false"
            elif area[rid] < p.min_site_area_m2:
                why = f"its area {area[rid]:.1f} m2 is below {p.min_site_area_m2:g} m2"
            else:
                why = f"its kind {k!r} is not a candidate kind ({', '.join(p.candidate_kinds)})"
            out.append(Breach("not-candidate", f"safe room {rid}", f"may not be converted: {why}"))
    must = set(rinfo.index[rinfo["existing"]]) | set(p.require)
    for rid in sorted(must - set(chosen)):
        what = "an existing safe room" if rid in rinfo.index and rinfo.at[rid, "existing"] else "a required room"
        out.append(Breach("missing-required", f"room {rid}", f"is {what} but is not among the plan's safe rooms"))

    cap = pd.Series(recompute_capacity(area.reindex(chosen).to_numpy(), p), index=chosen, dtype=np.int64)
    flows = recompute_door_flow(st, p).reindex(chosen).fillna(0.0)
    for rid in chosen:
        pc = pd.to_numeric(safe.at[rid, "capacity"], errors="coerce")
        if not (pd.notna(pc) and int(pc) == pc and int(pc) == int(cap[rid])):
            out.append(Breach("safe-room-figures", f"safe room {rid}",
                              f"capacity in the plan is {safe.at[rid, 'capacity']}, the inputs give {int(cap[rid])} "
                              f"({area[rid]:.2f} m2 at {p.area_per_occupant_m2} m2 per occupant)"))
        pf = pd.to_numeric(safe.at[rid, "door_flow_pps"], errors="coerce")
        if not (pd.notna(pf) and abs(pf - flows[rid]) <= 1e-3 + 1e-6 * flows[rid]):
            out.append(Breach("safe-room-figures", f"safe room {rid}",
                              f"door flow in the plan is {safe.at[rid, 'door_flow_pps']} persons/s, "
                              f"its doors give {flows[rid]:.4f} persons/s"))

    # ------------------------------------------------------------ conversion modes
    plan_modes = _check_modes(st, plan, chosen, out)

    # ------------------------------------------------------------ costs, budget
    costs, crew_days = _recompute_costs(st, chosen, safe, out, plan_modes)
    total_cost = float(costs.sum())
    if p.budget is not None and total_cost > p.budget + MONEY_TOLERANCE:
        out.append(Breach("budget", "plan", f"costs {total_cost:,.2f} {p.currency}, over the budget of "
                                            f"{p.budget:,.2f} {p.currency} by {total_cost - p.budget:,.2f}"))
    phased = bool(plan.get("phases")) or bool((pd.to_numeric(safe["phase"], errors="coerce").fillna(1) != 1).any())
    if p.phases and len(chosen) and phased:
        _check_phases(safe, costs, crew_days, rinfo, p, out)

    # ------------------------------------------------------------ relocation (repurposed rooms)
    demand = _check_relocations(st, plan, demand, chosen, p, out)

    # ------------------------------------------------------------ assignments
    a = frame(plan.get("assignments"), ["room_id", "scenario", "safe_room_id", "residents", "walk_s"])
    a["room_id"] = a["room_id"].astype(str)
    a["safe_room_id"] = a["safe_room_id"].astype(str)
    a["scenario"] = a["scenario"].astype(str)
    n_raw = num(a["residents"])
    walk_plan = num(a["walk_s"])
    bad_n = ~np.isfinite(n_raw) | (n_raw < 0) | (np.abs(n_raw - np.round(n_raw)) > 1e-9)
    for i in np.flatnonzero(bad_n):
        out.append(Breach("whole-persons", f"room {a['room_id'].iat[i]} -> {a['safe_room_id'].iat[i]} "
                                           f"({a['scenario'].iat[i]})",
                          f"assigns {a['residents'].iat[i]!r} residents: not a whole number of persons"))
    a["n"] = np.where(np.isfinite(n_raw), np.maximum(n_raw, 0), 0.0)
    a["walk_plan"] = walk_plan
    bad_ref = ~a["room_id"].isin(known) | ~a["safe_room_id"].isin(set(chosen)) | ~a["scenario"].isin(scen)
    for r in a[bad_ref].itertuples(index=False):
        what = ("its room is not a room of the station" if r.room_id not in known else
                "its safe room is not among the plan's safe rooms" if r.safe_room_id not in set(chosen) else
                f"scenario {r.scenario!r} is not planned for ({', '.join(scen)})")
        out.append(Breach("assignment", f"room {r.room_id} -> {r.safe_room_id} ({r.scenario})", what))
    a = a[~bad_ref].reset_index(drop=True)
    # walking times; the raster walks in a worker beside what follows (after the walking graph, whose
    # own workers then have both cores)
    if reach is None:
        graph = graph if graph is not None else walk_graph(st)
    walks = start_independent_walks(st, a, p)
    if reach is None:
        reach = reach_table(st, cache=False, graph=graph)  # never the planner's cache
    doors = exit_doors(st, graph, memo=False)   # the walks' exit doors, on one walking graph, its own
    _check_walks(st, reach, out)
    pairs = reach.pairs[["room_id", "site_id", "walk_s"]].copy()
    pairs["door_id"] = reach.pairs["door_id"].fillna("").astype(str) if "door_id" in reach.pairs.columns else ""
    pairs["room_id"] = pairs["room_id"].astype(str)
    pairs["site_id"] = pairs["site_id"].astype(str)
    pairs = pairs[pairs["walk_s"] <= p.reach_s + _EPS]
    if not p.shelter_in_place:
        pairs = pairs[~((pairs["room_id"] == pairs["site_id"]) & (pairs["walk_s"] <= _EPS))]
    pairs = pairs.sort_values("walk_s").drop_duplicates(["room_id", "site_id"])
    # "in reach" = arriving in time at the design speed with the room's own door queue (queues.py)
    pairs = timed_pairs(st, pairs, p, margins=required, doors=doors)
    a = a.merge(pairs[["room_id", "site_id", "walk_raw_s", "door_id"]].rename(
        columns={"site_id": "safe_room_id", "walk_raw_s": "walk", "door_id": "door"}), how="left",
        on=["room_id", "safe_room_id"])
    a["margin_s"] = pair_margin_s(required, a["room_id"].to_numpy(), a["safe_room_id"].to_numpy())
    no_pair = a["walk"].isna().to_numpy()
    for r in a[no_pair].itertuples(index=False):
        out.append(Breach("walk", f"room {r.room_id} -> {r.safe_room_id} ({r.scenario})",
                          f"safe room is not within reach: no route of {p.reach_s:g} s or less "
                          + (f"once its measured margin of {r.margin_s:.1f} s is added " if r.margin_s > 0 else "")
                          + f"(the plan says {r.walk_plan:g} s)"))
    over = ~no_pair & ~(a["walk_plan"].to_numpy() <= p.reach_s + _EPS)
    for r in a[over].itertuples(index=False):
        out.append(Breach("walk", f"room {r.room_id} -> {r.safe_room_id} ({r.scenario})",
                          f"walk of {r.walk_plan:g} s in the plan is over the reach time {p.reach_s:g} s"))
    diff = ~no_pair & ~over & ~(np.abs(a["walk_plan"].to_numpy() - a["walk"].to_numpy()) <= WALK_TOLERANCE_S)
    for r in a[diff].itertuples(index=False):
        out.append(Breach("walk-mismatch", f"room {r.room_id} -> {r.safe_room_id} ({r.scenario})",
                          f"walk in the plan is {r.walk_plan:g} s, recomputed {r.walk:.2f} s "
                          f"(more than {WALK_TOLERANCE_S} s apart)"))
    a["arrive"] = a["walk"].fillna(a["walk_plan"])

    # capacity: the planned arrivals and the unsheltered sent there anyway (planner.latecomers)
    late = _late_arrivals(plan, set(chosen), out)
    load = pd.concat([a[["safe_room_id", "scenario", "n"]], late]).groupby(["safe_room_id", "scenario"])["n"].sum()
    for (sid, sc), n in load.items():
        if n > cap.get(sid, 0) + _EPS:
            out.append(Breach("capacity", f"safe room {sid} ({sc})",
                              f"over capacity: {int(n)} persons assigned, capacity {int(cap.get(sid, 0))}"))

    # arrivals: own-door queue, design speed, per-door queues at the safe room; independent walks
    out.extend(Breach(*b) for b in check_arrivals(st, a, p, doors))
    out.extend(Breach(*b) for b in (walks.result() if walks is not None else check_independent_walks(st, a, p)))

    # coverage, backup, totals (`planner.checkcover`)
    found: list[tuple[str, str, str]] = []
    check_coverage(plan, a, demand, scen, known, found)
    if objective == "cover-all":
        check_cover_all(plan, pairs, found, short_residents(st, pairs, p))
    check_backup(a, pairs, demand, chosen, p, objective, found)
    check_totals(plan, a, demand, scen, pairs, chosen, total_cost, safe, found)
    out.extend(Breach(*b) for b in found)
    out.extend(Breach(*b) for b in check_swaps(plan, a, demand, cap, scen, set(chosen)))
    out.extend(Breach(*b) for b in check_late_totals(st, plan, graph))
    return out


def _required_margins(plan: dict, margins: pd.DataFrame | None, out: list[Breach]) -> pd.DataFrame:
    """The margins the plan is judged with: `margins` when given (the plan must record at least them),
    else the plan's own `margins` (rows that are not a valid margin are breaches and left out)."""
    try:
        recorded = margin_table(plan.get("margins") or [], "plan.json margins")
    except InputError as exc:
        out.append(Breach("margin", "plan.json margins", str(exc)))
        recorded = margin_table(None)
    if margins is None:
        return recorded
    required = margin_table(margins, "margins")
    want = required.groupby(["room_id", "site_id"])["extra_s"].sum()
    got = recorded.groupby(["room_id", "site_id"])["extra_s"].sum().reindex(want.index).fillna(0.0)
    for (rid, sid), w in want.items():
        if got[(rid, sid)] < w - 0.01:
            out.append(Breach("margin", f"room {rid or 'any'} -> {sid or 'any safe room'}",
                              f"the plan records a margin of {got[(rid, sid)]:.2f} s, it must hold {w:.2f} s"))
    return required


def _check_modes(st: Station, plan: dict, chosen: list[str], out: list[Breach]) -> pd.Series | None:
    """Each safe room's `mode` in the plan agrees with the inputs (room `mode` property, else `[model]
    modes` of its kind, else dual_use; an `either` room must state dual_use or repurpose). Returns the
    plan's mode per chosen room (the inputs' where the plan gives none), or None if the inputs are bad."""
    try:
        want = room_modes(st)
    except InputError as exc:
        out.append(Breach("mode", "inputs", str(exc)))
        return None
    got = {str(r.get("room_id")): r.get("mode") for r in plan.get("safe_rooms") or [] if isinstance(r, dict)}
    res = {}
    for rid in chosen:
        w, g = want.get(rid, "dual_use"), got.get(rid)
        if g is None:
            if w == "either":
                out.append(Breach("mode", f"safe room {rid}", "has mode 'either' in the inputs but the plan does "
                                                              "not say whether it is dual_use or repurpose"))
            res[rid] = "dual_use" if w == "either" else w
            continue
        ok = g in ("dual_use", "repurpose") if w == "either" else g == w
        if not ok:
            out.append(Breach("mode", f"safe room {rid}", f"is converted in mode {g!r} but the inputs say {w!r}"))
        res[rid] = g if ok else w
    return pd.Series(res, dtype=object)


def _check_relocations(st: Station, plan: dict, demand: pd.DataFrame, chosen: list[str], p: Parameters,  # noqa: C901  debt: issue 16 (complexity 22)
                       out: list[Breach]) -> pd.DataFrame:
    """The plan's `relocations[]` against the inputs; returns the occupancy after the moves (persons).

    Rules (docs/model.md, "Conversion modes and relocation"): every converted room in
    `repurpose` mode sends out exactly its residents, no other room sends anyone; in every
    scenario the moved residents present add up to the source's occupants and each move's
    present count is at most its residents; no room ends above its beds; nobody moves into a
    converted repurposed room; the total is within `max_displaced` and equals
    `totals.displaced_residents`. Coverage, walks, queues and capacities are then checked on the
    occupancy after the moves (the callers' checks), so relocated residents must be sheltered
    where they now live, in every scenario.
    """
    rows = plan.get("relocations") or []
    scen = list(demand.columns)
    try:
        modes = room_modes(st)
        chosen_mode = {r.get("room_id"): r.get("mode") for r in plan.get("safe_rooms") or [] if isinstance(r, dict)}
        modes = modes.where(modes != "either", modes.index.map(lambda r: chosen_mode.get(r) or "either"))
        beds = room_beds(st)
    except InputError as exc:
        out.append(Breach("relocation", "inputs", str(exc)))
        return demand
    residents = home_residents(st, beds)
    existing = set(st.rooms.loc[st.rooms["existing"].astype(bool), "room_id"].astype(str))
    converted_rep = {r for r in chosen if modes.get(r) == "repurpose" and r not in existing}
    frm, to, n, pres = [], [], [], []
    if not isinstance(rows, list):
        out.append(Breach("relocation", "relocations", "is not a list of moves"))
        rows = []
    for k, r in enumerate(rows):
        if not isinstance(r, dict):
            out.append(Breach("relocation", f"relocation {k + 1}", f"is {r!r}, not a move (from_room, to_room, residents)"))
            continue
        f, t = str(r.get("from_room")), str(r.get("to_room"))
        feat = f"relocation {k + 1} ({f} -> {t})"
        m = r.get("residents")
        present = r.get("present")
        pr: dict = present if isinstance(present, dict) else {}
        if f not in residents.index or t not in residents.index:
            out.append(Breach("relocation", feat, "names a room that is not a room of the station"))
            continue
        if not (isinstance(m, int) and not isinstance(m, bool) and m > 0):
            out.append(Breach("relocation", feat, f"moves {m!r} residents: not a positive whole number"))
            continue
        ps = []
        for sc in scen:
            v = pr.get(sc, 0)
            if not (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= m):
                out.append(Breach("relocation", f"{feat} ({sc})", f"{v!r} present: not a whole number from 0 to {m}"))
                v = 0
            ps.append(int(v))
        frm.append(f)
        to.append(t)
        n.append(int(m))
        pres.append(ps)
    mv = pd.DataFrame({"from_room": frm, "to_room": to, "residents": n})
    P = np.array(pres, dtype=np.int64).reshape(len(mv), len(scen))
    sent = mv.groupby("from_room")["residents"].sum() if len(mv) else pd.Series(dtype=np.int64)
    got = mv.groupby("to_room")["residents"].sum() if len(mv) else pd.Series(dtype=np.int64)
    for rid in sorted(set(sent.index) - converted_rep):
        why = "is not converted" if rid not in chosen else f"is converted in mode {modes.get(rid)!r}, not repurpose"
        out.append(Breach("relocation", f"room {rid}", f"sends {int(sent[rid])} residents away but {why}"))
    for rid in sorted(converted_rep):
        want, have = int(residents.get(rid, 0)), int(sent.get(rid, 0))
        if want != have:
            out.append(Breach("relocation", f"room {rid}", f"is repurposed with {want} residents but {have} are "
                                                           "moved out (all of them must move)"))
    for rid in sorted(set(got.index) & converted_rep):
        out.append(Breach("relocation", f"room {rid}", "receives residents but is converted in repurpose mode"))
    for rid in sorted(got.index):
        total = int(residents.get(rid, 0)) - int(sent.get(rid, 0)) + int(got[rid])
        if total > int(beds.get(rid, 0)):
            out.append(Breach("beds", f"room {rid}", f"{total} residents after the moves, {int(beds.get(rid, 0))} beds"))
    for k, sc in enumerate(scen):
        present_out = pd.Series(P[:, k], index=mv["from_room"].to_numpy()).groupby(level=0).sum() if len(mv) \
            else pd.Series(dtype=np.int64)
        homes = {r for r in converted_rep if int(residents.get(r, 0)) > 0}   # rooms without beds keep their users
        for rid in sorted(set(present_out.index) | homes):
            want = int(demand.at[rid, sc]) if rid in homes and rid in demand.index else 0
            have = int(present_out.get(rid, 0))
            if want != have:
                out.append(Breach("relocation", f"room {rid} ({sc})", f"{want} of its residents are there in this "
                                                                      f"scenario but the moves take {have}"))
    total_moved = int(mv["residents"].sum()) if len(mv) else 0
    if p.max_displaced is not None and total_moved > p.max_displaced:
        out.append(Breach("displacement", "plan", f"moves {total_moved} residents, over the limit of {p.max_displaced}"))
    td = (plan.get("totals") or {}).get("displaced_residents")
    if td is not None and td != total_moved:
        out.append(Breach("totals", "totals.displaced_residents", f"is {td}, the relocations move {total_moved}"))
    after = demand.copy()
    for k, sc in enumerate(scen):
        if not len(mv):
            break
        o = pd.Series(P[:, k], index=mv["from_room"].to_numpy()).groupby(level=0).sum()
        i = pd.Series(P[:, k], index=mv["to_room"].to_numpy()).groupby(level=0).sum()
        after[sc] = after[sc] - o.reindex(after.index).fillna(0).astype(np.int64) + i.reindex(after.index).fillna(0).astype(np.int64)
    return after


def _recompute_costs(st: Station, chosen: list[str], safe: pd.DataFrame,
                     out: list[Breach], modes: pd.Series | None = None) -> tuple[pd.Series, pd.Series]:
    """(cost in currency, crew-days) per chosen room: recomputed with planner.costs when available,
    else the plan's cost and unknown (NaN) crew-days."""
    plan_cost = pd.Series(num(safe["cost"]) if len(safe) else np.zeros(0), index=safe.index, dtype=float)
    existing = pd.Series(st.rooms["existing"].to_numpy(dtype=bool), index=st.rooms["room_id"].astype(str).to_numpy())
    existing = existing[~existing.index.duplicated()]
    try:
        from planner.costs import site_costs
        from planner.sites import candidate_sites
    except ImportError:
        costs = plan_cost.copy()
        crew_days = pd.Series(np.nan, index=plan_cost.index)
    else:
        if chosen:
            sites = candidate_sites(st)
            sites.index = sites.index.astype(str)
            if modes is not None and "mode" in sites.columns:   # the modes the plan chose for `either` rooms
                sites["mode"] = modes.reindex(sites.index).fillna(sites["mode"]).to_numpy(dtype=object)
            table = site_costs(sites, st)
            table.index = table.index.astype(str)
            costs = table["total_cost"].reindex(chosen)
            crew_days = (table["crew_days"] if "crew_days" in table.columns
                         else pd.Series(np.nan, index=table.index)).reindex(chosen).astype(float)
            unknown = costs.isna()
            costs[unknown] = plan_cost[unknown]
        else:
            costs = pd.Series(dtype=float)
            crew_days = pd.Series(dtype=float)
    costs = costs.astype(float)
    is_existing = existing.reindex(costs.index).fillna(False).to_numpy(dtype=bool)
    costs[is_existing] = 0.0
    crew_days[is_existing] = 0.0
    for rid in chosen:
        pc = plan_cost.get(rid, np.nan)
        if not (np.isfinite(pc) and abs(pc - costs[rid]) <= MONEY_TOLERANCE + 1e-9 * abs(costs[rid])):
            out.append(Breach("cost", f"safe room {rid}",
                              f"costs {pc:,.2f} in the plan, the cost model gives {costs[rid]:,.2f}"))
    return costs.fillna(0.0), crew_days


def _check_phases(safe: pd.DataFrame, costs: pd.Series, crew_days: pd.Series, rinfo: pd.DataFrame,
                  p: Parameters, out: list[Breach]) -> None:
    """Declared phases: new rooms per phase (max_rooms), crew time (crews x max_days, one room
    worked by at most crews_per_room_max crews), cumulative budget. Phase K+1 = unlimited rest."""
    phase = pd.Series(pd.to_numeric(safe["phase"], errors="coerce").to_numpy(), index=safe.index)
    for rid in phase.index[phase.isna() | (phase < 1) | (phase != phase.round())]:
        out.append(Breach("phase", f"safe room {rid}", f"has phase {safe.at[rid, 'phase']!r}, not a phase number"))
    phase = phase.fillna(len(p.phases) + 1)
    new_room = ~rinfo["existing"].reindex(phase.index).fillna(False).astype(bool)
    for k, ph in enumerate(p.phases, start=1):
        new = phase.index[(phase == k) & new_room]
        if ph.max_rooms is not None and len(new) > ph.max_rooms:
            out.append(Breach("phase", ph.name, f"converts {len(new)} rooms, more than its max_rooms {ph.max_rooms}"))
        if ph.max_days is not None and len(new):
            c = crew_days.reindex(new)
            if c.notna().all():
                crews = ph.crews if ph.crews is not None else p.crews
                per_room = min(getattr(p, "crews_per_room_max", 1), crews)
                if c.sum() > crews * ph.max_days + 1e-6:
                    out.append(Breach("phase", ph.name, f"needs {c.sum():.2f} crew-days, more than {crews} crews x "
                                                        f"{ph.max_days:g} days"))
                if c.max() > per_room * ph.max_days + 1e-6:
                    out.append(Breach("phase", f"{ph.name} room {c.idxmax()}",
                                      f"needs {c.max():.2f} crew-days, more than {per_room} crew(s) can do in "
                                      f"{ph.max_days:g} days"))
        if ph.budget is not None:
            spent = float(costs.reindex(phase.index[phase <= k]).sum())
            if spent > ph.budget + MONEY_TOLERANCE:
                out.append(Breach("phase-budget", ph.name, f"rooms of phases 1..{k} cost {spent:,.2f} {p.currency}, "
                                                          f"over the phase's cumulative budget {ph.budget:,.2f}"))


def _check_walks(station: Station, reach: ReachTable, out: list[Breach]) -> None:
    """Occupied rooms with a door but points with no finite walk inside the room to a door: the
    plan cannot route their people (the walk model, not the plan, is at fault: the inputs need fixing)."""
    if "leg_s" not in getattr(reach, "rooms", pd.DataFrame()).columns:
        return
    stuck = unwalkable_rooms(station, reach)
    if not len(stuck):
        return
    d = station.demand()
    occupied = (d.to_numpy() > 0).any(axis=1) if d.shape[1] else np.zeros(len(d), bool)
    occ = pd.Series(occupied, index=d.index.astype(str))
    occ = occ[~occ.index.duplicated()]
    for r in stuck.itertuples(index=False):
        if bool(occ.get(str(r.room_id), False)):
            out.append(Breach("walk-infinite", f"room {r.room_id}" + (f" ({r.name})" if r.name else ""),
                              "has points with no finite walk inside the room to any of its "
                              f"{r.n_doors} door(s): its residents cannot be routed to a safe room"))


def _late_arrivals(plan: dict, chosen: set, out: list[Breach]) -> pd.DataFrame:
    """The unsheltered rows that name a safe room to go to anyway (safe_room_id, scenario, n persons);
    a breach for a safe room that is not one of the plan's."""
    u = frame(plan.get("unsheltered"), ["room_id", "scenario", "residents", "safe_room_id"])
    u = u[u["safe_room_id"].notna() & (u["safe_room_id"].astype(str) != "")].copy()
    u["safe_room_id"] = u["safe_room_id"].astype(str)
    u["scenario"] = u["scenario"].astype(str)
    n = num(u["residents"])
    u["n"] = np.where(np.isfinite(n), np.maximum(n, 0), 0.0)
    bad = ~u["safe_room_id"].isin(chosen)
    for r in u[bad].itertuples(index=False):
        out.append(Breach("assignment", f"room {r.room_id} -> {r.safe_room_id} ({r.scenario})",
                          "unsheltered residents are sent to a room that is not among the plan's safe rooms"))
    return u.loc[~bad, ["safe_room_id", "scenario", "n"]]
