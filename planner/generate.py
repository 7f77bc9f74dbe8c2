"""Generated ring stations: realistic, deterministic floor plans for tests, benchmarks and Station Unity.

A station is a ring habitat of six sectors (A..F) and one or more decks. Seen from
above, a deck is an annulus in a local planar frame (metres, centre at the origin),
laid out in polar coordinates (radius r, angle theta)::

    outer row      single row of rooms facing the outermost ring corridor
    C(K-1)         ring corridor
    double band    back-to-back rooms (each facing one corridor) or deep rooms,
      ...          crossed by radial spoke corridors that join the ring corridors
    C0             ring corridor
    inner row      single row of rooms facing the innermost ring corridor

The main ring corridor is 2.4 m wide, side ring corridors 1.8-2.0 m, spokes 2.0 m.
Ring corridors are split into segments of about 26 m, joined by openings. Every
polygon follows the curve (arcs with a vertex every <= 1.5 m, sagitta <= 5 mm) and
neighbouring polygons share their edges vertex for vertex, so rooms never overlap.
Stair rooms on every deck sit at the same places; a vertical link (a Point door with
explicit from_room/to_room and traverse_s) joins the stairs of adjacent decks.

Rooms: quarters (cabins 8.5-13.5 m2 with 1-2 residents, family cabins 18-32 m2 with
3-5, berthing compartments 45-100 m2 at 2.8 m2 a berth), storage 6-60 m2 (one
at least every 45-70 m along each row, about one every 30 m along a corridor, so candidates are everywhere), hygiene,
utility, offices, labs, operations, medical, galleys and recreation 30-250 m2.
Rooms along the main corridor lean to work and public use, the others to quarters;
each sector has a theme (A command, B science, C and F residential, D leisure,
E engineering). Doors are 0.8-1.2 m LineStrings on the shared wall.

Occupancy: every resident has a berth; `night` = berths minus a 7 % night shift
(operations, medical, galley, utility), `day` = 30 % asleep in quarters (three
shifts), 50 % at work, the rest in galleys, recreation and washrooms; `evening` =
48 % in quarters, the rest mostly in recreation and galleys. Non-quarters rooms
hold at most one person per 2 m2. Totals are equal in every scenario.

`generate_station(n_rooms, seed, out_dir)` writes rooms.geojson, doors.geojson and
residents.csv; the same arguments give byte-identical files.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from planner.files import umask_mode

SECTORS = "ABCDEF"
"""Sector names, in angular order (counter-clockwise from the +x axis)."""

ROW_DEPTH_M = 4.5
"""Depth of a row of rooms, from the corridor wall to the back wall (m)."""
MAIN_CORRIDOR_M = 2.4
"""Width of the main ring corridor (m)."""
SIDE_CORRIDOR_M = (2.0, 1.8)
"""Widths of the side ring corridors, alternating (m)."""
SPOKE_M = 2.0
"""Width of a spoke corridor at the middle of its band (m)."""
SEGMENT_M = 26.0
"""Target length of a ring corridor segment along the main corridor (m)."""
SPOKE_SPACING_M = 70.0
"""Target distance between spokes along a band (m)."""
STAIRS_SPACING_M = 120.0
"""Target distance between stair cores along the main corridor (m)."""
STAIRS_WIDTH_M = 3.0
"""Width of a stair room along its corridor (m)."""
STAIRS_TRAVERSE_S = 12.0
"""Time to climb or descend one deck of stairs (s)."""
STAIRS_DOOR_M = 1.2
"""Clear width of a stair flight (m)."""
ARC_STEP_M = 1.5
"""Longest chord of an arc between two vertices (m)."""
ARC_SAGITTA_M = 0.005
"""Largest gap between a chord and the true arc (m); sets the step on tight curves."""
SINGLE_ROW_MAX_M2 = 65.0
"""Largest room in a single row (m2): wider rooms would be long thin halls."""
HALF_ROW_MAX_M2 = 40.0
"""Largest room in one half of a double band (m2)."""
MIN_ROOM_M2 = 6.0
"""Smallest room the generator draws (m2)."""
STORAGE_GAP_M = (45.0, 70.0)
"""A storage room at least every this many metres along each row (m): with rows on both sides,
about one every 30 m along a corridor."""
ROOMS_PER_CORRIDOR_DECK = 600
"""Spaces one ring corridor and its rows hold on one deck, used to choose the number of ring corridors."""
MIN_ROOMS = 30
"""Smallest station (spaces per deck) the generator makes: six corridor segments and the required kinds."""
MIN_ROOMS_PER_DECK = 40
"""Smallest deck of a station with several decks (its stairs take six more spaces)."""
DECIMALS = 3
"""Coordinates are rounded to millimetres."""

# type: (kind, min area m2, max area m2, deep) -- deep types fill both halves of a double band
TYPES: dict[str, tuple[str, float, float, bool]] = {
    "cabin": ("quarters", 8.5, 13.5, False),
    "family": ("quarters", 18.0, 32.0, False),
    "berthing": ("quarters", 45.0, 100.0, True),
    "storage": ("storage", 6.0, 40.0, False),
    "bigstore": ("storage", 40.0, 60.0, True),
    "hygiene": ("hygiene", 8.0, 20.0, False),
    "utility": ("utility", 6.0, 25.0, False),
    "office": ("office", 12.0, 36.0, False),
    "lab": ("lab", 30.0, 90.0, True),
    "operations": ("operations", 40.0, 120.0, True),
    "medical": ("medical", 40.0, 150.0, True),
    "galley": ("galley", 40.0, 200.0, True),
    "recreation": ("recreation", 30.0, 250.0, True),
    "stairs": ("stairs", 0.0, 1e9, False),
    "spoke": ("corridor", 0.0, 1e9, True),
}
HALF_TYPES = [t for t, v in TYPES.items() if not v[3] and t != "stairs"]
DEEP_TYPES = [t for t, v in TYPES.items() if v[3] and t != "spoke"]
DRAWN_TYPES = HALF_TYPES + DEEP_TYPES

# relative frequency of each type along residential rows and along the main corridor
WEIGHTS = {
    "res": {"cabin": 26, "family": 14, "berthing": 42, "storage": 3, "bigstore": 0.3, "hygiene": 3.5,
            "utility": 2, "office": 2, "lab": 0.8, "operations": 0.2, "medical": 0.1, "galley": 1.0,
            "recreation": 3.0},
    "pub": {"cabin": 8, "family": 4, "berthing": 10, "storage": 3, "bigstore": 1.0, "hygiene": 3,
            "utility": 3, "office": 16, "lab": 9, "operations": 2.5, "medical": 0.8, "galley": 4,
            "recreation": 6.0},
}
# sector themes: multipliers on WEIGHTS
THEMES = {
    "A": {"operations": 3.0, "office": 1.5},
    "B": {"lab": 2.5, "office": 1.2},
    "C": {"cabin": 1.4, "family": 1.5, "berthing": 1.3},
    "D": {"recreation": 1.8, "galley": 1.3},
    "E": {"utility": 2.5, "storage": 1.4, "bigstore": 1.8, "lab": 1.3},
    "F": {"medical": 3.0, "cabin": 1.2, "family": 1.2},
}
# kinds every station has at least once, placed first (matters for small stations)
REQUIRED_TYPES = ["storage", "recreation", "galley", "medical", "lab", "office", "operations",
                  "utility", "hygiene"]

LABELS = {
    "cabin": ["Quarters"], "family": ["Family quarters"], "berthing": ["Berthing"],
    "storage": ["Storage"], "bigstore": ["Storage"], "hygiene": ["Washroom"],
    "utility": ["Utility", "Electrical room", "Air handling", "Water plant"],
    "office": ["Office"], "lab": ["Hydroponics lab", "Biology lab", "Materials lab", "Physics lab", "Chemistry lab"],
    "operations": ["Operations centre", "Life support control", "Power control", "Communications"],
    "medical": ["Medical bay", "Clinic"], "galley": ["Galley", "Mess hall"],
    "recreation": ["Gym", "Lounge", "Library", "Garden", "Games room", "Theatre", "Observation lounge", "Music room"],
    "stairs": ["Stairs"], "spoke": ["Spoke"],
}

NIGHT_SHIFT = 0.07
"""Share of residents at work at night (operations, medical, galley, utility, labs)."""
DAY_SHARES = {"quarters": 0.30, "work": 0.50, "galley": 0.07, "recreation": 0.09, "hygiene": 0.04}
"""Where residents are by day: a third of a three-shift station sleeps, half works."""
EVENING_SHARES = {"quarters": 0.48, "recreation": 0.22, "galley": 0.15, "work": 0.10, "hygiene": 0.05}
"""Where residents are in the evening: mostly home, in recreation and galleys; a shift at work."""
# how strongly each kind attracts people per m2 in a group (work rooms, etc.)
ATTRACT = {
    "night": {"operations": 3.0, "medical": 1.5, "galley": 0.5, "utility": 1.0, "lab": 0.3},
    "work": {"lab": 1.0, "office": 1.4, "operations": 1.2, "medical": 0.9, "utility": 0.5,
             "galley": 0.4, "storage": 0.05},
    "evening_work": {"operations": 2.0, "medical": 1.5, "lab": 0.4, "utility": 0.5},
}
BERTH_M2 = 2.8
"""Floor area per berth in a berthing compartment (m2): bunks two high, lockers and aisle."""
M2_PER_PERSON_MIN = 2.0
"""Densest occupancy drawn for a non-quarters room (m2 per person)."""


# ---------------------------------------------------------------------- geometry
def _arc_angles(r: float, a: float, b: float) -> np.ndarray:
    """Vertex angles (rad) along an arc of radius `r` from `a` to `b`; the ends are exactly a and b."""
    step = min(ARC_STEP_M, math.sqrt(8.0 * r * ARC_SAGITTA_M))
    n = max(1, math.ceil(r * (b - a) / step - 1e-9))
    t = a + (b - a) * np.arange(n + 1) / n
    t[0], t[-1] = a, b
    return t


def _arc_xy(r: float, a: float, b: float) -> np.ndarray:
    t = _arc_angles(r, a, b)
    return np.column_stack([r * np.cos(t), r * np.sin(t)])


@dataclass
class _Profile:
    """Radial layout of a deck (the same on every deck)."""

    R: float                       # centre radius of the main ring corridor (m)
    K: int                         # ring corridors per deck
    main: int                      # index of the main ring corridor
    bands: list[tuple[float, float, float | None]] = field(default_factory=list)   # (r0, r1, r_mid)
    corridors: list[tuple[float, float]] = field(default_factory=list)             # (r_lo, r_hi)

    @staticmethod
    def build(R: float, K: int) -> "_Profile":
        main = (K - 1) // 2
        widths = []
        side = 0
        for i in range(K):
            if i == main:
                widths.append(MAIN_CORRIDOR_M)
            else:
                widths.append(SIDE_CORRIDOR_M[side % 2])
                side += 1
        d = ROW_DEPTH_M
        below_main = d + sum(widths[:main]) + 2 * d * main + widths[main] / 2
        R = max(R, below_main + 2.5)
        r = R - below_main
        p = _Profile(R=R, K=K, main=main)
        for b in range(K + 1):
            if b == 0 or b == K:
                p.bands.append((r, r + d, None))
                r += d
            else:
                p.bands.append((r, r + 2 * d, r + d))
                r += 2 * d
            if b < K:
                p.corridors.append((r, r + widths[b]))
                r += widths[b]
        return p


@dataclass
class _Lot:
    """Cells of one angular lot in a band: a single room, a back-to-back pair, or one deep room."""

    a: float
    b: float
    single: str | None = None
    lo: str | None = None
    hi: str | None = None
    deep: str | None = None


class _Layout:
    """Angular tiling of every band of every deck (no geometry yet)."""

    def __init__(self, n_rooms: int, seed: int, R: float, K: int, D: int) -> None:
        self.rng = np.random.default_rng(seed)
        self._wcache: dict[tuple, np.ndarray] = {}
        self.p = _Profile.build(R, K)
        self.D = D
        p = self.p
        sector_arc = p.R * 2 * math.pi / 6
        self.nseg = max(1, round(sector_arc / SEGMENT_M))
        nb = 6 * self.nseg
        B = 2 * math.pi * np.arange(nb + 1) / nb
        B[0], B[-1] = 0.0, 2 * math.pi
        self.B = B
        # stairs (only with several decks): at the start of some segments, in the row facing the main corridor
        self.stairs_seg: set[int] = set()
        if D > 1:
            n = max(1, round(sector_arc / STAIRS_SPACING_M))
            for s in range(6):
                for i in range(n):
                    self.stairs_seg.add(s * self.nseg + int((i + 0.5) * self.nseg / n) % self.nseg)
        # spokes in every double band: centred in some segments
        self.spoke_seg: set[int] = set()
        if K > 1:
            n = max(1, round(sector_arc / SPOKE_SPACING_M))
            for s in range(6):
                for i in range(n):
                    self.spoke_seg.add(s * self.nseg + int((i + 0.5) * self.nseg / n) % self.nseg)
        self.lots: dict[tuple[int, int], list[_Lot]] = {}
        self._tile_all()

    # row classes ----------------------------------------------------------
    def _row_class(self, band: int, half: str) -> str:
        """'pub' if this row faces the main corridor, else 'res'."""
        m, K = self.p.main, self.p.K
        if K == 1:  # one corridor: work and public rooms inside, quarters outside
            return "pub" if band == 0 else "res"
        if band == m and (band == 0 or half == "hi"):
            return "pub"
        if band == m + 1 and (band == K or half == "lo"):
            return "pub"
        return "res"

    def _face_r(self, band: int, half: str) -> float:
        r0, r1, rm = self.p.bands[band]
        if half == "single":
            return r1 if band == 0 else r0
        return r0 if half in ("lo", "deep") else r1

    def _coef(self, band: int, half: str) -> float:
        """Area per radian of a cell of this band part (m2/rad)."""
        r0, r1, rm = self.p.bands[band]
        if half == "lo":
            return (rm * rm - r0 * r0) / 2
        if half == "hi":
            return (r1 * r1 - rm * rm) / 2
        return (r1 * r1 - r0 * r0) / 2

    def _weights(self, cls: str, sector: str, types: list[str]) -> np.ndarray:
        key = (cls, sector, tuple(types))
        w = self._wcache.get(key)
        if w is None:
            th = THEMES.get(sector, {})
            w = self._wcache[key] = np.array([WEIGHTS[cls].get(t, 0.0) * th.get(t, 1.0) for t in types])
        return w

    def _draw_area(self, t: str, cap: float) -> float:
        _, lo, hi, _ = TYPES[t]
        hi = min(hi, cap)
        u = self.rng.random()
        if t == "berthing":
            return lo + (hi - lo) * u
        return lo * (hi / lo) ** (u ** 1.4) if hi > lo else hi

    def _fit_type(self, area: float, cls: str, sector: str, cap: float, prefer: str | None = None) -> str:
        """A half/single-row type whose area range holds `area` (weighted draw)."""
        if prefer is not None and TYPES[prefer][1] <= area <= min(TYPES[prefer][2], cap):
            return prefer
        ok = [t for t in HALF_TYPES if TYPES[t][1] <= area <= TYPES[t][2]]
        if not ok:
            return "storage" if area <= 60 else "office"
        w = self._weights(cls, sector, ok)
        if w.sum() <= 0:
            return ok[0]
        return ok[int(self.rng.choice(len(ok), p=w / w.sum()))]

    # tiling -----------------------------------------------------------------
    def _tile_all(self) -> None:  # noqa: C901  debt: issue 16 (complexity 17)
        p = self.p
        B = self.B
        rng = self.rng
        for deck in range(self.D):
            # storage spacing state per row: [last storage position (m along the row), gap (m)]
            state: dict[tuple[int, str], list[float]] = {}
            for band in range(p.K + 1):
                halves = ["single"] if band in (0, p.K) else ["lo", "hi"]
                for h in halves:
                    gap = rng.uniform(*STORAGE_GAP_M)
                    state[(band, h)] = [-rng.uniform(0, gap), gap]
            required: dict[int, list[str]] = {s: [] for s in range(6)}
            if deck == 0:
                for s in range(6):
                    required[s].append("cabin")
                for t in REQUIRED_TYPES:
                    required[int(rng.integers(6))].append(t)
            for band in range(p.K + 1):
                self.lots[(deck, band)] = []
            for j in range(len(B) - 1):
                sector = j // self.nseg
                for band in range(p.K + 1):
                    lots = self.lots[(deck, band)]
                    a, b = float(B[j]), float(B[j + 1])
                    double = 0 < band < p.K
                    fixed: list[_Lot] = []
                    # stairs at the start of the segment, in the row facing the main corridor
                    if j in self.stairs_seg and band == p.main + 1:
                        half = "single" if band == p.K else "lo"
                        w = STAIRS_WIDTH_M / self._face_r(band, half)
                        lot = _Lot(a, a + w)
                        if half == "single":
                            lot.single = "stairs"
                        else:
                            lot.lo = "stairs"
                            lot.hi = self._fit_type(self._coef(band, "hi") * w, self._row_class(band, "hi"),
                                                    SECTORS[sector], HALF_ROW_MAX_M2)
                        fixed.append(lot)
                    if double and j in self.spoke_seg:
                        rm = self.p.bands[band][2]
                        w = SPOKE_M / rm
                        c = (a + b) / 2
                        fixed.append(_Lot(c - w / 2, c + w / 2, deep="spoke"))
                    pos = a
                    for lot in fixed:
                        if lot.a > pos:
                            gap = self._tile(deck, band, pos, lot.a, SECTORS[sector], state, required[sector])
                            if gap:
                                lots.extend(gap)
                            else:  # too narrow for a room: the fixed lot takes it
                                lot.a = pos
                        lots.append(lot)
                        pos = lot.b
                    lots.extend(self._tile(deck, band, pos, b, SECTORS[sector], state, required[sector]))
                    # keep the interval end exact
                    lots[-1].b = b
                if j % self.nseg == self.nseg - 1 and sector < 5:
                    # required rooms that did not fit move on to the next sector
                    required[sector + 1].extend(required[sector])
                    required[sector].clear()

    def _tile(self, deck: int, band: int, a: float, b: float, sector: str,  # noqa: C901  debt: issue 16 (complexity 25)
              state: dict[tuple[int, str], list[float]], required: list[str]) -> list[_Lot]:
        """Fill the angular interval [a, b] of a band with lots."""
        rng = self.rng
        p = self.p
        double = 0 < band < p.K
        out: list[_Lot] = []
        pos = a
        if not double:
            c = self._coef(band, "single")
            rf = self._face_r(band, "single")
            cls = self._row_class(band, "single")
            st = state[(band, "single")]
            while True:
                rem = (b - pos) * c
                if rem < MIN_ROOM_M2:
                    break
                t = None
                for k, rt in enumerate(required):
                    if rt != "cabin" and TYPES[rt][1] <= min(rem, SINGLE_ROW_MAX_M2) or (rt == "cabin" and rem >= 8.5):
                        t = required.pop(k)
                        break
                if t is None and (pos * rf - st[0]) > st[1]:
                    t = "storage"
                if t is None:
                    ok = [x for x in DRAWN_TYPES if TYPES[x][1] <= min(rem, SINGLE_ROW_MAX_M2)]
                    w = self._weights(cls, sector, ok)
                    t = ok[int(rng.choice(len(ok), p=w / w.sum()))]
                area = min(self._draw_area(t, SINGLE_ROW_MAX_M2), rem)
                if t == "storage" and area > 20 and rng.random() < 0.7:
                    area = self._draw_area("storage", 20.0)
                if rem - area < MIN_ROOM_M2 and rem <= TYPES[t][2]:
                    area = rem
                w = area / c
                lot = _Lot(pos, min(pos + w, b), single=t)
                out.append(lot)
                if t in ("storage", "bigstore"):
                    st[0] = lot.b * rf
                    st[1] = rng.uniform(*STORAGE_GAP_M)
                pos = lot.b
        else:
            c_lo, c_hi = self._coef(band, "lo"), self._coef(band, "hi")
            c_deep = c_lo + c_hi
            rf = {"lo": self._face_r(band, "lo"), "hi": self._face_r(band, "hi")}
            cls = {"lo": self._row_class(band, "lo"), "hi": self._row_class(band, "hi")}
            st = {"lo": state[(band, "lo")], "hi": state[(band, "hi")]}
            while True:
                rem = b - pos
                if rem * min(c_lo, c_hi) < MIN_ROOM_M2:
                    break
                need = {h: (pos * rf[h] - st[h][0]) > st[h][1] for h in ("lo", "hi")}
                t = None
                for k, rt in enumerate(required):
                    cap = HALF_ROW_MAX_M2 if not TYPES[rt][3] else rem * c_deep
                    if TYPES[rt][1] <= min(cap, rem * min(c_lo, c_hi) if not TYPES[rt][3] else cap):
                        t = required.pop(k)
                        break
                if t is None:
                    if need["lo"] or need["hi"]:
                        t = "storage"
                    else:
                        ok = [x for x in DRAWN_TYPES
                              if TYPES[x][1] <= (rem * c_deep if TYPES[x][3] else min(HALF_ROW_MAX_M2, rem * min(c_lo, c_hi)))]
                        w = (self._weights(cls["lo"], sector, ok) + self._weights(cls["hi"], sector, ok)) / 2
                        t = ok[int(rng.choice(len(ok), p=w / w.sum()))]
                if TYPES[t][3]:
                    area = min(self._draw_area(t, rem * c_deep), rem * c_deep)
                    w = area / c_deep
                    if (rem - w) * min(c_lo, c_hi) < MIN_ROOM_M2 and rem * c_deep <= TYPES[t][2]:
                        w = rem
                    lot = _Lot(pos, min(pos + w, b), deep=t)
                    touched = ("lo", "hi") if t == "bigstore" else ()
                else:
                    if need["lo"] and not need["hi"]:
                        drive = "lo"
                    elif need["hi"] and not need["lo"]:
                        drive = "hi"
                    else:
                        drive = "lo" if rng.random() < 0.5 else "hi"
                    other = "hi" if drive == "lo" else "lo"
                    cd, co = (c_lo, c_hi) if drive == "lo" else (c_hi, c_lo)
                    area = self._draw_area(t, HALF_ROW_MAX_M2)
                    if t == "storage" and area > 20 and rng.random() < 0.7:
                        area = self._draw_area("storage", 20.0)
                    w = min(max(area / cd, MIN_ROOM_M2 / min(c_lo, c_hi)), rem)
                    if (rem - w) * min(c_lo, c_hi) < MIN_ROOM_M2 and rem * max(c_lo, c_hi) <= HALF_ROW_MAX_M2:
                        w = rem
                    partner = self._fit_type(w * co, cls[other], sector, HALF_ROW_MAX_M2,
                                             prefer="storage" if need[other] else None)
                    lot = _Lot(pos, min(pos + w, b))
                    setattr(lot, drive, t)
                    setattr(lot, other, partner)
                    touched = tuple(h for h in ("lo", "hi") if getattr(lot, h) == "storage")
                for h in touched:
                    st[h][0] = lot.b * rf[h]
                    st[h][1] = rng.uniform(*STORAGE_GAP_M)
                out.append(lot)
                pos = lot.b
        if out:
            out[-1].b = b
        return out

    def count(self) -> int:
        """Spaces this layout makes: rooms (incl. stairs and spokes) + ring corridor segments."""
        n = 0
        for lots in self.lots.values():
            for lot in lots:
                n += 2 if lot.lo is not None else 1
        return n + self.D * self.p.K * (len(self.B) - 1)


def _choose_shape(n_rooms: int, decks: int | None) -> tuple[int, int]:
    """(decks, ring corridors per deck) for a station of about `n_rooms` spaces."""
    if decks is None:
        decks = 1 if n_rooms < 150 else int(min(12, max(2, round(n_rooms / 1000))))
    per_deck = n_rooms / decks
    K = int(min(5, max(1, round(per_deck / ROOMS_PER_CORRIDOR_DECK))))
    return decks, K


def _layout(n_rooms: int, seed: int, decks: int | None) -> _Layout:
    """The layout whose space count is closest to `n_rooms` (radius found by a few secant steps)."""
    D, K = _choose_shape(n_rooms, decks)
    # first guess: about 4.2 m of arc per space per row, 2K rows per deck
    R = max(5.0, n_rooms / D * 4.2 / (2 * K * 2 * math.pi))
    best, best_err = None, math.inf
    for _ in range(10):
        lay = _Layout(n_rooms, seed, R, K, D)
        n = lay.count()
        if abs(n - n_rooms) < best_err:
            best, best_err = lay, abs(n - n_rooms)
        if best_err <= max(1, 0.02 * n_rooms):
            break
        # damped: small layouts are noisy (one big room more or less)
        R = max(5.0, lay.p.R * (n_rooms / n) ** 0.6)
    assert best is not None
    return best


# ---------------------------------------------------------------------- assembly
@dataclass
class _Space:
    band: int
    part: str            # single / lo / hi / deep / corridor
    a: float
    b: float
    deck: int
    type: str
    sector: int
    rmid_edges: bool = False   # radial edges carry the band's middle vertex
    seg: int = -1


def _polygon(sp: _Space, p: _Profile, lay: _Layout) -> np.ndarray:
    """Closed counter-clockwise ring of a space (metres)."""
    if sp.part == "corridor":
        r0, r1 = p.corridors[sp.band]
        below, above = sp.band, sp.band + 1
        lo_b = lay.bounds[(sp.deck, below)]
        hi_b = lay.bounds[(sp.deck, above)]
        lo = [_arc_xy(r0, x, y) for x, y in _between(lo_b, sp.a, sp.b)]
        hi = [_arc_xy(r1, x, y) for x, y in _between(hi_b, sp.a, sp.b)]
        low = np.vstack([q[:-1] for q in lo] + [lo[-1][-1:]])
        up = np.vstack([q[:-1] for q in hi] + [hi[-1][-1:]])[::-1]
        ring = np.vstack([low, up])
    else:
        r0, r1, rm = p.bands[sp.band]
        if sp.part == "lo":
            r1 = rm
        elif sp.part == "hi":
            r0 = rm
        low = _arc_xy(r0, sp.a, sp.b)
        up = _arc_xy(r1, sp.a, sp.b)[::-1]
        parts = [low]
        if sp.rmid_edges:
            parts.append([[rm * math.cos(sp.b), rm * math.sin(sp.b)]])
        parts.append(up)
        if sp.rmid_edges:
            parts.append([[rm * math.cos(sp.a), rm * math.sin(sp.a)]])
        ring = np.vstack(parts)
    return np.vstack([ring, ring[:1]])


def _between(bounds: np.ndarray, a: float, b: float) -> list[tuple[float, float]]:
    i = int(np.searchsorted(bounds, a, side="left"))
    k = int(np.searchsorted(bounds, b, side="left"))
    pts = bounds[i:k + 1]
    return [(float(pts[q]), float(pts[q + 1])) for q in range(len(pts) - 1)]


def _point_on_arc(r: float, t: np.ndarray, theta: float) -> np.ndarray:
    """The point at angle `theta` on the polygonal arc of radius `r` with vertex angles `t` (on its chord)."""
    k = int(np.clip(np.searchsorted(t, theta) - 1, 0, len(t) - 2))
    f = (theta - t[k]) / (t[k + 1] - t[k])
    p0 = np.array([r * math.cos(t[k]), r * math.sin(t[k])])
    p1 = np.array([r * math.cos(t[k + 1]), r * math.sin(t[k + 1])])
    return p0 + f * (p1 - p0)


def _door_on_arc(r: float, a: float, b: float, t0: float, t1: float) -> np.ndarray:
    """Door leaf on the drawn arc (r, a..b) between angles t0 < t1 (vertices in between included)."""
    t = _arc_angles(r, a, b)
    inner = t[(t > t0) & (t < t1)]
    pts = [_point_on_arc(r, t, t0)] + [np.array([r * math.cos(x), r * math.sin(x)]) for x in inner] \
        + [_point_on_arc(r, t, t1)]
    return np.array(pts)


def _fmt_coords(xy: np.ndarray) -> str:
    xy = np.round(xy, DECIMALS) + 0.0
    return "[" + ",".join("[%.3f,%.3f]" % (x, y) for x, y in xy.tolist()) + "]"


def _allocate(total: int, weight: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Whole persons per room, proportional to `weight`, at most `cap`; sums to min(total, sum(cap))."""
    cap = np.maximum(np.floor(cap), 0).astype(np.int64)
    weight = np.where(cap > 0, np.maximum(weight, 0.0), 0.0)
    total = int(min(total, cap.sum()))
    out = np.zeros(len(weight), np.int64)
    if total <= 0 or weight.sum() <= 0:
        if total > 0:  # no weights: fill by capacity order
            weight = cap.astype(float)
        else:
            return out
    x = np.zeros(len(weight))
    free = np.ones(len(weight), bool)
    left = float(total)
    for _ in range(50):
        w = np.where(free, weight, 0.0)
        if w.sum() <= 0 or left <= 1e-9:
            break
        y = x + left * w / w.sum()
        over = y > cap
        x = np.minimum(y, cap)
        free &= ~over
        left = total - x.sum()
        if not over.any():
            break
    out = np.floor(x + 1e-9).astype(np.int64)
    rest = total - int(out.sum())
    if rest > 0:
        frac = np.where(out < cap, x - out, -1.0)
        order = np.lexsort((np.arange(len(x)), -frac))
        order = order[out[order] < cap[order]]
        out[order[:rest]] += 1
    return out


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


