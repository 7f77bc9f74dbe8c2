"""What a run leaves for the next run on the same inputs (issue 21, "reuse between runs"; docs/performance.md).

Three kinds of entries, beside the reach-table cache (`.cache/reach` -> `.cache/reuse`), each keyed by content
(the station's input files' SHA-256, its parameters, the measured margins, the planner's version), so a stale
entry is never read for other inputs:

- **The run's final state** (`RunState`, one ``.npz`` per key, data only): the corridor rows of the plan in
  the order of their cut ids, the plan's safe rooms, its objective, how the rows were found (the corridor
  rounds' record) and the column set and simplex basis of its last LP relaxation (`LpWarm`). The next run
  on the same inputs and parameters solves once, from that plan and that basis (`solve(start=, warm=)`: the
  warm LP gives the bound in seconds), instead of a cold LP and the corridor rounds, and so ends in the same
  plan, whose what-if sheet, expected-share cost and displacement points are then read from their caches.
  The plan is still made by the optimiser and checked by the independent checker in that run.
- **The full-cover plan** (JSON; keyed without the budget and the objective): what sheltering everyone costs
  (cost, rooms, proven lower bound) and the plan.json of that plan. A what-if whose budget is below the
  bound goes straight to max-cover (`planner.pipeline.plan_station`), the notes still saying what full
  coverage costs.
- **The what-if sheet's plans** (JSON; keyed like the full-cover plan): budget, cost and safe rooms of each
  plan the proposal's Budget what-if sheet solved; a what-if at one of those budgets starts its max-cover solve
  from that plan (`nearest_sheet_plan`; a plan of a lower budget is a poor start, docs/model.md section 7).
- **The what-if sheet's LP bases** (one ``.npz``, keyed like the sheet): the `LpWarm` of each budget the sheet
  solved. A what-if's first solve starts its LP from the basis of the nearest budget (`nearest_sheet_basis`):
  the same model but for the budget row's bound and the sheet's corridor rows, which `planner.model.warm`
  drops (Station Unity: the LP in about 5 s instead of 20 s cold).

A missing, unreadable, damaged or crafted entry is ignored (logged) and the run goes on as without it; one
that cannot be written only costs time.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from planner import __version__
from planner.check import check_plan
from planner.files import read_npz, write_npz
from planner.jsoncache import JsonCache
from planner.margins import margin_rows
from planner.model.warm import LpWarm
from planner.progress import log, stage
from planner.station import Station

__all__ = ["RunState", "state_key", "load_state", "save_state", "reuse_dir", "known_full_cover",
           "checked_full_cover", "remember_full_cover", "remember_sheet", "nearest_sheet_plan",
           "remember_sheet_bases", "nearest_sheet_basis"]

STATE_FORMAT = "run-state-2"
"""Version of the state file's layout (an entry of another layout is ignored). 2 (2026-12-08): a state may
come from corridor rounds that fell back to max-cover (`corridorrounds.corridor_rounds(fallback=)`); a
state of layout 1 may hold a what-if's cover-all plan kept after its rounds stopped at the budget, with
the residents its corridor queues make late, so it is solved again once."""

BASES_FORMAT = "sheet-bases-1"
"""Version of the what-if sheet's bases file (`remember_sheet_bases`)."""

_STATUS_MAX = 4
"""Largest HiGHS basis status code (`highspy.HighsBasisStatus`: lower, basic, upper, zero, nonbasic)."""


@dataclass
class RunState:
    """The final state of a run (plain data; see the module docstring).

    Attributes
    ----------
    limits
        Corridor rows of the plan, persons per (door_id, scenario), in the order of their cut ids (the
        order `planner.corridorrounds.corridor_rows` numbers them in; the basis refers to them by it).
    chosen
        Site ids of the plan's safe rooms.
    objective
        The plan's objective ("cover-all", or "max-cover" after a budget's fallback).
    record
        plan.json `solver.corridor` of the run that found the rows (its rounds and chosen round).
    fallback
        With objective max-cover after a cover-all the budget could not pay for: {"notes": the words the
        plan gave, "full_cover_cost": currency}; else None.
    warm
        The last LP relaxation's columns and basis (`LpWarm`), or None (no column generation).
    """

    limits: dict[tuple[str, str], float]
    chosen: list[str]
    objective: str
    record: dict = field(default_factory=dict)
    fallback: dict | None = None
    warm: LpWarm | None = None


def reuse_dir(cache_dir: str | Path | None, station: Station) -> Path | None:
    """The reuse folder beside the reach-table cache `cache_dir` (`.cache/reach` -> `.cache/reuse`); None
    without a cache or for a station not read from files (no inputs hash)."""
    return Path(cache_dir).parent / "reuse" if cache_dir is not None and station.files else None


