"""Residents per space: whole persons allocated by weight and capacity (moved from `planner/generate.py`)."""

from __future__ import annotations


import numpy as np

from planner.generate.catalogue import ATTRACT, BERTH_M2, DAY_SHARES, EVENING_SHARES, M2_PER_PERSON_MIN, NIGHT_SHIFT
from planner.generate.spaces import _Space


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

