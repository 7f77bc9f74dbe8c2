"""Writing a station folder atomically, and Markdown tables for import reports (see `planner.indoor`)."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.errors import OutputError
from planner.files import umask_mode


def _clean(v: Any, key: str) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if np.isnan(v) else (int(v) if key == "deck" and float(v).is_integer() else float(v))
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def feature_collection_text(gdf: gpd.GeoDataFrame, epsg: int | None) -> str:
    """GeoJSON text of a GeoDataFrame, with a "crs" member naming `epsg` (geometries via shapely, vectorised)."""
    props = gdf.drop(columns=gdf.geometry.name)
    geoms = shapely.to_geojson(np.asarray(gdf.geometry.to_numpy(), dtype=object))
    parts = []
    for rec, g in zip(props.to_dict("records"), geoms):
        clean = {k: _clean(v, k) for k, v in rec.items()}
        parts.append('{"type": "Feature", "properties": ' + json.dumps(clean, ensure_ascii=False)
                     + ', "geometry": ' + g + "}")
    head = '{"type": "FeatureCollection", '
    if epsg:
        head += '"crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::%d"}}, ' % epsg
    return head + '"features": [\n' + ",\n".join(parts) + "\n]}\n"


def write_station_folder(out_dir: Path, rooms: gpd.GeoDataFrame, doors: gpd.GeoDataFrame, epsg: int | None,
                         texts: dict[str, str], overwrite: bool) -> None:
    """Write a station folder: rooms.geojson and doors.geojson (with a "crs" member naming
    `epsg`), residents.csv (zeros, or the `residents` column of `rooms` in every scenario when
    present) and the `texts` (file name -> content), into a temporary folder beside `out_dir`,
    then moved into place: a failed import leaves nothing half-written, and a non-empty
    `out_dir` is replaced only with `overwrite`."""
    parent = out_dir.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=parent))
        umask_mode(tmp)
        os.chmod(tmp, 0o755)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot be created ({exc}). Fix: choose a writable --out") from None
    try:
        for name, gdf in (("rooms.geojson", rooms), ("doors.geojson", doors)):
            keep = gdf.drop(columns=[c for c in ("residents",) if c in gdf.columns])
            (tmp / name).write_text(feature_collection_text(keep, epsg), encoding="utf-8")
        n = (pd.to_numeric(rooms["residents"], errors="coerce").fillna(0).clip(lower=0).round().astype(int)
             if "residents" in rooms.columns else 0)
        res = pd.DataFrame({"room_id": rooms["room_id"], "night": n, "day": n, "evening": n})
        res.to_csv(tmp / "residents.csv", index=False)
        for name, text in texts.items():
            (tmp / name).write_text(text, encoding="utf-8")
        old = None
        if out_dir.exists():
            if any(out_dir.iterdir()) and not overwrite:
                raise OutputError(f"{out_dir}: exists and is not empty. Fix: pass --force to replace it")
            old = parent / f".{out_dir.name}.old-{os.getpid()}"
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def md_table(df: pd.DataFrame, limit: int | None = None) -> str:
    if df is None or not len(df):
        return "(none)\n"
    shown = df if limit is None else df.head(limit)
    cols = list(shown.columns)
    out = io.StringIO()
    out.write("| " + " | ".join(cols) + " |\n")
    out.write("|" + "|".join(" --- " for _ in cols) + "|\n")
    for rec in shown.itertuples(index=False):
        out.write("| " + " | ".join(str(v).replace("|", "/").replace("\n", " ") for v in rec) + " |\n")
    if limit is not None and len(df) > limit:
        out.write(f"\n... and {len(df) - limit} more\n")
    return out.getvalue()
