"""Simulation in the loop: plan, simulate, tighten the model where the simulation is late, plan again.

`verify_plan` (the engine of `planner propose --verify`, docs/verification.md) repeats, at most
`verify_rounds` times:

1. plan the station (`planner.pipeline.plan_station`, the normal solve and its independent
   check) with the margins measured so far (none at first);
2. replay the plan in the pedestrian simulator (`planner.simulate.simulate_plan`, `verify_seeds`
   seeds, the worst counts) and take each scenario's share of residents inside their safe room
   within `reach_s`;
3. stop when every scenario reaches `verify_target_share`;
4. otherwise find the assignments whose last resident arrived after `reach_s` (or never) and
   give each such (room, safe room) pair a margin: what the simulation measured beyond the
   plan's own conservative timing (`sim_last_s - planned_s`, already including earlier margins;
   not the estimate `predicted_s`, which would tighten more than the planned time needs) plus `verify_safety_s`; a pair where someone never arrived gets `reach_s` (it is
   no longer used). Margins only grow, so the loop cannot cycle.

It stops, and says why, when the target is met; when the plan itself leaves residents
unsheltered (e.g. their own room cannot empty in time) so that the target is out of reach
whatever the simulation shows, once every scenario's simulated share has reached what the plan
shelters (until then it tightens towards that share: the part of the target the plan can meet);
when the margins cost coverage (first, the new margins of the rooms a re-plan would leave
without a safe room in time are dropped and the station is planned with the others: those rooms
stay as the previous round planned them, and their pairs are not tightened again; only when that
does not keep the coverage, or every new margin is such a margin, does the loop stop); when residents who never got out of their own room in the
simulation (stuck agents: no safe room changes that) alone keep a scenario below the target;
when the margins leave residents without a safe room in time;
when nothing late remains that a margin could move (residents without a route, unplaced); or
when the rounds run out. It never claims success unless the simulated shares met the target.

Margins are per (room, safe room) pair: a pair margin tightens only what was measured (a
room-wide margin would also forbid safe rooms the simulation never tried). `planner.margins`
also accepts room-wide and safe-room-wide rows, which the model and the checker apply alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.errors import InfeasibleError, PlannerError
from planner.margins import margin_rows, margin_table, merge_margins
from planner.model import SolveOptions
from planner.pipeline import PlanRun, plan_station, unsheltered_summary
from planner.progress import log, stage
from planner.simulate import SimulationResult, simulate_plan
from planner.station import Station

logger = logging.getLogger(__name__)

__all__ = ["VerifyResult", "verify_plan", "late_margins", "own_room_stalls", "sheltered_share"]


@dataclass
class VerifyResult:
    """What the loop did (plain data).

    - `run`: the planning run whose plan is proposed (its plan.json carries `margins` and
      `verification`); `simulation`: that plan's simulation.
    - `met`: every scenario's simulated share within `reach_s` (worst seed) reached `target`.
    - `reason`: why the loop stopped, in words.
    - `rounds`: one dict per plan made: round, shares {scenario: share}, last_arrival_s
      {scenario: s}, late (assignments late or never arriving), new_margins (pairs tightened
      after it), added_s (seconds of those margins, max), cost, safe_rooms, simulated (False for
      a plan the loop stopped at before simulating it).
    - `margins`: every margin measured (`planner.margins` table), `chosen`: the round proposed.
    """

    run: PlanRun
    simulation: SimulationResult
    met: bool
    reason: str
    target: float
    rounds: list[dict[str, Any]]
    margins: pd.DataFrame
    chosen: int
    settings: dict[str, Any] = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        """Plain-language lines for the terminal and the workbook's Summary."""
        s = self.settings
        reach = float(s.get("reach_s", 60.0))
        out = [f"Simulation in the loop: target {self.target:.1%} of every scenario's residents inside their safe "
               f"room within {reach:.0f} s (JuPedSim {s.get('model', 'cfsm')}, {s.get('seeds')} seed(s), worst seed"
               + (f", speeds N({s.get('speed_m_s')}, {s.get('speed_sd_m_s')}) m/s" if s.get("speed_sd_m_s") else "")
               + f"; margin = measured lateness + {s.get('safety_s', 0):g} s safety)."]
        simulated = [r for r in self.rounds if r["simulated"]]
        out.append(("Met" if self.met else "NOT met") + f" after {len(simulated)} simulated round(s) "
                   f"({len(self.rounds)} plan(s) made); the proposal is round {self.chosen}'s plan. {self.reason}")
        for r in self.rounds:
            shares = ", ".join(f"{sc} {v:.1%}" for sc, v in r["shares"].items()) if r["simulated"] else "not simulated"
            line = (f"Round {r['round']}: {r['safe_rooms']} safe room(s), cost {r['cost']:,.0f}; "
                    f"margins planned with: {r['margins_in']} pair(s); simulated share within {reach:.0f} s: {shares}")
            if r["simulated"]:
                line += f"; {r['late']} late assignment(s)"
            if r.get("new_margins"):
                line += (f"; tightened {r['new_margins']} (room, safe room) pair(s) of {r['new_rooms']} room(s) and "
                         f"{r['new_sites']} safe room(s) ({r.get('new_doors', r['new_sites'])} safe-room door(s)) by "
                         f"{r['added_min_s']:.1f} to {r['added_s']:.1f} s")
            if r.get("dropped_margins"):
                line += (f"; {r['dropped_margins']} measured margin(s) of {r['dropped_rooms']} room(s) were not planned "
                         "with: they would have left residents without a safe room in time")
            out.append(line + ".")
        m = self.run.margins
        if m is not None and len(m):
            out.append(f"The proposed plan holds {len(m)} margin(s): {m['room_id'].nunique()} room(s), "
                       f"{m['site_id'].nunique()} safe room(s), {m['extra_s'].min():.1f} to {m['extra_s'].max():.1f} s "
                       "added to their predicted arrival (plan.json margins; the checker enforces them).")
        final = self.simulation.scenarios
        out.append("Final simulated share within the reach time: "
                   + ", ".join(f"{sc} {v['share_within_reach']:.1%} (last arrival {v['last_arrival_s']:.1f} s)"
                               for sc, v in final.items()) + ".")
        return out

    def to_dict(self) -> dict[str, Any]:
        """plan.json `verification`."""
        return {"target_share": self.target, "met": self.met, "stop_reason": self.reason,
                "chosen_round": self.chosen, "rounds": self.rounds, "settings": self.settings,
                "measured_margins": margin_rows(self.margins), "summary": self.summary_lines()}


