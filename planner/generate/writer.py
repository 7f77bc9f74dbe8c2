"""`generate_station`: assemble the spaces and write rooms.geojson, doors.geojson and residents.csv (moved from `planner/generate.py`)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from planner.files import umask_mode
from planner.generate.catalogue import DECIMALS, DRAWN_TYPES, LABELS, MIN_ROOMS, MIN_ROOMS_PER_DECK, SECTORS, STAIRS_DOOR_M, STAIRS_TRAVERSE_S, TYPES
from planner.generate.doors import _doors
from planner.generate.layout import _layout
from planner.generate.occupancy import _band_rank, _residents
from planner.generate.spaces import _Space, _fmt_coords, _polygon


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    umask_mode(tmp)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------- public
def generate_station(n_rooms: int, seed: int, out_dir: str | Path, name: str | None = None,  # noqa: C901  debt: issue 16 (complexity 42)
                     decks: int | None = None) -> Path:
    """Write a generated ring station of about `n_rooms` spaces into `out_dir`; return the folder.

    `n_rooms` counts every polygon of rooms.geojson (rooms, corridor segments, stairs).
    Six sectors, `decks` decks (default: 1 below 150 spaces, else about one per 1,000
    spaces, 2..12). Writes rooms.geojson, doors.geojson (local planar frame, metres,
    no "crs" member) and residents.csv (room_id, night, day, evening, priority).
    Deterministic: the same arguments give byte-identical files.
    """
    from planner.errors import InputError

    if not isinstance(n_rooms, (int, np.integer)) or n_rooms < MIN_ROOMS:
        raise InputError("planner generate", "--rooms", f"is {n_rooms!r}",
                         f"give at least {MIN_ROOMS} rooms (six sectors, each with a corridor and a few rooms)")
    if decks is not None and (decks < 1 or decks > 50):
        raise InputError("planner generate", "--decks", f"is {decks!r}", "give 1 to 50 decks")
    if decks is not None and decks > 1 and n_rooms / decks < MIN_ROOMS_PER_DECK:
        raise InputError("planner generate", "--decks",
                         f"{decks} decks for {n_rooms} rooms leaves fewer than {MIN_ROOMS_PER_DECK} a deck",
                         "give fewer decks or more rooms")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed = int(seed)
    lay = _layout(int(n_rooms), seed, decks)
    rng = np.random.default_rng([seed, 1])
    p = lay.p
    D, K = lay.D, p.K
    nseg_total = len(lay.B) - 1

    # ---- spaces
    spaces: list[_Space] = []
    lay.bounds = {}
    for (deck, band), lots in sorted(lay.lots.items()):
        bnd = [lots[0].a] + [lot.b for lot in lots]
        lay.bounds[(deck, band)] = np.array(bnd)
        for lot in lots:
            sector = min(5, int(((lot.a + lot.b) / 2) / (2 * math.pi / 6)))
            if lot.single is not None:
                spaces.append(_Space(band, "single", lot.a, lot.b, deck, lot.single, sector))
            elif lot.deep is not None:
                spaces.append(_Space(band, "deep", lot.a, lot.b, deck, lot.deep, sector, rmid_edges=True))
            else:
                spaces.append(_Space(band, "lo", lot.a, lot.b, deck, lot.lo, sector))
                spaces.append(_Space(band, "hi", lot.a, lot.b, deck, lot.hi, sector))
    for deck in range(D):
        for c in range(K):
            for j in range(nseg_total):
                spaces.append(_Space(c, "corridor", float(lay.B[j]), float(lay.B[j + 1]), deck,
                                     "ring", j // lay.nseg, seg=j))

    # areas (exact for the polar cells; corridors as well)
    def area_of(sp: _Space) -> float:
        if sp.part == "corridor":
            r0, r1 = p.corridors[sp.band]
            return (sp.b - sp.a) * (r1 * r1 - r0 * r0) / 2
        r0, r1, rm = p.bands[sp.band]
        if sp.part == "lo":
            r1 = rm
        elif sp.part == "hi":
            r0 = rm
        return (sp.b - sp.a) * (r1 * r1 - r0 * r0) / 2

    area = np.array([area_of(sp) for sp in spaces])
    # retype rooms whose final area left their type's range (ends of intervals)
    for i, sp in enumerate(spaces):
        if sp.type in ("stairs", "spoke", "ring"):
            continue
        kind, lo, hi, deep = TYPES[sp.type]
        if lo - 1e-6 <= area[i] <= hi + 1e-6:
            continue
        same = [t for t in DRAWN_TYPES if TYPES[t][0] == kind and TYPES[t][1] <= area[i] <= TYPES[t][2]]
        if same:
            sp.type = same[0]
        else:
            fits = [t for t in ("storage", "bigstore", "office", "recreation") if TYPES[t][1] <= area[i] <= TYPES[t][2]]
            sp.type = fits[0] if fits else ("storage" if area[i] < 40 else "recreation")

    # ---- ids and names: per sector and deck, in (band, part, angle) order
    order = sorted(range(len(spaces)), key=lambda i: (spaces[i].sector, spaces[i].deck,
                                                      _band_rank(spaces[i]), spaces[i].a))
    n_sp = len(spaces)
    room_id = [""] * n_sp
    names = [""] * n_sp
    counters: dict[tuple[int, int], int] = {}
    for i in order:
        sp = spaces[i]
        key = (sp.sector, sp.deck)
        counters[key] = counters.get(key, 0) + 1
        num = counters[key]
        s, dk = SECTORS[sp.sector], sp.deck + 1
        room_id[i] = f"{s}-{dk}-{num:04d}"
        if sp.type == "ring":
            label = "Ring corridor" if sp.band == p.main else "Side corridor"
            names[i] = f"{label} {s}{dk}-{num:03d}"
        else:
            opts = LABELS[sp.type]
            label = opts[int(rng.integers(len(opts)))] if len(opts) > 1 else opts[0]
            if sp.type == "recreation" and area[i] >= 150 and label not in ("Theatre", "Garden"):
                label = "Sports hall"
            names[i] = f"{label} {s}{dk}-{num:03d}"
    kinds = np.array(["corridor" if sp.type == "ring" else TYPES[sp.type][0] for sp in spaces])
    types = np.array([sp.type for sp in spaces])
    deck_arr = np.array([sp.deck for sp in spaces])
    sector_arr = np.array([sp.sector for sp in spaces])

    # ---- protected and existing rooms
    protected = np.zeros(n_sp, bool)
    existing = np.zeros(n_sp, bool)
    protected[kinds == "medical"] = True
    for i in np.flatnonzero(kinds == "medical"):
        names[i] = names[i].replace("Clinic", "Medical bay")
    rec = np.flatnonzero(kinds == "recreation")
    if len(rec):
        pref = rec[(sector_arr[rec] == 1) & (deck_arr[rec] == 0)]
        pool = pref if len(pref) else rec
        i = int(pool[np.argmax(area[pool])])
        protected[i] = True
        names[i] = f"Chapel {SECTORS[sector_arr[i]]}{deck_arr[i] + 1}"
    store = np.flatnonzero((kinds == "storage") & (deck_arr == 0))
    if not len(store):
        store = np.flatnonzero(kinds == "storage")
    for s in ((0, 3) if n_rooms >= 500 else (0,)):
        pool = store[(sector_arr[store] == s) & ~existing[store]]
        if not len(pool):
            pool = store[~existing[store]]
        if len(pool):
            i = int(pool[np.argmax(area[pool])])
            existing[i] = True
            names[i] = f"Storm shelter {SECTORS[sector_arr[i]]}{deck_arr[i] + 1}"

    # ---- residents
    res = _residents(types, kinds, area, rng)

    # ---- geometry + doors
    rings = [_polygon(sp, p, lay) for sp in spaces]
    doors = _doors(spaces, lay, area, types, rng)
    # vertical links
    stairs_by = {}
    for i, sp in enumerate(spaces):
        if sp.type == "stairs":
            stairs_by.setdefault(round(sp.a, 9), {})[sp.deck] = i
    vertical = []
    for key in sorted(stairs_by):
        per_deck = stairs_by[key]
        for dk in range(D - 1):
            i, k = per_deck.get(dk), per_deck.get(dk + 1)
            if i is None or k is None:
                continue
            sp = spaces[i]
            r0, r1, rm = p.bands[sp.band]
            rr = (r0 + (rm if sp.part == "lo" else r1)) / 2
            th = (sp.a + sp.b) / 2
            vertical.append((i, k, np.array([[rr * math.cos(th), rr * math.sin(th)]])))

    # ---- write
    title = name or f"Ring station {n_rooms} (seed {seed})"
    feats = []
    for i in sorted(range(n_sp), key=lambda i: room_id[i]):
        props = {"room_id": room_id[i], "kind": str(kinds[i]), "sector": SECTORS[spaces[i].sector],
                 "deck": int(spaces[i].deck + 1), "name": names[i]}
        if protected[i]:
            props["protected"] = True
        if existing[i]:
            props["existing"] = True
        feats.append('{"type":"Feature","properties":%s,"geometry":{"type":"Polygon","coordinates":[%s]}}'
                     % (json.dumps(props, separators=(",", ":")), _fmt_coords(rings[i])))
    head = '{"type":"FeatureCollection","name":%s,"features":[\n' % json.dumps(f"{title} rooms")
    _write_atomic(out / "rooms.geojson", head + ",\n".join(feats) + "\n]}\n")

    door_rows = []
    for (i, k, xy, width) in doors:
        sp = spaces[i]
        door_rows.append((room_id[i], room_id[k], SECTORS[sp.sector], sp.deck, "LineString", xy, width, None))
    for (i, k, xy) in vertical:
        sp = spaces[i]
        door_rows.append((room_id[i], room_id[k], SECTORS[sp.sector], sp.deck, "Point", xy, STAIRS_DOOR_M,
                          STAIRS_TRAVERSE_S))
    door_rows.sort(key=lambda d: (d[2], d[3], d[4] == "Point", d[0], d[1]))
    feats = []
    dcount: dict[tuple[str, int], int] = {}
    for fr, to, s, dk, gtype, xy, width, trav in door_rows:
        key = (s, dk)
        dcount[key] = dcount.get(key, 0) + 1
        props: dict = {"door_id": f"{s}-{dk + 1}-D{dcount[key]:04d}", "width_m": round(float(width), 2),
                       "deck": dk + 1}
        if gtype == "Point":
            props.update({"from_room": fr, "to_room": to, "traverse_s": trav})
            coords = "[%.3f,%.3f]" % tuple((np.round(xy[0], DECIMALS) + 0.0).tolist())
        else:
            coords = _fmt_coords(xy)
        feats.append('{"type":"Feature","properties":%s,"geometry":{"type":"%s","coordinates":%s}}'
                     % (json.dumps(props, separators=(",", ":")), gtype, coords))
    head = '{"type":"FeatureCollection","name":%s,"features":[\n' % json.dumps(f"{title} doors")
    _write_atomic(out / "doors.geojson", head + ",\n".join(feats) + "\n]}\n")

    lines = ["room_id,night,day,evening,priority"]
    for i in sorted(range(n_sp), key=lambda i: room_id[i]):
        if kinds[i] in ("corridor", "stairs"):
            continue
        pr = 2.0 if kinds[i] == "medical" else 1.0
        lines.append(f"{room_id[i]},{res[0][i]},{res[1][i]},{res[2][i]},{pr:.1f}")
    _write_atomic(out / "residents.csv", "\n".join(lines) + "\n")
    return out

