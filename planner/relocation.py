"""Conversion modes, beds and the relocation a repurposed room causes (inputs side).

docs/model.md, "Conversion modes and relocation", states the rules; in short:

- Every candidate room has a conversion mode: `dual_use` (it keeps its use and its
  occupants, who shelter in place; hardened and equipped, no relocation) or
  `repurpose` (emptied). A room's `mode` property in rooms.geojson wins over
  `[model] modes` for its kind; kinds not named there are `dual_use`.
- Beds: a room's declared `beds` property; a quarters room without one has
  `max(most residents, floor(area / berth_area_m2))` beds when `[capacity]
  berth_area_m2` is set, else its most residents over the scenarios (no spare
  bed); other rooms without the property have none.
- Residents of a room (people who live there) = its most occupants over the
  scenarios, for rooms with beds; rooms without beds (storage, recreation, ...)
  have no residents to move: the people found in them are users whose activity
  moves elsewhere, and they are counted where the residents table puts them.
- A repurposed room with residents sends all of them to host rooms with spare beds
  (beds minus residents), never to a repurposed room that is converted. In every
  scenario the occupants of the repurposed room (all of them residents) are at their
  new home instead: per move (from, to, residents) the plan states how many of the
  moved residents are present in each scenario, at most `residents`, and per source
  room and scenario they add up to its occupants in that scenario.

This module computes the per-room data (plain pandas), the tables of allowed moves and the
occupancy after a set of moves; it never imports the optimiser (the checker uses it). The
optimiser (planner.model.relocation) adds the relocation variables and rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.errors import InputError
from planner.params import CONVERSION_MODES
from planner.station import Station

PAIR_LIMIT = 200_000
"""At most this many (source, host) moves are modelled: above it each source is offered its
`MOVES_PER_SOURCE` nearest hosts in its own sector (docs/model.md)."""
MOVES_PER_SOURCE = 20
"""Hosts offered to each source above `PAIR_LIMIT` (nearest by centroid, a deck counting 1 km)."""
DECK_SPACING_M = 1000.0


def room_modes(station: Station) -> pd.Series:
    """Conversion mode per room (index room_id): the room's `mode`, else `[model] modes` of its kind,
    else `dual_use`. An unknown mode is an InputError naming the room."""
    rooms = station.rooms
    ids = rooms["room_id"].astype(str).to_numpy()
    by_kind = rooms["kind"].map(lambda k: station.params.modes.get(str(k), "dual_use")).to_numpy(dtype=object)
    own = rooms["mode"].to_numpy(dtype=object) if "mode" in rooms.columns else np.full(len(rooms), None, dtype=object)
    has = pd.notna(own)
    bad = has & ~np.isin(own.astype(str), CONVERSION_MODES)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(str(station.files.get("rooms", "rooms.geojson")), f"room {ids[k]} property mode",
                         f"is {own[k]!r}", f"use one of {', '.join(CONVERSION_MODES)} or leave it out")
    out = pd.Series(np.where(has, own, by_kind), index=ids, name="mode")
    return out[~out.index.duplicated()]


def room_beds(station: Station) -> pd.Series:
    """Beds per room (index room_id, whole beds): declared, else the quarters rule of the module
    docstring, else 0. A negative or fractional declaration is an InputError naming the room."""
    rooms = station.rooms
    ids = rooms["room_id"].astype(str).to_numpy()
    most = station.demand().max(axis=1).reindex(ids).fillna(0).to_numpy(dtype=float) if station.scenarios else np.zeros(len(ids))
    declared = (pd.to_numeric(rooms["beds"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                if "beds" in rooms.columns else np.full(len(ids), np.nan))
    has = np.isfinite(declared)
    bad = has & ((declared < 0) | (np.abs(declared - np.round(declared)) > 1e-9))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(str(station.files.get("rooms", "rooms.geojson")), f"room {ids[k]} property beds",
                         f"is {declared[k]!r}", "give a whole number of beds (0 or more) or leave it out")
    quarters = rooms["kind"].astype(str).to_numpy() == "quarters"
    rule = most.copy()
    if station.params.berth_area_m2 is not None:
        rule = np.maximum(most, np.floor(rooms.geometry.area.to_numpy() / station.params.berth_area_m2 + 1e-9))
    beds = np.where(has, declared, np.where(quarters, rule, 0.0))
    out = pd.Series(beds.astype(np.int64), index=ids, name="beds")
    return out[~out.index.duplicated()]


def home_residents(station: Station, beds: pd.Series | None = None) -> pd.Series:
    """People who live in each room (index room_id, persons): its most occupants over the scenarios
    for rooms with beds, 0 for rooms without."""
    beds = room_beds(station) if beds is None else beds
    most = station.demand().max(axis=1).reindex(beds.index).fillna(0).astype(np.int64) if station.scenarios \
        else pd.Series(0, index=beds.index)
    return most.where(beds > 0, 0).rename("residents")


def relocation_tables(station: Station, candidates: pd.Index) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[str]]:
    """(sources, hosts, moves, notes) for the candidate sites `candidates` (room ids): the tables of
    `planner.model.relocation.RelocationInputs` (see there for their columns).

    Existing safe rooms are never sources (they are converted already). Above
    `PAIR_LIMIT` source-host pairs only moves within the same sector are offered.
    """
    scen = list(station.scenarios)
    modes = room_modes(station)
    beds = room_beds(station)
    res = home_residents(station, beds)
    rooms = station.rooms.drop_duplicates("room_id")
    sector = pd.Series(rooms["sector"].astype(str).to_numpy(), index=rooms["room_id"].astype(str).to_numpy())
    existing = pd.Series(rooms["existing"].to_numpy(dtype=bool), index=sector.index)
    cand = pd.Index([str(c) for c in candidates])
    cmode = modes.reindex(cand).fillna("dual_use").to_numpy(dtype=object)
    new = ~existing.reindex(cand).fillna(False).to_numpy(dtype=bool)
    rep = cand[(cmode == "repurpose") & new]
    may = cand[np.isin(cmode, ("repurpose", "either")) & new]
    dem = station.demand()
    dem = dem[~dem.index.duplicated()]
    src_ids = may[(res.reindex(may).fillna(0) > 0).to_numpy()]
    sources = pd.DataFrame({"residents": res.reindex(src_ids).to_numpy(dtype=np.int64),
                            "sector": sector.reindex(src_ids).to_numpy(),
                            "optional": (modes.reindex(src_ids) == "either").to_numpy(),
                            "extra_cost": np.zeros(len(src_ids))}, index=pd.Index(src_ids, name="room_id"))
    for s in scen:
        sources[s] = dem[s].reindex(src_ids).fillna(0).to_numpy(dtype=np.int64)
    spare = (beds - res).clip(lower=0)
    host_ids = spare.index[spare.to_numpy() > 0]
    hosts = pd.DataFrame({"spare": spare.reindex(host_ids).to_numpy(dtype=np.int64),
                          "sector": sector.reindex(host_ids).to_numpy(),
                          "repurpose": np.isin(host_ids, rep)}, index=pd.Index(host_ids, name="room_id"))
    notes: list[str] = []
    ns, nh = len(sources), len(hosts)
    if ns and nh:
        si = np.repeat(np.arange(ns), nh)
        hi = np.tile(np.arange(nh), ns)
        cross = sources["sector"].to_numpy()[si] != hosts["sector"].to_numpy()[hi]
        keep = sources.index.to_numpy()[si] != hosts.index.to_numpy()[hi]
        if ns * nh > PAIR_LIMIT:
            si, hi = _nearest_hosts(rooms, sources, hosts, MOVES_PER_SOURCE)
            cross = np.zeros(len(si), bool)
            keep = sources.index.to_numpy()[si] != hosts.index.to_numpy()[hi]
            notes.append(f"{ns} repurposed rooms x {nh} rooms with spare beds is over {PAIR_LIMIT:,} moves: "
                         f"each room's residents were offered the {MOVES_PER_SOURCE} nearest rooms with spare beds "
                         "in its own sector")
        moves = pd.DataFrame({"source": sources.index.to_numpy()[si[keep]], "host": hosts.index.to_numpy()[hi[keep]],
                              "cross_sector": cross[keep]})
    else:
        moves = pd.DataFrame({"source": pd.Series(dtype=object), "host": pd.Series(dtype=object),
                              "cross_sector": pd.Series(dtype=bool)})
    return sources, hosts, moves, notes


def _nearest_hosts(rooms: pd.DataFrame, sources: pd.DataFrame, hosts: pd.DataFrame,
                   k: int) -> tuple[np.ndarray, np.ndarray]:
    """(source position, host position) pairs: each source's `k` nearest hosts of its own sector
    (centroid distance in metres, decks `DECK_SPACING_M` apart). Vectorised per sector (KD-tree)."""
    from scipy.spatial import cKDTree

    r = rooms.set_index(rooms["room_id"].astype(str))
    cen = r.geometry.centroid
    xyz = np.c_[cen.x.to_numpy(), cen.y.to_numpy(), r["deck"].to_numpy(dtype=float) * DECK_SPACING_M]
    pos = pd.Series(np.arange(len(r)), index=r.index)
    s_xyz = xyz[pos.reindex(sources.index).to_numpy()]
    h_xyz = xyz[pos.reindex(hosts.index).to_numpy()]
    out_s, out_h = [], []
    hsec = hosts["sector"].to_numpy()
    ssec = sources["sector"].to_numpy()
    for sec in np.unique(ssec):
        hs = np.flatnonzero(hsec == sec)
        ss = np.flatnonzero(ssec == sec)
        if not len(hs):
            continue
        kk = min(k + 1, len(hs))      # one more: a source may be a host itself (dropped by the caller)
        _, idx = cKDTree(h_xyz[hs]).query(s_xyz[ss], k=kk)
        idx = np.asarray(idx).reshape(len(ss), kk)
        out_s.append(np.repeat(ss, kk))
        out_h.append(hs[idx.ravel()])
    if not out_s:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_s), np.concatenate(out_h)


def relocations_frame(rows: list[dict] | pd.DataFrame | None, scenarios: list[str]) -> pd.DataFrame:
    """plan.json `relocations[]` (or a DataFrame of them) as a table: from_room, to_room, residents
    and one column `present_<scenario>` per scenario (persons)."""
    cols = ["from_room", "to_room", "residents"] + [f"present_{s}" for s in scenarios]
    if rows is None or (not isinstance(rows, pd.DataFrame) and not rows):
        return pd.DataFrame({c: pd.Series(dtype=object if c.endswith("room") else np.int64) for c in cols})
    if isinstance(rows, pd.DataFrame):
        return rows.reindex(columns=cols)
    flat = []
    for r in rows:
        d = {"from_room": str(r.get("from_room")), "to_room": str(r.get("to_room")), "residents": r.get("residents")}
        pres = r.get("present") or {}
        for s in scenarios:
            d[f"present_{s}"] = pres.get(s, 0) if isinstance(pres, dict) else 0
        flat.append(d)
    return pd.DataFrame(flat, columns=cols)


def demand_after(demand: pd.DataFrame, moves: pd.DataFrame) -> pd.DataFrame:
    """Occupants per room and scenario after the moves (`relocations_frame` rows): each move takes
    its `present_<scenario>` persons from `from_room` to `to_room` in that scenario (persons)."""
    out = demand.copy()
    if not len(moves):
        return out
    for s in demand.columns:
        col = f"present_{s}"
        if col not in moves.columns:
            continue
        n = pd.to_numeric(moves[col], errors="coerce").fillna(0).astype(np.int64)
        out_ = n.groupby(moves["from_room"].astype(str).to_numpy()).sum()
        in_ = n.groupby(moves["to_room"].astype(str).to_numpy()).sum()
        out[s] = out[s] - out_.reindex(out.index).fillna(0).astype(np.int64) + in_.reindex(out.index).fillna(0).astype(np.int64)
    return out


def displaced_by_sector(moves: pd.DataFrame, sector: pd.Series) -> pd.DataFrame:
    """Residents moved, per sector of origin and sector of destination (persons): columns from_sector,
    to_sector, residents, rooms_from, rooms_to."""
    if not len(moves):
        return pd.DataFrame(columns=["from_sector", "to_sector", "residents", "rooms_from", "rooms_to"])
    m = moves.assign(from_sector=sector.reindex(moves["from_room"].astype(str)).to_numpy(),
                     to_sector=sector.reindex(moves["to_room"].astype(str)).to_numpy(),
                     residents=pd.to_numeric(moves["residents"], errors="coerce").fillna(0).astype(np.int64))
    g = m.groupby(["from_sector", "to_sector"], sort=True)
    return pd.DataFrame({"residents": g["residents"].sum(), "rooms_from": g["from_room"].nunique(),
                         "rooms_to": g["to_room"].nunique()}).reset_index()