def sheltered_share(plan: dict) -> dict[str, float]:
    """Per scenario, the share of residents the plan assigns to a safe room (plan.json totals): no
    simulation can secure more."""
    out = {}
    for sc, v in ((plan.get("totals") or {}).get("scenarios") or {}).items():
        res = float(v.get("residents", 0) or 0)
        out[str(sc)] = float(v.get("sheltered", 0)) / res if res > 0 else 1.0
    return out


def own_room_stalls(sim: SimulationResult | dict) -> pd.DataFrame:
    """Residents who never arrived and never waited anywhere but inside their own room: they did not
    get out of it in the simulation (an agent stuck at its room's door or in a corner), whatever safe
    room they were sent to. One row per (scenario, room_id, safe_room_id): `agents` over all seeds
    and `worst_seed_agents` in the scenario's worst seed. From the per-agent table when there is one
    (`SimulationResult.agents`), else from `late_rooms` (a stall whose residents waited only at their
    own door)."""
    cols = ["scenario", "room_id", "safe_room_id", "agents", "worst_seed_agents"]
    if isinstance(sim, SimulationResult) and len(sim.agents):
        ag = sim.agents
        never = ~np.isfinite(ag["arrival_s"].to_numpy(dtype=float))
        if "late_by_plan" in ag.columns:
            never &= ~ag["late_by_plan"].to_numpy(dtype=bool)
        elsewhere = ag[["wait_corridor_s", "wait_safe_door_s", "wait_stairs_s"]].to_numpy(dtype=float).sum(axis=1)
        stuck = ag[never & (elsewhere <= 0.0)]
        if not len(stuck):
            return pd.DataFrame(columns=cols)
        worst = {sc: v.get("worst_seed") for sc, v in sim.scenarios.items()}
        stuck = stuck.assign(worst=[int(s == worst.get(sc)) for sc, s in zip(stuck["scenario"], stuck["seed"])])
        g = stuck.groupby(["scenario", "room_id", "safe_room_id"])
        return pd.DataFrame({"agents": g.size(), "worst_seed_agents": g["worst"].sum()}).reset_index()[cols]
    d = sim.to_dict() if isinstance(sim, SimulationResult) else sim
    rows = [{"scenario": r["scenario"], "room_id": r["room_id"], "safe_room_id": r["safe_room_id"],
             "agents": int(r.get("late_agents") or 0), "worst_seed_agents": int(r.get("late_agents") or 0)}
            for r in d.get("late_rooms", []) if r.get("cause") == "stall" and r.get("late_s") is None
            and not r.get("late_by_plan")
            and sum(float(v) for k, v in (r.get("wait_s") or {}).items() if k != "own door") <= 0.0]
    return pd.DataFrame(rows, columns=cols)


