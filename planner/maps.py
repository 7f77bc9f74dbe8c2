"""Maps of a plan: one PNG per deck (matplotlib, Agg) and a GeoPackage of the plan.

Each PNG has two panels for one deck:

- left, "Rooms and safe rooms": rooms shaded (lightly) by kind, doors drawn, safe
  rooms with a bold hatched outline and their id (outline colour = phase when
  the plan has several phases), existing safe rooms in a dashed outline;
- right, "Walking time": every room with residents coloured by the longest walk
  of its residents to their assigned safe room (seconds, colour bar up to the
  reach time), safe rooms outlined, rooms with unsheltered residents marked
  with a red cross.

The legend sits below the panels (outside every plotted area); each panel has a scale bar and
a plan-north arrow (the inputs carry no compass or spin direction: the arrow points to +y).
`plot_sector_maps` adds one zoomed PNG per deck and sector with every room id readable when
printed on A4.

Rooms are drawn as a few PathCollections built with shapely's array functions
(holes kept), not one artist per room; only the safe-room labels are one text each.
"""

from __future__ import annotations

import os
import uuid
import warnings
import zlib
from pathlib import Path
from typing import Any, Sequence

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shapely
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.path import Path as MplPath
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from planner.errors import OutputError
from planner.files import write_atomic
from planner.relocation import relocations_frame
from planner.station import Station

KIND_COLOURS: dict[str, str] = {
    "quarters": "#dbe9f6", "storage": "#f1e3cf", "recreation": "#dcefd5", "corridor": "#efefef",
    "lobby": "#efefef", "stairs": "#d9d9d9", "lift": "#d9d9d9", "lab": "#e8dff0", "office": "#f7f0d9",
    "galley": "#fbe0d6", "medical": "#f9d9e4", "operations": "#e0e6ef", "utility": "#e6e6df",
    "workshop": "#eee4d8", "hygiene": "#d9f0f0", "classroom": "#f3ecd8", "auditorium": "#ece0d0",
}
OTHER_COLOUR = "#f4f4f4"
PHASE_COLOURS = ["#000000", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]


def temporary_name(path: Path) -> Path:
    """A hidden, unique name beside `path` (same folder, same suffix) to write to before moving into place."""
    path = Path(path)
    return path.with_name(f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}{path.suffix}")


# ------------------------------------------------------------------ plan per room
def room_roles(station: Station, plan: dict) -> pd.DataFrame:
    """Per room (index room_id): role, phase, worst walk (s) and, per scenario, residents,
    assigned safe room(s), walk (s) and unsheltered residents.

    `role` is `safe_room`, `sheltered` (all its residents have a safe room),
    `unsheltered` (some residents have none in some scenario) or `unoccupied`.
    """
    rooms = station.rooms
    ids = rooms["room_id"].astype(str)
    scen = list(station.scenarios)
    demand = station.demand().reindex(ids)
    out = pd.DataFrame(index=pd.Index(ids.to_numpy(), name="room_id"))
    safe = {str(r["room_id"]): r for r in plan.get("safe_rooms", [])}
    out["phase"] = pd.Series({k: r.get("phase") for k, r in safe.items()}, dtype=float).reindex(out.index)
    out["existing_safe_room"] = pd.Series({k: bool(r.get("existing")) for k, r in safe.items()},
                                          dtype=bool).reindex(out.index).fillna(False).astype(bool)
    a = pd.DataFrame(plan.get("assignments", []), columns=["room_id", "scenario", "safe_room_id", "residents",
                                                           "walk_s"])
    u = pd.DataFrame(plan.get("unsheltered", []), columns=["room_id", "scenario", "residents", "reason"])
    a["room_id"] = a["room_id"].astype(str)
    u["room_id"] = u["room_id"].astype(str)
    for s in scen:
        out[f"residents_{s}"] = demand[s].to_numpy() if s in demand else 0
        sa = a[a["scenario"] == s].sort_values(["room_id", "walk_s"])
        g = sa.groupby("room_id")
        out[f"safe_room_{s}"] = g["safe_room_id"].agg(lambda x: ",".join(map(str, x))).reindex(out.index)
        out[f"walk_s_{s}"] = g["walk_s"].max().reindex(out.index)
        out[f"unsheltered_{s}"] = (u[u["scenario"] == s].groupby("room_id")["residents"].sum()
                                   .reindex(out.index).fillna(0).astype(int))
    walk_cols = [f"walk_s_{s}" for s in scen]
    out["worst_walk_s"] = out[walk_cols].max(axis=1) if walk_cols else np.nan
    uns = out[[f"unsheltered_{s}" for s in scen]].sum(axis=1) if scen else pd.Series(0, index=out.index)
    res = out[[f"residents_{s}" for s in scen]].sum(axis=1) if scen else pd.Series(0, index=out.index)
    role = np.where(out.index.isin(list(safe)), "safe_room",
                    np.where(uns > 0, "unsheltered", np.where(res > 0, "sheltered", "unoccupied")))
    out.insert(0, "role", role)
    # a safe room's own residents shelter in place
    is_safe = out["role"] == "safe_room"
    out.loc[is_safe & out["worst_walk_s"].isna() & (res > 0), "worst_walk_s"] = 0.0
    return out


