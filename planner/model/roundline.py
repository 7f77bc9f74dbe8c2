"""The line search over rounding thresholds shared by the LP roundings: the main path's swap rounding
(`lppath._swap_rounding`) and the displacement trade-off's rounded re-plan (`relocround.rounded_relocation`).

A rounding at threshold t opens the sites the LP opens more than t (strictly), so a lower threshold opens a
superset of a higher one's sites. The objective over the thresholds has had one minimum in every case
measured (docs/performance.md), so the thresholds are walked as a line instead of all tried.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np


def line_search(value: Callable[[float], float], thresholds: Sequence[float], first: float,
                deadline: float) -> float:
    """Calls `value(threshold)` (the objective of the rounding there, inf when it has no plan; the caller keeps
    the best plan and may cache repeated roundings) over `thresholds`, ordered from the fewest sites to the
    most (decreasing), as a line; returns the least value seen (inf: none had a plan).

    1. `first` and the next threshold (more sites); no threshold at all starts after `deadline` (a
       `time.perf_counter()` value), not even these;
    2. on in the direction that improved (towards more sites when the lower one is better, or when neither
       has a plan: opening more sites is what can give one), while each step improves; while no threshold
       has a plan yet, on regardless;
    3. when still none has a plan, the rest in order until one has."""
    ths = list(thresholds)
    at = ths.index(first)
    if at + 1 >= len(ths):
        raise ValueError(f"the first threshold {first} needs one after it in {ths}")

    def open_(th: float) -> float:
        return value(th) if time.perf_counter() <= deadline else np.inf

    here = open_(ths[at])
    lower = open_(ths[at + 1])
    more = lower < here or not np.isfinite(here)
    step = 1 if more else -1
    if more:
        at, here = at + 1, min(here, lower)
    while 0 <= at + step < len(ths) and time.perf_counter() <= deadline:
        nxt = value(ths[at + step])
        if np.isfinite(here) and not nxt < here:
            break
        at, here = at + step, min(here, nxt)
    for th in ths:
        if np.isfinite(here) or time.perf_counter() > deadline:
            break
        here = min(here, value(th))
    return float(here)