def _payload(station: Station, margins: Any, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    params = {k: v for k, v in dataclasses.asdict(station.params).items() if k not in drop}
    return {"inputs": station.inputs_sha256(), "parameters": params, "version": __version__,
            "margins": margin_rows(margins) if margins is not None and len(margins) else None}


def state_key(station: Station, margins: Any = None, options: Any = None) -> str:
    """Key of a run's final state: the station's inputs, every parameter, the margins, the planner's version
    and the caller's solve options (their text; None: the station's own)."""
    return JsonCache.key({"kind": "run state", **_payload(station, margins),
                          "options": None if options is None else repr(options)})


def _path(folder: Path, key: str) -> Path:
    return folder / f"state-{key}.npz"


def save_state(folder: Path | None, key: str, state: RunState) -> None:
    """Write `state` under `key` in `folder` (atomically, data only); a failure is logged, not raised."""
    if folder is None or not key:
        return
    meta = {"format": STATE_FORMAT, "key": key, "objective": state.objective, "chosen": [str(s) for s in state.chosen],
            "limits": [[str(d), str(s), float(v)] for (d, s), v in state.limits.items()],
            "record": state.record, "fallback": state.fallback}
    arrays: dict[str, Any] = {"meta": np.asarray(json.dumps(meta, default=str))}
    if state.warm is not None:
        arrays.update(_warm_arrays(state.warm))
    _write_npz(_path(folder, key), arrays, "the run's final state")


def _write_npz(path: Path, arrays: dict[str, Any], what: str) -> None:
    """Write `arrays` as a compressed ``.npz`` at `path` (atomically); a failure is logged, not raised."""
    exc = write_npz(path, arrays)
    if exc is not None:
        log(f"[planner] {what} was not cached ({exc})")


def _warm_arrays(w: LpWarm, prefix: str = "") -> dict[str, np.ndarray]:
    """`w` as named arrays (names after `prefix`), for an ``.npz`` (`_warm` reads them back)."""
    return {prefix + k: v for k, v in dict(
        shape=np.asarray(w.shape, np.int64), yq=np.asarray(w.yq, np.int64), ys=np.asarray(w.ys, np.int64),
        block_kinds=np.asarray([k for k, _ in w.row_blocks], dtype=str).reshape(-1),
        block_rows=np.asarray([n for _, n in w.row_blocks], np.int64).reshape(-1),
        u_cut=np.asarray(w.u_cut, np.int64), col_status=np.asarray(w.col_status, np.int8),
        u_status=np.asarray(w.u_status, np.int8), art_status=np.asarray(w.art_status, np.int8),
        row_status=np.asarray(w.row_status, np.int8), cold_s=np.asarray(float(w.cold_s))).items()}


def load_state(folder: Path | None, key: str) -> RunState | None:
    """The `RunState` stored under `key`, or None (no cache, absent, unreadable, of another layout or key, or
    with values that cannot be a plan's state: logged). Read without pickle (no code can run)."""
    if folder is None or not key:
        return None
    path = _path(folder, key)
    said = f"[planner] the cached final state of the last run ({path.name}) was ignored"
    z = read_npz(path, STATE_FORMAT, key, ignored=lambda why: log(f"{said}: {why}"))
    if z is None:
        return None
    try:
        meta = json.loads(str(z["meta"]))
        warm = _warm(z) if "shape" in z else None
        limits = {(str(d), str(s)): float(v) for d, s, v in meta["limits"]}
        if any(not np.isfinite(v) or v < 0 for v in limits.values()) or len(limits) != len(meta["limits"]):
            raise ValueError("a corridor limit that is not a number of persons")
        chosen = [str(s) for s in meta["chosen"]]
        objective = str(meta["objective"])
        if objective not in ("cover-all", "max-cover"):
            raise ValueError(f"objective {objective!r}")
        record = meta.get("record") if isinstance(meta.get("record"), dict) else {}
        fallback = meta.get("fallback") if isinstance(meta.get("fallback"), dict) else None
        if fallback is not None and not (isinstance(fallback.get("notes"), list)
                                         and isinstance(fallback.get("full_cover_cost"), (int, float, type(None)))):
            raise ValueError("the fallback's notes")
    except Exception as exc:  # noqa: BLE001 - damaged, truncated, crafted: the run goes on without it
        log(f"{said}: {exc}")
        return None
    return RunState(limits=limits, chosen=chosen, objective=objective, record=record, fallback=fallback, warm=warm)


def _warm(z: Any, prefix: str = "") -> LpWarm:
    """The `LpWarm` of a state file's arrays (`_warm_arrays`, names after `prefix`; checked: integer codes in
    HiGHS's range, consistent lengths)."""
    shape = tuple(int(v) for v in z[prefix + "shape"])
    ints = {k: z[prefix + k] for k in ("yq", "ys", "u_cut", "block_rows")}
    codes = {k: z[prefix + k] for k in ("col_status", "u_status", "art_status", "row_status")}
    if any(a.dtype.kind not in "iu" or a.ndim != 1 for a in (*ints.values(), *codes.values())):
        raise ValueError("a basis array that is not integer")
    if any(((a < -1) | (a > _STATUS_MAX)).any() for a in codes.values()) or (codes["art_status"] < 0).any() \
            or (codes["row_status"] < 0).any():
        raise ValueError("a basis status out of HiGHS's range")
    kinds = [str(k) for k in z[prefix + "block_kinds"]]
    rows = [int(n) for n in ints["block_rows"]]
    if (len(shape) != 6 or len(kinds) != len(rows) or sum(rows) != len(codes["row_status"])
            or len(ints["yq"]) != len(ints["ys"]) or len(ints["u_cut"]) != len(codes["u_status"])
            or len(codes["art_status"]) != shape[5] or min(shape, default=0) < 0):
        raise ValueError("basis arrays of inconsistent lengths")
    return LpWarm(shape=shape, yq=ints["yq"].astype(np.int64), ys=ints["ys"].astype(np.int64),
                  row_blocks=tuple(zip(kinds, rows)), u_cut=ints["u_cut"].astype(np.int64),
                  col_status=codes["col_status"].astype(np.int8), u_status=codes["u_status"].astype(np.int8),
                  art_status=codes["art_status"].astype(np.int8), row_status=codes["row_status"].astype(np.int8),
                  cold_s=float(z[prefix + "cold_s"]))


# ------------------------------------------------------------------ full cover and the what-if sheet
_BUDGETLESS = ("budget", "objective")


def _budgetless_key(station: Station, margins: Any, kind: str) -> str:
    return JsonCache.key({"kind": kind, **_payload(station, margins, drop=_BUDGETLESS)})


def known_full_cover(folder: Path | None, station: Station, margins: Any = None) -> dict | None:
    """What the last runs on the same inputs and parameters (up to budget and objective) learnt about full
    coverage, or None: {"first": {"cost", "rooms", "bound"} of a cover-all solve without corridor rows (the
    figures a budget's fallback quotes; currency, bound None when unproven) or None, "plan": the plan.json
    of the proposal's full-cover plan (after its corridor rounds) or None}."""
    if folder is None:
        return None
    got = JsonCache(folder, "full-cover").get(_budgetless_key(station, margins, "full cover"))
    if not isinstance(got, dict):
        return None
    first, plan = got.get("first"), got.get("plan")
    if first is not None and not (isinstance(first, dict) and isinstance(first.get("cost"), (int, float))
                                  and isinstance(first.get("rooms"), int)
                                  and isinstance(first.get("bound"), (int, float, type(None)))):
        first = None
    if plan is not None and not (isinstance(plan, dict) and isinstance((plan.get("totals") or {}).get("cost"),
                                                                       (int, float))):
        plan = None
    return {"first": first, "plan": plan} if first is not None or plan is not None else None


def remember_full_cover(folder: Path | None, station: Station, margins: Any, first: dict | None = None,
                        plan: dict | None = None) -> None:
    """Store what full coverage costs (`known_full_cover`): `first` ({"cost", "rooms", "bound"} of a cover-all
    solve without corridor rows) and the proposal's full-cover `plan`; a part not given keeps what is stored."""
    if folder is None or (first is None and plan is None):
        return
    old = known_full_cover(folder, station, margins) or {}
    JsonCache(folder, "full-cover").put(_budgetless_key(station, margins, "full cover"), {
        "first": first if first is not None else old.get("first"), "plan": plan if plan is not None else old.get("plan")})


def checked_full_cover(folder: Path | None, station: Station) -> dict | None:
    """The plan.json of a proposal's full-cover plan on the same inputs and parameters up to budget and
    objective (`known_full_cover`, without margins), when the independent checker finds no breach in it
    (judged as cover-all within the budget the proposal was made with: its plan.json `parameters.budget`,
    None for none; every other parameter the station's); else None (logged)."""
    plan = (known_full_cover(folder, station) or {}).get("plan")
    if plan is None:
        return None
    budget = (plan.get("parameters") or {}).get("budget")
    if budget is not None and not isinstance(budget, (int, float)):
        log("[planner]   the cached full-cover plan's budget is not a number: it is solved again")
        return None
    judged = dataclasses.replace(station, params=station.params.replace(
        objective="cover-all", budget=None if budget is None else float(budget)))
    # the verdict on this very plan (its content), these inputs and parameters and this planner is kept: every
    # what-if read and checked the same plan again (1.6 to 3.1 s on Station Unity); another plan, input file,
    # parameter or version is checked again
    verdicts = JsonCache(folder, "full-cover check")
    key = JsonCache.key({"kind": "full-cover plan checked", "plan": JsonCache.key(plan), "inputs": station.inputs_sha256(),
                         "parameters": dataclasses.asdict(judged.params), "version": __version__})
    if verdicts.get(key) == {"breaches": 0}:
        return plan
    with stage("independent check of the proposal's full-cover plan (from the cache)"):
        breaches = check_plan(judged, plan)
    if breaches:
        log(f"[planner]   the cached full-cover plan has {len(breaches)} breach(es): it is solved again")
        return None
    verdicts.put(key, {"breaches": 0})
    return plan


def remember_sheet(folder: Path | None, station: Station, margins: Any, rows: list[dict]) -> None:
    """Store the what-if sheet's plans (each {"budget", "cost" (currency), "chosen": site ids}) for the
    what-ifs on the same inputs (`nearest_sheet_plan`)."""
    if folder is None or not rows:
        return
    JsonCache(folder, "what-if sheet").put(_budgetless_key(station, margins, "what-if sheet"), {"plans": rows})


def nearest_sheet_plan(folder: Path | None, station: Station, margins: Any, budget: float) -> dict | None:
    """The what-if sheet's plan (`remember_sheet`) of the largest budget at or below `budget` whose cost fits
    it ({"budget", "cost", "chosen"}), or None."""
    if folder is None:
        return None
    got = JsonCache(folder, "what-if sheet").get(_budgetless_key(station, margins, "what-if sheet"))
    rows = got.get("plans") if isinstance(got, dict) else None
    best = None
    for r in rows if isinstance(rows, list) else []:
        if not (isinstance(r, dict) and isinstance(r.get("budget"), (int, float))
                and isinstance(r.get("cost"), (int, float)) and isinstance(r.get("chosen"), list)):
            continue
        if r["budget"] <= budget + 1e-6 and r["cost"] <= budget + 1e-6 and (best is None or r["budget"] > best["budget"]):
            best = {"budget": float(r["budget"]), "cost": float(r["cost"]), "chosen": [str(s) for s in r["chosen"]]}
    return best


def _bases_path(folder: Path, station: Station, margins: Any) -> Path:
    return folder / f"sheet-bases-{_budgetless_key(station, margins, 'what-if sheet bases')}.npz"


def remember_sheet_bases(folder: Path | None, station: Station, margins: Any, bases: dict[float, LpWarm]) -> None:
    """Store the LP bases of the what-if sheet's budgets ({budget (currency): `LpWarm`}) for the what-ifs on the
    same inputs (`nearest_sheet_basis`); nothing is written without bases (a sheet read from the cache)."""
    if folder is None or not bases:
        return
    budgets = sorted(bases)
    arrays: dict[str, Any] = {"meta": np.asarray(json.dumps({"format": BASES_FORMAT, "budgets": budgets}))}
    for i, b in enumerate(budgets):
        arrays.update(_warm_arrays(bases[b], f"b{i}_"))
    _write_npz(_bases_path(folder, station, margins), arrays, "the what-if sheet's LP bases")


def nearest_sheet_basis(folder: Path | None, station: Station, margins: Any, budget: float) -> LpWarm | None:
    """The LP basis (`remember_sheet_bases`) of the what-if sheet's budget nearest `budget` (currency), or None
    (none stored; unreadable or of another layout: logged). Read without pickle."""
    if folder is None:
        return None
    path = _bases_path(folder, station, margins)
    said = f"[planner] the what-if sheet's LP bases ({path.name}) were ignored"
    z = read_npz(path, BASES_FORMAT, only=lambda name: False, ignored=lambda why: log(f"{said}: {why}"))
    if z is None:
        return None
    try:
        budgets = [float(b) for b in json.loads(str(z["meta"]))["budgets"]]
        if not budgets:
            raise ValueError("no budgets")
        i = int(np.argmin(np.abs(np.asarray(budgets) - float(budget))))
        z = read_npz(path, BASES_FORMAT, only=lambda name: name.startswith(f"b{i}_"),   # that budget's alone
                     ignored=lambda why: log(f"{said}: {why}"))
        return None if z is None else _warm(z, f"b{i}_")
    except Exception as exc:  # noqa: BLE001 - damaged, truncated, crafted: the what-if starts cold
        log(f"{said}: {exc}")
        return None
