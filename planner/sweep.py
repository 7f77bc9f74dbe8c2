"""Budget what-if curves: one plan per budget, people sheltered per scenario against cost.

How a sweep runs (deterministic: a local process pool and a Dask cluster give the
same plans, because every solve's inputs are fixed before it is scheduled):

1. One reach table for the whole sweep (`pipeline.prepare`, or the one passed in).
2. Full coverage: one cover-all solve without a budget, in the calling process.
   Its cost `C` is the full-cover cost. Every budget `>= C` gets that plan (the
   budget does not bind at a least-cost plan; no further solve is needed).
3. Round 1, in parallel: every budget below `C` is solved as max-cover
   (most people, priority-weighted, ties to least cost) from the model's own
   greedy start, each solve single-threaded.
4. Round 2, in parallel (the warm start): a budget whose round-1 plan is beaten
   by the round-1 plan of the next smaller budget (more weighted people, or more
   people in some scenario) is solved again, warm-started from that neighbour's
   plan, which is feasible for it (same rules, smaller cost). The better of the two
   plans is kept.
5. Monotonicity, enforced in budget order in the calling process: the plan kept at
   budget `b_i` is the best plan (weighted people, then least cost) among all plans
   computed at budgets `<= b_i` that shelter at least as many people in EVERY
   scenario as the plan kept at `b_(i-1)`. That plan kept at `b_(i-1)` always
   qualifies, so people sheltered per scenario never decrease with the budget.
   A row whose plan came from a smaller budget says so in `source`.

Every solve is single-threaded (the parallelism is across budgets). HiGHS keeps one thread pool
per process and refuses a solve with another thread count, so each solve resets that pool before
and after (`phases.highs_threads_reset`).

Time limits make a solver's answer depend on the machine's speed; the identity of
local and Dask plans holds when every solve ends on its gap (small stations).

`planner.sweep` is this module, and calling it calls `sweep`: ``planner.sweep(station, budgets)``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import sys
import types
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd
from openpyxl import Workbook

from planner.cells import put
from planner.errors import InputError, PlannerError
from planner.files import staged_folder, write_atomic
from planner.margins import margin_rows, margin_table
from planner.pipeline import ModelInputs, PlanRun, model_inputs_for, prepare
from planner.plan import write_json_atomic, write_table
from planner.progress import log, stage
from planner.reuse import checked_full_cover, nearest_sheet_basis, remember_sheet, remember_sheet_bases, reuse_dir
from planner.model.warm import LpWarm
from planner.station import Station
from planner.sweeprun import _Cache, _Runner, solve_budget, whatif_cache_dir
from planner.workbook import budget_whatif

if TYPE_CHECKING:
    from planner.network import ReachTable

# ------------------------------------------------------------------ plan measures
def _weighted(plan: dict, weight: pd.Series) -> float:
    """Priority-weighted people sheltered over all scenarios (persons x weight)."""
    a = plan.get("assignments") or []
    if not a:
        return 0.0
    df = pd.DataFrame(a)
    w = weight.reindex(df["room_id"].astype(str)).fillna(1.0).to_numpy()
    return float((df["residents"].to_numpy() * w).sum())


def _sheltered(plan: dict, scenarios: Sequence[str]) -> np.ndarray:
    sc = plan["totals"]["scenarios"]
    return np.array([int(sc[s]["sheltered"]) for s in scenarios], dtype=np.int64)


def _key(res: dict) -> tuple[float, float]:
    """Better plan = larger key: weighted people, then least cost."""
    return (round(res["weighted"], 6), -round(float(res["plan"]["totals"]["cost"]), 2))


def _relabel(res: dict, budget: float, source: str) -> dict:
    """A copy of a result carried to another (larger) budget: the plan's budget fields follow."""
    out = dict(res)
    plan = copy.deepcopy(res["plan"])
    plan["totals"]["budget"] = budget
    plan.setdefault("parameters", {})["budget"] = budget
    out.update(plan=plan, budget=budget, source=source)
    return out


def _fmt_budget(b: float | None) -> str:
    return "none" if b is None else f"{b:,.0f}"


