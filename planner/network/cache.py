"""The reach table's cache: key, folder, saving and loading (moved from `planner/network.py`)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from planner.files import read_npz, write_npz
from planner.station import Station
from planner.network.geometry import ALGO_VERSION
from planner.network.table import ReachTable


# ---------------------------------------------------------------------------- reach
def _walk_params(station: Station) -> dict:
    p = station.params
    return {"walk_speed_m_s": p.walk_speed_m_s, "reach_s": p.reach_s, "reaction_s": p.reaction_s,
            "stairs_traverse_s": p.stairs_traverse_s, "boundary_sample_m": p.boundary_sample_m,
            "door_snap_m": p.door_snap_m, "shelter_in_place": p.shelter_in_place}


def reach_key(station: Station, site_ids: list[str], full: bool = False) -> str:
    """SHA-256 (hex: 24 chars, or all 64 with `full`) of rooms, doors, walking parameters and sites."""
    h = hashlib.sha256(ALGO_VERSION.encode())
    h.update(repr(sorted(_walk_params(station).items())).encode())
    r = station.rooms.sort_values("room_id", kind="stable")
    h.update("\x1f".join(r["room_id"].astype(str)).encode())
    h.update(r["deck"].to_numpy(dtype=np.int64).tobytes())
    for g in shapely.to_wkb(r.geometry.to_numpy()):
        h.update(g)
    d = station.doors.sort_values("door_id", kind="stable")
    h.update("\x1f".join(d["door_id"].astype(str)).encode())
    h.update("\x1f".join(d["from_room"].astype(str)).encode())
    h.update("\x1f".join(d["to_room"].astype(str)).encode())
    h.update(d["traverse_s"].to_numpy(dtype=float).tobytes())
    h.update(d["vertical"].to_numpy(dtype=bool).tobytes())
    for g in shapely.to_wkb(d.geometry.to_numpy()):
        h.update(g)
    h.update("\x1f".join(sorted(map(str, site_ids))).encode())
    return h.hexdigest() if full else h.hexdigest()[:24]


CACHE_FORMAT = "reach-cache-1"
"""Version of the cache file layout (an entry of another layout is recomputed)."""


def default_cache_dir() -> Path:
    """The command line's reach-table cache: ``$PLANNER_CACHE_DIR/reach``, else ``.cache/reach``
    under the working directory."""
    return Path(os.environ.get("PLANNER_CACHE_DIR", ".cache")) / "reach"


def _cache_path(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / f"{key}.npz"


def _text_array(values: Any) -> np.ndarray:
    """Text column as a fixed-width unicode array (no objects: the file holds data only)."""
    return np.asarray(["" if v is None else str(v) for v in values], dtype=str)


def _save_cache(path: Path, table: ReachTable, full_key: str) -> None:
    """Write the table as a data-only ``.npz`` (no pickle), atomically; a cache that cannot be
    written is not an error (the table is simply recomputed next time)."""
    p, r = table.pairs, table.rooms
    best = r["best_site_id"]
    arrays = {
        "format": np.asarray(CACHE_FORMAT), "key": np.asarray(full_key),
        "pairs_room_id": _text_array(p["room_id"]), "pairs_site_id": _text_array(p["site_id"]),
        "pairs_walk_s": p["walk_s"].to_numpy(dtype=np.float64), "pairs_door_id": _text_array(p["door_id"]),
        "rooms_room_id": _text_array(r.index), "rooms_leg_s": r["leg_s"].to_numpy(dtype=np.float64),
        "rooms_best_site_id": _text_array(best), "rooms_has_best": best.notna().to_numpy(dtype=bool),
        "rooms_best_walk_s": r["best_walk_s"].to_numpy(dtype=np.float64)}
    write_npz(path, arrays)   # a read-only or full cache is not an error


_CACHE_ARRAYS = ("pairs_room_id", "pairs_site_id", "pairs_walk_s", "pairs_door_id", "rooms_room_id", "rooms_leg_s",
                 "rooms_best_site_id", "rooms_has_best", "rooms_best_walk_s")
"""The arrays of a reach-table cache entry (`_save_cache`), in `_load_cache`'s order."""


def _load_cache(path: Path, full_key: str, station: Station, site_ids: list[str], key: str) -> ReachTable | None:
    """The cached table at `path` if it is a valid entry for exactly these inputs, else None.

    Read with ``allow_pickle=False`` (no code can run); the entry must carry the inputs' full
    hash `full_key`, and its contents must fit the station: the same rooms, sites among the
    candidate sites, doors of the station, walks finite, non-negative and within the reach
    time. Anything else (stale, damaged, crafted) is ignored and the table recomputed."""
    z = read_npz(path, CACHE_FORMAT, full_key, need=_CACHE_ARRAYS)
    if z is None:   # unreadable, truncated, not an npz, an object array, another key: recompute
        return None
    pr, ps, pw, pd_, rr, rl, rb, rh, rw = (z[name] for name in _CACHE_ARRAYS)
    if pr.ndim != 1 or rr.ndim != 1:
        return None
    n, m = len(pr), len(rr)
    if not (ps.shape == pw.shape == pd_.shape == (n,) and rl.shape == rb.shape == rh.shape == rw.shape == (m,)):
        return None
    if pw.dtype != np.float64 or rl.dtype != np.float64 or rw.dtype != np.float64 or rh.dtype != np.bool_:
        return None
    if not all(a.dtype.kind == "U" or a.size == 0 for a in (pr, ps, pd_, rr, rb)):
        return None
    p = station.params
    room_ids = station.rooms["room_id"].astype(str)
    sites = set(site_ids)
    doors = set(station.doors["door_id"].astype(str)) | {""}
    if sorted(rr.tolist()) != sorted(set(room_ids)) or len(set(rr.tolist())) != m:
        return None
    if not (np.isfinite(pw).all() and (pw >= 0).all() and (pw <= p.reach_s + 1e-9).all()):
        return None
    if not (set(pr.tolist()) <= set(rr.tolist()) and set(ps.tolist()) <= sites and set(pd_.tolist()) <= doors):
        return None
    if np.isnan(rl).any() or (rl < 0).any() or np.isnan(rw).any() or (rw < 0).any():
        return None
    if not set(rb[rh].tolist()) <= sites:
        return None
    pairs = pd.DataFrame({"room_id": pr.astype(object), "site_id": ps.astype(object),
                          "walk_s": pw, "door_id": pd_.astype(object)})
    rooms = pd.DataFrame(index=pd.Index(rr.astype(object), name="room_id"))
    rooms["leg_s"] = rl
    rooms["best_site_id"] = pd.Series(np.where(rh, rb.astype(object), np.asarray(None, dtype=object)), index=rooms.index,
                                     dtype=object)
    rooms["best_walk_s"] = rw
    return ReachTable(pairs=pairs, rooms=rooms, key=key)

