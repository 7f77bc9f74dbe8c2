"""Repairs of imported rooms: duplicate drawings, floor outlines; fallback candidate kinds (see `planner.indoor`)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd
import shapely

from planner.params import Parameters
from planner.indoor.selection import polygonal


# ------------------------------------------------------------------------ repairs
DUPLICATE_IOU = 0.8
"""Two rooms of one level overlapping this much (intersection over union) are one room drawn twice."""
FLOOR_OUTLINE_ROOMS = 3
"""A room holding at least this many other rooms of its level ..."""
FLOOR_OUTLINE_SHARE = 0.5
"""... and this share of their floor area is a floor outline, not a room."""


def _lv(v: Any) -> str:
    """A level for people: 1.0 -> "1"."""
    return f"{v:g}" if isinstance(v, (float, np.floating)) else str(v)


def drop_duplicate_drawings(r: pd.DataFrame, repairs: list[str], older: Callable[[int, int], bool],
                            on_drop: Callable[[int, str], None]) -> pd.DataFrame:
    """Rooms of one level drawn twice (intersection over union >= `DUPLICATE_IOU`): the older
    drawing (``older(i, j)``: row i is older than row j) goes. `r` needs room_id, name, level
    and geometry (metres); `on_drop(row, reason)` records each dropped row."""
    g = np.array(list(r["geometry"]), dtype=object)
    if len(g) < 2:
        return r
    tree = shapely.STRtree(g)
    a, b = tree.query(g, predicate="intersects")
    lv = r["level"].to_numpy()
    m = (a < b) & (lv[a] == lv[b])
    a, b = a[m], b[m]
    if not len(a):
        return r
    inter = shapely.area(shapely.intersection(g[a], g[b]))
    union = shapely.area(g[a]) + shapely.area(g[b]) - inter
    dup = inter >= DUPLICATE_IOU * np.maximum(union, 1e-9)
    gone: set[int] = set()
    ids, names = r["room_id"].astype(str).to_numpy(), r["name"].fillna("").astype(str).to_numpy()
    for i, j in zip(a[dup], b[dup]):
        i, j = int(i), int(j)
        if i in gone or j in gone:
            continue
        old, new = (i, j) if older(i, j) else (j, i)
        gone.add(old)
        repairs.append(f"{ids[old]} ({names[old] or 'unnamed'}) duplicates {ids[new]} ({names[new] or 'unnamed'}) "
                       f"on level {_lv(lv[old])}: the older drawing dropped")
        on_drop(old, f"duplicate of {ids[new]} (older drawing)")
    keep = np.ones(len(r), bool)
    keep[list(gone)] = False
    return r[keep].reset_index(drop=True)


def drop_floor_outlines(r: pd.DataFrame, repairs: list[str], circulation: np.ndarray,
                        on_drop: Callable[[int, str], None]) -> pd.DataFrame:
    """Rooms that hold most of their level's rooms (`FLOOR_OUTLINE_ROOMS`, `FLOOR_OUTLINE_SHARE`)
    are floor outlines drawn as rooms or corridors: dropped; when the level has no other
    circulation space (`circulation`: per row), the floor left over (outline minus rooms)
    stays as one corridor (its `category` set to "corridor"). `r` needs room_id, name, level,
    category and geometry (metres)."""
    g = np.array(list(r["geometry"]), dtype=object)
    if len(g) < FLOOR_OUTLINE_ROOMS + 1:
        return r
    area = shapely.area(g)
    tree = shapely.STRtree(g)
    a, b = tree.query(g, predicate="intersects")
    lv = r["level"].to_numpy()
    m = (a != b) & (lv[a] == lv[b]) & (area[a] > area[b])
    a, b = a[m], b[m]
    inside = shapely.area(shapely.intersection(g[a], g[b])) >= 0.9 * area[b]
    a, b = a[inside], b[inside]
    cnt = np.bincount(a, minlength=len(g))
    held = np.bincount(a, weights=area[b], minlength=len(g))
    lv_area = pd.Series(area).groupby(lv).sum()
    others = lv_area.reindex(lv).to_numpy() - area
    outline = (cnt >= FLOOR_OUTLINE_ROOMS) & (held >= FLOOR_OUTLINE_SHARE * np.maximum(others, 1e-9))
    if not outline.any():
        return r
    keep = ~outline
    extra = []
    for i in np.flatnonzero(outline):
        same = (lv == lv[i]) & keep
        rest = shapely.difference(g[i], shapely.union_all(g[same])) if same.any() else g[i]
        rest = polygonal(rest, str(r["room_id"].iat[i]), [], "room")
        label = f"{r['room_id'].iat[i]} ({r['name'].iat[i] or r['category'].iat[i] or 'unnamed'})"
        if not bool((circulation & same).any()) and rest is not None and rest.area >= 1.0:
            row = r.iloc[i].copy()
            row["geometry"] = rest
            row["category"] = "corridor"
            row["name"] = f"Floor space {_lv(lv[i])}"
            extra.append(row)
            repairs.append(f"{label} on level {_lv(lv[i])} outlines the whole floor ({cnt[i]} rooms inside): replaced by "
                           f"the floor space left between the rooms ({rest.area:.0f} m2), as a corridor")
        else:
            repairs.append(f"{label} on level {_lv(lv[i])} outlines the whole floor ({cnt[i]} rooms inside): dropped "
                           "(a floor outline, not a room)")
            on_drop(int(i), "floor outline drawn as a room or corridor")
    out = r[keep]
    if extra:
        out = pd.concat([out, pd.DataFrame(extra)], ignore_index=True)
    return out.reset_index(drop=True)


NEVER_CANDIDATE = ("corridor", "lobby", "stairs", "lift", "hygiene", "utility")
"""Kinds never offered as candidates by `fallback_candidate_kinds` (circulation, toilets, plant rooms)."""


def fallback_candidate_kinds(kinds: list[str] | pd.Series, params: Parameters) -> list[str] | None:
    """When no room has a candidate kind (`params.candidate_kinds`), the kinds of the rooms
    that could be converted instead (every kind present but circulation, hygiene and utility),
    for the imported scenario.toml; None when some room already has a candidate kind."""
    present = set(map(str, kinds))
    if present & set(params.candidate_kinds):
        return None
    return sorted(present - set(NEVER_CANDIDATE)) or None


def candidate_kinds_toml(kinds: list[str]) -> str:
    """The [capacity] table that sets `candidate_kinds` (scenario.toml text)."""
    return ("[capacity]\n# No room has a kind among the default candidates (storage, quarters, recreation), so every\n"
            "# room that is not circulation, a toilet or a plant room is a candidate: narrow this list to the\n"
            "# rooms that may really be converted (or give kinds with --mapping).\n"
            "candidate_kinds = [" + ", ".join(f'"{k}"' for k in kinds) + "]\n")