# ------------------------------------------------------------------ the sweep
@dataclasses.dataclass
class SweepResult:
    """A sweep's table (one row per budget), the plan kept per budget and the full-cover plan."""

    table: pd.DataFrame
    plans: list[dict]
    full_cover: dict | None
    full_cover_cost: float | None
    seconds: float
    bases: dict[float, LpWarm] = dataclasses.field(default_factory=dict)
    """The LP basis of each budget's first solve in round 1, by budget (currency), where a warm chain solved
    it (`chain=True`; not for budgets read from the cache)."""


def full_cover_plan(station: Station, reach: ReachTable, time_limit_s: float | None = None,
                    check: bool = False, margins: list[dict] | None = None,
                    cache_dir: str | Path | None = None) -> dict | None:
    """The least-cost full plan (cover-all, no budget), solved in this process with the scenario's
    `threads` and `time_limit_s` (unless `time_limit_s` is given, seconds).

    Returns the result dict of `solve_budget` (plan, chosen, ...) or None when no plan shelters
    everyone it can (cover-all infeasible, e.g. backup rule impossible). `margins`: measured margins
    (plan.json `margins` rows, `planner.margins`) every plan is made with; `cache_dir`: folder of
    solved budgets (`run_sweep`); beside it, a proposal's full-cover plan on the same inputs
    (`planner.reuse.known_full_cover`, without margins) is taken instead of a solve once the independent
    checker finds no breach in it."""
    known = checked_full_cover(reuse_dir(cache_dir, station), station) if not margins else None
    if known is not None:
        return {"budget": None, "objective": "cover-all", "start_from": None, "round": 0, "plan": known,
                "chosen": sorted(str(r["room_id"]) for r in known.get("safe_rooms", [])), "seconds": 0.0, "error": None}
    tl = float(time_limit_s or station.params.time_limit_s)
    spec = {"budget": None, "objective": "cover-all", "start": None, "time_limit_s": tl, "check": check,
            "start_from": None, "round": 0, "threads": station.params.threads, "margins": margins}
    cache = _Cache(station, cache_dir)
    with stage("full-cover plan (cover-all, no budget)"):
        res = cache.get(spec)
        if res is None:
            res = solve_budget(station, reach, spec)
            if res["plan"] is not None:   # (no plan in its time: solved again next time)
                cache.put(spec, res)
        res.pop("cached", None)
    if res["plan"] is None:
        log(f"[planner]   no full-cover plan: {res['error']}")
        return None
    return res


def required_cost(costs: pd.DataFrame, require: Sequence[str]) -> float:
    """What the required rooms cost to convert (currency; existing safe rooms cost nothing): no plan
    is cheaper, so no budget below it has a plan."""
    if not len(require) or "total_cost" not in costs:
        return 0.0
    c = costs["total_cost"].astype(float)
    c.index = c.index.astype(str)
    return float(c.reindex([str(r) for r in require]).fillna(0.0).sum())


def budget_grid(station_or_costs: Station | pd.DataFrame, steps: int = 12, *,
                full_cover_cost: float | None = None, reach: ReachTable | None = None, floor: float = 0.0) -> list[float]:
    """`steps` budgets (currency) from the cheapest plan up to the full-cover cost.

    The cheapest plan converts the cheapest room, or the required rooms when some are required:
    `floor` is their cost (`required_cost`; from a Station it is computed), and no budget is below it.

    From a Station the full-cover cost is solved (cover-all without budget) unless given; from a
    costs DataFrame (`site_costs`) without `full_cover_cost`, the top is the cost of converting every
    candidate (a crude upper end). Budgets are rounded up to 3 significant digits, so the first
    pays for the cheapest room and the last for full coverage.
    """
    if steps < 1:
        raise InputError("--budget-range", str(steps), "asks for fewer than one budget", "give at least 1 step")
    if isinstance(station_or_costs, Station):
        station = station_or_costs
        _, reach, costs = prepare(station, reach)
        if full_cover_cost is None:
            fc = full_cover_plan(station, reach)
            full_cover_cost = None if fc is None else float(fc["plan"]["totals"]["cost"])
        floor = max(floor, required_cost(costs, station.params.require))
    else:
        costs = station_or_costs
    c = costs["total_cost"].astype(float)
    pos = c[c > 0]
    if pos.empty:
        return [_round_up(floor)]
    hi = float(full_cover_cost) if full_cover_cost is not None else float(pos.sum())
    hi = max(hi, floor)
    lo = max(min(float(pos.min()), hi), floor)
    if steps == 1 or hi <= lo:
        return [_round_up(hi)]
    grid = np.linspace(lo, hi, steps)
    out = [_round_up(g) for g in grid]  # rounded up: the first budget pays for the cheapest room
    return sorted(set(out))


