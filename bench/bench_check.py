"""Benchmark: the independent check (`planner check`) of a plan, and of tampered copies of it.

    .venv/bin/python -m bench.bench_check inputs/station-unity reports/<folder>/plan.json
        [--save before.json] [--compare before.json] [--variants plan,far,...] [--profile out.prof]

Times, per variant of the plan, what `planner check` runs: the walking graph and `check_plan` (the
pipeline's "independent check of the plan" builds the graph inside) and the findings (`swap_findings`, `corridor_findings`), wall and CPU seconds (this
process and its forked workers), with the load average. The variants tamper with the plan the way a
broken optimiser could (deterministic, seed 0):

- `plan`: as written;
- `far`: 15 walking assignments sent to a safe room on another deck (walk breaches);
- `overfill`: 25 assignments of other rooms moved into the largest safe room (capacity, queues);
- `drop`: three safe rooms left out of `safe_rooms` (assignments to unknown safe rooms, totals);
- `late`: 30 walks in the plan 25 s longer (over the reach time, mismatches);
- `short`: 30 walks in the plan 8 s shorter (mismatches, walks the raster finds too short);
- `crowd`: the residents of every assignment into one safe room tripled (coverage, capacity,
  own-door and door queues);
- `exits`: every assignment's `exit_door_id` cleared (the corridor replay times rooms at their widest door);
- `latecomers`: the residents listed unsheltered for want of time assigned to the safe room they are sent
  to anyway (own-door queue and arrival breaches).

`--save` writes every variant's breaches and findings (as text) to a JSON file; `--compare` reads
such a file and reports every difference (a faster checker must find exactly what it found before).
Not part of `make test`.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.check import check_plan
from planner.checkqueue import corridor_findings
from planner.checkswap import swap_findings
from planner.network.paths import walk_graph
from planner.plan import read_plan
from planner.progress import set_quiet
from planner.station import load_station

VARIANTS = ("plan", "far", "overfill", "drop", "late", "short", "crowd", "exits", "latecomers")


def _walking(plan: dict) -> list[int]:
    return [i for i, r in enumerate(plan["assignments"])
            if (r.get("residents") or 0) > 0 and r.get("room_id") != r.get("safe_room_id")]


def _far(p: dict, rng: np.random.Generator) -> None:
    rows, safe = p["assignments"], p["safe_rooms"]
    for i in rng.choice(_walking(p), size=min(15, len(_walking(p))), replace=False):
        deck = str(rows[i]["room_id"]).split("-")[1:2]
        other = [s["room_id"] for s in safe if str(s.get("deck")) not in deck]
        rows[i]["safe_room_id"] = other[int(i) % len(other)] if other else safe[-1]["room_id"]


def _overfill(p: dict, rng: np.random.Generator) -> None:
    big = max(p["safe_rooms"], key=lambda s: s.get("capacity") or 0)["room_id"]
    for i in rng.choice(_walking(p), size=min(25, len(_walking(p))), replace=False):
        p["assignments"][i]["safe_room_id"] = big


def _drop(p: dict, rng: np.random.Generator) -> None:
    safe = p["safe_rooms"]
    drop = {safe[k]["room_id"] for k in rng.choice(len(safe), size=min(3, len(safe)), replace=False)}
    p["safe_rooms"] = [s for s in safe if s["room_id"] not in drop]


def _shift(p: dict, rng: np.random.Generator, by: float) -> None:
    rows = p["assignments"]
    for i in rng.choice(_walking(p), size=min(30, len(_walking(p))), replace=False):
        rows[i]["walk_s"] = round(max(0.0, rows[i]["walk_s"] + by), 2)


def _crowd(p: dict, rng: np.random.Generator) -> None:
    walking = _walking(p)
    target = p["assignments"][walking[len(walking) // 2]]["safe_room_id"]
    for r in p["assignments"]:
        if r["safe_room_id"] == target:
            r["residents"] = int(r["residents"]) * 3


def _exits(p: dict, rng: np.random.Generator) -> None:
    for r in p["assignments"]:
        r["exit_door_id"] = ""


def _latecomers(p: dict, rng: np.random.Generator) -> None:
    late = [u for u in p.get("unsheltered") or [] if u.get("safe_room_id")]
    p["unsheltered"] = [u for u in p.get("unsheltered") or [] if not u.get("safe_room_id")]
    for u in late:
        p["assignments"].append({"room_id": u["room_id"], "scenario": u["scenario"], "safe_room_id": u["safe_room_id"],
                                 "residents": u["residents"], "walk_s": u.get("walk_s", 0.0)})


_TAMPER = {"plan": lambda p, rng: None, "far": _far, "overfill": _overfill, "drop": _drop,
           "late": lambda p, rng: _shift(p, rng, 25.0), "short": lambda p, rng: _shift(p, rng, -8.0),
           "crowd": _crowd, "exits": _exits, "latecomers": _latecomers}


def tamper(plan: dict, variant: str) -> dict:
    """A copy of `plan` broken as `variant` says (see the module doc); `plan` itself is left as it is."""
    if variant not in _TAMPER:
        raise SystemExit(f"unknown variant {variant!r} (one of {', '.join(VARIANTS)})")
    p = copy.deepcopy(plan)
    _TAMPER[variant](p, np.random.default_rng(0))
    return p


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_variant(station, plan: dict) -> tuple[dict, dict]:
    """(breaches and findings as text, seconds) of one plan."""
    w0, c0 = time.perf_counter(), _cpu()
    graph = walk_graph(station)   # as `planner check`: one walking graph for the check and the findings
    breaches = check_plan(station, plan, graph=graph)
    w1, c1 = time.perf_counter(), _cpu()
    swaps = swap_findings(plan)
    corridors = corridor_findings(station, plan, graph)
    w2, c2 = time.perf_counter(), _cpu()
    found = {"breaches": [str(b) for b in breaches], "swaps": swaps, "corridors": corridors}
    times = {"check_wall_s": w1 - w0, "check_cpu_s": c1 - c0, "findings_wall_s": w2 - w1, "findings_cpu_s": c2 - c1}
    return found, times


def compare(before: dict, after: dict) -> list[str]:
    """Every difference between two saved results (per variant, per list: order included)."""
    out = []
    for v in sorted(set(before) | set(after)):
        if v not in before or v not in after:
            out.append(f"{v}: only in {'after' if v not in before else 'before'}")
            continue
        for k in ("breaches", "swaps", "corridors"):
            b, a = before[v].get(k, []), after[v].get(k, [])
            if b == a:
                continue
            if sorted(b) == sorted(a):
                out.append(f"{v}.{k}: the same {len(a)} lines in another order")
                continue
            for line in sorted(set(b) - set(a)):
                out.append(f"{v}.{k}: only before: {line}")
            for line in sorted(set(a) - set(b)):
                out.append(f"{v}.{k}: only after: {line}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("station")
    ap.add_argument("plan")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--save", help="write the breaches and findings of every variant to this JSON file")
    ap.add_argument("--compare", help="a file written by --save: report every difference")
    ap.add_argument("--profile", help="cProfile the first variant's check into this file")
    args = ap.parse_args(argv)
    set_quiet(True)
    load = os.getloadavg()[0]
    w0, c0 = time.perf_counter(), _cpu()
    station = load_station(Path(args.station))
    plan = read_plan(Path(args.plan))
    print(f"load station and plan: {time.perf_counter() - w0:.2f} s wall, {_cpu() - c0:.2f} s CPU")
    results: dict[str, dict] = {}
    print(f"{'variant':<9} {'breaches':>8} {'check wall':>10} {'CPU':>6} {'findings wall':>13} {'CPU':>6}  load")
    for k, v in enumerate(args.variants.split(",")):
        p = tamper(plan, v)
        if k == 0 and args.profile:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
            found, t = run_variant(station, p)
            prof.disable()
            prof.dump_stats(args.profile)
        else:
            found, t = run_variant(station, p)
        results[v] = found
        print(f"{v:<9} {len(found['breaches']):>8} {t['check_wall_s']:>10.2f} {t['check_cpu_s']:>6.2f} "
              f"{t['findings_wall_s']:>13.2f} {t['findings_cpu_s']:>6.2f}  {os.getloadavg()[0]:.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    print(f"peak memory {peak:.0f} MB (this process); load average {load:.2f} at the start; commit {commit}")
    if args.save:
        Path(args.save).write_text(json.dumps(results, indent=1))
    if args.compare:
        diff = compare(json.loads(Path(args.compare).read_text()), results)
        print("\n".join(diff) if diff else f"the same breaches and findings as {args.compare} in every variant")
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
