"""Scaling of `planner.imdf.import_imdf`: the SPbPU sample copied K times side by side.

    .venv/bin/python bench/bench_imdf.py [K ...]      (default 1 5 20)

Each copy is shifted east by 0.01 degrees (about 560 m at 60 N) with fresh ids for
units, openings, levels and buildings, so a copy count of K gives 443 K units and
472 K openings. Prints the import time and the time of `fill_residents`.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from planner.imdf import import_imdf
from planner.residents import fill_residents

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "imdf" / "spbpu"


def _shift(geom: dict | None, dx: float) -> dict | None:
    if not geom:
        return geom

    def walk(c):
        if isinstance(c[0], (int, float)):
            return [c[0] + dx, *c[1:]]
        return [walk(x) for x in c]

    return {**geom, "coordinates": walk(geom["coordinates"])}


def replicate(k: int, out: Path) -> Path:
    """Write an IMDF folder with `k` shifted copies of the sample."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("unit", "opening", "level", "building"):
        src = json.loads((SAMPLE / f"{name}.geojson").read_text())
        feats = []
        for i in range(k):
            for f in src["features"]:
                g = dict(f)
                g["id"] = f"{f['id']}-{i}"
                g["geometry"] = _shift(f.get("geometry"), 0.01 * i)
                p = dict(f.get("properties") or {})
                if "level_id" in p:
                    p["level_id"] = f"{p['level_id']}-{i}"
                if "building_ids" in p:
                    p["building_ids"] = [f"{b}-{i}" for b in p["building_ids"] or []]
                g["properties"] = p
                feats.append(g)
        (out / f"{name}.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return out


def main(argv: list[str]) -> None:
    ks = [int(a) for a in argv] or [1, 5, 20]
    with tempfile.TemporaryDirectory() as tmp:
        for k in ks:
            src = replicate(k, Path(tmp) / f"src{k}")
            t0 = time.perf_counter()
            rep = import_imdf(src, Path(tmp) / f"out{k}")
            t1 = time.perf_counter()
            fill_residents(Path(tmp) / f"out{k}")
            t2 = time.perf_counter()
            print(f"K={k:3d}: {rep.units_total:6d} units, {rep.openings_total:6d} openings -> {rep.rooms} rooms, "
                  f"{rep.doors} doors, {rep.vertical_links} links; import {t1 - t0:6.2f} s, "
                  f"residents fill {t2 - t1:5.2f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