# ------------------------------------------------------------------ drawing
def _door_artists(ax: Axes, doors: gpd.GeoDataFrame, width: float = 2.2) -> None:
    if doors.empty:
        return
    geom = doors.geometry.to_numpy()
    is_line = shapely.get_type_id(geom) == 1
    if is_line.any():
        coords, idx = shapely.get_coordinates(geom[is_line], return_index=True)
        segs = np.split(coords, np.flatnonzero(np.diff(idx)) + 1)
        ax.add_collection(LineCollection(segs, colors="#8c2d04", linewidths=width, zorder=9))
    pts = ~is_line
    if pts.any():
        xy = shapely.get_coordinates(shapely.centroid(geom[pts]))
        vert = doors["vertical"].to_numpy(dtype=bool)[pts] if "vertical" in doors else np.zeros(pts.sum(), bool)
        ax.scatter(xy[~vert, 0], xy[~vert, 1], s=8, c="#8c2d04", marker="s", zorder=9)
        ax.scatter(xy[vert, 0], xy[vert, 1], s=30, c="#8c2d04", marker="^", zorder=9)


MAX_LABELS = 250
"""Safe rooms labelled with their id on a deck; beyond this the labels would hide the map."""


def _layout(bounds: np.ndarray, n_rooms: int = 300) -> tuple[int, int, tuple[float, float]]:
    """(rows, columns, figure size in inches): panels side by side, or stacked for wide decks;
    larger panels for decks with many rooms."""
    w = max(bounds[2] - bounds[0], 1.0)
    h = max(bounds[3] - bounds[1], 1.0)
    grow = float(np.clip(np.sqrt(max(n_rooms, 1) / 300.0), 1.0, 1.8))
    if w / h > 1.6:
        panel_w = 14.0 * grow
        panel_h = float(np.clip(panel_w * h / w, 2.5, 9.0))
        return 2, 1, (panel_w + 2.0, 2 * panel_h + 3.2)
    panel_w = 9.0 * grow
    panel_h = float(np.clip(panel_w * h / w, 3.5, 12.0 * grow))
    return 1, 2, (2 * panel_w + 1.5, panel_h + 2.0)


def polygon_paths(geoms: np.ndarray) -> list[MplPath]:
    """One matplotlib Path per (multi)polygon, holes included, built with shapely's array functions."""
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return []
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    # holes must wind against their exterior for matplotlib's nonzero fill rule to leave them empty
    if hasattr(shapely, "orient_polygons"):
        parts = shapely.orient_polygons(parts)
    else:  # shapely < 2.1
        from shapely.geometry.polygon import orient
        holed = np.flatnonzero(shapely.get_num_interior_rings(parts) > 0)
        for i in holed:
            parts[i] = orient(parts[i])
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    codes = np.full(len(coords), MplPath.LINETO, dtype=np.uint8)
    starts = np.r_[0, np.flatnonzero(np.diff(ring_idx)) + 1]
    codes[starts] = MplPath.MOVETO
    codes[np.r_[starts[1:] - 1, len(coords) - 1]] = MplPath.CLOSEPOLY
    owner = part_of[ring_part[ring_idx]]  # geometry index of each vertex
    cuts = np.searchsorted(owner, np.arange(1, len(geoms)))
    return [MplPath(v, c) for v, c in zip(np.split(coords, cuts), np.split(codes, cuts))]


_DECK_PATHS: dict[str, Any] = {"rooms": None, "paths": {}}


def deck_paths(station: Station, deck: int) -> list[MplPath]:
    """`polygon_paths` of the rooms of one deck (in `station.rooms`' order), made once per station and
    shared by its deck map and sector maps (kept for the last station drawn only)."""
    cache = _DECK_PATHS
    if cache["rooms"] is not station.rooms:
        cache["rooms"], cache["paths"] = station.rooms, {}
    deck = int(deck)
    if deck not in cache["paths"]:
        rooms = station.rooms
        cache["paths"][deck] = polygon_paths(rooms.geometry.to_numpy()[(rooms["deck"] == deck).to_numpy()])
    return cache["paths"][deck]


def prepare_drawing(station: Station) -> None:
    """Every deck's `deck_paths` made now (before forking the processes that draw the maps, which then
    share them)."""
    for deck in pd.unique(station.rooms["deck"]):
        deck_paths(station, int(deck))


