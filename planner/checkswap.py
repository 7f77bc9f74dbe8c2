"""The checker's swaps (issue 17): a safe room some of whose own residents are assigned to another safe
room while residents of other rooms are assigned into it, recounted row by row from a plan's
assignments (independently of `planner.plan.swap_list`). Swaps are allowed (the optimiser pays a
penalty for each and keeps only those it cannot avoid at that price): `swap_findings` words them
as findings; `check_swaps` names every difference between the plan's `swaps[]` / `totals.swaps`
and the recount as a breach `(kind, feature, message)`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def recount_swaps(rows: list[tuple[str, str, str, int]], chosen: set[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """The swaps of an assignment, counted row by row (independently of `planner.plan.swap_list`).

    `rows`: (room_id, scenario, safe_room_id, residents) per assignment; `chosen`: the plan's safe
    rooms. Returns per (safe room, scenario) with a swap: leaving (its own residents assigned to
    another safe room), incoming (residents of other rooms assigned to it), sent_to (sorted safe rooms)."""
    leaving: dict[tuple[str, str], int] = {}
    incoming: dict[tuple[str, str], int] = {}
    sent: dict[tuple[str, str], set[str]] = {}
    for room, sc, site, n in rows:
        if n <= 0 or room == site:
            continue
        incoming[(site, sc)] = incoming.get((site, sc), 0) + n
        if room in chosen:
            leaving[(room, sc)] = leaving.get((room, sc), 0) + n
            sent.setdefault((room, sc), set()).add(site)
    return {k: {"leaving": v, "incoming": incoming[k], "sent_to": sorted(sent[k])}
            for k, v in leaving.items() if incoming.get(k, 0) > 0}


def _assignment_rows(a: pd.DataFrame) -> list[tuple[str, str, str, int]]:
    return list(zip(a["room_id"].astype(str), a["scenario"].astype(str), a["safe_room_id"].astype(str),
                    np.rint(a["n"].to_numpy(dtype=float)).astype(int).tolist()))


def check_swaps(plan: dict, a: pd.DataFrame, demand: pd.DataFrame, cap: pd.Series, scen: list[str],
                chosen: set[str]) -> list[tuple[str, str, str]]:
    """Breaches (kind, feature, message) where the plan's `swaps[]` and `totals.swaps` (when it has them)
    differ from the recount of its assignments `a` (room_id, scenario, safe_room_id, n persons), with
    own residents from the inputs `demand` (room x scenario, after relocations) and the recomputed
    capacities `cap` (persons per safe room)."""
    out: list[tuple[str, str, str]] = []
    got = recount_swaps(_assignment_rows(a), chosen)
    listed = plan.get("swaps")
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(r, dict) for r in listed):
            out.append(("swaps", "swaps", "is not a list of swaps"))
            listed = []
        seen: set[tuple[str, str]] = set()
        for r in listed:
            k = (str(r.get("safe_room_id")), str(r.get("scenario")))
            seen.add(k)
            want = got.get(k)
            if want is None:
                out.append(("swaps", f"safe room {k[0]} ({k[1]})", "is listed as a swap but its assignments "
                            "send none of its residents elsewhere while others come in"))
                continue
            own = int(demand.at[k[0], k[1]]) if k[0] in demand.index and k[1] in demand.columns else None
            c = int(cap.get(k[0], 0))
            expect = dict(want, own_residents=own, capacity=c,
                          forced_by_capacity=own is not None and own + want["incoming"] > c)
            for f, v in expect.items():
                if r.get(f) != v:
                    out.append(("swaps", f"safe room {k[0]} ({k[1]})", f"{f} is {r.get(f)!r}, recounted {v!r}"))
        for k in sorted(set(got) - seen):
            out.append(("swaps", f"safe room {k[0]} ({k[1]})", f"swaps ({got[k]['leaving']} of its residents "
                        f"leave, {got[k]['incoming']} come in) but is not listed in swaps"))
    ts = (plan.get("totals") or {}).get("swaps")
    if ts is not None:
        for sc in scen:
            per = [v for (_, s_), v in got.items() if s_ == sc]
            want_t = {"sites": len(per), "residents_leaving": sum(v["leaving"] for v in per),
                      "residents_incoming": sum(v["incoming"] for v in per)}
            if not isinstance(ts, dict) or ts.get(sc) != want_t:
                out.append(("swaps", f"totals.swaps.{sc}",
                            f"is {ts.get(sc) if isinstance(ts, dict) else ts!r}, recounted {want_t}"))
    return out


def swap_findings(plan: dict) -> list[str]:
    """The plan's swaps in words (findings, not breaches: the optimiser keeps only those it cannot avoid
    at the swap penalty), recounted from its assignments."""
    rows = [(str(r.get("room_id")), str(r.get("scenario")), str(r.get("safe_room_id")), int(r.get("residents") or 0))
            for r in plan.get("assignments") or [] if isinstance(r, dict)]
    chosen = {str(r.get("room_id")) for r in plan.get("safe_rooms") or [] if isinstance(r, dict)}
    got = recount_swaps(rows, chosen)
    return [f"swap at safe room {sid} ({sc}): {v['leaving']} of its own residents are sent to "
            f"{', '.join(v['sent_to'])} while {v['incoming']} from other rooms come in"
            for (sid, sc), v in sorted(got.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