def _round_up(x: float) -> float:
    if x <= 0:
        return 0.0
    q = 10.0 ** (math.floor(math.log10(x)) - 2)
    return float(math.ceil(x / q - 1e-9) * q)


def run_sweep(station: Station, budgets: Sequence[float], workers: int | None = None,  # noqa: C901  debt: issue 16 (complexity 18)
              scheduler: str | None = None, reach: ReachTable | None = None, *, time_limit_s: float | None = None,
              check: bool = False, full_cover: dict | None = None, margins: list[dict] | None = None,
              cache_dir: str | Path | None = None, corridor_limits: list[dict] | None = None,
              corridor_rounds: int | None = None, estimate: bool = True, chain: bool = False) -> SweepResult:
    """The sweep with its plans (see the module docstring for the rounds and the monotonicity rule).

    `time_limit_s`: per solve in seconds (default: the scenario's `sweep_time_limit_s`); `check`: run the independent
    checker on every plan (in the workers); `full_cover`: a `full_cover_plan` result to reuse; `margins`:
    measured margins (plan.json `margins` rows, `planner.margins`) every plan is made with; `cache_dir`:
    folder of solved budgets (`_Cache`, `whatif_cache_dir`; None: no cache, nothing written);
    `corridor_limits`: corridor rows every budget's first solve has (plan.json `solver.corridor.limits`
    rows; default: the full-cover plan's), `corridor_rounds`: the budgets' rounds (default the station's);
    `estimate`: False for plans that are only rows of a table (no `predicted_s`); `chain`: round 1 as one warm
    chain of budgets per worker (`sweeprun.solve_chain`: each budget from the LP basis of the one below, the
    first within the station's `time_limit_s`) instead of every budget cold within `time_limit_s`.
    """
    t_start = time.perf_counter()
    bs = sorted({float(b) for b in budgets})
    if not bs:
        raise InputError("--budgets", "(empty)", "gives no budget", "give budgets, e.g. --budgets 2e6,4e6")
    if bs[0] < 0:
        raise InputError("--budgets", f"{bs[0]:g}", "is negative", f"give budgets of zero or more {station.params.currency}")
    if reach is None:
        _, reach, _ = prepare(station, None)
    tl = float(time_limit_s or station.params.sweep_time_limit_s)
    weight = station.priority()
    scen = list(station.scenarios)

    if full_cover is None:
        full_cover = full_cover_plan(station, reach, max(tl, station.params.time_limit_s), check=check,
                                     margins=margins, cache_dir=cache_dir)
    fc_cost = None if full_cover is None else float(full_cover["plan"]["totals"]["cost"])
    if corridor_limits is None and full_cover is not None:
        corridor_limits = ((full_cover["plan"].get("solver") or {}).get("corridor") or {}).get("limits") or None

    def finish(res: dict, source: str) -> dict:
        res = dict(res)
        res["source"] = source + (" (read from the what-if cache)" if res.pop("cached", False) else "")
        res["weighted"] = _weighted(res["plan"], weight)
        return res

    def spec(b: float, start: list[str] | None, start_from: float | None, rnd: int) -> dict:
        return {"budget": b, "objective": "max-cover", "start": start, "time_limit_s": tl,
                "check": check, "start_from": start_from, "round": rnd, "margins": margins,
                "corridor_limits": corridor_limits, "corridor_rounds": corridor_rounds, "estimate": estimate} | (
                    {"chain": True, "chain_first_s": max(tl, station.params.time_limit_s)} if chain and rnd == 1 else {})

    first: dict[int, dict] = {}
    bases: dict[float, LpWarm] = {}
    todo = []
    for i, b in enumerate(bs):
        if full_cover is not None and fc_cost is not None and b >= fc_cost - 1e-6:
            first[i] = finish(_relabel(full_cover, b, "full-cover plan"), "full-cover plan")
        else:
            todo.append(i)
    # the model's inputs other than the budget, made once for every budget (the solves in the workers
    # start from them instead of building them again: about 2 s of CPU per budget at Station Unity)
    def inputs() -> ModelInputs:
        return model_inputs_for(station, reach, margin_table(margins, "sweep margins") if margins else None)

    # a chain's first budget starts from the proposal's what-if sheet's basis nearest it, when there is one (the
    # sheet's corridor rows are the full-cover plan's, as this sweep's first solves': the basis fits as it is)
    folder = reuse_dir(cache_dir, station) if chain else None
    sheet_margins = margin_table(margins, "sweep margins") if margins else None

    def head(b: float) -> LpWarm | None:
        return nearest_sheet_basis(folder, station, sheet_margins, b)

    with _Runner(station, reach, workers, scheduler, _Cache(station, cache_dir), inputs,
                 heads=head if folder is not None else None) as runner:
        with stage(f"sweep round 1: {len(todo)} budget(s) " + ("as warm chains (each from the LP basis of the one below)"
                                                              if chain else "solved independently")):
            for i, res in zip(todo, runner.run([spec(bs[i], None, None, 1) for i in todo], "budgets")):
                warm = res.pop("warm", None)       # (a warm chain's: the JSON cache kept none)
                if warm is not None:
                    bases[bs[i]] = warm
                if res["plan"] is None:
                    log(f"[planner]   budget {_fmt_budget(bs[i])}: no plan in round 1 ({res['error']})")
                else:
                    first[i] = finish(res, "solved")
        # round 2: warm start from the neighbour below where it did better, or where round 1 found
        # nothing (then with twice the time; the empty plan is the start of the smallest budget)
        redo: list[tuple[int, list[str], float | None, float]] = []
        for i in todo:
            below = first.get(i - 1) if i > 0 else None
            if i not in first:
                redo.append((i, below["chosen"] if below else [], bs[i - 1] if below else None, 2 * tl))
            elif below is not None and (_key(below)[0] > _key(first[i])[0] + 1e-9 or
                                        (_sheltered(below["plan"], scen) > _sheltered(first[i]["plan"], scen)).any()):
                redo.append((i, below["chosen"], bs[i - 1], tl))
        second: dict[int, dict] = {}
        if redo:
            with stage(f"sweep round 2: {len(redo)} budget(s) warm-started from the plan below"):
                specs = [dict(spec(bs[i], start, frm, 2), time_limit_s=lim) for i, start, frm, lim in redo]
                for (i, _, frm, _), res in zip(redo, runner.run(specs, "warm starts")):
                    if res["plan"] is not None:
                        second[i] = finish(res, f"warm start from {_fmt_budget(frm)}" if frm is not None
                                           else "solved (second try)")
                    elif i not in first:
                        log(f"[planner]   budget {_fmt_budget(bs[i])}: no plan in round 2 ({res['error']})")
    kept = enforce_monotone(bs, {i: [r[i] for r in (first, second) if i in r] for i in range(len(bs))},
                            scen, weight)
    rows = [_row(r, scen) for r in kept]
    table = pd.DataFrame(rows)
    table.attrs["full_cover_cost"] = fc_cost
    table.attrs["currency"] = station.params.currency
    return SweepResult(table=table, plans=[r["plan"] for r in kept], full_cover=full_cover,
                       full_cover_cost=fc_cost, seconds=time.perf_counter() - t_start, bases=bases)


