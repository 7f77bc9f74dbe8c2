"""Spaces of the layout and their polygons and doors on arcs (moved from `planner/generate.py`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner.generate.catalogue import DECIMALS
from planner.generate.layout import _Layout, _Profile, _arc_angles, _arc_xy


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