def late_margins(sim: SimulationResult | dict, reach_s: float, safety_s: float, round_no: int,
                 plan: dict | None = None) -> pd.DataFrame:
    """New margins for the assignments the simulation found late (`planner.margins` table).

    Per (room, safe room) pair over its scenarios, the largest of: simulated last arrival minus the
    plan's planned arrival (`planned_s`, margins included; `predicted_s` in a simulation of an older
    plan) plus `safety_s`, for an assignment
    whose last resident arrived after `reach_s` (seconds); `reach_s` when someone never arrived
    (deadlocked or without a route: the pair is no longer used) unless every one of them never got
    out of their own room (`own_room_stalls`: another safe room would not get them out either, so
    no margin is set for them). Provenance columns say what was measured (with the simulated `plan`,
    also the safe room's door each pair enters by)."""
    d = sim.to_dict() if isinstance(sim, SimulationResult) else sim
    causes = {(r["room_id"], r["scenario"], r["safe_room_id"]): r["cause"] for r in d.get("late_rooms", [])}
    stalls = own_room_stalls(sim)
    doors = {(str(a["room_id"]), str(a["safe_room_id"])): str(a.get("door_id") or "")
             for a in (plan or {}).get("assignments") or []}
    in_room = {(r.scenario, r.room_id, r.safe_room_id): int(r.agents) for r in stalls.itertuples(index=False)}
    rows = []
    for a in d.get("assignments", []):
        if a.get("late_by_plan"):      # unsheltered by the plan, sent somewhere anyway: no pair to tighten
            continue
        last, never = a.get("sim_last_s"), int(a.get("deadlocked") or 0)
        never -= min(never, in_room.get((a["scenario"], a["room_id"], a["safe_room_id"]), 0))
        if not never and (last is None or last <= reach_s + 1e-9):
            continue
        pred = a.get("planned_s", a.get("predicted_s"))      # the conservative time the margin adds to
        pred = float(pred) if pred is not None else float(a.get("walk_s") or 0.0)
        if never:
            extra, measured = float(reach_s), np.nan
        else:
            measured = float(last) - pred
            extra = max(0.0, measured) + float(safety_s)
        rows.append({"room_id": str(a["room_id"]), "site_id": str(a["safe_room_id"]), "extra_s": extra,
                     "round": round_no, "scenario": str(a["scenario"]),
                     "door_id": doors.get((str(a["room_id"]), str(a["safe_room_id"])), ""),
                     "cause": causes.get((a["room_id"], a["scenario"], a["safe_room_id"]), "stall" if never else ""),
                     "predicted_s": pred, "simulated_s": np.nan if last is None else float(last),
                     "measured_s": measured, "safety_s": np.nan if never else float(safety_s)})
    if not rows:
        return margin_table(None)
    df = pd.DataFrame(rows).sort_values("extra_s", ascending=False).drop_duplicates(["room_id", "site_id"])
    return margin_table(df.reset_index(drop=True), "simulation")


