"""The checker's coverage, backup and totals checks, kept apart from `planner.check`'s main loop.

From a plan's assignments (already checked against the station's rooms and the plan's safe rooms),
the occupancy after its relocations and the reach pairs recomputed by the checker:

- coverage: every resident of every scenario is assigned or listed unsheltered, with a reason, in
  whole persons; nobody is counted twice (`check_coverage`);
- cover-all: only those whom no candidate reaches, or whom their own door lets out too slowly for any
  plan, may be left unsheltered (`check_cover_all`);
- backup: each occupied room has min(backup_k, candidates in reach) safe rooms in reach (`check_backup`);
- totals: the plan's totals agree with its rows and the inputs (`check_totals`, `check_options`).

Each function appends breaches as (kind, feature, message) tuples to `out`; `planner.check` wraps them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from planner.params import Parameters

__all__ = ["MONEY_TOLERANCE", "check_coverage", "check_cover_all", "check_backup", "check_totals", "check_options",
           "frame", "num"]

MONEY_TOLERANCE = 0.05
"""Rounding slack on money figures (currency)."""
_EPS = 1e-6

Found = tuple[str, str, str]


def frame(rows: Any, cols: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows or []))
    for c in cols:
        if c not in df.columns:
            df[c] = pd.Series(dtype=object)
    return df


def num(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)


def check_coverage(plan: dict, a: pd.DataFrame, demand: pd.DataFrame, scen: list[str], known: set,
                    out: list[Found]) -> None:
    """assigned + unsheltered == residents for every room and scenario; reasons given."""
    u = frame(plan.get("unsheltered"), ["room_id", "scenario", "residents", "reason"])
    u["room_id"] = u["room_id"].astype(str)
    u["scenario"] = u["scenario"].astype(str)
    un = num(u["residents"])
    bad = ~np.isfinite(un) | (un < 0) | (np.abs(un - np.round(un)) > 1e-9)
    for i in np.flatnonzero(bad):
        out.append(("whole-persons", f"room {u['room_id'].iat[i]} ({u['scenario'].iat[i]})",
                    f"lists {u['residents'].iat[i]!r} unsheltered residents: not a whole number of persons"))
    u["n"] = np.where(np.isfinite(un), np.maximum(un, 0), 0.0)
    reason = u["reason"].fillna("").astype(str).str.strip()
    for r in u[(reason == "") & (u["n"] > 0)].itertuples(index=False):
        out.append(("unsheltered", f"room {r.room_id} ({r.scenario})",
                    f"{int(r.n)} residents are listed unsheltered without a reason"))
    badu = ~u["room_id"].isin(known) | ~u["scenario"].isin(scen)
    for r in u[badu].itertuples(index=False):
        out.append(("unsheltered", f"room {r.room_id} ({r.scenario})", "names an unknown room or scenario"))
    u = u[~badu]
    d = demand[scen].stack()
    d.index.names = ["room_id", "scenario"]
    got = a.groupby(["room_id", "scenario"])["n"].sum()
    uns = u.groupby(["room_id", "scenario"])["n"].sum()
    idx = d.index.union(got.index).union(uns.index)
    table = pd.DataFrame({"d": d.reindex(idx).fillna(0), "a": got.reindex(idx).fillna(0),
                          "u": uns.reindex(idx).fillna(0)})
    short = table[table["a"] + table["u"] < table["d"] - _EPS]
    for (rid, sc), r in short.iterrows():
        out.append(("coverage", f"room {rid} ({sc})",
                    f"missing residents: {int(r.d)} live there, {int(r.a)} assigned and {int(r.u)} listed "
                    f"unsheltered, so {int(round(r.d - r.a - r.u))} are unaccounted for"))
    extra = table[table["a"] + table["u"] > table["d"] + _EPS]
    for (rid, sc), r in extra.iterrows():
        out.append(("over-assigned", f"room {rid} ({sc})",
                    f"{int(r.d)} live there but {int(r.a)} are assigned and {int(r.u)} listed unsheltered"))


def check_cover_all(plan: dict, pairs: pd.DataFrame, out: list[Found], short: pd.DataFrame | None = None) -> None:
    """A cover-all plan may leave only residents that no candidate safe room reaches unsheltered, and
    those whom their own room's door lets out too slowly for any plan (`short`: persons per room and
    scenario, `checkqueue.short_residents`)."""
    u = frame(plan.get("unsheltered"), ["room_id", "scenario", "residents", "reason"])
    if not len(u):
        return
    u["room_id"] = u["room_id"].astype(str)
    u["scenario"] = u["scenario"].astype(str)
    u["residents"] = pd.to_numeric(u["residents"], errors="coerce").fillna(0)
    u = u[u["residents"] > 0].groupby(["room_id", "scenario"], as_index=False)["residents"].sum()
    if short is not None and len(short):
        ok = short.stack()
        allowed = ok.reindex(pd.MultiIndex.from_arrays([u["room_id"], u["scenario"]])).fillna(0).to_numpy()
        u = u[u["residents"].to_numpy() > allowed + _EPS]
    pr = pairs[pairs["room_id"].isin(set(u["room_id"]))]          # only the rooms listed unsheltered
    reachable = pr.groupby("room_id")["site_id"].apply(list)
    for r in u.itertuples(index=False):
        sites = reachable.get(r.room_id)
        if sites:
            out.append(("coverage", f"room {r.room_id} ({r.scenario})",
                        f"a cover-all plan leaves {r.residents} residents unsheltered although "
                        f"{len(sites)} candidate safe room(s) are within reach ({', '.join(map(str, sites[:5]))})"))


def check_backup(a: pd.DataFrame, pairs: pd.DataFrame, demand: pd.DataFrame, chosen: list[str],
                  p: Parameters, objective: str, out: list[Found]) -> None:
    """Each occupied room has min(backup_k, candidates in reach) converted safe rooms in reach."""
    k = int(p.backup_k)
    if k <= 0:
        return
    occupied = demand.index[(demand.to_numpy() > 0).any(axis=1)] if demand.shape[1] else demand.index[:0]
    if objective == "max-cover":  # rooms left unsheltered in max-cover need no backup
        occupied = occupied.intersection(pd.Index(a.loc[a["n"] > 0, "room_id"].unique()))
    pr = pairs[pairs["room_id"].isin(occupied)]
    n_cand = pr.groupby("room_id").size().reindex(occupied).fillna(0).astype(int)
    n_chosen = pr[pr["site_id"].isin(chosen)].groupby("room_id").size().reindex(occupied).fillna(0).astype(int)
    need = np.minimum(n_cand, k)
    for rid in occupied[(n_chosen < need).to_numpy()]:
        out.append(("backup", f"room {rid}",
                    f"has {int(n_chosen[rid])} safe room(s) within reach, needs {int(need[rid])} "
                    f"(backup k = {k}, {int(n_cand[rid])} candidate(s) in reach)"))


def check_totals(plan: dict, a: pd.DataFrame, demand: pd.DataFrame, scen: list[str], pairs: pd.DataFrame,
                  chosen: list[str], total_cost: float, safe: pd.DataFrame, out: list[Found]) -> None:
    """The plan's totals agree with what its rows and the inputs give."""
    t = plan.get("totals") or {}
    if not t:
        out.append(("totals", "totals", "are missing from the plan"))
        return
    pc = t.get("cost")
    if not isinstance(pc, (int, float)) or abs(pc - total_cost) > MONEY_TOLERANCE + 1e-9 * abs(total_cost):
        out.append(("totals", "totals.cost", f"is {pc}, the safe rooms cost {total_cost:,.2f}"))
    ts = t.get("scenarios") or {}
    for sc in scen:
        want_res = int(demand[sc].sum())
        want_sh = int(a.loc[a["scenario"] == sc, "n"].sum())
        got = ts.get(sc)
        if not isinstance(got, dict):
            out.append(("totals", f"totals.scenarios.{sc}", "is missing"))
            continue
        if got.get("residents") != want_res:
            out.append(("totals", f"totals.scenarios.{sc}.residents",
                        f"is {got.get('residents')}, the residents table gives {want_res}"))
        if got.get("sheltered") != want_sh:
            out.append(("totals", f"totals.scenarios.{sc}.sheltered",
                        f"is {got.get('sheltered')}, the assignments give {want_sh}"))
    for sc in set(ts) - set(scen):
        out.append(("totals", f"totals.scenarios.{sc}", "is not a scenario of the inputs"))
    if "max_walk_s" in t:
        mw = float(a.loc[a["n"] > 0, "walk_plan"].max()) if (a["n"] > 0).any() else 0.0
        if not isinstance(t["max_walk_s"], (int, float)) or abs(t["max_walk_s"] - mw) > 0.011:
            out.append(("totals", "totals.max_walk_s", f"is {t['max_walk_s']}, the assignments give {mw:.2f} s"))
    if "min_options_in_reach" in t:
        occupied = demand.index[(demand.to_numpy() > 0).any(axis=1)] if demand.shape[1] else demand.index[:0]
        opts = pairs[pairs["site_id"].isin(chosen)].groupby("room_id").size().reindex(occupied).fillna(0)
        mo = int(opts.min()) if len(opts) else 0
        if t["min_options_in_reach"] != mo:
            out.append(("totals", "totals.min_options_in_reach",
                        f"is {t['min_options_in_reach']}, recomputed {mo}"))
    check_options(t, demand, scen, pairs, chosen, out)
    ex = safe["existing"].fillna(False).astype(bool) if len(safe) else pd.Series(dtype=bool)
    if "rooms_converted" in t and t["rooms_converted"] != int((~ex).sum()):
        out.append(("totals", "totals.rooms_converted", f"is {t['rooms_converted']}, the plan lists {int((~ex).sum())}"))
    if "existing_safe_rooms" in t and t["existing_safe_rooms"] != int(ex.sum()):
        out.append(("totals", "totals.existing_safe_rooms", f"is {t['existing_safe_rooms']}, the plan lists {int(ex.sum())}"))


def check_options(t: dict, demand: pd.DataFrame, scen: list[str], pairs: pd.DataFrame, chosen: list[str],
                   out: list[Found]) -> None:
    """`totals.options_in_reach`, when the plan has it: residents per scenario by the number of converted
    safe rooms within reach of their room (0, 1, 2, 3 or more), recomputed from the pairs."""
    if not isinstance(t.get("options_in_reach"), dict):
        return
    n_opts = pairs[pairs["site_id"].isin(chosen)].groupby("room_id").size().reindex(demand.index).fillna(0)
    n_opts = n_opts.astype(int).clip(upper=3).to_numpy()
    for sc in scen:
        per = np.bincount(n_opts, weights=demand[sc].to_numpy(dtype=float), minlength=4)
        want = {"0": int(per[0]), "1": int(per[1]), "2": int(per[2]), "3+": int(per[3])}
        if t["options_in_reach"].get(sc) != want:
            out.append(("totals", f"totals.options_in_reach.{sc}",
                        f"is {t['options_in_reach'].get(sc)}, recomputed {want}"))
