"""Benchmark: generating ring stations, and checking what was generated.

    .venv/bin/python bench/bench_generate.py [--sizes 3000,30000] [--seed 1] [--validate] [--reach]

For each size: wall time of `generate_station`, spaces, doors, residents per scenario,
file sizes; with --validate the time of `load_station` + `validate_station` and the
number of errors; with --reach (slow) the worst walk to the nearest candidate site.
Not part of `make test`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.generate import generate_station
from planner.station import load_station


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="3000,30000", help="comma-separated room counts")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--validate", action="store_true", help="also load and validate each station")
    ap.add_argument("--reach", action="store_true", help="also compute the reach table (slow)")
    args = ap.parse_args()
    for n in [int(x) for x in args.sizes.split(",") if x.strip()]:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / f"ring{n}"
            t0 = time.perf_counter()
            generate_station(n, args.seed, out)
            t_gen = time.perf_counter() - t0
            sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
            t0 = time.perf_counter()
            st = load_station(out)
            t_load = time.perf_counter() - t0
            d = st.demand()
            line = (f"rooms={n:>6} spaces={len(st.rooms):>6} doors={len(st.doors):>6} "
                    f"decks={st.rooms['deck'].nunique():>2} residents={int(d['night'].sum()):>7} "
                    f"generate_s={t_gen:6.2f} load_s={t_load:6.2f} "
                    + " ".join(f"{k}={v / 1e6:.2f}MB" for k, v in sizes.items()))
            if args.validate:
                from planner.validate import validate_station

                t0 = time.perf_counter()
                findings = validate_station(st)
                errors = sum(f.level == "error" for f in findings)
                line += f" validate_s={time.perf_counter() - t0:.2f} errors={errors}"
            if args.reach:
                from planner.network import reach_table

                t0 = time.perf_counter()
                rt = reach_table(st, cache=False)
                worst = float(rt.rooms["best_walk_s"].max())
                line += f" reach_s={time.perf_counter() - t0:.1f} worst_walk_to_candidate_s={worst:.1f}"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
