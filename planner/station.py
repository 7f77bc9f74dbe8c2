"""A station's inputs: floor plans (rooms, doors), residents and parameters.

A station lives in a folder::

    inputs/<station>/
        rooms.geojson      one polygon per space (room_id, kind, sector, deck, name,
                           optional protected / existing / candidate flags,
                           optional beds and mode: dual_use / repurpose)
        doors.geojson      one line (door leaf) or point per door (door_id, width_m,
                           optional deck, from_room, to_room, traverse_s)
        residents.csv      room_id + one count column per occupancy scenario
                           (+ optional priority); residents.xlsx also accepted
        scenario.toml      optional parameter overrides (see planner.params)

`station.gpkg` with layers `rooms` and `doors` may replace the two GeoJSON files.
Lengths are metres in a local planar coordinate system.

`load_station` reads and normalises the columns but does not judge the data:
`planner.validate` does that, so that every problem can be reported at once.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner import fieldcheck as F
from planner.errors import InputError, ValidationFailed
from planner.params import Parameters, load_parameters

T = TypeVar("T")

ROOM_COLUMNS = ["room_id", "kind", "sector", "deck", "name", "protected", "existing", "candidate", "beds", "mode"]
DOOR_COLUMNS = ["door_id", "width_m", "deck", "from_room", "to_room", "traverse_s"]
NON_SCENARIO_COLUMNS = {"room_id", "priority", "name", "kind", "sector", "deck", "notes", "note"}


_SHARED: dict[tuple[int, int], dict[tuple[str, tuple[str, ...]], Any]] = {}
"""`Station.derived` values with their `depends`, per (rooms, doors) table pair (by identity); an entry goes
when either table is freed (`weakref.finalize`, before its id can be taken again)."""


def _shared_derived(rooms: object, doors: object) -> dict[tuple[str, tuple[str, ...]], Any]:
    key = (id(rooms), id(doors))
    got = _SHARED.get(key)
    if got is None:
        got = _SHARED[key] = {}
        weakref.finalize(rooms, _SHARED.pop, key, None)
        weakref.finalize(doors, _SHARED.pop, key, None)
    return got


@dataclass
class Station:
    """Everything known about one station. Plain data: GeoDataFrames and DataFrames.

    - `rooms`: GeoDataFrame, one row per space, columns `ROOM_COLUMNS` + geometry
      (metres); `candidate` is a nullable boolean (NA = decided by kind).
    - `doors`: GeoDataFrame, columns `DOOR_COLUMNS` + `explicit` (from/to given in the
      file), `touching` (number of same-deck rooms within `door_snap_m`), `vertical`
      (joins two decks) + geometry. `from_room`/`to_room` are filled by
      `resolve_doors` (None where no room was found).
    - `residents`: the residents table as read (room_id, scenario columns, priority).
    - `scenarios`: the occupancy scenario columns planned for.
    """

    name: str
    folder: Path | None
    """The station folder (None for a station built in memory with `from_frames`)."""
    rooms: gpd.GeoDataFrame
    doors: gpd.GeoDataFrame
    residents: pd.DataFrame
    scenarios: list[str]
    params: Parameters
    files: dict[str, Path] = field(default_factory=dict)
    _digest: tuple[tuple, str] | None = field(default=None, init=False, repr=False, compare=False)
    """`inputs_sha256`'s last answer, with the files' (key, path, size, mtime ns) it was computed on."""
    _derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    _derived_stamp: tuple = field(default=(), init=False, repr=False, compare=False)

    # ------------------------------------------------------------------ demand
    def demand(self) -> pd.DataFrame:
        """Residents per room (index room_id, every room) and scenario (columns), whole persons."""
        res = self.residents
        d = (res.groupby("room_id")[self.scenarios].sum(min_count=1)
             if len(res) else pd.DataFrame(columns=self.scenarios))
        d = d.reindex(self.rooms["room_id"].astype(str)).fillna(0)
        d = d.clip(lower=0).round().astype(np.int64)
        d.index.name = "room_id"
        return d

    def priority(self) -> pd.Series:
        """Priority weight per room (index room_id, default 1.0)."""
        if "priority" in self.residents.columns:
            pr = pd.to_numeric(self.residents["priority"], errors="coerce")
            s = pd.Series(pr.to_numpy(), index=self.residents["room_id"].astype(str)).groupby(level=0).max()
        else:
            s = pd.Series(dtype=float)
        s = s.reindex(self.rooms["room_id"].astype(str)).fillna(1.0)
        s.index.name = "room_id"
        return s

    def candidate_mask(self) -> pd.Series:
        """Boolean per room (aligned with `rooms`): may this room become a safe room?

        Kind in `candidate_kinds` (or `candidate` flag true), not protected, not in
        `params.protect`, area at least `min_site_area_m2`; existing safe rooms and
        `params.require` rooms are always candidates.
        """
        r = self.rooms
        p = self.params
        by_kind = r["kind"].isin(p.candidate_kinds)
        flag = r["candidate"]
        cand = flag.fillna(by_kind).astype(bool)
        big = r.geometry.area >= p.min_site_area_m2
        protected = r["protected"].astype(bool) | r["room_id"].isin(p.protect)
        forced = r["existing"].astype(bool) | r["room_id"].isin(p.require)
        return ((cand & big & ~protected) | forced).rename("candidate_site")

    @property
    def title(self) -> str:
        """The station's name for people: `[station] station_title` of the scenario, else the folder name."""
        return self.params.station_title or self.name

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (a sweep's worker processes, Dask) without the derived values: the copy is another station
        object and derives its own (`derived`)."""
        state = dict(self.__dict__)
        state["_derived"], state["_derived_stamp"] = {}, ()
        return state

    def derived(self, key: str, make: Callable[[], T], depends: tuple[str, ...] | None = None) -> T:
        """A value derived from this station's rooms, doors and parameters alone (e.g. its walking graph,
        `planner.network.walk_graph`): `make()` on the first call with `key`, the same object after.

        Made once per station object: a new station (`load_station`, `dataclasses.replace`) starts empty,
        and so does this one once its rooms, doors or parameters are replaced (assigned anew). With
        `depends`, the names of the only parameters the value depends on, it is made once for all station
        objects with the same rooms and doors tables (the same objects, e.g. `dataclasses.replace` with
        other parameters: a run's what-if, check and relocation bound) and equal values of those
        parameters. Tables changed in place are not noticed: derive again from a new station then. Callers
        must not change the value they get."""
        if depends is not None:
            shared = _shared_derived(self.rooms, self.doors)
            skey = (key, tuple(repr(getattr(self.params, name)) for name in depends))
            if skey not in shared:
                shared[skey] = make()
            return shared[skey]
        stamp = (id(self.rooms), id(self.doors), repr(self.params))
        if self._derived_stamp != stamp:
            self._derived, self._derived_stamp = {}, stamp
        if key not in self._derived:
            self._derived[key] = make()
        return self._derived[key]

    def inputs_sha256(self) -> str:
        """SHA-256 over the input files (names and bytes), in a fixed order.

        A run asks for it several times (caches' keys, plan.json): the files are read again only when
        one of them changed size or modification time since the last call."""
        stamp = tuple((key, str(self.files[key]), *_stat(self.files[key])) for key in sorted(self.files))
        if self._digest is not None and self._digest[0] == stamp:
            return self._digest[1]
        h = hashlib.sha256()
        for key in sorted(self.files):
            path = self.files[key]
            h.update(key.encode())
            h.update(path.name.encode())
            h.update(path.read_bytes())
        self._digest = (stamp, h.hexdigest())
        return self._digest[1]

    @classmethod
    def from_frames(cls, rooms: gpd.GeoDataFrame | pd.DataFrame, doors: gpd.GeoDataFrame | pd.DataFrame,
                    residents: pd.DataFrame, params: Parameters | None = None,
                    name: str = "station") -> Station:
        """A station from tables in memory, normalised as `load_station` normalises files.

        Parameters
        ----------
        rooms : geopandas.GeoDataFrame
            One polygon per space, coordinates in metres in a planar frame: `room_id` and
            optionally `kind`, `sector`, `deck`, `name`, `protected`, `existing`, `candidate`
            (a DataFrame with a shapely `geometry` column is accepted too).
        doors : geopandas.GeoDataFrame
            One line (the door leaf) or point per door: `door_id` and optionally `width_m`
            (metres), `deck`, `from_room`, `to_room`, `traverse_s` (seconds, vertical links).
        residents : pandas.DataFrame
            `room_id` and one count column (persons) per occupancy scenario, optionally
            `priority` (weight, default 1).
        params : Parameters, optional
            The parameters (default: `Parameters()`); `params.scenarios` picks the columns.
        name : str
            The station's name in reports.

        Returns
        -------
        Station
            With `folder` None and no input files. The data are not judged here:
            `planner.validate.validate_station` reports every problem at once.

        Raises
        ------
        InputError
            A required column is missing, a layer is in a geographic CRS, or a scenario
            column named in `params.scenarios` does not exist.
        """
        params = params if params is not None else Parameters()
        rooms_g = _as_geoframe(rooms, "rooms")
        doors_g = _as_geoframe(doors, "doors")
        res = _normalise_residents(residents, "residents")
        scen = _scenarios(res, params, "residents")
        r = normalise_rooms(rooms_g, "rooms")
        d = resolve_doors(r, normalise_doors(doors_g, params, "doors"), params)
        return cls(name=name, folder=None, rooms=r, doors=d, residents=res, scenarios=scen, params=params)


# ---------------------------------------------------------------------- loading
def _find(folder: Path, stem: str, exts: tuple[str, ...]) -> Path | None:
    for ext in exts:
        p = folder / f"{stem}{ext}"
        if p.exists():
            return p
    return None


def _read_layer(path: Path, layer: str | None = None) -> gpd.GeoDataFrame:
    try:
        gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types
        raise InputError(str(path), layer or "file", f"cannot be read: {exc}",
                         "give a valid GeoJSON file or a GeoPackage with layers 'rooms' and 'doors'") from None
    if path.suffix.lower() in (".geojson", ".json") and gdf.crs is not None and gdf.crs.to_epsg() in (4326, 4979):
        # GeoJSON without a "crs" member is read as WGS84 by GDAL (4979 with z values); station files use a
        # local planar frame in metres, so only an explicit "crs" member counts.
        with open(path, "rb") as fh:
            head = fh.read(4096)
        if b'"crs"' not in head:
            gdf = gdf.set_crs(None, allow_override=True)
    if gdf.crs is not None and gdf.crs.is_geographic and len(gdf):
        raise InputError(str(path), "CRS", f"is geographic ({gdf.crs.name}): lengths would be degrees",
                         "project to a metric CRS (e.g. local UTM) or use planner import-imdf, which does")
    return gdf


def _bool_col(s: pd.Series | None, n: int, default: bool | None) -> pd.Series:
    if s is None:
        return pd.Series([default] * n, dtype="boolean")
    def conv(v: object) -> bool | None:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return default
        if isinstance(v, str):
            return v.strip().lower() in ("1", "true", "yes", "y")
        return bool(v)
    return pd.Series([conv(v) for v in s], index=s.index, dtype="boolean")


def normalise_rooms(gdf: gpd.GeoDataFrame, source: str = "rooms") -> gpd.GeoDataFrame:
    """Rooms with the standard columns and types (values are not judged here)."""
    if not len(gdf):
        raise InputError(source, "rooms", "are missing: the file has no features",
                         "draw one polygon per space (room_id, kind, deck), in metres")
    if "room_id" not in gdf.columns:
        raise InputError(source, "property room_id", "is missing from every feature",
                         "give each room a unique room_id property")
    n = len(gdf)
    out = gpd.GeoDataFrame(index=pd.RangeIndex(n), geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
    out.insert(0, "room_id", gdf["room_id"].astype(str).str.strip().to_numpy())
    kind = gdf["kind"] if "kind" in gdf.columns else pd.Series([""] * n)
    out.insert(1, "kind", kind.fillna("").astype(str).str.strip().str.lower().to_numpy())
    sector = gdf["sector"] if "sector" in gdf.columns else pd.Series([""] * n)
    out.insert(2, "sector", sector.fillna("").astype(str).to_numpy())
    deck = pd.to_numeric(gdf["deck"], errors="coerce") if "deck" in gdf.columns else pd.Series([0] * n)
    out.insert(3, "deck", deck.fillna(0).astype(int).to_numpy())
    name = gdf["name"] if "name" in gdf.columns else pd.Series([None] * n)
    name = name.where(name.notna() & (name.astype(str) != ""), out["room_id"].to_numpy())
    out.insert(4, "name", name.astype(str).to_numpy())
    for col, default in (("protected", False), ("existing", False), ("candidate", None)):
        vals = _bool_col(gdf[col].reset_index(drop=True) if col in gdf.columns else None, n, default)
        out.insert(out.columns.get_loc("geometry"), col, vals.to_numpy())
    out["protected"] = out["protected"].astype(bool)
    out["existing"] = out["existing"].astype(bool)
    out["candidate"] = out["candidate"].astype("boolean")
    # optional conversion inputs (docs/model.md): declared beds, conversion mode per room
    beds = pd.to_numeric(gdf["beds"], errors="coerce") if "beds" in gdf.columns else pd.Series([np.nan] * n)
    out.insert(out.columns.get_loc("geometry"), "beds", beds.reset_index(drop=True).astype("Float64").to_numpy())
    mode = gdf["mode"].reset_index(drop=True) if "mode" in gdf.columns else pd.Series([None] * n)
    mode = [None if (v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == "")
            else str(v).strip().lower() for v in mode]
    out.insert(out.columns.get_loc("geometry"), "mode", pd.Series(mode, dtype=object).to_numpy())
    return out


def normalise_doors(gdf: gpd.GeoDataFrame, params: Parameters, source: str = "doors") -> gpd.GeoDataFrame:
    """Doors with the standard columns and types (from/to not yet resolved)."""
    n = len(gdf)
    if "door_id" not in gdf.columns:
        raise InputError(source, "property door_id", "is missing from every feature",
                         "give each door a unique door_id property")
    out = gpd.GeoDataFrame(index=pd.RangeIndex(n), geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
    out.insert(0, "door_id", gdf["door_id"].astype(str).str.strip().to_numpy())
    width = pd.to_numeric(gdf["width_m"], errors="coerce") if "width_m" in gdf.columns else pd.Series([np.nan] * n)
    out.insert(1, "width_m", width.fillna(params.default_door_width_m).astype(float).to_numpy())
    deck = pd.to_numeric(gdf["deck"], errors="coerce") if "deck" in gdf.columns else pd.Series([np.nan] * n)
    out.insert(2, "deck", deck.to_numpy())  # NaN = take from the rooms it touches / deck 0
    for i, col in enumerate(("from_room", "to_room"), start=3):
        if col in gdf.columns:
            vals = [None if (v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == "")
                    else str(v).strip() for v in gdf[col]]
        else:
            vals = [None] * n
        out.insert(i, col, pd.Series(vals, dtype=object).to_numpy())
    trav = pd.to_numeric(gdf["traverse_s"], errors="coerce") if "traverse_s" in gdf.columns else pd.Series([np.nan] * n)
    out.insert(5, "traverse_s", trav.astype(float).to_numpy())
    return out


def resolve_doors(rooms: gpd.GeoDataFrame, doors: gpd.GeoDataFrame, params: Parameters) -> gpd.GeoDataFrame:
    """Fill `from_room`/`to_room` of each door from the rooms its geometry touches.

    A door joins the two same-deck spaces whose boundaries lie within `door_snap_m`
    of it; where more touch (a door at a junction), the two sharing the longest
    stretch of boundary with the door win. Explicit `from_room`/`to_room` win.
    Adds `explicit`, `touching` (same-deck rooms within tolerance) and `vertical`.
    """
    doors = doors.copy()
    explicit = doors["from_room"].notna() & doors["to_room"].notna()
    doors["explicit"] = explicit.to_numpy()
    tol = params.door_snap_m
    room_geom = rooms.geometry.to_numpy()
    door_geom = doors.geometry.to_numpy()
    tree = shapely.STRtree(room_geom)
    d_idx, r_idx = tree.query(door_geom, predicate="dwithin", distance=tol)
    room_deck = rooms["deck"].to_numpy()
    door_deck = doors["deck"].to_numpy(dtype=float)
    same = np.isnan(door_deck[d_idx]) | (door_deck[d_idx] == room_deck[r_idx])
    d_idx, r_idx = d_idx[same], r_idx[same]
    # score: shared boundary length near the door (lines), or closeness (points)
    buf = shapely.buffer(door_geom[d_idx], tol, cap_style="flat") if len(d_idx) else np.array([])
    is_line = shapely.get_type_id(door_geom[d_idx]) == 1 if len(d_idx) else np.array([], bool)
    score = np.zeros(len(d_idx))
    if len(d_idx):
        bnd = shapely.boundary(room_geom[r_idx])
        seg_len = shapely.length(shapely.intersection(bnd, buf))
        dist = shapely.distance(door_geom[d_idx], room_geom[r_idx])
        score = np.where(is_line, seg_len, -dist)
    pairs = pd.DataFrame({"d": d_idx, "r": r_idx, "score": score, "deck": room_deck[r_idx]})
    # a line door that merely grazes a room at one end (junction) has ~0 shared length
    pairs = pairs.sort_values(["d", "score"], ascending=[True, False], kind="stable")
    # a door without a deck belongs to the deck of the room it touches best
    best_deck = pairs.groupby("d")["deck"].transform("first")
    pairs = pairs[best_deck == pairs["deck"]]
    touching = pairs.groupby("d").size().reindex(range(len(doors)), fill_value=0)
    doors["touching"] = touching.to_numpy()
    top = pairs.groupby("d").head(2)
    rank = top.groupby("d").cumcount()
    ids = rooms["room_id"].to_numpy()
    first = pd.Series(ids[top["r"][rank.to_numpy() == 0].to_numpy()], index=top["d"][rank.to_numpy() == 0].to_numpy())
    second = pd.Series(ids[top["r"][rank.to_numpy() == 1].to_numpy()], index=top["d"][rank.to_numpy() == 1].to_numpy())
    auto_from = first.reindex(range(len(doors))).astype(object).to_numpy()
    auto_to = second.reindex(range(len(doors))).astype(object).to_numpy()
    given_from = doors["from_room"].astype(object).to_numpy()
    given_to = doors["to_room"].astype(object).to_numpy()
    # only one side given: treat it as the 'from' side and take the other from geometry
    only_to = pd.isna(given_from) & pd.notna(given_to)
    given_from = np.where(only_to, given_to, given_from)
    given_to = np.where(only_to, None, given_to)
    other = np.where(auto_from != given_from, auto_from, auto_to)
    fr = np.where(pd.notna(given_from), given_from, auto_from)
    to = np.where(pd.notna(given_to), given_to, np.where(pd.notna(given_from), other, auto_to))
    doors["from_room"] = pd.Series(fr, dtype=object).where(pd.notna(fr), None).to_numpy()
    doors["to_room"] = pd.Series(to, dtype=object).where(pd.notna(to), None).to_numpy()
    deck_of = pd.Series(room_deck, index=ids)
    deck_of = deck_of[~deck_of.index.duplicated()]
    fdeck = deck_of.reindex(doors["from_room"].astype(object)).to_numpy(dtype=float)
    tdeck = deck_of.reindex(doors["to_room"].astype(object)).to_numpy(dtype=float)
    doors["vertical"] = ((fdeck != tdeck) & ~np.isnan(fdeck) & ~np.isnan(tdeck)) | doors["traverse_s"].notna().to_numpy()
    doors["deck"] = np.where(np.isnan(door_deck), np.where(np.isnan(fdeck), 0, fdeck), door_deck)
    return doors


def read_residents(path: Path) -> pd.DataFrame:
    """The residents table as read (CSV or XLSX), room_id as text."""
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            df = pd.read_excel(path, dtype={"room_id": str})
        else:
            df = pd.read_csv(path, dtype={"room_id": str})
    except Exception as exc:
        raise InputError(str(path), "file", f"cannot be read: {exc}", "give a CSV or XLSX table with room_id and count columns") from None
    try:
        header = (pd.read_excel(path, header=None, nrows=1) if path.suffix.lower() in (".xlsx", ".xlsm")
                  else pd.read_csv(path, header=None, nrows=1, dtype=str)).iloc[0].tolist() if len(df.columns) else []
    except Exception:  # noqa: BLE001 - the table itself was read: judge it without the raw header
        header = list(df.columns)
    df = _normalise_residents(df, str(path))
    df.attrs["header"] = [str(h).strip() for h in header]
    return df


def _normalise_residents(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Column names stripped, room_id as text (a copy)."""
    df = df.copy()
    df.columns = [str(c).strip() for c in df.columns]
    if "room_id" not in df.columns:
        raise InputError(source, "column room_id", "is missing", "add a room_id column naming the room of each row")
    df["room_id"] = df["room_id"].astype(str).str.strip()
    return df


def _as_geoframe(df: gpd.GeoDataFrame | pd.DataFrame, what: str) -> gpd.GeoDataFrame:
    """`df` as a GeoDataFrame in a planar frame (metres), or an InputError that says why not."""
    if not isinstance(df, gpd.GeoDataFrame):
        if "geometry" not in df.columns:
            raise InputError(what, "column geometry", "is missing",
                             f"give {what} as a GeoDataFrame (or a DataFrame with shapely geometries in 'geometry')")
        df = gpd.GeoDataFrame(df, geometry="geometry")
    if df.crs is not None and df.crs.is_geographic and len(df):
        raise InputError(what, "CRS", f"is geographic ({df.crs.name}): lengths would be degrees",
                         "project to a metric CRS first, e.g. gdf.to_crs(gdf.estimate_utm_crs())")
    return df


def _scenarios(residents: pd.DataFrame, params: Parameters, source: str) -> list[str]:
    """The occupancy columns to plan for: `params.scenarios`, else every count column."""
    scen = scenario_columns(residents)
    if params.scenarios:
        missing = [s for s in params.scenarios if s not in residents.columns]
        if missing:
            raise InputError(source, f"occupancy column(s) {missing}", "are missing (the scenario file asks for them)",
                             f"add the columns, or list only existing ones ({scen}) in [model] scenarios")
        scen = list(params.scenarios)
    if not scen:
        raise InputError(source, "occupancy columns", "are missing: the table has only " + ", ".join(residents.columns),
                         "add one count column per occupancy scenario, e.g. night, day, evening")
    return scen


def scenario_columns(residents: pd.DataFrame) -> list[str]:
    """Occupancy scenario columns: every column but room_id, priority and descriptive text."""
    return [c for c in residents.columns if c not in NON_SCENARIO_COLUMNS and not str(c).startswith("Unnamed")]


def resolve_scenario_file(folder: Path, scenario: str | Path | None) -> Path | None:
    """The scenario TOML: a path, a name in the station folder, or the folder's scenario.toml."""
    if scenario is None:
        p = folder / "scenario.toml"
        return p if p.exists() else None
    s = Path(scenario)
    for cand in (s, folder / s, folder / f"{s}.toml", folder / "scenarios" / f"{s}.toml"):
        if cand.is_file():
            return cand
    raise InputError(str(scenario), "scenario", "was not found",
                     f"give a TOML path, or a name of a .toml file in {folder}")


def load_station(folder: str | Path, scenario: str | Path | None = None,
                 params: Parameters | None = None) -> Station:
    """Read a station folder (module docstring: the files) into a `Station`.

    Parameters
    ----------
    folder : str or Path
        The station folder: rooms and doors (GeoJSON or a GeoPackage, coordinates in metres in
        a planar frame), residents (CSV or XLSX, persons), optional scenario.toml.
    scenario : str or Path, optional
        A scenario TOML to use instead of the folder's scenario.toml: a path, or the name of a
        .toml file in the folder (or its `scenarios/` subfolder).
    params : Parameters, optional
        Parameters to use instead of any scenario file.

    Returns
    -------
    Station
        Normalised rooms, doors (from/to rooms resolved from the geometry), residents and
        parameters. The data are not judged here: `planner.validate.validate_station` reports
        every problem at once.

    Raises
    ------
    InputError
        A file is missing or unreadable, a layer is in a geographic CRS, or a required
        column or scenario column is missing (the message names the file and the fix).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(str(folder), "station folder", "does not exist",
                         "give a folder with rooms.geojson, doors.geojson and residents.csv")
    files: dict[str, Path] = {}
    scen_path = resolve_scenario_file(folder, scenario)
    if params is None:  # first: a bad parameter is refused before the floor plans are read
        params = load_parameters(scen_path)
    gpkg = _find(folder, "station", (".gpkg",))
    rooms_path = _find(folder, "rooms", (".geojson", ".json", ".gpkg"))
    doors_path = _find(folder, "doors", (".geojson", ".json", ".gpkg"))
    if rooms_path is None and gpkg is not None:
        rooms_raw, files["rooms"] = _read_layer(gpkg, "rooms"), gpkg
    elif rooms_path is not None:
        rooms_raw, files["rooms"] = _read_layer(rooms_path), rooms_path
    else:
        raise InputError(str(folder / "rooms.geojson"), "file", "is missing",
                         "add rooms.geojson (or station.gpkg with a 'rooms' layer)")
    if doors_path is None and gpkg is not None:
        doors_raw, files["doors"] = _read_layer(gpkg, "doors"), gpkg
    elif doors_path is not None:
        doors_raw, files["doors"] = _read_layer(doors_path), doors_path
    else:
        raise InputError(str(folder / "doors.geojson"), "file", "is missing",
                         "add doors.geojson (or station.gpkg with a 'doors' layer)")
    res_path = _find(folder, "residents", (".csv", ".xlsx"))
    if res_path is None:
        raise InputError(str(folder / "residents.csv"), "file", "is missing",
                         "add residents.csv with room_id and one column per occupancy scenario")
    files["residents"] = res_path
    if scen_path is not None:
        files["scenario"] = scen_path
    residents = read_residents(res_path)
    scen = _scenarios(residents, params, str(res_path))
    problems = (F.check_rooms(rooms_raw, str(files["rooms"])) + F.check_doors(doors_raw, str(files["doors"]))
                + F.check_crs(rooms_raw.crs, doors_raw.crs, str(files["rooms"]), str(files["doors"]))
                + F.check_residents(res_path, residents, residents.attrs.get("header", list(residents.columns)), scen))
    if problems:  # badly typed fields: nothing below would be meaningful
        raise ValidationFailed(problems)
    rooms = normalise_rooms(rooms_raw, str(files["rooms"]))
    doors = normalise_doors(doors_raw, params, str(files["doors"]))
    doors = resolve_doors(rooms, doors, params)
    placement = F.check_door_placement(rooms, doors, str(files["doors"]))
    if placement:
        raise ValidationFailed(placement)
    return Station(name=folder.resolve().name, folder=folder, rooms=rooms, doors=doors, residents=residents,
                   scenarios=scen, params=params, files=files)


def _stat(path: Path) -> tuple[int, int]:
    """(size in bytes, modification time in ns) of a file; (-1, -1) if it cannot be read (then hashing says why)."""
    try:
        st = path.stat()
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)
