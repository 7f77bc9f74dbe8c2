"""The offline interactive map: one self-contained HTML file per station (SVG and a small script).

No network access at run time: no CDN, no web fonts, no tiles; the page's Content-Security-Policy
forbids every fetch (`default-src 'none'`), so a browser could not load anything even if the
page asked. The file holds:

- one SVG per deck (rooms as paths, plan metres with y pointing up, a scale bar and a plan north
  arrow); the deck buttons switch between them (the decks are layers);
- the plan per room as JSON: residents, assigned safe rooms with plan.json's `walk_s` (as
  written there), metres, entry door, the second option in reach, the route (door to door,
  `planner.brief.routes`); per safe room its capacity, phase and who is assigned (persons and
  rooms per scenario, summed from plan.json's assignments);
- the script: rooms coloured by the walk of the chosen scenario, safe rooms outlined by phase
  (a phase filter dims later phases), a search box ("type your room") that shows the room's safe
  rooms and routes per scenario, hover details, zoom (wheel) and pan (drag), a print view.

The page reads ``#room=<id>`` from its address at load (the browser test uses it) and marks
``<body data-ready="1">`` when it has drawn.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from planner.brief import Route, fmt_s
from planner.files import write_atomic
from planner.maps import PHASE_COLOURS, RELOCATION_COLOUR, relocation_layer
from planner.station import Station


def _svg_paths(geoms: np.ndarray) -> list[str]:
    """SVG path data per (multi)polygon, decimetre precision, y negated (SVG's y points down)."""
    geoms = np.asarray(geoms, dtype=object)
    out = [""] * len(geoms)
    if not len(geoms):
        return out
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    if not len(coords):
        return out
    xy = np.round(coords * np.array([1.0, -1.0]), 1)
    cuts = np.flatnonzero(np.diff(ring_idx)) + 1
    owner = part_of[ring_part[np.unique(ring_idx)]]
    acc: list[list[str]] = [[] for _ in range(len(geoms))]
    for k, ring in zip(owner, np.split(xy, cuts)):
        pts = " ".join(f"{x:g} {y:g}" for x, y in ring[:-1])
        acc[int(k)].append(f"M{pts}Z")
    return ["".join(a) for a in acc]


def _moves(station: Station, plan: dict) -> dict[str, list]:
    """Residents moved out of repurposed rooms (plan.json relocations), per deck: one line
    [x0, -y0, x1, -y1, residents, from_room, to_room] per move within the deck (centroids, metres)."""
    mv = relocation_layer(station, plan)
    moves: dict[str, list] = {}
    if not len(mv):
        return moves
    xy = shapely.get_coordinates(mv.geometry.to_numpy()).reshape(-1, 2, 2)
    for (a0, a1), d0, d1, n, f, t in zip(xy, mv["deck_from"], mv["deck_to"], mv["residents"], mv["from_room"],
                                         mv["to_room"]):
        if d0 == d1:
            moves.setdefault(str(int(d0)), []).append([round(float(a0[0]), 1), round(float(-a0[1]), 1),
                                                       round(float(a1[0]), 1), round(float(-a1[1]), 1), int(n),
                                                       str(f), str(t)])
    return moves


def map_data(station: Station, plan: dict, briefs: pd.DataFrame, routes: dict[tuple[str, str], Route],
             tx: dict[str, str]) -> dict:
    """The page's data (plain JSON types): decks, rooms, safe rooms, routes, strings.

    Numbers are plan.json's: `walk_s` strings as `fmt_s` writes them, capacities, phases and
    assigned persons (sums of plan.json's assignments)."""
    rooms = station.rooms.drop_duplicates("room_id")
    scen = list(station.scenarios)
    safe_rows = {str(s["room_id"]): s for s in plan.get("safe_rooms", [])}
    a = pd.DataFrame(plan.get("assignments", []),
                     columns=["room_id", "scenario", "safe_room_id", "residents", "walk_s"])
    a["room_id"] = a["room_id"].astype(str)
    a["safe_room_id"] = a["safe_room_id"].astype(str)
    agg = a.groupby(["safe_room_id", "scenario"]).agg(persons=("residents", "sum"), rooms=("room_id", "nunique"))
    per = {key: [int(n), int(k)] for key, n, k in zip(agg.index, agg["persons"], agg["rooms"])}
    safe = {}
    for sid, s in safe_rows.items():
        asg = {sc: list(per.get((sid, sc), [0, 0])) for sc in scen}
        safe[sid] = {"name": str(s.get("name", "")), "capacity": int(s.get("capacity", 0) or 0),
                     "phase": int(s.get("phase", 1) or 1), "existing": bool(s.get("existing", False)),
                     "assigned": asg}
    # per room and scenario: every assignment (a room may be split over several safe rooms)
    brow = {(r["room_id"], r["scenario"]): r for r in briefs.to_dict("records")}
    info: dict[str, dict[str, list]] = {}
    a = a.sort_values(["room_id", "scenario", "residents"], ascending=[True, True, False], kind="stable")
    for rid, sc, sid, n, w in zip(a["room_id"], a["scenario"], a["safe_room_id"], a["residents"], a["walk_s"]):
        info.setdefault(rid, {}).setdefault(sc, []).append([sid, int(n), fmt_s(w)])
    demand = station.demand().reindex(columns=scen).fillna(0).astype(int)
    dem = {rid: dict(zip(scen, map(int, row))) for rid, row in zip(demand.index, demand.to_numpy())}
    room_list = []
    used_routes: dict[str, list] = {}
    for rid, name, kind, sector, deck in zip(rooms["room_id"].astype(str), rooms["name"].astype(str),
                                             rooms["kind"].astype(str), rooms["sector"].astype(str),
                                             rooms["deck"].astype(int)):
        entry: dict = {"id": rid, "name": name, "kind": kind, "sector": sector, "deck": int(deck),
                       "res": dem.get(rid, {sc: 0 for sc in scen}), "a": info.get(rid, {}), "walk": {}, "m": {},
                       "door": {}, "second": {}, "uns": {}}
        for sc in scen:
            br = brow.get((rid, sc))
            if br is None:
                continue
            if br["safe_room_id"]:
                entry["walk"][sc] = max(float(x[2]) for x in entry["a"].get(sc, [["", 0, "0"]]))
                entry["m"][sc] = None if pd.isna(br["walk_m"]) else int(br["walk_m"])
                entry["door"][sc] = br["door_id"]
                key = f"{rid}>{br['safe_room_id']}"
                rt = routes.get((rid, br["safe_room_id"]))
                if rt is not None and key not in used_routes and len(rt.xy) >= 2:
                    used_routes[key] = [[round(float(x), 1), round(float(-y), 1), int(d)]
                                        for (x, y), d in zip(rt.xy, np.nan_to_num(rt.deck))]
            if br["second_id"]:
                entry["second"][sc] = [br["second_id"], fmt_s(round(float(br["second_walk_s"]), 2))]
            if int(br["unsheltered"]):
                entry["uns"][sc] = int(br["unsheltered"])
        room_list.append(entry)
    decks = []
    for d in sorted(pd.unique(rooms["deck"])):
        sel = rooms[rooms["deck"] == d]
        geom = sel.geometry.to_numpy()
        x0, y0, x1, y1 = shapely.total_bounds(geom) if len(geom) else (0, 0, 1, 1)
        pad = 0.03 * max(x1 - x0, y1 - y0, 1.0)
        decks.append({"deck": int(d), "ids": sel["room_id"].astype(str).tolist(), "paths": _svg_paths(geom),
                      "box": [round(float(x0 - pad), 1), round(float(-y1 - pad), 1),
                              round(float(x1 - x0 + 2 * pad), 1), round(float(y1 - y0 + 2 * pad), 1)]})
    moves = _moves(station, plan)
    strings = {k.split(".", 1)[1]: v for k, v in tx.items() if k.startswith("map.")}
    strings.update({f"scenario.{k.split('.', 1)[1]}": v for k, v in tx.items() if k.startswith("scenario.")})
    return {"title": tx.get("map.title", "{station}").format(station=station.title), "scenarios": scen,
            "reach_s": float(station.params.reach_s), "phase_colours": PHASE_COLOURS, "strings": strings,
            "phase_names": [str(p.get("name", "")) for p in plan.get("phases", []) or []]
            or [ph.name for ph in station.params.phases],
            "created": str(plan.get("created", "")), "decks": decks, "rooms": room_list, "safe": safe,
            "routes": used_routes, "moves": moves, "move_colour": RELOCATION_COLOUR}


CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"
"""The page's Content-Security-Policy: inline script and style only, no fetch of any kind."""
ASSETS = Path(__file__).with_name("assets")
"""The page's style and script (`webmap.css`, `webmap.js`), embedded into every map."""





def render_html(data: dict) -> str:
    """The self-contained page for `map_data`'s dict."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    s = data["strings"]
    title = html.escape(data["title"])
    search = html.escape(s.get("search", "type your room"))
    legend = "".join(f'<span style="background:{c}"></span> {lab} ' for c, lab in
                     (("rgb(26,152,80)", "0 s"), ("rgb(254,224,139)", f"{data['reach_s'] / 2:g} s"),
                      ("rgb(215,48,39)", f"{data['reach_s']:g} s")))
    css = (ASSETS / "webmap.css").read_text(encoding="utf-8")
    js = (ASSETS / "webmap.js").read_text(encoding="utf-8").replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style></head>
<body data-ready="0">
<header><h1>{title}</h1>
<input id="q" list="ids" placeholder="{search}" autocomplete="off" aria-label="{search}">
<datalist id="ids"></datalist>
<span id="decks"></span>
<label>{html.escape(s.get('scenario', 'scenario'))} <select id="scen"></select></label>
<label>phase <select id="phase"><option value="0">all</option></select></label>
<button id="reset">⤢</button><button id="print">{html.escape(s.get('print', 'Print'))}</button></header>
<main><div id="maps"><div id="scalebar"><b></b><i></i></div><div id="north">▲<br>N (+y)</div></div>
<aside><div id="result" data-room=""></div>
<p class="legend">{html.escape(s.get('legend_walk', ''))}<br>{legend}</p>
<p class="legend" id="phases">{html.escape(s.get('legend_safe', ''))}:<br></p>
<p class="muted">Plan of {html.escape(data['created'][:10])}; walking times from plan.json;
routes drawn as straight lines from door to door.</p>
</aside></main><div id="tip"></div>
<script type="application/json" id="data">{payload}</script>
<script>{js}</script>
</body></html>
"""


def write_webmap(path: Path, station: Station, plan: dict, briefs: pd.DataFrame,
                 routes: dict[tuple[str, str], Route], tx: dict[str, str]) -> Path:
    """Write the interactive map (one HTML file, everything embedded) to `path`, atomically."""
    path = Path(path)
    text = render_html(map_data(station, plan, briefs, routes, tx))
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=True,
                        what="interactive map")