def _draw(ax: Axes, paths: list[MplPath], mask: np.ndarray | None = None, **kw: Any) -> PathCollection | None:
    """Add one PathCollection of the selected paths (all when `mask` is None)."""
    sel = paths if mask is None else [pt for pt, m in zip(paths, mask) if m]
    if not sel:
        return None
    pc = PathCollection(sel, **kw)
    ax.add_collection(pc)
    return pc


def _plot_deck(station: Station, plan: dict, roles: pd.DataFrame, deck: int, path: Path) -> None:
    p = station.params
    rooms = station.rooms[station.rooms["deck"] == deck]
    geom = rooms.geometry.to_numpy()
    paths = deck_paths(station, deck)
    r = roles.reindex(rooms["room_id"].astype(str).to_numpy())
    role = r["role"].to_numpy()
    walk = r["worst_walk_s"].to_numpy(dtype=float)
    phase = r["phase"].to_numpy(dtype=float)
    existing_sr = r["existing_safe_room"].to_numpy(dtype=bool)
    kind = rooms["kind"].astype(str).to_numpy()
    ids = rooms["room_id"].astype(str).to_numpy()
    doors = station.doors[station.doors["deck"] == deck]
    bounds = np.asarray(shapely.total_bounds(geom), dtype=float) if len(geom) else np.array([0, 0, 1, 1.0])
    nr, nc, size = _layout(bounds, len(geom))
    fs = float(np.clip(np.sqrt(max(len(geom), 1) / 300.0), 1.0, 1.8))  # font scale with the figure
    fig, (ax1, ax2) = plt.subplots(nr, nc, figsize=size)
    if nc == 2:
        fig.subplots_adjust(left=0.04, right=0.96, bottom=0.07, top=0.9, wspace=0.12)
    else:
        fig.subplots_adjust(left=0.06, right=0.96, bottom=0.05, top=0.93, hspace=0.18)
    name = station.title
    safe = role == "safe_room"
    phases = sorted(pd.unique(phase[safe & ~np.isnan(phase)]).tolist())
    multi_phase = len(phases) > 1
    # --- left: kinds, doors, safe rooms
    colours = pd.Series(kind).map(KIND_COLOURS).fillna(OTHER_COLOUR).to_numpy()
    _draw(ax1, paths, facecolors=colours, edgecolors="#9e9e9e", linewidths=0.4, zorder=1)
    _door_artists(ax1, doors, width=2.2 if len(geom) < 400 else 1.2)
    for ax in (ax1, ax2):
        hatch = "///" if ax is ax1 else None
        if multi_phase:
            for k in phases:
                _draw(ax, paths, safe & (phase == k), facecolors="none", hatch=hatch, linewidths=2.0, zorder=6,
                      edgecolors=PHASE_COLOURS[int(k - 1) % len(PHASE_COLOURS)])
        else:
            _draw(ax, paths, safe, facecolors="none", edgecolors="black", linewidths=2.0, hatch=hatch, zorder=6)
        _draw(ax, paths, safe & existing_sr, facecolors="none", edgecolors="white", linewidths=1.0,
              linestyles="--", zorder=7)
    if 0 < safe.sum() <= MAX_LABELS:
        label_size = float(np.clip(260 / max(np.sqrt(len(geom)) * 4, 1), 5, 9))
        pts = shapely.get_coordinates(shapely.point_on_surface(geom[safe]))
        labels = ids[safe]
        if multi_phase:
            labels = np.array([f"{a}\nP{int(b)}" for a, b in zip(labels, phase[safe])])
        for (x, y), t in zip(pts, labels):  # one text per safe room (labels are artists by nature)
            ax1.text(x, y, t, fontsize=label_size, ha="center", va="center", fontweight="bold", zorder=8,
                     bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.75))
    handles: list[Artist] = [Patch(facecolor=KIND_COLOURS.get(k, OTHER_COLOUR), edgecolor="#9e9e9e", label=k)
                             for k in pd.unique(kind)]
    if multi_phase:
        handles += [Patch(facecolor="none", edgecolor=PHASE_COLOURS[int(k - 1) % len(PHASE_COLOURS)], linewidth=2,
                          hatch="///", label=f"safe room, phase {int(k)}{_phase_label(station, int(k))}")
                    for k in phases]
    else:
        handles.append(Patch(facecolor="none", edgecolor="black", linewidth=2, hatch="///", label="safe room"))
    if existing_sr.any():
        handles.append(Patch(facecolor="#bbbbbb", edgecolor="white", linestyle="--", label="existing safe room"))
    handles.append(Line2D([], [], color="#8c2d04", linewidth=2.2, label="door"))
    handles += _relocation_arrows(ax1, station, plan, deck, fs)
    # the legend below both panels, outside every plotted area
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(handles), 6),
               fontsize=8 * fs, frameon=False)
    ax1.set_title(f"{name}, {station.params.deck_word} {deck}: rooms by kind and safe rooms" + ("" if safe.sum() <= MAX_LABELS else
                  f" ({int(safe.sum())} safe rooms: ids in the workbook's Safe rooms sheet)"), fontsize=11 * fs)
    # --- right: walking time to the assigned safe room
    norm = Normalize(vmin=0, vmax=p.reach_s)
    cmap = plt.get_cmap("RdYlGn_r")
    walked = ~np.isnan(walk)
    _draw(ax2, paths, ~walked, facecolors="#f7f7f7", edgecolors="#bdbdbd", linewidths=0.3, zorder=1)
    _draw(ax2, paths, walked, facecolors=cmap(norm(walk[walked])), edgecolors="#7f7f7f", linewidths=0.3, zorder=2)
    uns = role == "unsheltered"
    if uns.any():
        _draw(ax2, paths, uns, facecolors="none", edgecolors="red", linewidths=1.5, zorder=7)
        xy = shapely.get_coordinates(shapely.point_on_surface(geom[uns]))
        ax2.scatter(xy[:, 0], xy[:, 1], marker="x", s=40, c="red", linewidths=2, zorder=8)
        ax2.text(0.0, -0.02, "x  residents unsheltered", transform=ax2.transAxes, color="red", va="top",
                 fontsize=8 * fs)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    cb = fig.colorbar(sm, ax=ax2, fraction=0.04, pad=0.02)
    cb.set_label(f"longest walk to the assigned safe room (s); reach {p.reach_s:.0f} s", fontsize=10 * fs)
    cb.ax.tick_params(labelsize=8 * fs)
    ax2.set_title(f"{name}, {station.params.deck_word} {deck}: walking time to the assigned safe room", fontsize=11 * fs)
    for ax in (ax1, ax2):
        ax.set_aspect("equal")
        pad = 0.02 * max(bounds[2] - bounds[0], bounds[3] - bounds[1], 1.0)
        ax.set_xlim(bounds[0] - pad, bounds[2] + pad)
        ax.set_ylim(bounds[1] - pad, bounds[3] + pad)
        ax.set_xlabel("x (m)", fontsize=9 * fs)
        ax.set_ylabel("y (m)", fontsize=9 * fs)
        ax.tick_params(labelsize=7 * fs)
        map_furniture(ax, fs)
    _save(fig, path, dpi=130)


