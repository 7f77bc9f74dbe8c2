"""Micro-benchmark of `planner.network.paths.exit_doors`' memo (issue 21): the exit doors of the pairs the
model asks for (`pipeline.model_inputs` -> `queues.model_pairs`), asked again when all are known, as a
what-if's model, its relocation bound and the slower walkers do.

Run from a checkout (the reach table read from its cache folder):

    PYTHONPATH=. python bench/exit_doors_memo.py [STATION] [--calls N] [--all] [--out doors.npy]

Prints the rows asked, the first call (paths worked out) and each call on the memo (wall and CPU seconds);
`--out` saves the doors of the last call (to compare two checkouts' answers).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import planner.pipeline as pipeline
from planner.network.cache import default_cache_dir
from planner.station import load_station


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("station", nargs="?", default="inputs/station-unity")
    ap.add_argument("--calls", type=int, default=5)
    ap.add_argument("--out", default=None)
    ap.add_argument("--all", action="store_true", help="ask for every model pair's door, not only the exit caps'")
    a = ap.parse_args()
    station = load_station(a.station)
    sites, reach, _ = pipeline.prepare(station, cache_dir=default_cache_dir())
    asked: list[pd.DataFrame] = []
    real = pipeline.exit_doors

    def spy(st, *args, **kw):
        fn = real(st, *args, **kw)

        def doors(rows: pd.DataFrame) -> np.ndarray:
            asked.append(rows)
            return fn(rows)
        return doors
    pipeline.exit_doors = spy
    t0, c0 = time.perf_counter(), time.process_time()
    timed, _ = pipeline.model_inputs(station, reach, sites)
    print(f"model pairs with the first exit doors: {time.perf_counter() - t0:.2f} s "
          f"({time.process_time() - c0:.2f} s CPU)")
    pipeline.exit_doors = real
    rows = timed[["room_id", "site_id"]].reset_index(drop=True) if a.all else max(asked, key=len)
    print(f"rows asked: {len(rows):,} ({len(rows.drop_duplicates()):,} pairs)")
    doors = real(station)
    if a.all:
        t0, c0 = time.perf_counter(), time.process_time()
        doors(rows)
        print(f"the other model pairs' doors worked out: {time.perf_counter() - t0:.2f} s "
              f"({time.process_time() - c0:.2f} s CPU)")
    got = None
    for i in range(a.calls):
        t0, c0 = time.perf_counter(), time.process_time()
        got = doors(rows)
        print(f"call {i + 1} on the memo: {1000 * (time.perf_counter() - t0):.1f} ms "
              f"({1000 * (time.process_time() - c0):.1f} ms CPU)")
    if a.out and got is not None:
        np.save(a.out, np.asarray(got, dtype=str))


if __name__ == "__main__":
    main()
