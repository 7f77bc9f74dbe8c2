"""Benchmark: Station Unity's displacement trade-off (the Displacement sheet), re-planned.

    .venv/bin/python -m bench.bench_displacement [STATION_DIR] [--shares 0,0.25,0.5,1]
                                                 [--time-limit S] [--threads N]

Plans the station (phases off), then `planner.displacement.displacement_tradeoff` (quarters
`either`; bunks at `tradeoff_berth_area_m2` when the station has no spare bed; each point
warm-started from the proposal's plan, the loosest cap first). Prints the table, the wall and
CPU time of each part and the machine's load average (the machine is shared: quote the load
with the times). Not part of `make test`: one re-plan of Unity takes minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import time
from pathlib import Path


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="displacement trade-off benchmark")
    ap.add_argument("station", nargs="?", default="inputs/station-unity")
    ap.add_argument("--shares", default="0,0.25,0.5,1")
    ap.add_argument("--time-limit", type=float, default=None, help="per point (s); default tradeoff_time_limit_s")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)

    import pandas as pd

    from planner.displacement import displacement_tradeoff, parse_shares
    from planner.network import default_cache_dir
    from planner.pipeline import plan_station
    from planner.station import load_station

    st = load_station(Path(args.station))
    changes = {}
    if args.time_limit is not None:
        changes["tradeoff_time_limit_s"] = args.time_limit
    if args.threads is not None:
        changes["threads"] = args.threads
    if changes:
        st = dataclasses.replace(st, params=st.params.replace(**changes))
    print(f"load average at start: {os.getloadavg()}", flush=True)
    w, c = time.perf_counter(), _cpu()
    run = plan_station(st, phases=False, cache_dir=default_cache_dir())
    print(f"plan: {run.plan['totals']['cost']:,.0f} {st.params.currency}, {len(run.plan['safe_rooms'])} rooms; "
          f"{time.perf_counter() - w:.1f} s wall, {_cpu() - c:.1f} s CPU", flush=True)
    w, c = time.perf_counter(), _cpu()
    table = displacement_tradeoff(run, parse_shares(args.shares))
    print(f"trade-off: {time.perf_counter() - w:.1f} s wall, {_cpu() - c:.1f} s CPU; "
          f"load average at the end: {os.getloadavg()}", flush=True)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_colwidth", 80)
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