def enforce_monotone(budgets: Sequence[float], candidates: dict[int, list[dict]], scenarios: Sequence[str],
                     weight: pd.Series) -> list[dict]:
    """Pick one plan per budget (sorted budgets) so that sheltered people per scenario never decrease.

    `candidates[i]`: results computed at budget i (dicts with `budget`, `plan`, `weighted`). The plan
    kept at budget b_i is the best (weighted people, then least cost) among every candidate of budgets
    <= b_i whose cost fits b_i and which shelters at least as many people in every scenario as the plan
    kept at b_(i-1); that plan always qualifies. A plan carried from a smaller budget is relabelled."""
    pool: list[dict] = []
    kept: list[dict] = []
    for i, b in enumerate(budgets):
        pool.extend(candidates.get(i, []))
        last = [k for k in kept if k["plan"] is not None][-1:]
        floor = _sheltered(last[0]["plan"], scenarios) if last else None
        best = None
        for c in pool + last:
            if floor is not None and (_sheltered(c["plan"], scenarios) < floor).any():
                continue
            if float(c["plan"]["totals"]["cost"]) > b + 1e-6:
                continue
            if best is None or _key(c) > _key(best):
                best = c
        if best is None:  # say so in this row and keep going: a what-if point never takes the sweep down
            kept.append({"budget": b, "plan": None, "chosen": [], "weighted": float("nan"), "seconds": 0.0,
                         "source": "no plan",
                         "error": f"no plan was found at the budget {_fmt_budget(b)} (nor at any smaller budget)"})
            continue
        if best["budget"] != b:
            best = _relabel(best, b, f"carried from budget {_fmt_budget(best['budget'])}")
            best["weighted"] = _weighted(best["plan"], weight)
        kept.append(best)
    return kept


