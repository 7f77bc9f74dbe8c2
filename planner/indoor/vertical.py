"""Vertical links: stairs and lifts on consecutive decks joined by name or overlap (see `planner.indoor`)."""

from __future__ import annotations


import numpy as np
import pandas as pd
import shapely

from planner.indoor.mapping import Mapping, VERTICAL_KINDS


# ------------------------------------------------------------------------ vertical links
def _norm_name(s: pd.Series) -> np.ndarray:
    return s.fillna("").astype(str).str.casefold().str.replace(r"[^0-9a-z]+", " ", regex=True).str.strip().to_numpy()


def vertical_links(rooms: pd.DataFrame, mp: Mapping, group: str = "sector") -> pd.DataFrame:
    """Point doors (door_id, width_m, deck, from_room, to_room, traverse_s, geometry,
    link_by) joining stairs and lift rooms of consecutive decks of one `group` (building):
    pairs whose footprints overlap (at least `min_overlap_m2` and `min_overlap_frac` of the
    smaller), and pairs named alike (same name once case, spaces and punctuation are set
    aside). `rooms` needs room_id, kind, deck, name, `group` and geometry (metres)."""
    cols = ["door_id", "width_m", "deck", "from_room", "to_room", "traverse_s", "geometry", "link_by"]
    vert = rooms[rooms["kind"].isin(VERTICAL_KINDS)].reset_index(drop=True)
    if vert.empty:
        return pd.DataFrame(columns=cols)
    deck = vert["deck"].to_numpy(dtype=float)
    grp = vert[group].astype(str).to_numpy()
    # the next deck up within the group
    nxt: dict[tuple[str, float], float] = {}
    for gname, d in pd.DataFrame({"g": grp, "d": deck}).drop_duplicates().sort_values("d").groupby("g")["d"]:
        ds = d.tolist()
        for lo, hi in zip(ds, ds[1:]):
            nxt[(gname, lo)] = hi
    upper = np.array([nxt.get((g_, d_), np.nan) for g_, d_ in zip(grp, deck)])
    g = np.array(list(vert["geometry"]), dtype=object)
    tree = shapely.STRtree(g)
    a, b = tree.query(g, predicate="intersects")
    m = (upper[a] == deck[b]) & (grp[a] == grp[b])
    a, b = a[m], b[m]
    inter = shapely.intersection(g[a], g[b])
    ov = shapely.area(inter)
    smaller = np.minimum(shapely.area(g[a]), shapely.area(g[b]))
    ok = (ov >= mp.vertical["min_overlap_m2"]) & (ov >= mp.vertical["min_overlap_frac"] * smaller)
    pa, pb, how = list(a[ok]), list(b[ok]), ["overlap"] * int(ok.sum())
    # by name: same normalised name on consecutive decks (not already linked by overlap)
    nm = _norm_name(vert["name"])
    key = pd.DataFrame({"i": np.arange(len(vert)), "g": grp, "d": deck, "n": nm})
    key = key[key["n"] != ""]
    up = key.assign(d=upper[key["i"].to_numpy()]).dropna(subset=["d"])
    pairs = up.merge(key, on=["g", "d", "n"], suffixes=("_a", "_b"))
    done = set(zip(pa, pb))
    for i, j in zip(pairs["i_a"], pairs["i_b"]):
        if (i, j) not in done:
            pa.append(i)
            pb.append(j)
            how.append("name")
            done.add((i, j))
    if not pa:
        return pd.DataFrame(columns=cols)
    pa_, pb_ = np.array(pa, dtype=np.int64), np.array(pb, dtype=np.int64)
    inter = shapely.intersection(g[pa_], g[pb_])
    empty = shapely.is_empty(inter) | (shapely.area(inter) <= 0)
    where = np.where(empty, shapely.point_on_surface(g[pa_]), shapely.point_on_surface(inter))
    kind = vert["kind"].to_numpy()
    lift = (kind[pa_] == "lift") & (kind[pb_] == "lift")
    uid = vert["room_id"].astype(str).to_numpy()
    return pd.DataFrame({
        "door_id": [f"link:{x}:{y}" for x, y in zip(uid[pa_], uid[pb_])],
        "width_m": np.where(lift, mp.vertical["lift_width_m"], mp.vertical["stairs_width_m"]),
        "deck": deck[pa_], "from_room": uid[pa_], "to_room": uid[pb_],
        "traverse_s": np.where(lift, mp.vertical["lift_traverse_s"], mp.vertical["stairs_traverse_s"]),
        "geometry": list(where), "link_by": how})
