"""What one LP relaxation by column generation learnt, kept to start the next solve of the same model
(issue 21): its column set and its simplex basis (`LpWarm`), mapped onto the next model's arrays
(`warm_basis`) when that model differs only in its corridor rows (more rows, other limits).

A corridor round (`planner.corridorrounds.corridor_rounds`) re-solves the same model with a few more soft
rows. Handed to a fresh HiGHS instance with the new rows basic (their slacks in the basis) and the new
rows' penalty slacks nonbasic at zero, the old optimal basis stays dual feasible (the new rows' duals
are 0, no reduced cost changes, a new slack's reduced cost is its penalty), so HiGHS's dual simplex
starts from it and only repairs the rows the old optimum breaks. A model with fewer corridor rows (a
what-if's first solve has none; the what-if sheet's bases were solved with the proposal's rows) takes the
basis too, rebalanced (`_rebalance`). Another budget only moves one row's bound, so a basis of the same
model at another budget fits as well (the dual simplex starts from a dual feasible basis). Anything else
that differs (scenarios, groups, tightening rows) and the basis is not used: the next solve starts cold.
The budget row may come or go like a corridor row (new: basic; dropped: rebalanced): a cover-all within a
budget is solved without it first (`orchestrate.solve`) from the last corridor round's basis, which had it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.model.arrays import Arrays

LOWER, BASIC, UPPER = 0, 1, 2
"""HiGHS's basis status codes (`highspy.HighsBasisStatus`): nonbasic at the lower bound, basic, nonbasic at
the upper bound."""


@dataclass(frozen=True)
class LpWarm:
    """A column-generation LP's column set and optimal basis, keyed to its arrays (plain arrays).

    Attributes
    ----------
    shape
        (x, z, y, S, v columns; demand rows): the layout the basis belongs to.
    yq, ys
        Usable pair and scenario of each assignment column (the next model must have the same).
    row_blocks
        The arrays' row blocks in order, (kind, rows) (`Arrays.row_names.blocks`).
    u_cut
        Cut id of each corridor row (and its slack column), in row order.
    col_status
        HiGHS basis status of every column before the corridor slacks (-1: not in the restricted LP).
    u_status
        Status of each corridor slack column (by `u_cut`).
    art_status
        Status of each artificial column (one per demand row; empty for max-cover).
    row_status
        Status of every row.
    cold_s
        Seconds the first (cold) LP of this model took (the warm ones are compared with it).
    """

    shape: tuple[int, ...]
    yq: np.ndarray
    ys: np.ndarray
    row_blocks: tuple[tuple[str, int], ...]
    u_cut: np.ndarray
    col_status: np.ndarray
    u_status: np.ndarray
    art_status: np.ndarray
    row_status: np.ndarray
    cold_s: float


def layout(ar: Arrays, n_art: int) -> tuple[int, ...]:
    """The column layout of `ar` that a basis depends on (corridor slacks aside) and its artificials."""
    return (ar.nx, ar.nz, ar.ny, ar.vcol0 - ar.scol0, ar.nv, n_art)


def row_blocks(ar: Arrays) -> tuple[tuple[str, int], ...]:
    """The row blocks of `ar` in order: (kind, number of rows)."""
    blocks = getattr(ar.row_names, "blocks", None)
    return tuple((str(k), int(n)) for k, n in blocks) if blocks is not None else ()


def keep(ar: Arrays, n_art: int, hcol: np.ndarray, col_status: np.ndarray, row_status: np.ndarray,
         cold_s: float) -> LpWarm:
    """The `LpWarm` of a restricted LP over `ar`: `hcol` the `ar` column of each HiGHS column (-1: an
    artificial, in demand-row order), `col_status` / `row_status` HiGHS's basis (status codes)."""
    ncol = ar.A.shape[1]
    full = np.full(ncol, -1, np.int8)
    real = hcol >= 0
    full[hcol[real]] = col_status[real]
    return LpWarm(shape=layout(ar, n_art), yq=ar.yq.copy(), ys=ar.ys.copy(), row_blocks=row_blocks(ar),
                  u_cut=ar.u_cut.copy(), col_status=full[:ar.ucol0].copy(), u_status=full[ar.ucol0:].copy(),
                  art_status=np.asarray(col_status[~real], np.int8).copy(), row_status=np.asarray(row_status, np.int8).copy(),
                  cold_s=float(cold_s))


def fits(w: LpWarm | None, ar: Arrays, n_art: int) -> bool:
    """Whether `w` belongs to a model with `ar`'s column layout, artificials and assignment columns (it may
    differ in its corridor rows only; `warm_basis` checks the rows)."""
    return (w is not None and w.shape == layout(ar, n_art) and np.array_equal(w.yq, ar.yq)
            and np.array_equal(w.ys, ar.ys))


