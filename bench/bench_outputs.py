"""Benchmark: the proposal's outputs (cost model, maps, GeoPackage, workbook, spreadsheet recalculation).

    .venv/bin/python bench/bench_outputs.py [--station inputs/station-unity] [--out OUT_DIR]
    .venv/bin/python bench/bench_outputs.py --plan PROPOSAL/plan.json [--out OUT_DIR] [--only ...]

No solver. Without `--plan` the plan is a stand-in built from the reach table (every occupied
room sent to its best candidate within reach, all its residents), which converts many more rooms
than a real plan and so bounds the output work from above. Prints the wall time of
`site_costs`, `plot_maps`, `write_plan_gpkg`, `write_workbook` and of a LibreOffice
headless recalculation of the workbook (when `soffice` is installed), and checks that the
recalculated total equals the planner's to the cent.

With `--plan` (a proposal's plan.json; the station is the one named by `--station`), each of
`planner.proposal.write_outputs`' outputs is timed alone in this process (wall and CPU seconds:
maps per deck, sector maps per deck, GeoPackage, the briefing's rows and routes, placards per
deck, interactive map and sheet, the workbook), then `write_outputs` as a whole (wall, and the
CPU of this process and its forked workers), into OUT_DIR/parts and OUT_DIR/whole.
`--profile FILE` writes a cProfile of the parts. The workbook gets no what-if or displacement
tables (they are the proposal's, not plan.json's). Not part of `make test`.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import functools
import json
import os
import resource
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


def _cpu() -> float:
    """CPU seconds (user + system) of this process and its waited-for children."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


class _Timer:
    """Prints and keeps (name, wall s, CPU s) of each timed block."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []

    def __call__(self, name: str, fn, *a, **kw):
        t, c = time.perf_counter(), _cpu()
        res = fn(*a, **kw)
        w, cp = time.perf_counter() - t, _cpu() - c
        self.rows.append((name, w, cp))
        print(f"  {name:<44} {w:7.2f} s wall {cp:7.2f} s CPU", flush=True)
        return res


def real_plan(args: argparse.Namespace, out: Path) -> None:
    """Every output of `write_outputs` for a real plan.json, alone and as a whole."""
    from planner.brief import add_routes, room_briefs, strings
    from planner.maps import plot_sector_maps
    from planner.pipeline import PlanRun, prepare
    from planner.placards import write_briefing_sheet, write_placards
    from planner.proposal import output_workers, write_outputs
    from planner.webmap import write_webmap

    st = load_station(args.station)
    plan = json.loads(Path(args.plan).read_text(encoding="utf-8"))
    sites, reach, costs = prepare(st, cache_dir=default_cache_dir())
    graph = None
    if not args.no_graph and "graph" in {f.name for f in dataclasses.fields(PlanRun)}:
        from planner.network.paths import walk_graph

        t = time.perf_counter()
        graph = walk_graph(st)   # as the proposal's corridor rounds leave it in the run
        print(f"walking graph (built by the planning run, not timed below): {time.perf_counter() - t:.1f} s")
    run = PlanRun(station=st, sites=sites, reach=reach, costs=costs, problem=None, solution=None,  # type: ignore[arg-type]
                  plan=plan, **({"graph": graph} if graph is not None else {}))
    add_routes = functools.partial(add_routes, graph=graph) if graph is not None else add_routes
    print(f"plan: {len(plan['safe_rooms'])} safe rooms, {len(plan['assignments'])} assignments; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    only = set(args.only.split(",")) if args.only else None
    decks = sorted(int(d) for d in pd.unique(st.rooms["deck"]))
    tm = _Timer()
    if only is None or "parts" in only:
        parts = out / "parts"
        parts.mkdir(parents=True, exist_ok=True)
        prof = cProfile.Profile() if args.profile else None
        if prof:
            prof.enable()
        maps = tm("maps (one PNG per deck)", plot_maps, st, plan, parts)
        for d in decks:
            tm(f"sector maps, deck {d}", plot_sector_maps, st, plan, parts, decks=[d])
        tm("GeoPackage", write_plan_gpkg, st, plan, parts / "plan.gpkg")
        tx = strings("en")
        briefs = tm("briefing: rows", room_briefs, st, plan, reach)
        briefs, routes = tm("briefing: routes", add_routes, briefs, st)
        for deck, rows in briefs.groupby("deck", sort=True):
            tm(f"briefing: placards deck {int(deck)} ({rows['room_id'].nunique()} pages)", write_placards,
               parts / f"placards-deck-{int(deck)}.pdf", st, plan, rows, routes, tx)
        tm("briefing: interactive map", write_webmap, parts / "map.html", st, plan, briefs, routes, tx)
        tm("briefing: sheet", write_briefing_sheet, parts / "briefing-sheet.pdf", st.title, plan, None, tx)
        tm("workbook", write_workbook, parts / "proposal.xlsx", st, plan, costs, sites, reach, map_png=maps,
           overwrite=True)
        if prof:
            prof.disable()
            prof.dump_stats(args.profile)
        print(f"  {'sum of the parts':<44} {sum(r[1] for r in tm.rows):7.2f} s wall "
              f"{sum(r[2] for r in tm.rows):7.2f} s CPU (load {os.getloadavg()[0]:.2f})", flush=True)
    if only is None or "whole" in only:
        whole = out / "whole"
        shutil.rmtree(whole, ignore_errors=True)
        whole.mkdir(parents=True)
        tm(f"write_outputs ({output_workers()} processes)", write_outputs, run, whole, "bench")
        print(f"  load {os.getloadavg()[0]:.2f}")
    print(f"outputs in {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--station", default="inputs/station-unity")
    ap.add_argument("--out", default=None)
    ap.add_argument("--plan", default=None, help="a proposal's plan.json: time write_outputs' parts and whole")
    ap.add_argument("--only", default=None, help="with --plan: parts, whole or both (comma-separated)")
    ap.add_argument("--profile", default=None, help="with --plan: write a cProfile of the parts to this file")
    ap.add_argument("--no-graph", action="store_true",
                    help="with --plan: the run holds no walking graph (a proposal's corridor rounds leave theirs)")
    args = ap.parse_args()
    set_quiet(True)
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-outputs-"))
    out.mkdir(parents=True, exist_ok=True)
    if args.plan:
        real_plan(args, out)
        return
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