def _row(res: dict, scen: Sequence[str]) -> dict:
    plan = res["plan"]
    if plan is None:  # a budget without a plan: the row says why
        return {"budget": float(res["budget"]), "cost": np.nan, "rooms": np.nan,
                **{f"sheltered_{sc}": np.nan for sc in scen}, **{f"share_{sc}": np.nan for sc in scen},
                "max_walk_s": np.nan, "late_by_corridors": np.nan, "gap": np.nan,
                "status": str(res.get("error") or "no plan"), "seconds": 0.0,
                "objective": "", "source": res.get("source", "no plan"), "weighted_sheltered": np.nan, "chosen": []}
    t = plan["totals"]
    s = plan.get("solver", {})
    row: dict[str, Any] = {"budget": float(res["budget"]), "cost": float(t["cost"]),
                           "rooms": int(t.get("rooms_converted", len(plan["safe_rooms"])))}
    for sc in scen:
        row[f"sheltered_{sc}"] = int(t["scenarios"][sc]["sheltered"])
    for sc in scen:
        row[f"share_{sc}"] = float(t["scenarios"][sc].get("share", 0.0))
    gap = s.get("gap")
    row.update({"max_walk_s": float(t.get("max_walk_s", 0.0)), "late_by_corridors": _late_by_corridors(plan),
                "gap": float(gap) if isinstance(gap, (int, float)) else np.nan,
                "status": str(s.get("status", "")), "seconds": round(float(res.get("seconds", 0.0)), 2),
                "objective": plan.get("objective", res.get("objective")), "source": res.get("source", ""),
                "weighted_sheltered": float(res["weighted"]),
                "chosen": list(res["chosen"])})
    return row


def _late_by_corridors(plan: dict) -> float:
    """Residents the plan's corridor queues make late (plan.json `solver.corridor`, its chosen round's
    replay); NaN when the plan was made without the corridor rows."""
    cor = (plan.get("solver") or {}).get("corridor") or {}
    rounds = [r for r in cor.get("rounds") or [] if "late_residents" in r]
    pick = [r for r in rounds if r.get("round") == cor.get("chosen_round")] or rounds[-1:]
    return float(pick[0]["late_residents"]) if pick else np.nan


def sweep(station: Station, budgets: list[float], workers: int | None = None, scheduler: str | None = None,
          reach: ReachTable | None = None, **kwargs: Any) -> pd.DataFrame:
    """The budget what-if curve: one plan per budget, people sheltered against cost.

    Parameters
    ----------
    station : Station
        The station and its parameters.
    budgets : list of float
        Budgets to plan for (currency).
    workers : int, optional
        Local worker processes (default: up to 4, one per core).
    scheduler : str, optional
        A Dask scheduler address (tcp://HOST:PORT) to solve on instead.
    reach : ReachTable, optional
        The station's reach table (computed when None).
    **kwargs
        As in `run_sweep`: `time_limit_s` per solve (s), `check` (run the checker on every plan).

    Returns
    -------
    pandas.DataFrame
        One row per budget, increasing: budget, cost (currency), rooms, sheltered_<scenario>
        and share_<scenario> (persons, fraction), max_walk_s (s), late_by_corridors (residents the
        plan's corridor queues make late, `_late_by_corridors`), gap, status, seconds,
        objective, source, weighted_sheltered, chosen (site ids). People sheltered per
        scenario never decrease down the table (module docstring: the rule). The plans kept
        are in ``table.attrs["plans"]`` (plan.json dicts).
    """
    res = run_sweep(station, budgets, workers=workers, scheduler=scheduler, reach=reach, **kwargs)
    res.table.attrs["plans"] = res.plans
    return res.table


