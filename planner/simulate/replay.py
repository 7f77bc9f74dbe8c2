"""`simulate_plan`: replay a plan in JuPedSim and aggregate the runs (see `planner.simulate`)."""

from __future__ import annotations

import dataclasses
import logging
import math
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Sequence

import numpy as np
import pandas as pd

from planner.errors import InputError
from planner.check import plan_parameters
from planner.estimate import estimated_arrivals
from planner.station import Station
from planner.simulate.settings import (
    CURVE_MARKS_S, SPEED_MAX_M_S, SPEED_MIN_M_S, SimSettings, SimulationResult, _require_jupedsim,
)
from planner.simulate.layout import Layout, _Group, _groups, build_layout
from planner.simulate.run import _CTX, _Job, _forked, _run

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------ the public function
def simulate_plan(station: Station, plan: dict, *, scenarios: Sequence[str] | None = None,
                  decks: Sequence[int] | None = None, model: str = "cfsm", seeds: int = 3,
                  speed_sd: float = 0.0, reaction_s: float | None = None, speed: float | None = None,
                  workers: int = 2, settings: SimSettings | None = None) -> SimulationResult:
    """Replay a plan in JuPedSim and measure who is inside a safe room when.

    Parameters
    ----------
    station : Station
        The station the plan was made for.
    plan : dict
        A plan (plan.json content): its `assignments` (room_id, scenario, safe_room_id,
        residents, walk_s, optional predicted_s) are simulated.
    scenarios : sequence of str, optional
        Occupancy scenarios to simulate (default: every scenario of the plan).
    decks : sequence of int, optional
        Only walkers whose room and safe room lie on these decks (and whose route stays on
        them); the others are counted as `excluded`. Default: every deck, coupled.
    model : {"cfsm", "sfm"}
        Collision-free speed model (default) or social force model.
    seeds : int
        Runs per scenario with seeds 0 .. seeds-1 (placement and speeds); the worst is reported.
    speed_sd : float
        Standard deviation of the desired speed (m/s); 0 = everyone at the mean speed.
    reaction_s : float, optional
        Seconds between the alarm and the first step (default: the station's `reaction_s`).
    speed : float, optional
        Mean desired speed (m/s; default: the station's `walk_speed_m_s`).
    workers : int
        Processes running scenario x seed jobs (1 = in this process).
    settings : SimSettings, optional
        Every setting at once (the keyword options above are then ignored).

    Returns
    -------
    SimulationResult
    """
    if settings is None:
        params = plan_parameters(plan, station.params)
        settings = SimSettings.from_params(params, model=model, seeds=seeds, speed_sd_m_s=speed_sd,
                                           reaction_s=reaction_s, speed_m_s=speed)
    else:
        settings.validate()
    jps = _require_jupedsim()
    scen_all = list(dict.fromkeys(str(s) for s in pd.DataFrame(plan.get("assignments", []))
                                  .get("scenario", pd.Series(dtype=str)))) or list(station.scenarios)
    if scenarios:
        bad = [s for s in scenarios if s not in station.scenarios]
        if bad:
            raise InputError("--scenario", ", ".join(bad), "is not an occupancy scenario of the station",
                             f"use one of {', '.join(station.scenarios)}")
        scen = list(scenarios)
    else:
        scen = [s for s in station.scenarios if s in scen_all] or list(station.scenarios)
    layout = build_layout(station, settings)
    if decks:
        known = set(int(d) for d in np.unique(layout.room_deck))
        bad_d = [d for d in decks if int(d) not in known]
        if bad_d:
            raise InputError("--deck", ", ".join(map(str, bad_d)), "is not a deck of the station",
                             f"use one of {', '.join(map(str, sorted(known)))}")
    deck_set = set(int(d) for d in decks) if decks else None
    a = pd.DataFrame(plan.get("assignments", []))
    if a.empty:
        a = pd.DataFrame(columns=["room_id", "scenario", "safe_room_id", "residents", "walk_s"])
    # residents the plan cannot bring in in time but sends somewhere anyway walk too (planner.latecomers)
    late = pd.DataFrame([u for u in plan.get("unsheltered", []) or [] if u.get("safe_room_id")])
    a = pd.concat([a.assign(late=False), late.reindex(columns=[*a.columns.drop("late", errors="ignore"), "late"])
                   .assign(late=True)], ignore_index=True) if len(late) else a.assign(late=False)
    a = a[a["scenario"].astype(str).isin(scen)].copy()
    a["room_id"] = a["room_id"].astype(str)
    a["safe_room_id"] = a["safe_room_id"].astype(str)
    a["residents"] = pd.to_numeric(a["residents"]).astype(int)
    pos = layout.index()
    unknown = sorted((set(a["room_id"]) | set(a["safe_room_id"])) - set(pos))
    if unknown:
        raise InputError("plan.json", "assignments", f"name rooms not in the station: {', '.join(unknown[:5])}",
                         "simulate the plan with the station it was made for")
    a["r"] = a["room_id"].map(pos)
    a["s"] = a["safe_room_id"].map(pos)
    _predictions(station, plan, a)
    demand = station.demand()
    room_deck = pd.Series(layout.room_deck, index=layout.room_ids)
    jobs: list[_Job] = []
    heads: dict[str, dict[str, Any]] = {}
    group_rows: dict[str, pd.DataFrame] = {}
    for sc in scen:
        rows = a[a["scenario"].astype(str) == sc]
        if deck_set:
            rows = rows[rows["room_id"].map(room_deck).isin(deck_set)]
            total = int(demand.loc[room_deck[room_deck.isin(deck_set)].index, sc].sum()) if sc in demand else 0
        else:
            total = int(demand[sc].sum()) if sc in demand else int(rows["residents"].sum())
        sip = rows[rows["r"] == rows["s"]]
        wk = rows[rows["r"] != rows["s"]].reset_index(drop=True)
        groups = _groups(layout, wk)
        order = {(g.room, g.safe): g for g in groups}
        kept_groups, kept, excluded = [], [], 0
        for row in wk.itertuples(index=False):
            g = order[(int(row.r), int(row.s))]
            g = _Group(g.room, g.safe, int(row.residents), g.options, late=bool(row.late))
            if deck_set:
                g.options = [o for o in g.options
                             if all(int(layout.room_deck[st_[2]]) in deck_set for st_ in o[2])]
                if not g.options or int(layout.room_deck[g.safe]) not in deck_set:
                    excluded += g.residents
                    continue
            kept_groups.append(g)
            kept.append(row)
        assigned = int(sip["residents"].sum()) + int(wk["residents"].sum())
        late_n = int(wk.loc[wk["late"].astype(bool), "residents"].sum())
        heads[sc] = {"residents": total - excluded, "sheltered_in_place": int(sip["residents"].sum()),
                     "walkers": int(wk["residents"].sum()) - excluded, "excluded": excluded,
                     "unsheltered": max(0, total - assigned) + late_n, "late_by_plan": late_n,
                     "groups": kept_groups}
        group_rows[sc] = pd.DataFrame(kept, columns=wk.columns) if kept else wk.iloc[0:0]
        routable = [g for g in kept_groups if g.options]
        for seed in range(settings.seeds):
            jobs.append(_Job(scenario=sc, seed=seed, groups=routable))
    _CTX["layout"] = layout
    _CTX["settings"] = settings
    results = _map_jobs(jobs, workers)
    return _aggregate(station, plan, layout, settings, scen, heads, group_rows, jobs, results, jps.__version__)


