"""Benchmark: a 12-budget sweep of Station Unity (target: under 5 minutes on 2 cores), and phasing.

    .venv/bin/python -m bench.bench_sweep [STATION_DIR] [--budgets 12] [--workers 2]
                                          [--time-limit S] [--phases]

Without STATION_DIR it uses inputs/station-unity, or generates a 3,000-room ring station
(seed 1) under .cache/bench/ when Unity is not there. Prints the stage times, the sweep table and
the total wall time; `--phases` also times `plan_phases` + `phase_table` on the full-cover plan with
a phase 1 of 10 rooms in 3 days and six monthly phases.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="12-budget sweep benchmark")
    ap.add_argument("station", nargs="?", default=None)
    ap.add_argument("--budgets", type=int, default=12)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=None, help="per solve (s); default: the scenario's")
    ap.add_argument("--rooms", type=int, default=3000, help="size of the generated station when Unity is absent")
    ap.add_argument("--phases", action="store_true")
    ap.add_argument("--phase-time-limit", type=float, default=None, help="phasing solver limit (s)")
    args = ap.parse_args(argv)

    import pandas as pd

    from planner.network import default_cache_dir
    from planner.pipeline import prepare
    from planner.station import load_station
    from planner.sweep import budget_grid, full_cover_plan, run_sweep

    folder = Path(args.station) if args.station else Path("inputs/station-unity")
    if not (folder / "rooms.geojson").exists() and not (folder / "station.gpkg").exists():
        from planner.generate import generate_station

        folder = Path(".cache/bench") / f"ring-{args.rooms}-s1"
        if not (folder / "rooms.geojson").exists():
            generate_station(args.rooms, 1, folder)
    t_all = time.perf_counter()
    station = load_station(folder)
    print(f"station {station.name}: {len(station.rooms)} rooms, "
          + ", ".join(f"{s} {int(v):,}" for s, v in station.demand().sum().items()), flush=True)
    t = time.perf_counter()
    sites, reach, costs = prepare(station, None, default_cache_dir())
    t_prep = time.perf_counter() - t
    t = time.perf_counter()
    fc = full_cover_plan(station, reach, args.time_limit)
    t_fc = time.perf_counter() - t
    fcc = None if fc is None else float(fc["plan"]["totals"]["cost"])
    budgets = budget_grid(costs, args.budgets, full_cover_cost=fcc)
    res = run_sweep(station, budgets, workers=args.workers, reach=reach, time_limit_s=args.time_limit,
                    full_cover=fc)
    total = time.perf_counter() - t_all
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    tab = res.table.drop(columns=["chosen", "weighted_sheltered"])
    print(tab.to_string(index=False))
    print(f"\nsites {len(sites)}, reach pairs {len(reach.pairs):,}; full-cover cost {fcc:,.0f}" if fcc else "")
    print(f"prepare (sites, reach, costs) {t_prep:.1f} s; full-cover solve {t_fc:.1f} s; "
          f"sweep rounds {res.seconds:.1f} s; TOTAL {total:.1f} s for {len(budgets)} budgets "
          f"on {args.workers} worker(s)", flush=True)
    if args.phases and fc is not None:
        from planner.model import Problem
        from planner.params import Phase
        from planner.phases import phase_breaches, phase_table, plan_phases

        params = station.params.replace(phases=[Phase("Phase 1", max_rooms=10, max_days=3.0, duration_days=3.0)]
                                        + [Phase(f"Month {m}", max_days=30.0, duration_days=30.0)
                                           for m in range(1, 7)])
        problem = Problem.from_station(station, reach, sites, costs["total_cost"])
        t = time.perf_counter()
        ph = plan_phases(problem, fc["chosen"], costs, params, time_limit_s=args.phase_time_limit)
        t_ph = time.perf_counter() - t
        t = time.perf_counter()
        pt = phase_table(problem, ph, costs, params)
        t_pt = time.perf_counter() - t
        print(pt.drop(columns=["site_ids"]).to_string(index=False))
        print("phasing solver:", ph.attrs.get("solver"))
        print(f"phasing {len(fc['chosen'])} rooms into {len(params.phases)} phases: plan_phases {t_ph:.1f} s, "
              f"phase_table {t_pt:.1f} s; breaches: {phase_breaches(ph, costs, params, problem) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