def _find(keys: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hit, index): for each of `wanted`, whether it is among `keys` (unique ids, e.g. cut ids) and, for
    those hit, its position in `keys`."""
    o = np.argsort(keys)
    pos = np.searchsorted(keys[o], wanted).clip(max=len(o) - 1)
    hit = keys[o][pos] == wanted
    return hit, o[pos[hit]]


LOOSE_BLOCKS = ("corridor", "budget")
"""Row blocks a basis may gain or lose (`_row_map`): corridor rows, and the budget row (a cover-all within a
budget is solved without it first, `orchestrate.solve`, from the last corridor round's basis, which had it)."""


def _row_map(w: LpWarm, ar: Arrays) -> np.ndarray | None:
    """For every row of `ar`, its row in `w`'s model (-1: a new corridor or budget row); None when the models
    differ in more than their corridor rows and their budget row."""
    new_blocks = row_blocks(ar)
    old_other = [(k, n) for k, n in w.row_blocks if k not in LOOSE_BLOCKS]
    if [(k, n) for k, n in new_blocks if k not in LOOSE_BLOCKS] != old_other or not new_blocks:
        return None
    old_start: dict[str, int] = {}
    at = 0
    for k, n in w.row_blocks:
        old_start[k] = at
        at += n
    out = np.full(ar.A.shape[0], -1, np.int64)
    at = 0
    for k, n in new_blocks:
        if k == "corridor":
            if len(w.u_cut):
                hit, idx = _find(w.u_cut, ar.u_cut)
                out[at + np.flatnonzero(hit)] = old_start["corridor"] + idx
        elif k in old_start:
            out[at:at + n] = old_start[k] + np.arange(n)
        at += n
    return out


def warm_basis(w: LpWarm | None, ar: Arrays, n_art: int, hcol: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray] | None:
    """HiGHS basis status codes (columns, rows) for a restricted LP over `ar` whose HiGHS columns are `hcol`
    (`ar` columns, -1 for the `n_art` artificials at the end) from the basis `w` of the same model with
    other corridor rows: old rows and columns keep their status, a new corridor row is basic, a column
    not in the old LP is nonbasic at its lower bound. None when `w` does not fit `ar` (then solve cold)."""
    if w is None or not fits(w, ar, n_art):
        return None
    rmap = _row_map(w, ar)
    if rmap is None:
        return None
    rows = np.where(rmap >= 0, w.row_status[np.maximum(rmap, 0)], BASIC).astype(np.int8)
    col = np.full(len(hcol), LOWER, np.int8)
    real = hcol >= 0
    hc = hcol[real]
    st = np.full(len(hc), -1, np.int8)
    before = hc < ar.ucol0
    st[before] = w.col_status[hc[before]]
    if len(w.u_cut) and (~before).any():
        ucut_new = ar.u_cut[hc[~before] - ar.ucol0]
        hit, idx = _find(w.u_cut, ucut_new)
        ust = np.full(len(ucut_new), -1, np.int8)
        ust[hit] = w.u_status[idx]
        st[~before] = ust
    col[real] = np.where(st >= 0, st, LOWER)
    col[~real] = w.art_status
    extra = int((col == BASIC).sum() + (rows == BASIC).sum()) - len(rows)
    if extra and not _dropped_rows(w, ar):
        return None   # an old basic column or row is gone, and no corridor row was: not a basis of this model
    if extra:
        rows = _rebalance(rows, ar, extra)
        if int((col == BASIC).sum() + (rows == BASIC).sum()) != len(rows):
            return None
    return col, rows


def _dropped_rows(w: LpWarm, ar: Arrays) -> bool:
    """Whether some corridor row of `w`'s model, or its budget row, is not in `ar`."""
    if any(k == "budget" for k, _ in w.row_blocks) and not any(k == "budget" for k, _ in row_blocks(ar)):
        return True
    if not len(w.u_cut):
        return False
    if not len(ar.u_cut):
        return True
    return not bool(_find(ar.u_cut, w.u_cut)[0].all())


def _rebalance(rows: np.ndarray, ar: Arrays, extra: int) -> np.ndarray:
    """Row statuses with `extra` fewer basic rows (`extra` < 0: more), so that the basis has one basic variable
    per row again after corridor rows were dropped.

    A dropped corridor row that sat at its limit with its slack column at zero (both nonbasic) leaves one
    basic variable too many; one whose row and slack were both basic, one too few. The last `extra` basic
    rows become nonbasic at a finite bound (their duals were 0, so the basis stays dual feasible), or the last
    nonbasic rows basic; where that makes the basis matrix singular, HiGHS replaces the columns concerned by
    slacks when it factorises it. Measured (Station Unity, max-cover at 46.5 M CR, the what-if sheet's basis
    at 49.7 M CR with the proposal's 206 corridor rows, 43 of them at their limits): the LP in 4.8 s and 6.1 s
    against 20.5 s cold, at load 4 to 5, the same optimum."""
    rows = rows.copy()
    if extra > 0:
        finite_hi = np.isfinite(ar.row_hi)
        can = np.flatnonzero((rows == BASIC) & (finite_hi | np.isfinite(ar.row_lo)))[-extra:]
        rows[can] = np.where(finite_hi[can], UPPER, LOWER)
    else:
        rows[np.flatnonzero(rows != BASIC)[extra:]] = BASIC
    return rows


@dataclass(frozen=True)
class AssignBasis:
    """The last simplex bases of a solve's whole-person assignment blocks (`assignwarm.AssignBlocks.basis`),
    keyed by what each column and row is, to start the next solve's assignment of the same sites under other
    corridor rows (a corridor round that keeps its safe rooms; issue 21).

    Attributes
    ----------
    sites
        The model's site ids (the next model must have the same).
    base
        The sites (0/1 per site) the blocks were built for.
    col_key, col_status
        Every solved column's key (`assignwarm.column_keys`, sorted) and HiGHS basis status code.
    row_key, row_status
        Every solved row's key (`assignwarm.row_keys`, sorted) and status code.
    """

    sites: tuple[str, ...]
    base: np.ndarray
    col_key: np.ndarray
    col_status: np.ndarray
    row_key: np.ndarray
    row_status: np.ndarray