def _predictions(station: Station, plan: dict, a: pd.DataFrame) -> None:
    """Set `planned_s` (the conservative planned time; a plan from before that field carried it as
    `predicted_s`) and `predicted_s` (the estimate of what the simulation shows, recomputed from the
    station, `planner.estimate`; the plan's figure, else `walk_s`, where there is none) in `a`."""
    a["predicted_s"] = pd.to_numeric(a["predicted_s"], errors="coerce") if "predicted_s" in a else np.nan
    a["predicted_s"] = a["predicted_s"].fillna(pd.to_numeric(a.get("walk_s"), errors="coerce"))
    a["planned_s"] = (pd.to_numeric(a["planned_s"], errors="coerce") if "planned_s" in a else np.nan)
    a["planned_s"] = a["planned_s"].fillna(a["predicted_s"])
    mine = ~a["late"].astype(bool).to_numpy()
    if mine.any():
        timed = dataclasses.replace(station, params=plan_parameters(plan, station.params))
        est = estimated_arrivals(timed, a[mine].drop(columns=["r", "s", "late"]))
        a.loc[mine, "predicted_s"] = np.where(np.isfinite(est), est, a.loc[mine, "predicted_s"].to_numpy())


def _map_jobs(jobs: list[_Job], workers: int) -> list[dict[str, Any]]:
    """Run the jobs, in forked worker processes when asked and possible (same results, same order)."""
    workers = max(1, min(int(workers), len(jobs)))
    if workers > 1 and "fork" in mp.get_all_start_methods():
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as ex:
                return list(ex.map(_forked, jobs))
        except Exception as exc:  # a broken pool: do the work here
            logger.warning("simulation workers failed (%s); running in this process", exc)
    return [_run(j) for j in jobs]


