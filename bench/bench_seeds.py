"""Benchmark: generated stations over several seeds, cover-all and max-cover at fractions of
the full-cover cost, proven within a gap; worst seed next to the median.

    .venv/bin/python -m bench.bench_seeds --sizes 300,1000 --seeds 1-5 [--gap 0.005] [--json out.json]
        [--budgets-from other.json]   (max-cover budgets from another run's cover-all costs)

Per station (generated with `planner.generate.generate_station(n, seed)`, cached in
``.cache/bench/stations``): the reach table and model as `planner solve` builds them
(`planner.pipeline.model_problem`), then the solve alone timed (seconds) for cover-all and for
max-cover at 25, 50 and 75 % of the full-cover cost; each plan's gap, and the independent
checker's breaches. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FRACTIONS = (0.25, 0.5, 0.75)


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        elif part.strip():
            out.append(int(part))
    return out


def run_station(n: int, seed: int, cache_dir: Path, gap: float, time_limit_s: float,
                check: bool = True, base_cost: float | None = None) -> list[dict[str, Any]]:
    """One generated station: cover-all, then max-cover at each of FRACTIONS of its cost (of `base_cost`
    when given: another run's cover-all cost, so that two runs solve the same max-cover budgets)."""
    import dataclasses

    from planner.check import check_plan
    from planner.generate import generate_station
    from planner.model import solve
    from planner.pipeline import finish_plan, model_problem, prepare
    from planner.plan import build_plan
    from planner.progress import set_quiet
    from planner.station import load_station

    set_quiet(True)
    folder = cache_dir / "stations" / f"ring-{n}-s{seed}"
    if not (folder / "residents.csv").exists():
        generate_station(n, seed, folder)
    st = load_station(folder)
    sites, reach, costs = prepare(st, cache_dir=cache_dir / "reach")
    problem, timed, short = model_problem(st, reach, sites, costs)
    problem = dataclasses.replace(problem, mip_gap=gap, time_limit_s=time_limit_s)
    rows: list[dict[str, Any]] = []
    full_cost = None
    for frac in (None, *FRACTIONS):
        if frac is None:
            p = problem
            case = "cover-all"
            st_p = st
        else:
            assert full_cost is not None
            p = dataclasses.replace(problem, objective="max-cover", budget=frac * full_cost)
            case = f"max-cover {int(frac * 100)} %"
            st_p = dataclasses.replace(st, params=dataclasses.replace(st.params, objective="max-cover",
                                                                        budget=p.budget))
        t = time.perf_counter()
        sol = solve(p, progress=False)
        wall = time.perf_counter() - t
        if frac is None:
            full_cost = float(sol.cost) if base_cost is None else base_cost
        row = dict(size=n, seed=seed, case=case, seconds=round(wall, 3), gap=sol.solver.get("gap"),
                   status=sol.solver.get("status"), objective=sol.solver.get("objective"),
                   bound=sol.solver.get("bound"), sites=len(sol.chosen), cost=float(sol.cost),
                   rooms=int(len(st.rooms)))
        # the start plan against the final plan and the bound, and where the time went (the solve's stats)
        row.update({k: sol.stats[k] for k in ("heuristic_objective", "lp_s", "heuristic_s", "mip_s", "stage2_s",
                                               "reduced_cost_fixed", "mc_swap", "budget_lagrangian", "mip_skipped")
                    if k in sol.stats})
        if check:
            plan = build_plan(station=st_p, sites=sites, costs=costs, reach=reach, solution=sol, timed_pairs=timed)
            plan = finish_plan(plan, st_p, short)
            row["breaches"] = len(check_plan(st_p, plan, reach=reach))
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def table(rows: list[dict[str, Any]], gap: float, target_s: dict[int, float]) -> str:
    """Markdown: per size and case, median and worst seed (seconds, gap)."""
    lines = ["| rooms | case | seeds | median s | worst s (seed) | worst gap (seed) | all within gap | "
             "target s | met |", "|---:|---|---:|---:|---:|---:|---|---:|---|"]
    keys = sorted({(r["size"], r["case"]) for r in rows}, key=lambda k: (k[0], k[1] != "cover-all", k[1]))
    for size, case in keys:
        rs = [r for r in rows if r["size"] == size and r["case"] == case]
        secs = [r["seconds"] for r in rs]
        worst = max(rs, key=lambda r: r["seconds"])
        wg = max(rs, key=lambda r: r["gap"] if r["gap"] is not None else math.inf)   # no bound: the worst
        ok = all(r["gap"] is not None and r["gap"] <= gap + 1e-12 for r in rs)
        tgt = target_s.get(size)
        met = ok and tgt is not None and worst["seconds"] < tgt and all(r.get("breaches", 0) == 0 for r in rs)
        worst_gap = "no bound" if wg["gap"] is None else f"{100 * wg['gap']:.2f} %"
        lines.append(f"| {size:,} | {case} | {len(rs)} | {statistics.median(secs):.2f} | "
                     f"{worst['seconds']:.2f} ({worst['seed']}) | {worst_gap} ({wg['seed']}) | "
                     f"{'yes' if ok else 'no'} | {tgt if tgt is not None else '–'} | {'yes' if met else 'no'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="300,1000")
    ap.add_argument("--seeds", default="1-5")
    ap.add_argument("--gap", type=float, default=0.005)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--no-check", action="store_true")
    ap.add_argument("--cache", type=Path, default=ROOT / ".cache" / "bench")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--budgets-from", type=Path,
                    help="a --json file of another run: max-cover budgets from its cover-all costs (same budgets)")
    args = ap.parse_args(argv)
    base: dict[tuple[int, int], float] = {}
    if args.budgets_from:
        base = {(r["size"], r["seed"]): float(r["cost"]) for r in json.loads(args.budgets_from.read_text())["rows"]
                if r["case"] == "cover-all"}
    rows: list[dict[str, Any]] = []
    for n in [int(x) for x in args.sizes.split(",") if x.strip()]:
        for seed in _seeds(args.seeds):
            rows += run_station(n, seed, args.cache, args.gap, args.time_limit, check=not args.no_check,
                                base_cost=base.get((n, seed)))
    print(f"load average {os.getloadavg()}")
    print(table(rows, args.gap, {300: 3.0, 1000: 3.0, 3000: 10.0}))
    if args.json:
        args.json.write_text(json.dumps(dict(rows=rows, load=list(os.getloadavg())), indent=1))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