RELOCATION_COLOUR = "#6a3d9a"


def _relocation_arrows(ax: Axes, station: Station, plan: dict, deck: int, fs: float) -> list[Artist]:
    """Arrows from each repurposed room to the rooms its residents move to (moves within the deck),
    and markers for moves to or from another deck; returns the legend handles (none without moves)."""
    mv = relocation_layer(station, plan)
    if not len(mv):
        return []
    here = mv[(mv["deck_from"] == deck) & (mv["deck_to"] == deck)]
    out = mv[(mv["deck_from"] == deck) & (mv["deck_to"] != deck)]
    into = mv[(mv["deck_to"] == deck) & (mv["deck_from"] != deck)]
    handles: list[Artist] = []
    if len(here):
        xy = shapely.get_coordinates(here.geometry.to_numpy()).reshape(-1, 2, 2)
        w = here["residents"].to_numpy(dtype=float)
        ax.quiver(xy[:, 0, 0], xy[:, 0, 1], xy[:, 1, 0] - xy[:, 0, 0], xy[:, 1, 1] - xy[:, 0, 1], angles="xy",
                  scale_units="xy", scale=1, color=RELOCATION_COLOUR, width=0.003 * fs,
                  zorder=9, alpha=0.85)
        handles.append(Line2D([], [], color=RELOCATION_COLOUR, linewidth=2, marker=">",
                              label=f"residents moved ({int(w.sum()):,} on this {station.params.deck_word})"))
    for part, mark, word in ((out, "^", "moved to another"), (into, "v", "moved in from another")):
        if len(part):
            pts = shapely.get_coordinates(part.geometry.to_numpy()).reshape(-1, 2, 2)[:, 0 if part is out else 1]
            ax.scatter(pts[:, 0], pts[:, 1], marker=mark, s=50 * fs, c=RELOCATION_COLOUR, zorder=9)
            handles.append(Line2D([], [], color=RELOCATION_COLOUR, linestyle="none", marker=mark,
                                  label=f"residents {word} {station.params.deck_word} "
                                        f"({int(part['residents'].sum()):,})"))
    return handles


def nice_length(span_m: float) -> float:
    """A round length (1, 2 or 5 times a power of ten, metres) near a fifth of `span_m`."""
    target = max(span_m / 5.0, 1e-9)
    base = float(10 ** np.floor(np.log10(target)))
    return base * (5 if target >= 5 * base else 2 if target >= 2 * base else 1)