def quick_sweep(run: PlanRun, n: int = 6, time_limit_s: float = 10.0, workers: int | None = None,
                cache_dir: str | Path | None = None) -> pd.DataFrame:
    """A small sweep for a proposal's Budget what-if sheet, reusing a `PlanRun`'s reach table.

    When the run's plan shelters everyone it can (cover-all), it is the full-cover plan and is not
    solved again; `n` budgets from the cheapest conversion to the full-cover cost, `time_limit_s`
    per solve (seconds); `cache_dir`: folder of solved budgets (`run_sweep`; None: no cache).

    The budgets are solved as warm chains (`run_sweep(chain=True)`: on Station Unity every point within
    0.5 % of its bound, where cold 10-s solves ended without a bound at three of five; docs/performance.md).
    The budgets' plans are rows of the sheet, never written out as plans: each is made with the
    run's corridor rows (plan.json `solver.corridor.limits`) in its one solve, without corridor
    rounds of its own (issue 21: 4 solves per budget otherwise); the table's `late_by_corridors` says
    how many residents its corridor queues still make late (`planner sweep` runs the rounds); their
    assignments have no estimated arrival (`predicted_s`)."""
    def known(plan: dict, chosen: list[str]) -> dict:  # a solved plan as a sweep result
        return {"budget": None, "objective": "cover-all", "start_from": None, "round": 0, "plan": plan,
                "chosen": sorted(str(s) for s in chosen),
                "seconds": float(plan.get("solver", {}).get("seconds", 0.0)), "error": None}

    try:
        return _quick_sweep(run, known, n, time_limit_s, workers, cache_dir)
    except (PlannerError, ValueError, KeyError, ArithmeticError) as exc:  # the what-if never takes the proposal down
        log(f"[planner] budget what-if failed ({exc}); the proposal is written without it")
        return pd.DataFrame([{"budget": np.nan, "status": f"the budget what-if failed: {exc}"}])


def _quick_sweep(run: PlanRun, known: Callable[[dict, list[str]], dict], n: int, time_limit_s: float,
                 workers: int | None, cache_dir: str | Path | None = None) -> pd.DataFrame:
    fc = None
    if run.plan.get("objective") == "cover-all" and run.full_cover_cost is None:
        fc = known(run.plan, list(run.solution.chosen))
    elif run.full_cover_plan is not None:  # the max-cover fallback already solved it
        fc = known(run.full_cover_plan, [r["room_id"] for r in run.full_cover_plan["safe_rooms"]])
    margins = margin_rows(run.margins) if run.margins is not None and len(run.margins) else None
    if fc is None:   # (cached: a what-if whose full-cover plan is not known, e.g. no proposal on these inputs,
        # solved it in each what-if again: 38 to 44 s on Station Unity)
        fc = full_cover_plan(run.station, run.reach, time_limit_s, margins=margins, cache_dir=cache_dir)
    fcc = None if fc is None else float(fc["plan"]["totals"]["cost"])
    budgets = budget_grid(run.costs, n, full_cover_cost=fcc,
                          floor=required_cost(run.costs, run.station.params.require))
    # the full-cover plan's rows when it has them (a what-if's full-cover plan is the proposal's, read from
    # `planner.reuse`: then its sheet is the proposal's, read from the what-if cache), else the run's own
    limits = (((fc or {}).get("plan") or {}).get("solver") or {}).get("corridor", {}).get("limits") \
        or ((run.plan.get("solver") or {}).get("corridor") or {}).get("limits")
    res = run_sweep(run.station, budgets, workers=workers, reach=run.reach, time_limit_s=time_limit_s,
                    full_cover=fc, margins=margins,   # the proposal's measured margins (planner propose --verify)
                    cache_dir=cache_dir, corridor_limits=limits or None, corridor_rounds=0, estimate=False, chain=True)
    table = res.table   # (without the plans in its attrs: pandas deep-copies attrs at every column read)
    # the sheet's LP bases, to start a what-if's first solve from (`planner.reuse.nearest_sheet_basis`)
    remember_sheet_bases(reuse_dir(cache_dir, run.station), run.station, run.margins, res.bases)
    if "chosen" in table.columns:   # the sheet's plans, to start a what-if from (`planner.reuse`)
        remember_sheet(reuse_dir(cache_dir, run.station), run.station, run.margins,
                       [{"budget": float(b), "cost": float(c), "chosen": [str(x) for x in ch]}
                        for b, c, ch in zip(pd.to_numeric(table["budget"], errors="coerce"),
                                            pd.to_numeric(table["cost"], errors="coerce"), table["chosen"])
                        if isinstance(ch, (list, tuple)) and np.isfinite(b) and np.isfinite(c)])
    return whatif_table(table)


