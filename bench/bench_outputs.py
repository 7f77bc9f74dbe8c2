"""Benchmark: the proposal's outputs (cost model, maps, GeoPackage, workbook, spreadsheet recalculation).

    .venv/bin/python bench/bench_outputs.py [--station inputs/station-unity] [--out OUT_DIR]

No solver: the plan is a stand-in built from the reach table (every occupied room sent to
its best candidate within reach, all its residents), which converts many more rooms than a
real plan and so bounds the output work from above. Prints the wall time of
`site_costs`, `plot_maps`, `write_plan_gpkg`, `write_workbook` and of a LibreOffice
headless recalculation of the workbook (when `soffice` is installed), and checks that the
recalculated total equals the planner's to the cent. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openpyxl
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.costs import site_costs
from planner.maps import plot_maps, write_plan_gpkg
from planner.network import default_cache_dir, reach_table
from planner.progress import set_quiet
from planner.sites import candidate_sites
from planner.station import load_station
from planner.workbook import write_workbook

_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def stand_in_plan(station, sites: pd.DataFrame, costs: pd.DataFrame, reach) -> dict:
    """Every occupied room to its best candidate within reach (capacities ignored)."""
    dem = station.demand()
    occ = dem.index[(dem > 0).any(axis=1)]
    best = reach.rooms.reindex(occ)
    ok = best["best_walk_s"] <= station.params.reach_s
    chosen = sorted(set(best.loc[ok, "best_site_id"].astype(str)))
    s = sites.loc[chosen]
    safe = [{"room_id": sid, "name": r["name"], "sector": r["sector"], "deck": int(r["deck"]), "kind": r["kind"],
             "area_m2": float(r["area_m2"]), "capacity": int(r["capacity"]), "door_flow_pps": float(r["door_flow_pps"]),
             "cost": float(costs.at[sid, "total_cost"]), "existing": bool(r["existing"]), "phase": 1 + i % 3}
            for i, (sid, r) in enumerate(s.iterrows())]
    asg, uns = [], []
    for sc in station.scenarios:
        n = dem.loc[occ, sc]
        for rid in occ[(n > 0).to_numpy()]:
            if ok[rid]:
                asg.append({"room_id": rid, "scenario": sc, "safe_room_id": str(best.at[rid, "best_site_id"]),
                            "residents": int(n[rid]), "walk_s": float(best.at[rid, "best_walk_s"])})
            else:
                uns.append({"room_id": rid, "scenario": sc, "residents": int(n[rid]), "reason": "unreachable"})
    a = pd.DataFrame(asg)
    scen = {sc: {"residents": int(dem[sc].sum()),
                 "sheltered": int(a.loc[a["scenario"] == sc, "residents"].sum()) if len(a) else 0}
            for sc in station.scenarios}
    return {"station": station.name, "safe_rooms": safe, "assignments": asg, "unsheltered": uns,
            "totals": {"cost": round(float(costs.loc[chosen, "total_cost"].sum()), 2), "budget": None,
                       "currency": station.params.currency, "scenarios": scen,
                       "max_walk_s": float(a["walk_s"].max()) if len(a) else 0.0, "min_options_in_reach": 1},
            "solver": {"name": "stand-in (bench)", "status": "n/a"}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--station", default="inputs/station-unity")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    set_quiet(True)
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-outputs-"))
    out.mkdir(parents=True, exist_ok=True)
    st = load_station(args.station)
    sites = candidate_sites(st)
    t = time.perf_counter()
    reach = reach_table(st, sites, cache_dir=default_cache_dir())
    print(f"reach table (cache allowed): {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    costs = site_costs(sites, st)
    print(f"site_costs: {len(sites)} sites in {time.perf_counter() - t:.3f} s")
    plan = stand_in_plan(st, sites, costs, reach)
    print(f"stand-in plan: {len(st.rooms)} rooms, {len(plan['safe_rooms'])} safe rooms, "
          f"{len(plan['assignments'])} assignments")
    t = time.perf_counter()
    maps = plot_maps(st, plan, out)
    print(f"plot_maps: {len(maps)} decks in {time.perf_counter() - t:.1f} s "
          f"({sum(m.stat().st_size for m in maps) / 1e6:.1f} MB)")
    t = time.perf_counter()
    g = write_plan_gpkg(st, plan, out / "plan.gpkg")
    print(f"write_plan_gpkg: {time.perf_counter() - t:.2f} s ({g.stat().st_size / 1e6:.1f} MB)")
    t = time.perf_counter()
    wb = write_workbook(out / "proposal.xlsx", st, plan, costs, sites, reach, map_png=maps)
    print(f"write_workbook: {time.perf_counter() - t:.1f} s ({wb.stat().st_size / 1e6:.1f} MB)")
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice:
        prof = out / "lo-profile"
        (prof / "user").mkdir(parents=True, exist_ok=True)
        (prof / "user" / "registrymodifications.xcu").write_text(_XCU)
        t = time.perf_counter()
        subprocess.run([soffice, f"-env:UserInstallation={prof.resolve().as_uri()}", "--headless", "--norestore",
                        "--convert-to", "xlsx", "--outdir", str(out / "recalculated"), str(wb)],
                       check=True, capture_output=True, timeout=600)
        dt = time.perf_counter() - t
        ws = openpyxl.load_workbook(out / "recalculated" / wb.name, data_only=True)["Summary"]
        total = next(c for c in ws["A"] if c.value == "Total cost").offset(column=1).value
        same = round(total, 2) == plan["totals"]["cost"]
        print(f"LibreOffice recalculation: {dt:.1f} s; total {total:,.2f} vs planner "
              f"{plan['totals']['cost']:,.2f}: {'same to the cent' if same else 'DIFFERENT'}")
    print(f"outputs in {out}")


if __name__ == "__main__":
    main()
