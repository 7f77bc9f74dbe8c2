"""Random covers for the pure cover-all model (set covering): LP-guided rounding, greedy completion.

A cover is a 0/1 site vector x with A x >= r: A holds the 0/1 cover rows (a row's usable sites),
r the number of open sites each row needs (1; 2 where a backup is required). The covers here are
not meant to be good one by one (on the 10,000-room LSCP they have 101 to 111 sites against the
optimum's 90): their union is a small set of sites that, measured, usually holds an optimal cover,
which a MIP over that union finds in seconds ("solution merging"; `planner.model.cover_all_search`).

Each cover: every site is opened with its LP value as probability, the cover is completed greedily
(cheapest cost x (1 + reduced cost) per row still short, with `NOISE` noise on the cost), and sites whose
rows all stay covered without them are closed again (most expensive first, random among equals).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

NOISE = 0.3
"""Random share added to each site's price in the greedy completion (uniform, 0 to 30 %). Measured
(LSCP 10,000 rooms, the rounds of `cover_all_search` replayed with random seeds 7, 1, 3, 5, 11, 2 at
load 1-1.5): the first round with a 90-site cover 2, 1, 1, 4, 1, 1 (at most 12.3 s) with 30 %,
10, 2, 0, 3, none in 12 and 6 (up to 33 s) with the 10 % before; the seeds that stayed on 91 sites
were the slow ones end to end (seed 7: 69.5 s on main at load 1.0)."""


def complete(A: sp.csr_matrix, At: sp.csr_matrix, weight: np.ndarray, req: np.ndarray, usable: np.ndarray,
             x: np.ndarray) -> np.ndarray:
    """Open sites greedily until every row has its `req` open sites (in place; returns `x`).

    `A`: (rows, sites) 0/1 cover rows (CSR); `At`: its transpose (CSR); `weight`: per site, the price
    of opening it (lower first, divided by the rows it helps); `usable`: sites that may be opened.
    A row no usable site can satisfy stays short (the caller checks feasibility).
    """
    short = np.maximum(req - np.asarray(A @ x.astype(np.float64)).ravel(), 0.0)
    gain = np.asarray(At @ (short > 0).astype(np.float64)).ravel()
    score = np.where(usable & ~x & (gain > 0), weight / np.maximum(gain, 1e-12), np.inf)
    while True:
        j = int(np.argmin(score))
        if not np.isfinite(score[j]):
            return x
        x[j] = True
        score[j] = np.inf
        rows = At.indices[At.indptr[j]:At.indptr[j + 1]]
        rows = rows[short[rows] > 0]
        short[rows] -= 1.0
        done = rows[short[rows] <= 0]
        if len(done):
            cols = A[done].indices                   # the sites of those rows, with repeats
            gain -= np.bincount(cols, minlength=len(gain))
            cols = np.unique(cols)
            cols = cols[np.isfinite(score[cols])]
            score[cols] = np.where(gain[cols] > 0, weight[cols] / np.maximum(gain[cols], 1e-12), np.inf)


def drop_redundant(A: sp.csr_matrix, At: sp.csr_matrix, cost: np.ndarray, req: np.ndarray, x: np.ndarray,
                   rng: np.random.Generator, keep: np.ndarray | None = None) -> np.ndarray:
    """Close open sites whose rows all keep `req` open sites without them, the most expensive first
    (random among equal costs); sites in `keep` stay open. In place; returns `x`."""
    cover = np.asarray(A @ x.astype(np.float64)).ravel()
    open_ = np.flatnonzero(x & ~keep) if keep is not None else np.flatnonzero(x)
    order = open_[np.lexsort((rng.random(len(open_)), -cost[open_]))]
    for j in order:
        rows = At.indices[At.indptr[j]:At.indptr[j + 1]]
        if (cover[rows] > req[rows]).all():
            x[j] = False
            cover[rows] -= 1.0
    return x


def cover_price(cost: np.ndarray, reduced_cost: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Each site's price for the greedy completion: cost x (1 + reduced cost / the median usable site's cost)
    (currency; reduced costs >= 0 at an LP optimum, negative ones count as 0)."""
    return cost * (1.0 + np.maximum(reduced_cost, 0.0) / max(float(np.median(cost[usable])) if usable.any() else 1.0,
                                                              1e-12))


def finish_cover(A: sp.csr_matrix, At: sp.csr_matrix, price: np.ndarray, cost: np.ndarray, req: np.ndarray,
                 usable: np.ndarray, x: np.ndarray, rng: np.random.Generator, keep: np.ndarray | None) -> bool:
    """Complete the site choice `x` (in place) greedily by `price`, close the sites it no longer needs (most
    expensive by `cost` first, `keep` never), and say whether it covers every row."""
    complete(A, At, price, req, usable, x)
    drop_redundant(A, At, cost, req, x, rng, keep=keep)
    return bool((np.asarray(A @ x.astype(np.float64)).ravel() >= req).all())


def random_covers(A: sp.csr_matrix, cost: np.ndarray, req: np.ndarray, usable: np.ndarray, x_lp: np.ndarray,
                  reduced_cost: np.ndarray, count: int, rng: np.random.Generator,
                  fixed: np.ndarray | None = None) -> list[np.ndarray]:
    """`count` covers (boolean site vectors) guided by the LP relaxation's values `x_lp` and reduced
    costs (currency; >= 0 at an LP optimum); `fixed`: sites open in every cover. Covers that leave a
    row short (no usable site can serve it) are left out."""
    A = sp.csr_matrix(A)
    At = sp.csr_matrix(A.T)
    fixed = np.zeros(A.shape[1], bool) if fixed is None else np.asarray(fixed, bool)
    base = cover_price(cost, reduced_cost, usable)
    p = np.clip(x_lp, 0.0, 1.0)
    out = []
    for _ in range(count):
        x = fixed | (usable & (rng.random(A.shape[1]) < p))
        if finish_cover(A, At, base * (1.0 + NOISE * rng.random(A.shape[1])), cost, req, usable, x, rng, fixed):
            out.append(x)
    return out
