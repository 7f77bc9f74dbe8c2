"""Selecting and repairing units: tokens matched against a table, one polygon per unit, overlaps cut out (see `planner.indoor`)."""

from __future__ import annotations


import numpy as np
import pandas as pd
import shapely

from planner.errors import InputError
from planner.indoor.mapping import MIN_OVERLAP_REPAIR_M2


# ------------------------------------------------------------------------ selection
def match_tokens(tokens: list[str], table: pd.DataFrame, cols: list[str], what: str, src: str) -> np.ndarray:
    """Rows of `table` matched by any token (case-insensitive, on any of `cols`)."""
    keep = np.zeros(len(table), bool)
    for tok in tokens:
        t = str(tok).strip().casefold()
        hit = np.zeros(len(table), bool)
        for c in cols:
            hit |= table[c].astype(str).str.casefold().to_numpy() == t
        if not hit.any():
            for c in cols:
                hit |= table[c].astype(str).str.casefold().str.contains(t, regex=False).to_numpy() & (len(t) >= 3)
        if not hit.any():
            avail = "; ".join(f"{r['id']} ({r['label'] if 'label' in table.columns else r[cols[1]]})"
                              for _, r in table.iterrows())
            raise InputError(src, f"{what} {tok!r}", "matches nothing", f"give one of: {avail}")
        keep |= hit
    return keep


def polygonal(geom: shapely.Geometry, uid: str, repairs: list[str], what: str = "unit") -> shapely.Geometry | None:
    """A single Polygon: polygon parts of collections; the largest part of a multipolygon (reported)."""
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type == "Polygon":
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    polys = [q for p in parts for q in shapely.get_parts(p) if q.geom_type == "Polygon" and q.area > 0.01]
    if not polys:
        return None
    polys.sort(key=lambda q: -q.area)
    if len(polys) > 1:
        repairs.append(f"{what} {uid}: {len(polys)} separate parts; kept the largest ({polys[0].area:.1f} m2), "
                       f"dropped {sum(q.area for q in polys[1:]):.1f} m2")
    return polys[0]


def cut_overlaps(units: pd.DataFrame, repairs: list[str], level: str = "level_id", ident: str = "unit_id",
                 what: str = "unit") -> None:
    """Where units of one level overlap, cut the overlap out of the larger one (in place).

    Real data nests rooms inside corridors; walking must not cross a room drawn on top
    of a corridor, and doors on the nested room's edge must see the corridor on one side.
    """
    g = np.array(list(units["geometry"]), dtype=object)
    if len(g) < 2:
        return
    tree = shapely.STRtree(g)
    a, b = tree.query(g, predicate="intersects")
    lvl = units[level].to_numpy()
    m = (a < b) & (lvl[a] == lvl[b])
    a, b = a[m], b[m]
    if not len(a):
        return
    inter = shapely.area(shapely.intersection(g[a], g[b]))
    m = inter > MIN_OVERLAP_REPAIR_M2
    a, b, inter = a[m], b[m], inter[m]
    area = shapely.area(g)
    big = np.where(area[a] >= area[b], a, b)
    small = np.where(area[a] >= area[b], b, a)
    ids = units[ident].to_numpy()
    names = units["name"].to_numpy()
    for i in np.unique(big):
        sm = small[big == i]
        cut = shapely.union_all(g[sm])
        new = polygonal(shapely.difference(g[i], cut), ids[i], repairs, what)
        repairs.append(f"{what} {ids[i]} ({names[i] or 'unnamed'}) overlapped {len(sm)} unit(s) "
                       f"({', '.join(str(names[j] or ids[j]) for j in sm)}): "
                       f"{float(inter[big == i].sum()):.2f} m2 cut out of it")
        g[i] = new
    units["geometry"] = list(g)
