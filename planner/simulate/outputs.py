"""The simulation's outputs: summary lines, the arrival curve, simulation.json and the workbook (see `planner.simulate`)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from planner.plan import write_json_atomic, write_table
from planner.workbook import write_verification_workbook
from planner.simulate.settings import SimulationResult


# ------------------------------------------------------------------------ outputs
def summary_lines(result: SimulationResult | dict) -> list[str]:
    """Plain-language lines: share secured within 1, 2 and 4 minutes, last arrival, deadlocks, per scenario."""
    d = result.to_dict() if isinstance(result, SimulationResult) else result
    reach = float(d.get("parameters", {}).get("reach_s", 60.0))
    lines = []
    for sc, s in d["scenarios"].items():
        marks = ", ".join(f"{float(v):.1%} within {int(k) // 60} min" for k, v in s.get("within_s", {}).items())
        lines.append(f"{sc:>9}: {s['share_within_reach']:.1%} of {s['residents']:,} residents secured within "
                     f"{reach:.0f} s (worst of {len(s['seeds'])} seeds; {s['sheltered_in_place']:,} shelter in place, "
                     f"{s['agents']:,} walk); {marks}; last arrival {s['last_arrival_s']:.1f} s; "
                     f"{s['deadlocked']} deadlocked")
    late = d.get("late_rooms", [])
    if late:
        by = pd.Series([r["cause"] for r in late]).value_counts()
        lines.append(f"late rooms: {len(late)} ({', '.join(f'{c}: {n}' for c, n in by.items())})")
    return lines


def plot_curve(result: SimulationResult | dict, path: Path) -> Path:
    """The arrival curve (share of residents secured against time, one line per scenario) as PNG."""
    d = result.to_dict() if isinstance(result, SimulationResult) else result
    reach = float(d.get("parameters", {}).get("reach_s", 60.0))
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    t_max = reach
    for sc, s in d["scenarios"].items():
        c = np.asarray(s["curve"], dtype=float).reshape(-1, 2)
        ax.step(c[:, 0], c[:, 1] * 100.0, where="post", label=f"{sc} ({s['share_within_reach']:.1%} by {reach:.0f} s)")
        t_max = max(t_max, float(c[-1, 0]))
    ax.axvline(reach, color="k", ls="--", lw=1)
    ax.axhline(99.5, color="grey", ls=":", lw=1)
    ax.set_xlim(0, max(t_max, 240.0) if t_max > reach else t_max * 1.05)
    ax.set_ylim(0, 100.5)
    ax.set_xlabel("time after the alarm (s)")
    ax.set_ylabel("residents inside a safe room (%)")
    ax.set_title(f"Simulated arrivals ({d.get('parameters', {}).get('engine', 'JuPedSim')}, "
                 f"{d.get('parameters', {}).get('model', '')}, worst seed)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.png")
    try:
        fig.savefig(tmp)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path


def write_simulation(result: SimulationResult, out_dir: str | Path) -> dict[str, Path]:
    """Write `simulation.json`, `arrival-curve.png`, `simulation.xlsx` (the Verification and Arrival
    curve sheets) and `agents.csv` (per agent and seed) into `out_dir`.

    Returns {"json": path, "png": path, "xlsx": path, "agents": path}. Files are written to
    temporary names and moved into place.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    d = result.to_dict()
    paths = {"json": write_json_atomic(out / "simulation.json", d),
             "png": plot_curve(result, out / "arrival-curve.png"),
             "xlsx": write_verification_workbook(out / "simulation.xlsx", str(d["parameters"].get("station", "")), d)}
    if len(result.agents):
        paths["agents"] = write_table(result.agents.round(3), out / "agents.csv")
    return paths