def _band_rank(sp: _Space) -> tuple[int, int]:
    """Order of spaces within a sector and deck: inside out, corridors between their bands."""
    if sp.part == "corridor":
        return (2 * sp.band + 1, 0)
    return (2 * sp.band, {"single": 0, "lo": 0, "deep": 1, "hi": 2}[sp.part])


def _residents(types: np.ndarray, kinds: np.ndarray, area: np.ndarray,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(night, day, evening) persons per space; equal totals."""
    n = len(types)
    berths = np.zeros(n, np.int64)
    cab = types == "cabin"
    two = rng.random(n) < np.clip((area - 9.0) / 3.5, 0.0, 1.0)
    berths[cab] = np.where(two[cab], 2, 1)
    fam = types == "family"
    berths[fam] = np.clip(np.round(area[fam] / 6.0), 3, 5)
    bth = types == "berthing"
    berths[bth] = np.clip(np.floor(area[bth] / BERTH_M2), 12, 36)
    total = int(berths.sum())
    quarters = kinds == "quarters"
    cap_other = np.where(quarters | np.isin(kinds, ["corridor", "stairs"]), 0.0, np.floor(area / M2_PER_PERSON_MIN))

    def attract(group: str) -> np.ndarray:
        w = np.array([ATTRACT[group].get(k, 0.0) for k in kinds])
        return w * area

    def fill(parts: list[tuple[int, np.ndarray, np.ndarray]]) -> np.ndarray:
        """parts: (persons, weights, caps); what does not fit goes back to quarters."""
        out = np.zeros(n, np.int64)
        left = 0
        for persons, w, cap in parts:
            got = _allocate(persons + left, w, cap - out)
            left = persons + left - int(got.sum())
            out += got
        if left > 0:  # back to quarters (never more than the berths)
            out += _allocate(left, berths.astype(float), berths - out)
        return out

    # night: berths minus the night shift
    shift = int(round(NIGHT_SHIFT * total))
    at_work = _allocate(shift, attract("night"), cap_other)
    night = berths - _allocate(int(at_work.sum()), berths.astype(float), berths) + at_work
    # day
    sh = DAY_SHARES
    q = int(round(sh["quarters"] * total))
    g = int(round(sh["galley"] * total))
    r = int(round(sh["recreation"] * total))
    h = int(round(sh["hygiene"] * total))
    wk = total - q - g - r - h
    day = fill([(wk, attract("work"), cap_other),
                (g, area * (kinds == "galley"), cap_other),
                (r, area * (kinds == "recreation"), cap_other),
                (h, area * (kinds == "hygiene"), cap_other),
                (q, berths.astype(float), berths)])
    sh = EVENING_SHARES
    q = int(round(sh["quarters"] * total))
    r = int(round(sh["recreation"] * total))
    g = int(round(sh["galley"] * total))
    h = int(round(sh["hygiene"] * total))
    wk = total - q - r - g - h
    evening = fill([(r, area * (kinds == "recreation"), cap_other),
                    (g, area * (kinds == "galley"), cap_other),
                    (wk, attract("evening_work"), cap_other),
                    (h, area * (kinds == "hygiene"), cap_other),
                    (q, berths.astype(float), berths)])
    return night, day, evening


def _doors(spaces: list[_Space], lay: _Layout, area: np.ndarray, types: np.ndarray,  # noqa: C901  debt: issue 16 (complexity 26)
           rng: np.random.Generator) -> list[tuple[int, int, np.ndarray, float]]:
    """Horizontal doors: (space a, space b, leaf coordinates, width m)."""
    p = lay.p
    K = p.K
    # index of corridor segments: (deck, corridor, segment) -> space index
    seg_of: dict[tuple[int, int, int], int] = {}
    for i, sp in enumerate(spaces):
        if sp.part == "corridor":
            seg_of[(sp.deck, sp.band, sp.seg)] = i
    B = lay.B
    # spokes: (deck, band, a) -> index, to find rooms beside them
    spoke_at: dict[tuple[int, int, float], int] = {}   # (deck, band, edge angle) -> spoke
    for i, sp in enumerate(spaces):
        if sp.type == "spoke":
            spoke_at[(sp.deck, sp.band, sp.a)] = i
            spoke_at[(sp.deck, sp.band, sp.b)] = i
    out: list[tuple[int, int, np.ndarray, float]] = []
    margin = 0.2

    def seg_index(a: float, b: float) -> int:
        return int(min(len(B) - 2, np.searchsorted(B, (a + b) / 2, side="right") - 1))

    def arc_door(i: int, corridor: int, r: float, t: float, wmin: float, wmax: float, frac: float | None = None) -> None:
        sp = spaces[i]
        face = r * (sp.b - sp.a)
        width = float(np.round(rng.uniform(wmin, wmax) * 20) / 20)  # 5 cm steps
        width = min(width, face - 2 * margin)
        width = max(width, min(0.8, face - 0.1))
        half = width / 2 / r
        lo, hi = sp.a + half + margin / r, sp.b - half - margin / r
        if hi <= lo:
            c = (sp.a + sp.b) / 2
        elif frac is not None:
            c = lo + frac * (hi - lo)
        else:
            c = lo + rng.random() * (hi - lo)
        xy = _door_on_arc(r, sp.a, sp.b, c - half, c + half)
        k = seg_of[(sp.deck, corridor, seg_index(sp.a, sp.b))]
        out.append((i, k, xy, width))

    for i, sp in enumerate(spaces):
        if sp.part == "corridor":
            continue
        t = sp.type
        r0, r1, rm = p.bands[sp.band]
        # faces: (corridor index, radius)
        if sp.part == "single":
            faces = [(0, r1)] if sp.band == 0 else [(K - 1, r0)]
        elif sp.part == "lo":
            faces = [(sp.band - 1, r0)]
        elif sp.part == "hi":
            faces = [(sp.band, r1)]
        else:
            faces = [(sp.band - 1, r0), (sp.band, r1)]
        if t == "spoke":
            # openings at both ends, 10 cm clear of the neighbours' corners
            for c, r in faces:
                e = 0.1 / r
                xy = _door_on_arc(r, sp.a, sp.b, sp.a + e, sp.b - e)
                k = seg_of[(sp.deck, c, seg_index(sp.a, sp.b))]
                out.append((i, k, xy, r * (sp.b - sp.a) - 0.2))
            continue
        if t == "stairs":
            c, r = faces[0]
            arc_door(i, c, r, 0.0, STAIRS_DOOR_M, STAIRS_DOOR_M, frac=0.5)
            continue
        wmin, wmax = (0.8, 0.9) if t in ("cabin", "storage", "hygiene", "utility") else (0.9, 1.2)
        if sp.part == "deep":
            first = int(rng.integers(2))
            c, r = faces[first]
            big = area[i] >= 60
            arc_door(i, c, r, 0.0, wmin, wmax, frac=0.25 if big else None)
            if big:
                c, r = faces[1 - first] if rng.random() < 0.6 else faces[first]
                arc_door(i, c, r, 0.0, wmin, wmax, frac=0.75)
        else:
            c, r = faces[0]
            big = area[i] >= 60 and r * (sp.b - sp.a) >= 6.0
            arc_door(i, c, r, 0.0, wmin, wmax, frac=0.2 if big else None)
            if big:
                arc_door(i, c, r, 0.0, wmin, wmax, frac=0.8)
        # a second door onto a spoke beside the room (half the time)
        for th in (sp.a, sp.b):
            s = spoke_at.get((sp.deck, sp.band, th))
            if s is not None and sp.part in ("lo", "hi", "deep"):
                if rng.random() < 0.5:
                    continue
                ra, rb = (r0, rm) if sp.part == "lo" else (rm, r1) if sp.part == "hi" else (r0, r1)
                if sp.part == "deep":
                    ra, rb = (r0, rm) if rng.random() < 0.5 else (rm, r1)
                w = 0.9
                c = (ra + rb) / 2
                xy = np.array([[(c - w / 2) * math.cos(th), (c - w / 2) * math.sin(th)],
                               [(c + w / 2) * math.cos(th), (c + w / 2) * math.sin(th)]])
                out.append((i, s, xy, w))
    # openings between consecutive ring corridor segments (10 cm clear of the walls)
    for (deck, c, j), i in sorted(seg_of.items()):
        k = seg_of[(deck, c, (j + 1) % (len(B) - 1))]
        if k == i:
            continue
        r0, r1 = p.corridors[c]
        th = float(B[j + 1])
        xy = np.array([[(r0 + 0.1) * math.cos(th), (r0 + 0.1) * math.sin(th)],
                       [(r1 - 0.1) * math.cos(th), (r1 - 0.1) * math.sin(th)]])
        out.append((i, k, xy, r1 - r0 - 0.2))
    return out
