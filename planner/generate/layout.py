"""The ring layout: deck profile, lots and the search for a layout of about n rooms (moved from `planner/generate.py`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from planner.generate.catalogue import ARC_SAGITTA_M, ARC_STEP_M, DRAWN_TYPES, HALF_ROW_MAX_M2, HALF_TYPES, MAIN_CORRIDOR_M, MIN_ROOM_M2, REQUIRED_TYPES, ROOMS_PER_CORRIDOR_DECK, ROW_DEPTH_M, SECTORS, SEGMENT_M, SIDE_CORRIDOR_M, SINGLE_ROW_MAX_M2, SPOKE_M, SPOKE_SPACING_M, STAIRS_SPACING_M, STAIRS_WIDTH_M, STORAGE_GAP_M, THEMES, TYPES, WEIGHTS


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