def map_furniture(ax: Axes, fs: float = 1.0) -> None:
    """A scale bar (lower left) and a plan-north arrow (+y, upper right) on a map axis in metres.

    The station inputs give no compass or spin direction, so the arrow points to the plan's +y
    and says so ("N (+y)")."""
    x0, x1 = ax.get_xlim()
    length = nice_length(abs(x1 - x0))
    bar = AnchoredSizeBar(ax.transData, length, f"{length:g} m", "lower left", pad=0.5, borderpad=0.6,
                          sep=3, frameon=True, size_vertical=abs(x1 - x0) / 250,
                          fontproperties={"size": 8 * fs, "weight": "bold"})
    bar.patch.set_alpha(0.8)
    ax.add_artist(bar)
    ax.annotate("", xy=(0.96, 0.97), xytext=(0.96, 0.87), xycoords="axes fraction", zorder=20,
                arrowprops=dict(arrowstyle="-|>", lw=2.0 * fs, color="black", mutation_scale=18 * fs))
    ax.text(0.96, 0.855, "N (+y)", transform=ax.transAxes, ha="center", va="top", fontsize=8 * fs,
            fontweight="bold", zorder=20, bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))


def _save(fig: Figure, path: Path, dpi: int, tight: bool = True) -> None:
    """Write the figure as an RGB PNG (`_RgbPngCanvas`): `tight`, cropped to what is drawn (matplotlib lays
    it out once more for that); else the fixed layout, drawn once."""
    try:
        canvas = _RgbPngCanvas(fig)
        if tight:
            write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight", pad_inches=0.25,
                                                       format="png"), overwrite=True, what="map")
        else:
            write_atomic(path, lambda tmp: _png_rgb(canvas, tmp, dpi), overwrite=True, what="map")
    finally:
        plt.close(fig)


PNG_COMPRESS_LEVEL = 1
"""zlib level of the maps' PNGs, with the run-length strategy (`zlib.Z_RLE`: the maps are mostly flat
colour): as RGB, faster than matplotlib's RGBA at level 6 and the files about as small."""


class _RgbPngCanvas(FigureCanvasAgg):
    """Agg, writing PNGs as RGB at zlib level `PNG_COMPRESS_LEVEL` (Pillow, with the metadata and resolution
    matplotlib writes). The maps are opaque (their face colour has no transparency), so these are the pixels
    of matplotlib's own RGBA PNG without the alpha channel, which is 255 everywhere; `savefig` (also with
    `bbox_inches="tight"`) writes through `print_png`."""

    def print_png(self, filename_or_obj: Any, *, metadata: dict | None = None,
                  pil_kwargs: dict | None = None, **print_figure_kw: Any) -> None:
        # print_figure hands a canvas outside matplotlib its facecolor, dpi, ... too: they are the figure's
        # already (savefig sets them on the figure while it prints)
        from PIL import Image, PngImagePlugin

        FigureCanvasAgg.draw(self)
        rgba = np.asarray(self.buffer_rgba())
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/")
        dpi = self.figure.dpi
        Image.fromarray(np.ascontiguousarray(rgba[..., :3])).save(
            filename_or_obj, format="png", pnginfo=info, dpi=(dpi, dpi), compress_level=PNG_COMPRESS_LEVEL,
            compress_type=zlib.Z_RLE)


def _png_rgb(canvas: _RgbPngCanvas, path: Path, dpi: int) -> None:
    """The figure drawn once by Agg at `dpi` (its fixed layout) and written by `_RgbPngCanvas.print_png`."""
    canvas.figure.set_dpi(dpi)
    canvas.print_png(path)


def _angles(geom: np.ndarray) -> np.ndarray:
    """Per polygon, the direction of its longest side of the minimum rotated rectangle, in degrees
    within (-90, 90] (for labels that run along a room)."""
    env = shapely.oriented_envelope(geom)
    xy, idx = shapely.get_coordinates(shapely.get_exterior_ring(env), return_index=True)
    out = np.zeros(len(geom))
    if not len(xy):
        return out
    first = np.searchsorted(idx, np.arange(len(geom)))
    ok = (first + 2 < len(xy)) & (np.r_[idx, -1][np.minimum(first + 2, len(xy))] == np.arange(len(geom)))
    f = first[ok]
    e1 = xy[f + 1] - xy[f]
    e2 = xy[f + 2] - xy[f + 1]
    long = np.where((np.hypot(*e1.T) >= np.hypot(*e2.T))[:, None], e1, e2)
    a = np.degrees(np.arctan2(long[:, 1], long[:, 0]))
    a = np.where(a > 90, a - 180, np.where(a <= -90, a + 180, a))
    out[ok] = a
    return out


class _Labels(Artist):
    """Texts in data coordinates drawn as one artist, in their order, as `Axes.text` would draw them (not
    clipped: `Axes.text` makes them with clip_on=False); adding each to the axes as `Axes.text` does costs
    more than the Text itself (a sector map has hundreds of room ids)."""

    def __init__(self, ax: Axes, texts: list[Text], zorder: float) -> None:
        super().__init__()
        self.set_zorder(zorder)
        fig = ax.get_figure(root=False)
        assert fig is not None
        for t in texts:
            t.set_clip_on(False)
            t.set_figure(fig)
            t.set_transform(ax.transData)
            t.axes = ax
        self._texts = texts

    def draw(self, renderer: Any) -> None:
        for t in self._texts:
            t.draw(renderer)
        self.stale = False


