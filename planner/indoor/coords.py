"""Coordinates: degrees told from metres, WGS84 to the local UTM zone (see `planner.indoor`)."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np


# ------------------------------------------------------------------------ coordinates
def looks_like_degrees(bounds: np.ndarray | tuple[float, float, float, float]) -> bool:
    """True when (minx, miny, maxx, maxy) lie within +-180 / +-90 and span less than a degree:
    longitude/latitude of one building rather than metres."""
    x0, y0, x1, y1 = (float(v) for v in bounds)
    if not all(np.isfinite([x0, y0, x1, y1])):
        return False
    inside = -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90
    return bool(inside and (x1 - x0) < 1.0 and (y1 - y0) < 1.0)


def to_local_utm(geoms: np.ndarray, crs: Any = "EPSG:4326") -> tuple[np.ndarray, Any, int | None, str]:
    """Geometries in `crs` (default WGS84 longitude/latitude) projected to their local UTM zone:
    (geometries in metres, the pyproj CRS, its EPSG code or None, a name such as "EPSG:32633")."""
    gs = gpd.GeoSeries(list(geoms), crs=crs)
    utm = gs.estimate_utm_crs()
    out = gs.to_crs(utm).to_numpy()
    epsg = utm.to_epsg()
    return np.asarray(out, dtype=object), utm, epsg, (f"EPSG:{epsg}" if epsg else utm.to_string())
