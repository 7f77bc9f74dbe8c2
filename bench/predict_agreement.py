"""Prediction against simulation (issue 17): how close is each assignment's predicted last arrival?

    .venv/bin/python -m bench.predict_agreement STATION PLAN SIMULATION [--label L] [--json OUT]

For every assignment the simulation replayed (not deadlocked, not late by the plan, someone arrived):
the share whose simulated last arrival is within max(5 %, 2 s) of the prediction, the share
predicted earlier than simulated by more than 5 s, and the median of simulated minus predicted
(seconds); overall, per scenario and per size class (residents of the assignment: 1, 2, 3-5, 6-10,
11-20, 21+). Three predictions side by side:

- `simulated_file`: the `predicted_s` the simulation.json carries;
- `conservative`: the conservative arrival (`planner.queues.predicted_arrivals`, plan.json
  `planned_s`: farthest point, whole exit queue, batch at the safe-room door);
- `estimate`: `planner.estimate.estimated_arrivals` (plan.json `predicted_s`), recomputed here
  from the station and the plan.

`make verify` prints the same table for the simulation it has just run (`agreement_rows`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from planner.check import plan_parameters
from planner.estimate import estimated_arrivals
from planner.queues import predicted_arrivals
from planner.station import Station, load_station

SIZE_BINS = [0, 1, 2, 5, 10, 20, np.inf]
SIZE_LABELS = ["1", "2", "3-5", "6-10", "11-20", "21+"]


def _figures(sim: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    diff = sim - pred
    ok = np.abs(diff) <= np.maximum(0.05 * sim, 2.0)
    return {"n": int(len(sim)), "within_5pct_2s": float(ok.mean()) if len(sim) else float("nan"),
            "early_over_5s": float((pred < sim - 5.0).mean()) if len(sim) else float("nan"),
            "median_sim_minus_pred_s": float(np.median(diff)) if len(sim) else float("nan")}


def compared_rows(station: Station, plan: dict, simulation: dict) -> pd.DataFrame:
    """The simulation's assignment rows that count (see the module docstring) with the three predictions:
    columns room_id, scenario, safe_room_id, residents, sim_last_s, simulated_file, conservative, estimate."""
    a = pd.DataFrame(plan.get("assignments", []))
    s = pd.DataFrame(simulation.get("assignments", []))
    if a.empty or s.empty:
        return pd.DataFrame()
    a = a.copy()
    station = dataclasses.replace(station, params=plan_parameters(plan, station.params))
    a["conservative"] = predicted_arrivals(station, a)
    a["estimate"] = estimated_arrivals(station, a, conservative=a["conservative"].to_numpy())
    s = s[(s["deadlocked"] == 0) & ~s["late_by_plan"].astype(bool) & s["sim_last_s"].notna()]
    s = s.rename(columns={"predicted_s": "simulated_file"})
    keys = ["room_id", "scenario", "safe_room_id"]
    a = a[keys + ["conservative", "estimate"]].groupby(keys, as_index=False).max()
    return s.merge(a, on=keys, how="inner")


def agreement_rows(rows: pd.DataFrame, label: str = "") -> pd.DataFrame:
    """One line per (prediction, group): overall, each scenario, each size class."""
    out = []
    if rows.empty:
        return pd.DataFrame()
    size = pd.cut(rows["residents"], SIZE_BINS, labels=SIZE_LABELS)
    for col in ("simulated_file", "conservative", "estimate"):
        if col not in rows or rows[col].isna().all():
            continue
        groups = [("all", np.ones(len(rows), dtype=bool))]
        groups += [(f"scenario {sc}", (rows["scenario"] == sc).to_numpy()) for sc in sorted(rows["scenario"].unique())]
        groups += [(f"size {lab}", (size == lab).to_numpy()) for lab in SIZE_LABELS]
        for name, sel in groups:
            if not sel.any():
                continue
            f = _figures(rows["sim_last_s"].to_numpy(dtype=float)[sel], rows[col].to_numpy(dtype=float)[sel])
            out.append({"plan": label, "prediction": col, "group": name} | f)
    return pd.DataFrame(out)


def markdown(table: pd.DataFrame) -> str:
    """The table as Markdown (shares in %, seconds to one decimal)."""
    lines = ["| plan | prediction | group | assignments | within 5 %/2 s | > 5 s early | median sim - pred (s) |",
             "|---|---|---|---:|---:|---:|---:|"]
    for r in table.itertuples(index=False):
        lines.append(f"| {r.plan} | {r.prediction} | {r.group} | {r.n} | {100 * r.within_5pct_2s:.1f} % | "
                     f"{100 * r.early_over_5s:.1f} % | {r.median_sim_minus_pred_s:+.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.predict_agreement", description=__doc__.splitlines()[0])
    ap.add_argument("station")
    ap.add_argument("plan")
    ap.add_argument("simulation")
    ap.add_argument("--label", default="")
    ap.add_argument("--json", default=None, help="also write the table as JSON here")
    args = ap.parse_args(argv)
    station = load_station(args.station)
    plan = json.loads(Path(args.plan).read_text())
    sim = json.loads(Path(args.simulation).read_text())
    table = agreement_rows(compared_rows(station, plan, sim), args.label or Path(args.plan).stem)
    print(markdown(table))
    if args.json:
        Path(args.json).write_text(table.to_json(orient="records", indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