def verify_plan(station: Station, *, target: float | None = None, rounds: int | None = None,
                seeds: int | None = None, safety_s: float | None = None, speed_sd: float = 0.0,
                model: str = "cfsm", workers: int = 2, margins: pd.DataFrame | None = None,
                reach: Any = None, cache_dir: str | Path | None = None,
                options: SolveOptions | None = None) -> VerifyResult:
    """Plan, simulate, tighten and plan again until every scenario meets the target (see the module).

    Parameters
    ----------
    station : Station
        The station, with its parameters (`verify_*` give the defaults of the options below).
    target : float, optional
        Share (0-1] of each scenario's residents that must be inside their safe room within
        `reach_s` in the worst seed (default `verify_target_share`).
    rounds : int, optional
        Most plans simulated (default `verify_rounds`).
    seeds : int, optional
        Simulation runs per scenario (default `verify_seeds`).
    safety_s : float, optional
        Seconds added to each measured margin (default `verify_safety_s`).
    speed_sd : float
        Spread of the simulated walking speeds (m/s; 0: everyone at `walk_speed_m_s`).
    model : {"cfsm", "sfm"}
        JuPedSim's operational model.
    workers : int
        Simulation processes.
    margins : pandas.DataFrame, optional
        Margins to start from (`planner.margins`), e.g. a previous run's.
    reach, cache_dir, options
        As for `plan_station` (the reach table is computed once and reused every round).

    Returns
    -------
    VerifyResult
        The plan to propose (the simulated round with the highest worst-scenario share, the later
        one on a tie), its simulation, whether the target was met and why the loop stopped.

    Raises
    ------
    InfeasibleError, SolverError
        The first plan cannot be made (as for `plan_station`).
    """
    p = station.params
    target = float(p.verify_target_share if target is None else target)
    rounds = int(p.verify_rounds if rounds is None else rounds)
    seeds = int(p.verify_seeds if seeds is None else seeds)
    safety = float(p.verify_safety_s if safety_s is None else safety_s)
    reach_s = float(p.reach_s)
    settings = {"target_share": target, "rounds": rounds, "seeds": seeds, "safety_s": safety, "model": model,
                "speed_m_s": float(p.walk_speed_m_s), "speed_sd_m_s": float(speed_sd), "reach_s": reach_s}
    measured = margin_table(margins)
    dropped = margin_table(None)     # margins measured but not planned with: they cost coverage
    history: list[dict[str, Any]] = []
    simulated: list[tuple[int, PlanRun, SimulationResult]] = []
    reason = ""
    with stage("plan (round 1)"):
        run = plan_station(station, reach=reach, cache_dir=cache_dir, options=options,
                           margins=measured if len(measured) else None)
    for k in range(1, rounds + 1):
        with stage(f"simulation of round {k}'s plan ({model}, {seeds} seed(s))"):
            sim = simulate_plan(station, run.plan, model=model, seeds=seeds, speed_sd=speed_sd, workers=workers)
        shares = {sc: float(v["share_within_reach"]) for sc, v in sim.scenarios.items()}
        rec = _round_record(k, run, shares, sim)
        history.append(rec)
        simulated.append((k, run, sim))
        log(f"[planner]   round {k}: " + ", ".join(f"{sc} {v:.1%}" for sc, v in shares.items())
            + f" within {reach_s:.0f} s (target {target:.1%})")
        if all(v >= target - 1e-12 for v in shares.values()):
            reason = f"Every scenario reached {target:.1%} within {reach_s:.0f} s in round {k}."
            break
        # a plan that shelters fewer than the target: tighten towards what it shelters, then say why not more
        cap = {sc: v for sc, v in sheltered_share(run.plan).items() if v < target - 1e-12}
        if cap and all(shares.get(sc, 1.0) >= min(target, cap.get(sc, target)) - 1e-12 for sc in shares):
            reason = _unreachable(cap, run.plan, station, target, k)
            break
        stuck = _stuck_beyond_target(sim, target)
        if stuck:
            reason = stuck
            break
        new = late_margins(sim, reach_s, safety, k, run.plan)
        measured_new = len(new)
        new = _without_pairs(new, dropped)
        if measured_new and not len(new):
            reason = (f"The target cannot be reached by tightening: round {k}'s late (room, safe room) pairs are the "
                      f"ones whose margins would have left residents without a safe room in time ({measured_new} "
                      f"pair(s), dropped in an earlier round); round {k}'s plan is short of {target:.1%} "
                      f"({_short_words(shares, target)}).")
            break
        if not len(new):
            sc0 = min(shares, key=lambda sc: shares[sc])
            s0 = sim.scenarios[sc0]
            reason = (f"The target cannot be reached by tightening: in scenario '{sc0}' no assignment's last resident "
                      f"arrived late, yet only {shares[sc0]:.1%} were secured within {reach_s:.0f} s "
                      f"({s0.get('no_route', 0)} without a route, {s0.get('unplaced', 0)} not placeable in their room, "
                      f"{s0.get('unsheltered', 0)} unsheltered by the plan, {s0.get('deadlocked', 0)} deadlocked).")
            break
        rec.update(new_margins=int(len(new)), new_rooms=int(new["room_id"].nunique()),
                   new_sites=int(new["site_id"].nunique()),
                   new_doors=int((new["site_id"] + "\x1f" + new["door_id"]).nunique()),
                   added_s=round(float(new["extra_s"].max()), 2),
                   added_min_s=round(float(new["extra_s"].min()), 2))
        prev = measured
        measured = merge_margins(measured, new)
        if k == rounds:
            reason = (f"The rounds ran out ({rounds}): round {k}'s plan is still short of {target:.1%} "
                      f"({_short_words(shares, target)}); {len(new)} more margin(s) were measured but not planned with.")
            break
        nxt, reason = _replan(station, run, k, measured, cache_dir, options)
        if nxt is None:
            break
        before = sheltered_share(run.plan)
        cap = _coverage_lost(before, nxt.plan, target)
        costly = new["room_id"].isin(_rooms_losing_shelter(run.plan, nxt.plan)).to_numpy()
        if cap and costly.any() and not costly.all():
            # the margins of the rooms the new plan leaves without a safe room cost coverage: plan without them
            # (those rooms stay as round k planned them) and keep tightening the rest
            dropped = merge_margins(dropped, new[costly].reset_index(drop=True))
            measured = merge_margins(prev, new[~costly].reset_index(drop=True))
            rec.update(dropped_margins=int(costly.sum()), dropped_rooms=int(new.loc[costly, "room_id"].nunique()))
            log(f"[planner]   {int(costly.sum())} margin(s) of {rec['dropped_rooms']} room(s) would leave residents "
                "without a safe room in time: planning again without them")
            again, reason = _replan(station, run, k, measured, cache_dir, options)
            if again is None:
                break
            nxt = again
            cap = _coverage_lost(before, nxt.plan, target)
        if cap:
            history.append(_round_record(k + 1, nxt, {}, None))
            reason = _unreachable(cap, nxt.plan, station, target, k + 1, margins=measured)
            break
        run = nxt
    chosen, run, sim = max(simulated, key=lambda t: (min(history[t[0] - 1]["shares"].values(), default=1.0), t[0]))
    met = all(v >= target - 1e-12 for v in history[chosen - 1]["shares"].values())
    result = VerifyResult(run=run, simulation=sim, met=met, reason=reason, target=target, rounds=history,
                          margins=measured, chosen=chosen, settings=settings)
    run.plan["verification"] = result.to_dict()
    return result