# ------------------------------------------------------------------ the report folder
def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "station"


def parse_budget_range(text: str) -> list[float]:
    """'LO:HI:STEPS' -> STEPS budgets evenly spaced from LO to HI (currency)."""
    parts = text.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise InputError("--budget-range", text, "is not LO:HI:STEPS", "write e.g. --budget-range 1e6:8e6:12") from None
    if n < 1 or lo < 0 or hi < lo:
        raise InputError("--budget-range", text, "needs 0 <= LO <= HI and STEPS >= 1",
                         "write e.g. --budget-range 1e6:8e6:12")
    return [float(x) for x in np.linspace(lo, hi, n)] if n > 1 else [lo]


def plot_sweep(table: pd.DataFrame, path: Path, title: str = "", currency: str = "",
               full_cover_cost: float | None = None) -> Path:
    """PNG chart of the budget-coverage curve: share sheltered per scenario against the budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=120)
    scen = [c[len("share_"):] for c in table.columns if c.startswith("share_")]
    for sc in scen:
        ax.plot(table["budget"], 100 * table[f"share_{sc}"], marker="o", drawstyle="steps-post", label=sc)
    if full_cover_cost is not None:
        ax.axvline(full_cover_cost, color="grey", linestyle="--", linewidth=1)
        ax.text(full_cover_cost, 2, f" full cover {full_cover_cost:,.0f}", color="grey", fontsize=8)
    ax.set_xlabel(f"budget ({currency})" if currency else "budget")
    ax.set_ylabel("people sheltered (%)")
    ax.set_ylim(0, 102)
    ax.grid(alpha=0.3)
    ax.legend(title="scenario")
    ax.set_title(title or "Budget vs coverage")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:,.0f}"))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def whatif_table(table: pd.DataFrame) -> pd.DataFrame:
    """The sweep table ready for a spreadsheet: `chosen` as comma-separated text, no list cells, no plans in
    its attrs (`sweep`'s ``attrs["plans"]``; the table's own are not changed)."""
    plans = table.attrs.pop("plans", None)   # pandas deep-copies attrs at every copy and column read
    try:
        out = table.copy()
    finally:
        if plans is not None:
            table.attrs["plans"] = plans
    if "chosen" in out:
        out["chosen"] = out["chosen"].map(lambda c: ", ".join(c) if isinstance(c, (list, tuple)) else c)
    return out


def write_sweep_workbook(path: Path, table: pd.DataFrame, station: Station,
                         full_cover_cost: float | None = None) -> Path:
    """The sweep workbook: the proposal's "Budget what-if" sheet (`planner.workbook.budget_whatif`)
    with a line saying what full coverage costs (currency)."""
    table = whatif_table(table)
    wb = Workbook()
    wb.remove(wb.active)
    budget_whatif(wb, station, table)
    ws = wb["Budget what-if"]
    put(ws, 2, 1, (f"Full coverage costs {full_cover_cost:,.0f} {station.params.currency}."
                   if full_cover_cost is not None else "No plan shelters everyone."))
    write_atomic(path, wb.save, what="workbook")
    return path


def run_sweep_command(station: Station, budgets: list[float] | None = None, budget_range: str | None = None,
                      out_root: Path = Path("reports"), scheduler: str | None = None,
                      workers: int | None = None, scenario_name: str | None = None,
                      time_limit_s: float | None = None, steps: int = 12,
                      cache_dir: str | Path | None = None) -> Path:
    """`planner sweep`: compute the sweep and write `<out_root>/<station>-sweep-<time>/` with
    sweep.csv, sweep.json, budget-coverage.png, sweep-<station>.xlsx and plans/plan-<budget>.json.
    Written into a temporary folder first and moved into place; never overwrites."""
    t0 = time.perf_counter()
    _, reach, costs = prepare(station, None, cache_dir)
    tl = time_limit_s
    full_cover = None
    if budgets:
        bs = [float(b) for b in budgets]
    elif budget_range:
        bs = parse_budget_range(budget_range)
    else:
        full_cover = full_cover_plan(station, reach, tl, cache_dir=whatif_cache_dir(cache_dir))
        fcc = None if full_cover is None else float(full_cover["plan"]["totals"]["cost"])
        bs = budget_grid(costs, steps, full_cover_cost=fcc, floor=required_cost(costs, station.params.require))
        log(f"[planner] budgets: {', '.join(_fmt_budget(b) for b in bs)} {station.params.currency}")
    res = run_sweep(station, bs, workers=workers, scheduler=scheduler, reach=reach, time_limit_s=tl,
                    full_cover=full_cover, cache_dir=whatif_cache_dir(cache_dir), chain=True)
    table = res.table
    cur = station.params.currency
    for r in table.itertuples(index=False):
        if not np.isfinite(r.cost):
            log(f"[planner]   budget {r.budget:>14,.0f} {cur}: {r.status}")
            continue
        shel = ", ".join(f"{c[len('sheltered_'):]} {getattr(r, c):,}" for c in table.columns
                         if c.startswith("sheltered_"))
        log(f"[planner]   budget {r.budget:>14,.0f} {cur}: cost {r.cost:>14,.0f}, {int(r.rooms):4d} rooms, {shel}")

    out_root = Path(out_root)
    when = datetime.now(timezone.utc)
    scen = f"-{_slug(Path(scenario_name).stem)}" if scenario_name else ""
    name = f"{_slug(station.name)}-sweep{scen}-{when:%Y%m%d-%H%M%S}"
    with staged_folder(out_root, name) as folder:
        tmp = folder.path
        flat = table.copy()
        flat["chosen"] = flat["chosen"].map(lambda c: " ".join(c))
        write_table(flat, tmp / "sweep.csv")
        write_json_atomic(tmp / "sweep.json", {
            "station": station.name, "created": when.isoformat(timespec="seconds"), "currency": cur,
            "full_cover_cost": res.full_cover_cost, "seconds": round(time.perf_counter() - t0, 2),
            "rule": "sheltered per scenario never decreases with the budget: the plan kept at a budget is the "
                    "best plan computed at any budget up to it that shelters at least as many in every "
                    "scenario as the plan kept at the budget below",
            "rows": table.to_dict(orient="records")})
        (tmp / "plans").mkdir()
        for b, plan in zip(table["budget"], res.plans):
            if plan is not None:  # a budget without a plan: its row in the table says why
                write_json_atomic(tmp / "plans" / f"plan-{b:.0f}.json", plan)
        plot_sweep(table, tmp / "budget-coverage.png", title=f"{station.title}: budget vs coverage",
                   currency=cur, full_cover_cost=res.full_cover_cost)
        write_sweep_workbook(tmp / f"sweep-{_slug(station.name)}.xlsx", table, station, res.full_cover_cost)
    log(f"[planner] sweep of {len(table)} budgets done in {time.perf_counter() - t0:.1f} s")
    assert folder.final is not None
    return folder.final


class _CallableModule(types.ModuleType):
    """`planner.sweep` is both this module and the public function `sweep` (`planner.__all__`):
    importing a submodule makes it the package's attribute of that name, so the module itself
    calls `sweep` when called."""

    def __call__(self, station: Station, budgets: list[float], workers: int | None = None,
                 scheduler: str | None = None, reach: ReachTable | None = None, **kwargs: Any) -> pd.DataFrame:
        return sweep(station, budgets, workers=workers, scheduler=scheduler, reach=reach, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
