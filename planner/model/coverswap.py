"""Swap local search for the pure max-cover model: close one open site and open another (or open one
more while the budget allows) as long as the objective improves; all moves of a step evaluated at once
with sparse products."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from planner.model.arrays import Arrays


def max_cover_parts(ar: Arrays, J: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, float] | None:
    """The parts of a pure max-cover model in minimisation form (`planner.model.cover.build_cover_model`,
    no backup flags): (cover matrix rows x J, 0/1; each row's weight; each site's budget cost; the
    budget), or None when `ar` is not of that form (a cover row per u column, `u_i <= sum_j x_j`, then
    one budget row `cost . x <= budget`)."""
    n_u = ar.A.shape[1] - J
    if ar.nz or n_u <= 0 or ar.A.shape[0] != n_u + 1 or ar.rows_by_kind.get("cover") != n_u \
            or ar.rows_by_kind.get("budget") != 1:
        return None
    A = sp.csr_matrix(ar.A)
    cover = A[:n_u]
    if not (np.abs(cover[:, J:] - sp.identity(n_u, format="csr")).sum() == 0 and (cover[:, :J].data <= 0).all()
            and np.all(ar.row_hi[:n_u] == 0)):
        return None
    C = sp.csr_matrix(-cover[:, :J])
    C.eliminate_zeros()
    if C.nnz and not (C.data == 1.0).all():
        return None
    budget_row = A[n_u, :J].toarray().ravel()
    w = -ar.c[J:]
    return C, w, budget_row, float(ar.row_hi[n_u])


def swap_search(ar: Arrays, J: int, start: np.ndarray, max_steps: int = 200) -> np.ndarray | None:
    """Best-improvement swaps (and additions within the budget) from the column vector `start` of a pure
    max-cover model: its improved column vector (u filled in), or None when `ar` is not such a model
    (`max_cover_parts`). Sites outside their bounds (`ar.lo`, `ar.hi`) are never opened or closed."""
    parts = max_cover_parts(ar, J)
    if parts is None:
        return None
    C, w, bcost, budget = parts
    CT = sp.csr_matrix(C.T)
    objc = ar.c[:J]
    x = start[:J] > 0.5
    can_open = ar.hi[:J] > 0.5
    can_close = ar.lo[:J] < 0.5
    tol = 1e-9 * max(1.0, float(w.sum()))
    for _ in range(max_steps):
        cnt = np.asarray(C @ x.astype(float)).ravel()
        gain = np.asarray(CT @ (w * (cnt == 0))).ravel() - objc          # open b
        gain[x | ~can_open] = -np.inf
        slack = budget - float(bcost @ x)
        best, move = tol, None
        add = np.flatnonzero(bcost <= slack + 1e-9)
        if len(add):
            b = add[np.argmax(gain[add])]
            if gain[b] > best:
                best, move = gain[b], (None, b)
        opened = np.flatnonzero(x & can_close)
        if len(opened):
            only = w * (cnt == 1)
            Co = sp.csr_matrix(C[:, opened].T)                             # (k, rows)
            loss = np.asarray(Co @ only).ravel() - objc[opened]            # close a
            back = (Co @ sp.diags(only) @ C).toarray()                     # rows only a covers, b covers too
            delta = gain[None, :] - loss[:, None] + back
            fits = bcost[None, :] <= slack + bcost[opened][:, None] + 1e-9
            delta[~fits] = -np.inf
            ka, b = np.unravel_index(int(np.argmax(delta)), delta.shape)
            if delta[ka, b] > best:
                best, move = delta[ka, b], (opened[ka], b)
        if move is None:
            break
        a, b = move
        if a is not None:
            x[a] = False
        x[b] = True
    v = np.zeros(ar.A.shape[1])
    v[:J] = x
    v[J:] = np.minimum(np.asarray(C @ x.astype(float)).ravel(), 1.0)
    return v
