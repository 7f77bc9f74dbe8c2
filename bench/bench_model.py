"""Benchmark of the optimiser and its speed levers (not part of `make test`).

Usage::

    python -m bench.bench_model ring --rooms 3000            # synthetic ring instance
    python -m bench.bench_model station --rooms 3000         # generated station (planner.generate)
    python -m bench.bench_model station --rooms 10000 --gap 0.02 --time-limit 300
    python -m bench.bench_model station --rooms 3000 --levers all   # one run per lever switched off

Every run prints one JSON line: model size (variables, rows, non-zeros), time per stage
(reach, costs, compile, build, heuristic, MIP, assignment), status, objective, bound, gap.
Generated stations and reach tables are cached under `.cache/bench/` (PLANNER_CACHE_DIR).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from planner.model import Problem, SolveOptions, solve
from planner.progress import set_quiet


# ------------------------------------------------------------------- synthetic ring
def ring_instance(n_rooms: int, seed: int = 0, n_scen: int = 3, site_share: float = 0.3,
                  circumference_m: float | None = None, speed: float = 1.2, **options) -> Problem:
    """Rooms on a ring line (positions in metres), walk = |arc distance| / speed + leg; a share are sites.

    Capacities, door flows (persons/s) and costs drawn like a station's storage rooms and quarters.
    """
    rng = np.random.default_rng(seed)
    L = circumference_m or n_rooms * 4.0
    pos = np.sort(rng.uniform(0, L, n_rooms))
    leg = rng.uniform(2, 10, n_rooms)
    is_site = rng.uniform(size=n_rooms) < site_share
    sites = np.flatnonzero(is_site)
    reach = options.get("reach_s", 60.0)
    rooms = np.arange(n_rooms)
    # pairs within reach (vectorised over chunks of rooms)
    rr, jj, tt = [], [], []
    site_pos = pos[sites]
    order = np.argsort(site_pos)
    for r_chunk in np.array_split(rooms, max(1, n_rooms // 2000)):
        d = np.abs(pos[r_chunk][:, None] - site_pos[None, :])
        d = np.minimum(d, L - d)
        t = d / speed + leg[r_chunk][:, None]
        i, j = np.nonzero(t <= reach)
        rr.append(r_chunk[i]); jj.append(j); tt.append(np.round(t[i, j], 1))
    rr, jj, tt = np.concatenate(rr), np.concatenate(jj), np.concatenate(tt)
    own = rooms[sites[jj]] == rr
    tt = np.where(own, 0.0, tt)
    del order
    room_ids = np.array([f"r{i:05d}" for i in range(n_rooms)], dtype=object)
    pairs = pd.DataFrame({"room_id": room_ids[rr], "site_id": room_ids[sites[jj]], "walk_s": tt})
    kind_q = rng.uniform(size=n_rooms) < 0.6
    base = np.where(kind_q, rng.integers(1, 4, n_rooms), rng.integers(0, 7, n_rooms))
    dem = np.stack([base * f for f in (1.0, 0.6, 0.9)[:n_scen]], 1)
    dem = np.round(dem * rng.uniform(0.7, 1.3, dem.shape)).astype(np.int64)
    demand = pd.DataFrame(dem, index=pd.Index(room_ids, name="room_id"),
                          columns=["night", "day", "evening"][:n_scen])
    area = rng.uniform(8, 60, len(sites))
    cap = np.floor((area - 2) * 0.85 / 1.86).astype(np.int64)
    width = rng.choice([0.9, 0.9, 1.2, 1.8], len(sites))
    flow = 1.3 * (width - 0.3)
    cost = 60_000 + 420 * 3 * 4 * np.sqrt(area) + 900 * cap + 30_000 * width
    st = pd.DataFrame({"capacity": cap, "door_flow_pps": flow, "cost": np.round(cost),
                       "existing": False, "required": False, "displaced": np.where(kind_q[sites], base[sites], 0.0)},
                      index=pd.Index(room_ids[sites], name="site_id"))
    return Problem(demand=demand, pairs=pairs, sites=st, **options)


# ------------------------------------------------------------------- generated station
def station_problem(n_rooms: int, seed: int = 1, **overrides) -> tuple[Problem, dict]:
    """A generated station (cached), its reach table (cached), costs -> Problem; with stage timings."""
    from planner.costs import site_costs
    from planner.generate import generate_station
    from planner.network import default_cache_dir, reach_table
    from planner.sites import candidate_sites
    from planner.station import load_station

    base = Path(os.environ.get("PLANNER_CACHE_DIR", ".cache")) / "bench"
    folder = base / f"ring-{n_rooms}-{seed}"
    times: dict[str, float] = {}
    t = time.perf_counter()
    if not (folder / "residents.csv").exists():
        generate_station(n_rooms, seed, folder)
    times["generate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    st = load_station(folder)
    times["load_s"] = time.perf_counter() - t
    t = time.perf_counter()
    sites = candidate_sites(st)
    reach = reach_table(st, sites, cache_dir=default_cache_dir())
    times["reach_s"] = time.perf_counter() - t
    t = time.perf_counter()
    costs = site_costs(sites, st)
    times["costs_s"] = time.perf_counter() - t
    t = time.perf_counter()
    p = Problem.from_station(st, reach, sites, costs, **overrides)
    times["problem_s"] = time.perf_counter() - t
    return p, {k: round(v, 2) for k, v in times.items()}


LEVERS = {
    "all-on": {},
    "greedy-start": {"lp_guide": False},            # greedy + local search start instead of LP rounding
    "no-start": {"use_heuristic": False},           # plain MIP, no start, no LP bound of our own
    "no-aggregation": {"aggregate": False},
    "tighten": {"tighten": True},                   # all y <= min(d, q) x rows
    "no-lazy-tighten": {"lazy_tighten": False},     # none of them
    "pulp-backend": {"backend": "pulp"},
    "cbc": {"solver": "cbc"},
    "no-mip-start": {"mip_start": False},
    "no-lazy": {"lazy_tighten": False},
    "textbook": {"tighten": True, "queue_prune": False, "scenario_reduce": False, "use_heuristic": False,
                 "lazy_tighten": False},            # every lever off (still linear-size chained queue rows)
    "no-queue-prune": {"queue_prune": False},
    "no-scenario-reduce": {"scenario_reduce": False},
    "heur-effort-0.3": {"highs_options": {"mip_heuristic_effort": 0.3}},
}


def run(p: Problem, label: str, extra: dict, options: SolveOptions | None = None) -> dict:
    t = time.perf_counter()
    try:
        sol = solve(p, progress=False, options=options)
        out = dict(label=label, **extra, wall_s=round(time.perf_counter() - t, 2),
                   status=sol.solver["status"], value=round(sol.solver["objective"], 1),
                   bound=None if sol.solver["bound"] is None else round(sol.solver["bound"], 1),
                   gap=None if sol.solver["gap"] is None else round(sol.solver["gap"], 5), chosen=len(sol.chosen),
                   unsheltered=int(sol.unsheltered["residents"].sum()) if len(sol.unsheltered) else 0,
                   stats={k: v for k, v in sol.stats.items() if not isinstance(v, dict)})
    except Exception as exc:  # report, keep going
        out = dict(label=label, **extra, wall_s=round(time.perf_counter() - t, 2), error=f"{type(exc).__name__}: {exc}"[:300])
    print(json.dumps(out, default=float), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["ring", "station"])
    ap.add_argument("--rooms", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--objective", default="cover-all")
    ap.add_argument("--budget", type=float, default=None)
    ap.add_argument("--backup", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--gap", type=float, default=0.01)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--levers", default="all-on", help="comma list of " + ", ".join(LEVERS) + ", or 'all'")
    ap.add_argument("--msg", action="store_true", help="show the solver log")
    a = ap.parse_args()
    set_quiet(not a.msg)
    opts = dict(objective=a.objective, budget=a.budget, backup_k=a.backup, time_limit_s=a.time_limit,
                mip_gap=a.gap, threads=a.threads)
    if a.kind == "ring":
        t = time.perf_counter()
        p = ring_instance(a.rooms, a.seed, **opts)
        prep = {"instance_s": round(time.perf_counter() - t, 2)}
    else:
        p, prep = station_problem(a.rooms, a.seed, **opts)
    names = list(LEVERS) if a.levers == "all" else a.levers.split(",")
    for name in names:
        run(p, name, dict(kind=a.kind, rooms=a.rooms, objective=a.objective, budget=a.budget, backup=a.backup,
                          prep=prep), SolveOptions(msg=a.msg, **LEVERS[name]))


if __name__ == "__main__":
    main()