# ------------------------------------------------------------------------ aggregation
def _curve(times: np.ndarray, base: int, total: int, t_end: float) -> list[list[float]]:
    """[[t_s, share], ...] every second from 0 to the last arrival (or t_end), rounded."""
    if total <= 0:
        return [[0.0, 1.0]]
    done_t = np.sort(times[np.isfinite(times)])
    last = float(done_t[-1]) if len(done_t) else 0.0
    horizon = max(last, t_end)
    grid = np.arange(0.0, math.ceil(horizon) + 1.0, 1.0)
    counts = np.searchsorted(done_t, grid, side="right")
    return [[float(t), round((base + int(c)) / total, 6)] for t, c in zip(grid, counts)]


def _aggregate(station: Station, plan: dict, layout: Layout, st: SimSettings, scen: list[str],
               heads: dict[str, dict], group_rows: dict[str, pd.DataFrame], jobs: list[_Job],
               results: list[dict], version: str) -> SimulationResult:
    scenarios: dict[str, dict[str, Any]] = {}
    assignments: list[dict[str, Any]] = []
    late_rooms: list[dict[str, Any]] = []
    frames = []
    for sc in scen:
        h = heads[sc]
        runs = [(j, r) for j, r in zip(jobs, results) if j.scenario == sc]
        all_groups: list[_Group] = h["groups"]
        routable = [g for g in all_groups if g.options]
        no_route = sum(g.residents for g in all_groups if not g.options)
        total = h["residents"]
        sip = h["sheltered_in_place"]
        per_seed: list[dict[str, Any]] = []
        for j, r in runs:
            arr = r["arrival_s"] + st.reaction_s
            arr = np.where(np.isfinite(arr), arr, np.inf)
            arr_all = np.concatenate([arr, np.full(int(r["unplaced"].sum()) - r["placed_failed"] + no_route, np.inf)])
            within = int((arr_all <= st.reach_s + 1e-9).sum())
            fin = arr_all[np.isfinite(arr_all)]
            per_seed.append({"seed": j.seed, "share_within_reach": round((sip + within) / total, 6) if total else 1.0,
                             "last_arrival_s": round(float(fin.max()), 2) if len(fin) else 0.0,
                             "deadlocked": int(r["never_arrived"]), "unplaced": int(r["unplaced"].sum()),
                             "no_route": no_route, "end_s": round(float(r["end_s"]), 2),
                             "stalled_end": bool(r["stuck_end"]), "tile_transfers": int(r["transfers"]),
                             "cpu_s": round(float(r["cpu_s"]), 1), "_arr": arr_all})
            g = r["group"]
            gr = routable
            frames.append(pd.DataFrame({
                "scenario": sc, "seed": j.seed,
                "room_id": [layout.room_ids[gr[i].room] for i in g],
                "safe_room_id": [layout.room_ids[gr[i].safe] for i in g],
                "late_by_plan": [gr[i].late for i in g],
                "group": g, "speed_m_s": r["speed_m_s"], "arrival_s": arr,
                "wait_own_door_s": r["waits"][:, 0], "wait_corridor_s": r["waits"][:, 1],
                "wait_safe_door_s": r["waits"][:, 2], "wait_stairs_s": r["waits"][:, 3],
                "end_x_m": np.where(np.isfinite(arr), np.nan, r["end_xy"][:, 0]),
                "end_y_m": np.where(np.isfinite(arr), np.nan, r["end_xy"][:, 1]),
                "end_step": r["end_step"]}))
        worst: dict[str, Any] | None = min(per_seed, key=lambda d: (d["share_within_reach"], -d["last_arrival_s"])) if per_seed else None
        curve = _curve(worst["_arr"], sip, total, st.reach_s) if worst else [[0.0, 1.0]]
        within_s = {}
        for mark in CURVE_MARKS_S:
            n_in = int((worst["_arr"] <= mark + 1e-9).sum()) if worst else 0
            within_s[str(int(mark))] = round((sip + n_in) / total, 6) if total else 1.0
        scenarios[sc] = {
            "residents": total, "agents": h["walkers"], "sheltered_in_place": sip,
            "unsheltered": h["unsheltered"], "late_by_plan": h["late_by_plan"], "excluded": h["excluded"],
            "no_route": no_route,
            "unplaced": worst["unplaced"] if worst else 0,
            "share_within_reach": worst["share_within_reach"] if worst else 1.0,
            "share_walkers_within_reach": (round(float((worst["_arr"] <= st.reach_s + 1e-9).sum()) / len(worst["_arr"]), 6)
                                           if worst and len(worst["_arr"]) else 1.0),
            "within_s": within_s,
            "last_arrival_s": worst["last_arrival_s"] if worst else 0.0,
            "curve": curve, "deadlocked": worst["deadlocked"] if worst else 0,
            "seeds": [{k: v for k, v in d.items() if k != "_arr"} for d in per_seed],
            "worst_seed": worst["seed"] if worst else None,
        }
        # per assignment, over all seeds
        rows = group_rows[sc]
        mine = [f for f in frames if len(f) and f["scenario"].iloc[0] == sc]
        ag = pd.concat(mine) if mine else pd.DataFrame()
        stats = {}
        if len(ag):
            fin = ag.assign(fin=np.isfinite(ag["arrival_s"]))
            grp = fin.groupby(["room_id", "safe_room_id", "late_by_plan"])
            stats = {k: v for k, v in zip(grp.groups.keys(), zip(
                grp["arrival_s"].apply(lambda s: s[np.isfinite(s)].min() if np.isfinite(s).any() else None),
                grp["arrival_s"].apply(lambda s: s[np.isfinite(s)].median() if np.isfinite(s).any() else None),
                grp["arrival_s"].apply(lambda s: s[np.isfinite(s)].max() if np.isfinite(s).any() else None),
                grp["fin"].apply(lambda s: int((~s).sum()))))}
        for row in rows.itertuples(index=False):
            key = (row.room_id, row.safe_room_id, bool(row.late))
            first, med, last, never = stats.get(key, (None, None, None, int(row.residents) * st.seeds))
            rec = {"room_id": row.room_id, "scenario": sc, "safe_room_id": row.safe_room_id,
                   "residents": int(row.residents), "predicted_s": _r(row.predicted_s),
                   "planned_s": _r(row.planned_s),
                   "walk_s": _r(getattr(row, "walk_s", None)),
                   "sim_first_s": _r(first), "sim_median_s": _r(med), "sim_last_s": _r(last),
                   "deadlocked": int(never), "seeds": st.seeds, "late_by_plan": bool(row.late)}
            assignments.append(rec)
            if never or (last is not None and last > st.reach_s + 1e-9):
                sub = ag[(ag["room_id"] == row.room_id) & (ag["safe_room_id"] == row.safe_room_id)
                         & (ag["late_by_plan"] == bool(row.late))] if len(ag) else ag
                late = sub[~(sub["arrival_s"] <= st.reach_s + 1e-9)] if len(sub) else sub
                wsum = {c: float(late[col].mean()) if len(late) else 0.0 for c, col in (
                    ("own door", "wait_own_door_s"), ("corridor", "wait_corridor_s"),
                    ("safe-room door", "wait_safe_door_s"), ("stairs", "wait_stairs_s"))}
                cause = "stall" if never else max(wsum, key=lambda c: wsum[c])
                late_rooms.append({"room_id": row.room_id, "scenario": sc, "safe_room_id": row.safe_room_id,
                                   "late_s": None if never else _r(last - st.reach_s), "cause": cause,
                                   "late_agents": int(len(late)), "wait_s": {k: round(v, 1) for k, v in wsum.items()},
                                   "late_by_plan": bool(row.late)})
        scenarios[sc]["prediction"] = _prediction_stats([x for x in assignments
                                                         if x["scenario"] == sc and not x["late_by_plan"]])
    late_rooms.sort(key=lambda d: (d["late_s"] is not None, -(d["late_s"] or 0.0)))
    params = dict(st.to_dict(), engine=f"JuPedSim {version}", station=station.title,
                  plan_created=plan.get("created"), rooms=len(layout.room_ids),
                  tiles=len(layout.tiles), doors=int(layout.n_doors), vertical_links=len(layout.link_ids),
                  speed_clip_m_s=[SPEED_MIN_M_S, SPEED_MAX_M_S])
    agents = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return SimulationResult(scenarios=scenarios, assignments=assignments, late_rooms=late_rooms,
                            parameters=params, agents=agents)