def _plot_sector(station: Station, roles: pd.DataFrame, deck: int, sector: str, path: Path) -> None:
    """One sector of one deck, zoomed so that every room id is readable on A4 landscape: rooms
    coloured by the longest walk to the assigned safe room, safe rooms outlined (by phase) with
    their id in bold, every other room's id along its long side, doors, a scale bar and an arrow."""
    p = station.params
    on_deck = station.rooms[station.rooms["deck"] == deck]
    mine = on_deck["sector"].astype(str).to_numpy() == sector
    geom_all = on_deck.geometry.to_numpy()
    geom = geom_all[mine]
    x0, y0, x1, y1 = shapely.total_bounds(geom)
    pad = 0.04 * max(x1 - x0, y1 - y0, 1.0)
    view = shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    near = shapely.intersects(geom_all, view)
    ids_all = on_deck["room_id"].astype(str).to_numpy()
    r = roles.reindex(ids_all)
    walk = r["worst_walk_s"].to_numpy(dtype=float)
    role = r["role"].to_numpy()
    phase = r["phase"].to_numpy(dtype=float)
    paths = deck_paths(station, deck)
    w, h = x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
    # A3, landscape or portrait, whichever shows the sector larger; the axes keep the sector's shape
    (aw, ah) = max(((14.0, 9.4), (9.6, 13.8)), key=lambda a: min(a[0] / w, a[1] / h))
    k = min(aw / w, ah / h)
    ax_w, ax_h = w * k, h * k
    fig_w, fig_h = ax_w + 1.6, ax_h + 1.9
    fig = plt.figure(figsize=(fig_w, fig_h))
    ax = fig.add_axes((0.2 / fig_w, 1.3 / fig_h, ax_w / fig_w, ax_h / fig_h))
    cax = fig.add_axes(((ax_w + 0.45) / fig_w, 1.3 / fig_h, 0.18 / fig_w, ax_h / fig_h))
    norm = Normalize(vmin=0, vmax=p.reach_s)
    cmap = plt.get_cmap("RdYlGn_r")
    walked = ~np.isnan(walk)
    other = near & ~mine
    _draw(ax, paths, near & mine & ~walked, facecolors="#f7f7f7", edgecolors="#9e9e9e", linewidths=0.4, zorder=1)
    sel = near & mine & walked
    if sel.any():
        _draw(ax, paths, sel, facecolors=cmap(norm(walk[sel])), edgecolors="#7f7f7f", linewidths=0.4, zorder=2)
    _draw(ax, paths, other, facecolors="#ffffff", edgecolors="#cfcfcf", linewidths=0.3, zorder=1)
    safe = (role == "safe_room") & near
    phases = sorted(pd.unique(phase[safe & ~np.isnan(phase)]).tolist())
    for k in phases or [1.0]:
        m = safe & ((phase == k) if phases else True)
        _draw(ax, paths, m, facecolors="none", linewidths=2.2, zorder=6,
              edgecolors=PHASE_COLOURS[int(k - 1) % len(PHASE_COLOURS)] if len(phases) > 1 else "black")
    doors = station.doors[(station.doors["deck"] == deck)]
    if len(doors):
        doors = doors[shapely.intersects(doors.geometry.to_numpy(), view)]
    _door_artists(ax, doors, width=1.6)
    lab = near & mine
    pts = shapely.get_coordinates(shapely.point_on_surface(geom_all[lab]))
    ang = _angles(geom_all[lab])
    prefix = os.path.commonprefix(list(ids_all[lab]))
    prefix = prefix[:max(prefix.rfind("-"), prefix.rfind("_"), prefix.rfind("."), -1) + 1] if len(prefix) < min(
        (len(t) for t in ids_all[lab]), default=0) else ""
    short = [t[len(prefix):] for t in ids_all[lab]]
    ax.add_artist(_Labels(ax, [Text(x, y, t, rotation=a, rotation_mode="anchor", ha="center", va="center",
                                     fontsize=6.5 if sf else 5.0, fontweight="bold" if sf else "normal",
                                     bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.7)
                                     if sf else None)
                                for (x, y), a, t, sf in zip(pts, ang, short, safe[lab])], zorder=8))
    ax.set_aspect("equal")
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(f"{station.title}, deck {deck}, sector {sector}: walking time to the assigned safe room"
                 + (f" (labels: room id after {prefix!r})" if prefix else ""), fontsize=12)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    cb = fig.colorbar(sm, cax=cax)
    cb.set_label(f"longest walk to the assigned safe room (s); reach {p.reach_s:.0f} s", fontsize=9)
    ax.title.set_fontsize(12 if fig_w > 12 else 10)
    handles: list[Artist] = [Patch(facecolor="none", edgecolor="black", linewidth=2.2, label="safe room (id in bold)")]
    if len(phases) > 1:
        handles = [Patch(facecolor="none", edgecolor=PHASE_COLOURS[int(k - 1) % len(PHASE_COLOURS)], linewidth=2.2,
                         label=f"safe room, phase {int(k)}{_phase_label(station, int(k))}") for k in phases]
    handles += [Patch(facecolor="#f7f7f7", edgecolor="#9e9e9e", label="no residents"),
                Patch(facecolor="#ffffff", edgecolor="#cfcfcf", label="other sectors"),
                Line2D([], [], color="#8c2d04", linewidth=2.2, label="door")]
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.45, 0.1 / fig_h),
               ncol=min(len(handles), 5 if fig_w > 12 else 3),
               fontsize=9, frameon=False)
    map_furniture(ax)
    _save(fig, path, dpi=110, tight=False)


