"""Maps per deck (non-empty PNGs) and the plan's GeoPackage (layers rooms, assignments, relocations)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest

from planner.maps import plot_maps, room_roles, write_plan_gpkg
from planner.station import load_station


def _box(x0, y0, x1, y1):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def two_deck_station(folder: Path):
    """Two decks, each a corridor with a storage room and a quarters; stairs joined by a vertical link."""
    folder.mkdir(parents=True, exist_ok=True)
    feats, doors = [], []
    for d in (0, 1):
        for rid, kind, g in ((f"C{d}", "corridor", _box(0, 0, 12, 2)), (f"S{d}", "storage", _box(0, 2, 4, 7)),
                             (f"Q{d}", "quarters", _box(4, 2, 8, 7)), (f"T{d}", "stairs", _box(8, 2, 12, 7))):
            feats.append({"type": "Feature", "geometry": g,
                          "properties": {"room_id": rid, "kind": kind, "sector": "A", "deck": d, "name": rid}})
        for k, x in enumerate((1.5, 5.5, 9.5)):
            doors.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[x, 2], [x + 0.9, 2]]},
                          "properties": {"door_id": f"D{d}{k}", "width_m": 0.9, "deck": d}})
    doors.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [10, 4.5]},
                  "properties": {"door_id": "V01", "width_m": 1.2, "from_room": "T0", "to_room": "T1",
                                 "traverse_s": 12}})
    (folder / "rooms.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    (folder / "doors.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": doors}))
    (folder / "residents.csv").write_text("room_id,night,day\nQ0,4,0\nQ1,6,1\nC1,0,3\n")
    return load_station(folder)


PLAN = {
    "station": "two-deck",
    "safe_rooms": [{"room_id": "S0", "name": "S0", "sector": "A", "deck": 0, "kind": "storage", "area_m2": 20.0,
                    "capacity": 8, "door_flow_pps": 0.78, "cost": 1.0, "existing": False, "phase": 1},
                   {"room_id": "Q1", "name": "Q1", "sector": "A", "deck": 1, "kind": "quarters", "area_m2": 20.0,
                    "capacity": 8, "door_flow_pps": 0.78, "cost": 1.0, "existing": True, "phase": 2}],
    "assignments": [{"room_id": "Q0", "scenario": "night", "safe_room_id": "S0", "residents": 4, "walk_s": 9.0},
                    {"room_id": "Q1", "scenario": "night", "safe_room_id": "Q1", "residents": 6, "walk_s": 0.0},
                    {"room_id": "Q1", "scenario": "day", "safe_room_id": "Q1", "residents": 1, "walk_s": 0.0},
                    {"room_id": "C1", "scenario": "day", "safe_room_id": "Q1", "residents": 2, "walk_s": 14.0}],
    "unsheltered": [{"room_id": "C1", "scenario": "day", "residents": 1, "reason": "door queue"}],
    "totals": {"cost": 1.0, "scenarios": {}},
}


@pytest.fixture()
def station(tmp_path):
    return two_deck_station(tmp_path / "st")


def test_roles(station):
    r = room_roles(station, PLAN)
    assert r.at["S0", "role"] == "safe_room" and r.at["Q1", "role"] == "safe_room"
    assert r.at["Q0", "role"] == "sheltered" and r.at["C1", "role"] == "unsheltered"
    assert r.at["S1", "role"] == "unoccupied"
    assert r.at["Q0", "worst_walk_s"] == 9.0 and r.at["C1", "worst_walk_s"] == 14.0
    assert r.at["Q1", "worst_walk_s"] == 0.0


def test_one_png_per_deck(station, tmp_path):
    paths = plot_maps(station, PLAN, tmp_path / "out")
    assert [p.name for p in paths] == ["map-deck-0.png", "map-deck-1.png"]
    for p in paths:
        assert p.stat().st_size > 10_000
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_empty_plan_still_maps(station, tmp_path):
    paths = plot_maps(station, {"safe_rooms": [], "assignments": [], "unsheltered": []}, tmp_path / "o")
    assert len(paths) == 2 and all(p.stat().st_size > 0 for p in paths)


def test_geopackage_layers(station, tmp_path):
    path = write_plan_gpkg(station, PLAN, tmp_path / "plan.gpkg")
    layers = {name: kind for name, kind in pyogrio.list_layers(path)}
    assert layers == {"rooms": "Polygon", "assignments": "LineString", "relocations": "LineString"}
    assert len(gpd.read_file(path, layer="relocations")) == 0      # nobody moved
    rooms = gpd.read_file(path, layer="rooms").set_index("room_id")
    assert len(rooms) == 8
    assert rooms.at["S0", "role"] == "safe_room" and rooms.at["C1", "role"] == "unsheltered"
    assert rooms.at["Q0", "safe_room_night"] == "S0" and rooms.at["Q0", "walk_s_night"] == 9.0
    lines = gpd.read_file(path, layer="assignments")
    # sheltering in place (Q1 -> Q1) draws no line
    assert sorted(zip(lines["room_id"], lines["safe_room_id"])) == [("C1", "Q1"), ("Q0", "S0")]
    q0 = lines[lines["room_id"] == "Q0"].geometry.iloc[0]
    assert list(q0.coords) == [(6.0, 4.5), (2.0, 4.5)]


def test_geopackage_without_assignments(station, tmp_path):
    path = write_plan_gpkg(station, {"safe_rooms": [], "assignments": [], "unsheltered": []}, tmp_path / "e.gpkg")
    assert {n for n, _ in pyogrio.list_layers(path)} == {"rooms", "assignments", "relocations"}


def test_polygon_paths_keep_holes_parts_and_order():
    import numpy as np
    import shapely
    from matplotlib.path import Path as MplPath

    from planner.maps import polygon_paths

    donut = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (2, 1), (2, 2), (1, 2)]])  # same winding
    two = shapely.MultiPolygon([shapely.box(5, 5, 6, 6), shapely.box(7, 7, 8, 8)])
    paths = polygon_paths(np.array([shapely.box(0, 0, 1, 1), None, donut, two, shapely.Polygon()], dtype=object))
    assert [len(p.vertices) for p in paths] == [5, 0, 10, 10, 0]
    assert list(paths[2].codes).count(MplPath.MOVETO) == 2  # exterior + hole
    v = paths[2].vertices

    def signed_area(ring):
        x, y = ring[:, 0], ring[:, 1]
        return 0.5 * float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))

    assert signed_area(v[:5]) * signed_area(v[5:]) < 0  # the hole winds against the exterior: drawn empty


def test_sector_maps_one_png_per_deck_and_sector(station, tmp_path):
    from planner.maps import plot_sector_maps

    paths = plot_sector_maps(station, PLAN, tmp_path / "s")
    assert [p.name for p in paths] == ["map-deck-0-sector-A.png", "map-deck-1-sector-A.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
    assert not [p for p in (tmp_path / "s").iterdir() if p.name.startswith(".")]


def test_legends_outside_the_plotted_areas_scale_bar_and_arrow(station, tmp_path, monkeypatch):
    """Deck and sector maps: no legend overlaps a map axis; every map axis has a scale bar and an arrow."""
    import planner.maps as maps
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    seen = []
    real_save = maps._save

    def spy(fig, path, dpi, tight=True):
        fig.canvas.draw()
        r = fig.canvas.get_renderer()
        map_axes = [ax for ax in fig.axes if ax.get_aspect() == 1.0]
        legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
        assert legends, path
        for lg in legends:
            lb = lg.get_window_extent(r)
            for ax in map_axes:
                assert not lb.overlaps(ax.get_window_extent(r)), f"{path}: legend over a map"
        for ax in map_axes:
            assert any(isinstance(a, AnchoredSizeBar) for a in ax.artists), f"{path}: no scale bar"
            assert any(t.get_text() == "N (+y)" for t in ax.texts), f"{path}: no north arrow"
        seen.append(Path(path).name)
        real_save(fig, path, dpi, tight)

    monkeypatch.setattr(maps, "_save", spy)
    maps.plot_maps(station, PLAN, tmp_path / "o")
    maps.plot_sector_maps(station, PLAN, tmp_path / "o")
    assert len(seen) == 4


MOVED = {**PLAN, "relocations": [
    {"from_room": "Q0", "to_room": "S0", "residents": 3, "present": {"night": 3, "day": 0}},   # same deck
    {"from_room": "Q0", "to_room": "Q1", "residents": 1, "present": {"night": 1, "day": 0}},   # to deck 1
    {"from_room": "Q1", "to_room": "S1", "residents": 2, "present": {"night": 2, "day": 1}},   # on deck 1
]}


def test_geopackage_relocations_layer(station, tmp_path):
    path = write_plan_gpkg(station, MOVED, tmp_path / "moved.gpkg")
    mv = gpd.read_file(path, layer="relocations")
    assert sorted(zip(mv["from_room"], mv["to_room"], mv["residents"])) == [("Q0", "Q1", 1), ("Q0", "S0", 3),
                                                                             ("Q1", "S1", 2)]
    row = mv[mv["to_room"] == "S0"].iloc[0]
    # from the centroid of the room left (Q0: x 4..8, y 2..7) to the new home's (S0: x 0..4)
    assert list(row.geometry.coords) == [(6.0, 4.5), (2.0, 4.5)]
    assert row["present_night"] == 3 and row["present_day"] == 0
    assert row["deck_from"] == 0 and row["deck_to"] == 0 and bool(row["same_sector"])
    other = mv[mv["to_room"] == "Q1"].iloc[0]
    assert other["deck_from"] == 0 and other["deck_to"] == 1


def test_deck_maps_draw_relocations(station, tmp_path):
    """The map of a plan with moves differs from the same plan without them (the arrows and markers)."""
    import numpy as np
    from PIL import Image

    with_moves = plot_maps(station, MOVED, tmp_path / "a")
    without = plot_maps(station, PLAN, tmp_path / "b")
    for a, b in zip(with_moves, without):
        ia, ib = np.asarray(Image.open(a).convert("RGB")), np.asarray(Image.open(b).convert("RGB"))
        assert ia.shape != ib.shape or (ia != ib).any(), a.name
        # the arrow colour appears only where something moves
        purple = (np.abs(ia.astype(int) - [0x6a, 0x3d, 0x9a]).sum(axis=2) < 40).sum()
        assert purple > 30, a.name


def test_map_drawing_shortcuts_draw_the_same_pixels(station, tmp_path):
    """The sector maps' room ids as one `_Labels` artist draw what `Axes.text` draws; `_RgbPngCanvas` writes
    matplotlib's own (tight) PNG's pixels as RGB; `deck_paths` are one deck's `polygon_paths`, made once."""
    import io

    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.text import Text
    from PIL import Image

    import planner.maps as maps

    labels = [(0.05, 0.5, "R-12", 30.0, True), (0.5, 0.5, "Q7", -60.0, False), (0.98, 0.1, "edge-label", 0.0, False)]

    def draw(batch: bool) -> tuple[np.ndarray, np.ndarray]:
        fig, ax = plt.subplots(figsize=(3, 2))
        kw = [dict(rotation=a, rotation_mode="anchor", ha="center", va="center", fontsize=6.5 if sf else 5.0,
                   fontweight="bold" if sf else "normal",
                   bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.7) if sf else None)
              for *_, a, sf in labels]
        if batch:
            ax.add_artist(maps._Labels(ax, [Text(x, y, t, **k) for (x, y, t, *_), k in zip(labels, kw)], zorder=8))
        else:
            for (x, y, t, *_), k in zip(labels, kw):
                ax.text(x, y, t, zorder=8, **k)
        out = []
        for canvas in (None, maps._RgbPngCanvas):   # matplotlib's writer, then ours
            if canvas is not None:
                canvas(fig)
            for tight in ("tight", None):   # the sector maps are not cropped: ids at the edge stay out of it
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=90, bbox_inches=tight)
                out.append(Image.open(buf))
        plt.close(fig)
        for a, b in zip(out[:2], out[2:]):
            assert a.mode == "RGBA" and b.mode == "RGB" and a.info == b.info
            assert (np.asarray(a)[..., 3] == 255).all() and (np.asarray(a)[..., :3] == np.asarray(b)).all()
        return np.asarray(out[3]), np.asarray(out[2])

    texts, _ = draw(False)
    batch, _ = draw(True)
    assert texts.shape == batch.shape and (texts == batch).all()
    assert maps.deck_paths(station, 1) is maps.deck_paths(station, 1)
    on = station.rooms["deck"].to_numpy() == 1
    assert [(p.vertices.tolist(), p.codes.tolist()) for p in maps.deck_paths(station, 1)] == [
        (p.vertices.tolist(), p.codes.tolist()) for p in maps.polygon_paths(station.rooms.geometry.to_numpy()[on])]