def _round_record(k: int, run: PlanRun, shares: dict[str, float], sim: SimulationResult | None) -> dict[str, Any]:
    plan = run.plan
    late = 0
    last: dict[str, float] = {}
    if sim is not None:
        late = sum(1 for a in sim.assignments if a.get("deadlocked") or
                   (a.get("sim_last_s") is not None and a["sim_last_s"] > float(sim.parameters.get("reach_s", 60.0)) + 1e-9))
        last = {sc: float(v["last_arrival_s"]) for sc, v in sim.scenarios.items()}
    return {"round": k, "simulated": sim is not None, "shares": {sc: round(v, 6) for sc, v in shares.items()},
            "last_arrival_s": last, "late": late, "margins_in": len(plan.get("margins") or []),
            "cost": float(plan["totals"]["cost"]), "safe_rooms": len(plan.get("safe_rooms") or []),
            "sheltered_share": {sc: round(v, 6) for sc, v in sheltered_share(plan).items()},
            "new_margins": 0}


def _replan(station: Station, run: PlanRun, k: int, margins: pd.DataFrame, cache_dir: str | Path | None,
            options: SolveOptions | None) -> tuple[PlanRun | None, str]:
    """Round k + 1's plan with `margins` (the reach table of `run`), or None and why it failed."""
    try:
        with stage(f"plan (round {k + 1}, {len(margins)} margin(s))"):
            return plan_station(station, reach=run.reach, cache_dir=cache_dir, options=options, margins=margins), ""
    except (InfeasibleError, PlannerError) as exc:
        return None, (f"Re-planning with the margins of round {k} failed, so the target cannot be reached with "
                      f"these margins: {exc}")


