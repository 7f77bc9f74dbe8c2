"""`make verify`: the 60-second promise measured in a pedestrian simulation (issue 17).

    .venv/bin/python -m bench.verify                          # propose Station Unity, then simulate it
    .venv/bin/python -m bench.verify --plan reports/<proposal>/plan.json --seeds 1 --scenarios night

1. propose the station (the ordinary pipeline; `--plan` skips it and simulates that plan);
2. simulate every occupancy scenario, every deck coupled, `--seeds` seeds, collision-free speed
   model at the plan's walking speed (1.2 m/s): the share of residents inside their safe room by
   60 s in the worst seed (target: at least 99.5 %);
3. the same with speeds drawn from N(1.2, 0.2) m/s (`--speed-sd`; 0 skips it);
4. prediction against simulation for the 1.2 m/s run (`bench.predict_agreement`): per assignment,
   the plan's estimate (`predicted_s`) and planned time (`planned_s`) against the simulated last
   arrival, overall, per scenario and per size class.

Writes the simulation folders (simulation.json, arrival curve, workbook) under `--out` and a
summary to ``bench/results/verify.{md,json}``; prints the shares. Timings are wall-clock and
CPU seconds of this machine: say how loaded it was when quoting them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.predict_agreement import agreement_rows, compared_rows
from bench.predict_agreement import markdown as agreement_markdown
from planner.files import staged_folder
from planner.plan import read_plan
from planner.progress import log, stage
from planner.simulate import SimulationResult, simulate_plan, summary_lines, write_simulation
from planner.station import load_station

TARGET = 0.995


def _run(station, plan: dict, label: str, out_root: Path, **kw) -> tuple[SimulationResult, dict]:
    t0, c0 = time.perf_counter(), time.process_time()
    with stage(f"simulation {label}"):
        res = simulate_plan(station, plan, **kw)
    wall = time.perf_counter() - t0
    with staged_folder(out_root, f"verify-{label}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}") as folder:
        write_simulation(res, folder.path)
    cpu_workers = sum(s.get("cpu_s", 0.0) for sc in res.scenarios.values() for s in sc["seeds"])
    row = {"label": label, "wall_s": round(wall, 1), "cpu_s_main": round(time.process_time() - c0, 1),
           "cpu_s_runs": round(cpu_workers, 1), "folder": str(folder.final), "scenarios": {}}
    for sc, d in res.scenarios.items():
        row["scenarios"][sc] = {k: d[k] for k in ("residents", "agents", "sheltered_in_place", "share_within_reach",
                                                  "share_walkers_within_reach", "within_s", "last_arrival_s",
                                                  "deadlocked", "worst_seed")}
        row["scenarios"][sc]["seed_shares"] = [s["share_within_reach"] for s in d["seeds"]]
    row["late_rooms"] = len(res.late_rooms)
    for line in summary_lines(res):
        print(f"[{label}] {line}", flush=True)
    return res, row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.verify", description=__doc__.splitlines()[0])
    ap.add_argument("--station", default="inputs/station-unity")
    ap.add_argument("--plan", help="simulate this plan.json instead of proposing")
    ap.add_argument("--scenarios", help="occupancy scenarios, comma-separated (default: all)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--speed-sd", type=float, default=0.2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="reports")
    ap.add_argument("--results", default="bench/results")
    args = ap.parse_args(argv)
    station = load_station(args.station)
    out = Path(args.out)
    t0 = time.perf_counter()
    if args.plan:
        plan_path = Path(args.plan)
    else:
        from planner.proposal import propose

        folder = propose(station, out_root=out)
        plan_path = folder / "plan.json"
    plan = read_plan(plan_path)
    scen = [s.strip() for s in args.scenarios.split(",")] if args.scenarios else None
    rows = []
    res, row = _run(station, plan, "speed-1.2", out, scenarios=scen, seeds=args.seeds, workers=args.workers)
    rows.append(row)
    # prediction against simulation (issue 17): the plan's estimate and its planned time per assignment
    agreement = agreement_rows(compared_rows(station, plan, res.to_dict()), "speed-1.2")
    if args.speed_sd > 0:
        _, row = _run(station, plan, f"speed-sd-{args.speed_sd:g}", out, scenarios=scen, seeds=args.seeds,
                      speed_sd=args.speed_sd, workers=args.workers)
        rows.append(row)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    summary = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "station": station.title,
               "plan": str(plan_path), "plan_cost": plan.get("totals", {}).get("cost"),
               "target_share": TARGET, "seeds": args.seeds, "runs": rows,
               "total_wall_s": round(time.perf_counter() - t0, 1), "cpus": os.cpu_count(),
               "load_average_at_end": load, "python": sys.version.split()[0], "platform": platform.platform()}
    res_dir = Path(args.results)
    res_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# make verify: {station.title}, {summary['created']}", "",
             f"Plan {plan_path} (cost {summary['plan_cost']}); {args.seeds} seed(s) per scenario, worst shown; "
             f"{os.cpu_count()} CPUs, load average at the end {load}.", "",
             "| run | scenario | residents | walk | secured by 60 s | within 2 min | within 4 min | last arrival (s) "
             "| deadlocked | all seeds | target 99.5 % |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        for sc, d in r["scenarios"].items():
            ok = "met" if d["share_within_reach"] >= TARGET else "NOT met"
            lines.append(f"| {r['label']} | {sc} | {d['residents']:,} | {d['agents']:,} | {d['share_within_reach']:.2%} "
                         f"| {d['within_s'].get('120', 0):.2%} | {d['within_s'].get('240', 0):.2%} | {d['last_arrival_s']} "
                         f"| {d['deadlocked']} | {', '.join(f'{s:.2%}' for s in d['seed_shares'])} | {ok} |")
        lines.append(f"| {r['label']} | time | | | wall {r['wall_s']} s | CPU of the runs {r['cpu_s_runs']} s | | | | | |")
    if not agreement.empty:
        lines += ["", "Prediction against simulation (speed 1.2 m/s; `estimate` is plan.json predicted_s, "
                  "`conservative` its planned_s; docs/verification.md):", "",
                  agreement_markdown(agreement[agreement["prediction"] != "simulated_file"])]
    summary["prediction_agreement"] = agreement.to_dict(orient="records")
    (res_dir / "verify.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    (res_dir / "verify.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    log("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
