"""Benchmark: reach table for Station Unity and a generated 30,000-room station.

    .venv/bin/python bench/bench_reach.py [--unity inputs/station-unity] [--rooms 30000] [--seed 7]

Uses `planner.generate.generate_station` when it exists, otherwise a simple ring station
built here (curved ring corridors per sector and deck, rooms on both sides, stairs).
Prints wall and CPU time of loading and of `reach_table` (no cache), pairs, and peak memory
(resource.getrusage, max resident set size; the big station runs in its own process so its
peak is its own). Not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.network import reach_summary, reach_table
from planner.progress import set_quiet
from planner.station import load_station


def _arc(r: float, a0: float, a1: float, step_m: float) -> np.ndarray:
    n = max(1, int(math.ceil(abs(a1 - a0) * r / step_m)))
    a = np.linspace(a0, a1, n + 1)
    return np.c_[r * np.cos(a), r * np.sin(a)]


def _sector_poly(r0: float, r1: float, a0: float, a1: float, step_m: float) -> shapely.Polygon:
    return shapely.Polygon(np.r_[_arc(r1, a0, a1, step_m), _arc(r0, a1, a0, step_m)])


def simple_ring_station(n_rooms: int, out_dir: Path, decks: int = 4, sectors: int = 6, seed: int = 7) -> Path:
    """A ring station: per deck and sector a curved corridor (3 m) with rooms (4 m wide) on both sides."""
    rng = np.random.default_rng(seed)
    per = max(4, n_rooms // (decks * sectors * 2))
    room_w, cw, depth = 4.0, 3.0, 5.0
    circumference = per * room_w * sectors
    rc = circumference / (2 * math.pi)
    span = 2 * math.pi / sectors
    rooms, doors = [], []
    kinds = np.array(["quarters"] * 5 + ["storage"] * 2 + ["lab", "office", "recreation", "galley", "hygiene"])
    for k in range(decks):
        for s in range(sectors):
            a0 = s * span
            cid = f"C{k}-{s}"
            rooms.append({"room_id": cid, "kind": "corridor", "sector": f"S{s}", "deck": k, "name": cid,
                          "geometry": _sector_poly(rc, rc + cw, a0, a0 + span, 2.0)})
            # corridor joint to the next sector
            a = a0 + span
            doors.append({"door_id": f"J{k}-{s}", "width_m": 2.4, "deck": k,
                          "from_room": cid, "to_room": f"C{k}-{(s + 1) % sectors}",
                          "geometry": shapely.LineString([(rc + 0.3) * np.array([math.cos(a), math.sin(a)]),
                                                          (rc + cw - 0.3) * np.array([math.cos(a), math.sin(a)])])})
            for side, (r0, r1, rw) in enumerate([(rc - depth, rc, rc), (rc + cw, rc + cw + depth, rc + cw)]):
                dang = room_w / rw
                nside = int(span / dang)
                for i in range(nside):
                    b0, b1 = a0 + i * dang, a0 + (i + 1) * dang
                    rid = f"R{k}-{s}-{side}-{i}"
                    kind = "stairs" if (side == 0 and i == nside // 2) else str(rng.choice(kinds))
                    rooms.append({"room_id": rid, "kind": kind, "sector": f"S{s}", "deck": k, "name": rid,
                                  "geometry": _sector_poly(r0, r1, b0, b1, 2.0)})
                    m = (b0 + b1) / 2
                    u = np.array([math.cos(m), math.sin(m)])
                    t = np.array([-math.sin(m), math.cos(m)])
                    c = rw * u
                    doors.append({"door_id": f"D{rid[1:]}", "width_m": 0.9, "deck": k, "from_room": rid,
                                  "to_room": cid,
                                  "geometry": shapely.LineString([c - 0.45 * t, c + 0.45 * t])})
                    if kind == "stairs" and k + 1 < decks:
                        doors.append({"door_id": f"V{rid[1:]}", "from_room": rid,
                                      "to_room": f"R{k + 1}-{s}-{side}-{i}", "traverse_s": 12.0,
                                      "geometry": shapely.Point(*((r0 + r1) / 2 * u))})
    import geopandas as gpd

    out_dir.mkdir(parents=True, exist_ok=True)
    gpd.GeoDataFrame(rooms, geometry="geometry").to_file(out_dir / "rooms.geojson", driver="GeoJSON")
    gpd.GeoDataFrame(doors, geometry="geometry").to_file(out_dir / "doors.geojson", driver="GeoJSON")
    res = pd.DataFrame({"room_id": [r["room_id"] for r in rooms]})
    kind = pd.Series([r["kind"] for r in rooms])
    res["night"] = np.where(kind == "quarters", rng.integers(1, 5, len(rooms)), 0)
    res["day"] = np.where(kind.isin(["lab", "office", "galley"]), rng.integers(1, 8, len(rooms)), 0)
    res.to_csv(out_dir / "residents.csv", index=False)
    return out_dir


def make_station(n_rooms: int, seed: int, out_dir: Path) -> Path:
    try:
        from planner.generate import generate_station
    except ImportError:
        print("planner.generate not available: using the bench's simple ring station")
        return simple_ring_station(n_rooms, out_dir, seed=seed)
    return Path(generate_station(n_rooms, seed, out_dir))


def _cpu_s() -> float:
    """CPU seconds of this process and of its finished children (the reach table's worker processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run(folder: Path, label: str) -> dict:
    t0 = time.perf_counter()
    station = load_station(folder)
    t1, c1 = time.perf_counter(), _cpu_s()
    rt = reach_table(station, cache=False)
    t2, c2 = time.perf_counter(), _cpu_s()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"station": label, "rooms": len(station.rooms), "doors": len(station.doors),
           "load_wall_s": round(t1 - t0, 2), "reach_wall_s": round(t2 - t1, 2),
           "reach_cpu_s": round(c2 - c1, 2), "pairs": len(rt.pairs), "peak_rss_mb": round(peak_mb)}
    print(json.dumps(out))
    print(reach_summary(station, rt, worst=3))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--unity", default="inputs/station-unity")
    ap.add_argument("--rooms", type=int, default=30000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-unity", action="store_true")
    ap.add_argument("--skip-big", action="store_true")
    args = ap.parse_args()
    set_quiet(True)
    if not args.skip_unity:
        unity = Path(args.unity)
        if unity.is_dir():
            run(unity, unity.name)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                run(make_station(3000, args.seed, Path(tmp) / "unity-like"), "generated 3000 rooms")
    if not args.skip_big:
        import multiprocessing as mp

        with tempfile.TemporaryDirectory() as tmp:
            folder = make_station(args.rooms, args.seed, Path(tmp) / "big")
            proc = mp.get_context("fork").Process(target=run, args=(folder, f"generated {args.rooms} rooms"))
            proc.start()
            proc.join()


if __name__ == "__main__":
    main()
