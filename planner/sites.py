"""Candidate safe-room sites: which rooms may be converted, their capacity and door flow.

Capacity (persons) = min(floor(usable area / area per occupant),
floor(usable area * clear height / volume per occupant)), where usable area =
(floor area - life-support footprint) * (1 - stores fraction).

Door flow (persons per second) = sum over the room's doors of
`specific flow * (width - 2 * boundary layer)`; a vertical link counts at the
stairs-up rate (the slower one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.params import Parameters
from planner.relocation import room_modes
from planner.station import Station

SITE_COLUMNS = ["site_id", "name", "kind", "sector", "deck", "area_m2", "perimeter_m", "usable_area_m2",
                "capacity", "n_doors", "door_width_m", "door_flow_pps", "existing", "required", "mode"]


def capacity(area_m2: np.ndarray | float, params: Parameters) -> tuple[np.ndarray, np.ndarray]:
    """(usable area in m2, capacity in persons) for rooms of the given floor areas."""
    area = np.asarray(area_m2, dtype=float)
    usable = np.maximum(0.0, area - params.life_support_area_m2) * (1.0 - params.stores_fraction)
    by_area = np.floor(usable / params.area_per_occupant_m2 + 1e-9)
    by_volume = np.floor(usable * params.clear_height_m / params.volume_per_occupant_m3 + 1e-9)
    return usable, np.minimum(by_area, by_volume).astype(np.int64)


def door_table(station: Station) -> pd.DataFrame:
    """One row per (room, door) side: room_id, door_id, width_m, flow_pps, vertical."""
    d = station.doors
    p = station.params
    stairs = d["vertical"].to_numpy(dtype=bool)
    flows = np.array([p.door_flow_pps(w, "up" if s else None) for w, s in zip(d["width_m"], stairs)])
    base = pd.DataFrame({"door_id": d["door_id"].to_numpy(), "width_m": d["width_m"].to_numpy(),
                         "flow_pps": flows, "vertical": stairs})
    sides = pd.concat([base.assign(room_id=d["from_room"].to_numpy()),
                       base.assign(room_id=d["to_room"].to_numpy())], ignore_index=True)
    return sides[sides["room_id"].notna()].reset_index(drop=True)


def candidate_sites(station: Station) -> pd.DataFrame:
    """Candidate sites (index `site_id` = room_id) with the columns of `SITE_COLUMNS`.

    Units: area m2, perimeter m, capacity persons, door width m, flow persons/s.
    """
    rooms = station.rooms
    mask = station.candidate_mask().to_numpy()
    r = rooms[mask]
    usable, cap = capacity(r.geometry.area.to_numpy(), station.params)
    doors = door_table(station)
    agg = doors.groupby("room_id").agg(n_doors=("door_id", "size"), door_width_m=("width_m", "sum"),
                                       door_flow_pps=("flow_pps", "sum"))
    sites = pd.DataFrame({
        "site_id": r["room_id"].to_numpy(), "name": r["name"].to_numpy(), "kind": r["kind"].to_numpy(),
        "sector": r["sector"].to_numpy(), "deck": r["deck"].to_numpy(),
        "area_m2": r.geometry.area.to_numpy(), "perimeter_m": r.geometry.length.to_numpy(),
        "usable_area_m2": usable, "capacity": cap,
        "existing": r["existing"].to_numpy(dtype=bool),
        "required": r["room_id"].isin(station.params.require).to_numpy(),
        "mode": room_modes(station).reindex(r["room_id"].astype(str)).fillna("dual_use").to_numpy(dtype=object),
    })
    sites = sites.join(agg, on="site_id")
    sites[["n_doors"]] = sites[["n_doors"]].fillna(0).astype(int)
    sites[["door_width_m", "door_flow_pps"]] = sites[["door_width_m", "door_flow_pps"]].fillna(0.0)
    # a candidate room without a door cannot be reached: left out (validation warns), unless
    # it is an existing or required safe room
    sites = sites[(sites["n_doors"] > 0) | sites["existing"] | sites["required"]]
    return sites[SITE_COLUMNS].set_index("site_id", drop=False)