def sector_keys(station: Station) -> list[tuple[int, str]]:
    """(deck, sector) of every sector map, in the order `plot_sector_maps` draws them."""
    rooms = station.rooms
    keys = rooms.groupby([rooms["deck"].astype(int), rooms["sector"].astype(str)], sort=True).size().index
    return [(int(d), str(s)) for d, s in keys]


def plot_sector_maps(station: Station, plan: dict, out_dir: Path, decks: Sequence[int] | None = None,
                     roles: pd.DataFrame | None = None, only: Sequence[tuple[int, str]] | None = None) -> list[Path]:
    """One zoomed PNG per deck and sector, `map-deck-<deck>-sector-<sector>.png` in `out_dir`
    (every room id readable on A4); returns the paths (decks, then sectors, in order). `decks`:
    only these decks (None: every deck); `only`: only these (deck, sector) maps (`sector_keys`);
    `roles`: `room_roles(station, plan)` when the caller has it."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot create the map folder ({exc}). Fix: choose a writable folder") from None
    roles = room_roles(station, plan) if roles is None else roles
    paths = []
    wanted = None if only is None else {(int(d), str(s)) for d, s in only}
    for deck, sector in sector_keys(station):
        if decks is not None and int(deck) not in {int(d) for d in decks}:
            continue
        if wanted is not None and (deck, sector) not in wanted:
            continue
        slug = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in sector) or "none"
        path = out_dir / f"map-deck-{int(deck)}-sector-{slug}.png"
        _plot_sector(station, roles, int(deck), sector, path)
        paths.append(path)
    return paths


def plot_maps(station: Station, plan: dict, out_dir: Path, roles: pd.DataFrame | None = None) -> list[Path]:
    """One PNG per deck, `map-deck-<deck>.png` in `out_dir`; returns the paths (decks in order).
    `roles`: `room_roles(station, plan)` when the caller has it."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot create the map folder ({exc}). Fix: choose a writable folder") from None
    roles = room_roles(station, plan) if roles is None else roles
    paths = []
    for deck in sorted(pd.unique(station.rooms["deck"])):
        path = out_dir / f"map-deck-{int(deck)}.png"
        _plot_deck(station, plan, roles, int(deck), path)
        paths.append(path)
    return paths


