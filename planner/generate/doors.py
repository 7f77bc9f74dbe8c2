"""Horizontal doors between neighbouring spaces (moved from `planner/generate.py`)."""

from __future__ import annotations

import math

import numpy as np

from planner.generate.catalogue import STAIRS_DOOR_M
from planner.generate.layout import _Layout
from planner.generate.spaces import _Space, _door_on_arc


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