def _coverage_lost(before: dict[str, float], plan: dict, target: float) -> dict[str, float]:
    """Scenarios whose sheltered share in `plan` fell below both the target and the share `before`."""
    return {sc: v for sc, v in sheltered_share(plan).items() if v < min(target, before.get(sc, 1.0)) - 1e-12}


def _rooms_losing_shelter(old: dict, new: dict) -> set[str]:
    """Rooms with more residents unsheltered (in some scenario) in plan `new` than in plan `old`."""
    def count(plan: dict) -> dict[tuple[str, str], float]:
        out: dict[tuple[str, str], float] = {}
        for u in plan.get("unsheltered") or []:
            key = (str(u["room_id"]), str(u["scenario"]))
            out[key] = out.get(key, 0.0) + float(u.get("residents") or 0)
        return out
    was = count(old)
    return {room for (room, sc), n in count(new).items() if n > was.get((room, sc), 0.0) + 1e-9}


def _without_pairs(new: pd.DataFrame, dropped: pd.DataFrame) -> pd.DataFrame:
    """`new` without the (room, safe room) pairs of `dropped`."""
    if not len(new) or not len(dropped):
        return new
    gone = set(zip(dropped["room_id"], dropped["site_id"]))
    keep = [(r, s) not in gone for r, s in zip(new["room_id"], new["site_id"])]
    return new[np.asarray(keep, dtype=bool)].reset_index(drop=True)


def _stuck_beyond_target(sim: SimulationResult, target: float) -> str:
    """Why tightening cannot reach the target when residents who never got out of their own room in
    the simulation (`own_room_stalls`, worst seed) alone keep a scenario below it; "" otherwise."""
    st = own_room_stalls(sim)
    out = []
    for sc, v in sim.scenarios.items():
        n = int(st.loc[st["scenario"] == sc, "worst_seed_agents"].sum()) if len(st) else 0
        total = int(v.get("residents") or 0)
        if total and n and (total - n) / total < target - 1e-12:
            rooms = sorted(set(st.loc[(st["scenario"] == sc) & (st["worst_seed_agents"] > 0), "room_id"]))
            out.append(f"in scenario '{sc}' {n} of {total:,} residents never got out of their own room in the "
                       f"simulation (rooms {', '.join(rooms[:8])}{' and more' if len(rooms) > 8 else ''}), so at most "
                       f"{(total - n) / total:.1%} can be secured")
    if not out:
        return ""
    return (f"The target {target:.1%} cannot be reached by tightening the plan: " + "; ".join(out) + ". Another "
            "safe room does not get them out of their room: these are simulation stalls (agents.csv gives where "
            "they stood, end_x_m and end_y_m) or rooms whose inside does not lead to their door, to be looked at "
            "in the floor plan or the simulation, not margins.")


def _short_words(shares: dict[str, float], target: float) -> str:
    return ", ".join(f"{sc} {v:.1%}" for sc, v in shares.items() if v < target - 1e-12)


def _unreachable(cap: dict[str, float], plan: dict, station: Station, target: float, k: int,
                 margins: pd.DataFrame | None = None) -> str:
    """Why no simulation can reach the target: the plan leaves residents unsheltered (and why; with
    `margins`, the margins measured on those residents' rooms)."""
    what = ", ".join(f"'{sc}' at most {v:.1%}" for sc, v in cap.items())
    head = (f"The target {target:.1%} cannot be reached: round {k}'s plan "
            + ("(made with the margins measured so far) " if margins is not None else "")
            + f"shelters too few residents for it ({what}, even if every assigned resident arrived in time).")
    who = [ln for ln in unsheltered_summary(plan.get("unsheltered") or [], station) if ln.startswith("Cannot")]
    if margins is not None and len(margins):
        left = {str(u["room_id"]) for u in plan.get("unsheltered") or []}
        mine = margins[margins["room_id"].isin(left)]
        if len(mine):
            pairs = ", ".join(f"{r.room_id} -> {r.site_id or 'any'} {r.extra_s:.1f} s"
                              for r in mine.head(8).itertuples(index=False))
            who.append(f"The simulation measured these margins on their rooms, which leave them no safe room in "
                       f"time: {pairs}{' and more' if len(mine) > 8 else ''}.")
    return " ".join([head] + who)