def _prediction_stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How the plan's per-assignment prediction compares with the simulated last arrival (issue 17's
    targets): the share of assignments whose last arrival is predicted within 5 % (of the simulated) or
    2 s, the share
    simulated later than predicted by more than 5 % / 10 s, and those predicted more than 5 s early."""
    pairs = [(float(r["predicted_s"]), float(r["sim_last_s"]) if r["sim_last_s"] is not None else math.inf)
             for r in rows if r.get("predicted_s") is not None]
    if not pairs:
        return {"assignments": 0}
    p = np.array([a for a, _ in pairs])
    q = np.array([b for _, b in pairs])
    close = np.abs(q - p) <= np.maximum(0.05 * q, 2.0)
    return {"assignments": len(pairs), "share_within_5pct_or_2s": round(float(close.mean()), 4),
            "share_late_over_5pct": round(float((q > 1.05 * p).mean()), 4),
            "share_late_over_10s": round(float((q > p + 10.0).mean()), 4),
            "predicted_early_over_5s": int((q > p + 5.0).sum()),
            "median_sim_minus_predicted_s": _r(np.median((q - p)[np.isfinite(q)]) if np.isfinite(q).any() else None)}


def _r(v: Any, nd: int = 2) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return round(f, nd) if math.isfinite(f) else None