# ------------------------------------------------------------------ GeoPackage
def plan_layers(station: Station, plan: dict, roles: pd.DataFrame | None = None
                ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """(rooms, assignments) GeoDataFrames of a plan.

    rooms: every room with its role and, per scenario, residents, safe room(s), walk (s),
    unsheltered; assignments: one LineString per (room, scenario, safe room) from the room's
    centroid to the safe room's centroid (sheltering in place, a room to itself, has no line).
    `roles`: `room_roles(station, plan)` when the caller has it.
    """
    rooms = station.rooms
    roles = room_roles(station, plan) if roles is None else roles
    base = rooms[["room_id", "name", "kind", "sector", "deck"]].reset_index(drop=True)
    attrs = roles.reindex(base["room_id"].astype(str).to_numpy()).reset_index(drop=True)
    rl = gpd.GeoDataFrame(pd.concat([base, attrs], axis=1), geometry=rooms.geometry.to_numpy(), crs=rooms.crs)
    cent = pd.Series(list(shapely.centroid(rooms.geometry.to_numpy())), index=rooms["room_id"].astype(str).to_numpy())
    cent = cent[~cent.index.duplicated()]
    deck = pd.Series(rooms["deck"].to_numpy(), index=rooms["room_id"].astype(str).to_numpy())
    deck = deck[~deck.index.duplicated()]
    a = pd.DataFrame(plan.get("assignments", []), columns=["room_id", "scenario", "safe_room_id", "residents",
                                                           "walk_s"])
    a["room_id"] = a["room_id"].astype(str)
    a["safe_room_id"] = a["safe_room_id"].astype(str)
    a = a[(a["room_id"] != a["safe_room_id"]) & a["room_id"].isin(cent.index) & a["safe_room_id"].isin(cent.index)]
    a = a.reset_index(drop=True)
    lines = _centroid_lines(cent, a["room_id"], a["safe_room_id"])
    a["deck_from"] = deck.reindex(a["room_id"]).to_numpy()
    a["deck_to"] = deck.reindex(a["safe_room_id"]).to_numpy()
    al = gpd.GeoDataFrame(a, geometry=gpd.GeoSeries(lines, crs=rooms.crs), crs=rooms.crs)
    return rl, al


def _centroid_lines(cent: pd.Series, a: pd.Series, b: pd.Series) -> np.ndarray:
    """Straight LineStrings from the centroid of each room of `a` to that of the room of `b`
    (`cent`: Point per room_id; every id must be there)."""
    if not len(a):
        return np.array([], dtype=object)
    p0 = shapely.get_coordinates(np.asarray(cent.reindex(a).to_numpy(), dtype=object))
    p1 = shapely.get_coordinates(np.asarray(cent.reindex(b).to_numpy(), dtype=object))
    return shapely.linestrings(np.stack([p0, p1], axis=1))


def relocation_layer(station: Station, plan: dict) -> gpd.GeoDataFrame:
    """plan.json `relocations[]` as LineStrings from the centroid of `from_room` (the repurposed room
    its residents leave) to that of `to_room` (their new home): columns from_room, to_room,
    residents, present_<scenario> (persons), deck_from, deck_to, same_sector. Moves naming a room
    the station does not have are left out (the checker reports them)."""
    rooms = station.rooms.drop_duplicates("room_id")
    ids = rooms["room_id"].astype(str).to_numpy()
    cent = pd.Series(list(shapely.centroid(rooms.geometry.to_numpy())), index=ids)
    deck = pd.Series(rooms["deck"].to_numpy(), index=ids)
    sector = pd.Series(rooms["sector"].astype(str).to_numpy(), index=ids)
    m = relocations_frame(plan.get("relocations"), list(station.scenarios))
    m = m[m["from_room"].astype(str).isin(ids) & m["to_room"].astype(str).isin(ids)].reset_index(drop=True)
    m["from_room"] = m["from_room"].astype(str)
    m["to_room"] = m["to_room"].astype(str)
    for col in m.columns[2:]:
        m[col] = pd.to_numeric(m[col], errors="coerce").fillna(0).astype(np.int64)
    lines = _centroid_lines(cent, m["from_room"], m["to_room"])
    m["deck_from"] = deck.reindex(m["from_room"]).to_numpy()
    m["deck_to"] = deck.reindex(m["to_room"]).to_numpy()
    m["same_sector"] = sector.reindex(m["from_room"]).to_numpy() == sector.reindex(m["to_room"]).to_numpy()
    return gpd.GeoDataFrame(m, geometry=gpd.GeoSeries(lines, crs=rooms.crs), crs=rooms.crs)


def _write_lines(frame: gpd.GeoDataFrame, path: Path, layer: str, crs: Any) -> None:
    """Append a LineString layer (an empty one keeps its geometry type)."""
    if len(frame):
        frame.to_file(path, layer=layer, driver="GPKG", mode="a")
    else:
        frame = frame.set_geometry(gpd.GeoSeries([], crs=crs))
        frame.to_file(path, layer=layer, driver="GPKG", mode="a", geometry_type="LineString")


def write_plan_gpkg(station: Station, plan: dict, path: Path, roles: pd.DataFrame | None = None) -> Path:
    """Write the plan as a GeoPackage with layers `rooms`, `assignments` and `relocations` (residents
    moved out of repurposed rooms, `relocation_layer`), under a temporary name, then moved. `roles`:
    `room_roles(station, plan)` when the caller has it."""
    path = Path(path)
    rl, al = plan_layers(station, plan, roles=roles)
    mv = relocation_layer(station, plan)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_name(path)  # GDAL creates the file itself
        try:
            with warnings.catch_warnings():  # station frames are local metres: no CRS is normal
                warnings.filterwarnings("ignore", message=".*crs.*was not provided")
                rl.to_file(tmp, layer="rooms", driver="GPKG")
                _write_lines(al, tmp, "assignments", rl.crs)
                _write_lines(mv, tmp, "relocations", rl.crs)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise OutputError(f"{path}: the GeoPackage cannot be written ({exc}). Fix: check the folder is writable") from None
    return path


def _phase_label(station: Station, k: int) -> str:
    """': <declared name>' for phase k (1-based), ': remaining' after the declared ones, else ''."""
    declared = station.params.phases
    if 0 < k <= len(declared):
        return f": {declared[k - 1].name}"
    return ": remaining" if declared and k == len(declared) + 1 else ""
